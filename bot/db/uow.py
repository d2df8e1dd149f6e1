"""Unit of work over one AsyncSession: repositories share it, ``commit`` ends it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db.case_repository import SqlCaseRepository
from bot.db.engine import session_factory


class SqlUnitOfWork:
    def __init__(self, session: AsyncSession, *, readonly: bool, sqlite: bool) -> None:
        self.session = session
        self._readonly = readonly
        self._sqlite = sqlite
        self.cases = SqlCaseRepository(session)

    async def __aenter__(self) -> SqlUnitOfWork:
        if self._sqlite and not self._readonly:
            # Take SQLite's write lock up front (waiting on busy_timeout) instead of failing
            # with "database is locked" when a read later upgrades to a write.
            await self.session.execute(text("BEGIN IMMEDIATE"))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self.session.rollback()  # a no-op after commit; undoes an abandoned unit
        finally:
            await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()


class SqlUnitOfWorkFactory:
    """Called like ``uow()`` / ``uow(readonly=True)`` by the services."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = session_factory(engine)
        self._sqlite = engine.dialect.name == "sqlite"

    def __call__(self, *, readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions(), readonly=readonly, sqlite=self._sqlite)
