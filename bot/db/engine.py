"""Engine and session factory. Built on demand by the wiring code, never at import time."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import AsyncAdaptedQueuePool

from bot.config import async_database_url

#: A pooled connection unused for longer than this is pinged before it is handed out (a restarted
#: server leaves dead ones in the pool). One in steady use is not: SQLAlchemy's ``pool_pre_ping``
#: pings on every checkout, a round trip more for each statement a busy process runs.
PING_AFTER_IDLE_SECONDS = 1.0


def _sqlite_file(url: str) -> Path | None:
    path = url.split(":///", 1)[1].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL and a busy timeout so several processes can share it."""
    url = async_database_url(database_url)
    if url.startswith("sqlite"):
        file = _sqlite_file(url)
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            # SQLAlchemy 1.4 gives a SQLite file no pool: every checkout would open the file, start
            # aiosqlite's thread and run the pragmas below again (a tenth of the worker's CPU).
            kwargs.setdefault("poolclass", AsyncAdaptedQueuePool)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_use_lifo", True)  # the connection just used goes out next; the rest idle
    engine = create_async_engine(url, **kwargs)
    ping_when_idle(engine.sync_engine, PING_AFTER_IDLE_SECONDS)
    return engine


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Check a pooled connection before use only if it sat idle ``idle_seconds`` or more; a dead
    one is replaced (the pool retries the checkout with a new connection)."""

    @event.listens_for(engine.pool, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < idle_seconds:
            return  # new, or in steady use
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.dbapi.Error:
            alive = False
        if not alive:
            raise exc.DisconnectionError("a pooled connection was dead; reconnecting")


def single_statements(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, each statement committed on its own. For a read or a one-statement write that
    runs for every message: one round trip instead of three (BEGIN, the statement, COMMIT/ROLLBACK)."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def session_factory(engine: AsyncEngine) -> sessionmaker:
    """Sessions that keep loaded values after commit (we hand plain data to callers)."""
    return sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
