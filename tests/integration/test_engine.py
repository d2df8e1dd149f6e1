"""The PostgreSQL pool: a connection the server dropped is replaced before anyone uses it, and a
connection in steady use is not pinged before every statement (that cost a round trip each)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

import bot.db.engine
from bot.db.engine import create_engine, single_statements

IDLE = 0.3  # seconds; the production value is PING_AFTER_IDLE_SECONDS


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql")):
        pytest.skip("DATABASE_URL does not point at PostgreSQL")
    yield url


@pytest.fixture
async def engine(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsyncEngine]:
    monkeypatch.setattr(bot.db.engine, "PING_AFTER_IDLE_SECONDS", IDLE)
    made = create_engine(postgres_url)
    yield made
    await made.dispose()


@pytest.fixture
def pings(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every ping the pool sends, in order."""
    dialect = engine.sync_engine.dialect
    real = dialect.do_ping
    sent: list[Any] = []

    def counting(dbapi_conn: Any) -> bool:
        sent.append(dbapi_conn)
        return bool(real(dbapi_conn))

    monkeypatch.setattr(dialect, "do_ping", counting)
    return sent


async def backend_pid(engine: AsyncEngine) -> int:
    async with single_statements(engine).connect() as conn:
        return int(await conn.scalar(sa.text("SELECT pg_backend_pid()")))


async def test_a_pooled_connection_the_server_dropped_is_replaced_once_it_sat_idle(
    engine: AsyncEngine, postgres_url: str, pings: list[Any]
) -> None:
    first = await backend_pid(engine)
    outsider = create_engine(postgres_url)
    try:
        async with outsider.connect() as conn:  # a server restart, as far as this connection knows
            assert await conn.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    finally:
        await outsider.dispose()
    await asyncio.sleep(IDLE + 0.2)

    second = await backend_pid(engine)  # no error reaches the caller

    assert second != first
    assert len(pings) == 1


async def test_a_connection_in_steady_use_is_not_pinged_before_each_statement(
    engine: AsyncEngine, pings: list[Any]
) -> None:
    pids = [await backend_pid(engine) for _ in range(5)]
    assert len(set(pids)) == 1  # the pool hands out the connection just returned
    assert pings == []

    await asyncio.sleep(IDLE + 0.2)
    assert await backend_pid(engine) == pids[0]  # alive, so kept
    assert len(pings) == 1
