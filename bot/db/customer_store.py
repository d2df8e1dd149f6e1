"""SQL storage for customer facts the channels learn (inbound times, subscription)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.customers import CustomerStanding
from bot.db.case_repository import _insert
from bot.db.engine import session_factory, single_statements
from bot.db.models import CustomerRow
from bot.db.types import UtcDateTime

# Written as SQL (the same on PostgreSQL and SQLite) because SQLAlchemy 1.4 cannot cache the compiled
# form of its ON CONFLICT constructs, and compiling this one for every message cost more CPU than the
# database spends running it.
_RECORD_INBOUND = sa.text(
    "INSERT INTO customers (sender_id, channel, created_at, last_inbound_at)"
    " VALUES (:sender_id, :channel, :at, :at)"
    " ON CONFLICT (sender_id) DO UPDATE SET last_inbound_at = excluded.last_inbound_at"
    " WHERE customers.last_inbound_at IS NULL OR customers.last_inbound_at < excluded.last_inbound_at"
).bindparams(sa.bindparam("at", type_=UtcDateTime()))


class SqlCustomerStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = session_factory(engine)
        self._single = single_statements(engine)

    async def _ensure(self, session: AsyncSession, sender_id: str, channel: str, at: datetime) -> None:
        stmt = _insert(session, CustomerRow.__table__).values(
            sender_id=sender_id, channel=channel, created_at=at
        )
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["sender_id"]))

    async def record_inbound(self, sender_id: str, channel: str, at: datetime) -> None:
        """One statement, committed on its own (this runs for every message): create the customer
        or move the time forward."""
        async with self._single.connect() as conn:
            await conn.execute(_RECORD_INBOUND, {"sender_id": sender_id, "channel": channel, "at": at})

    async def set_subscribed(self, sender_id: str, channel: str, subscribed: bool, at: datetime) -> None:
        async with self._sessions() as session, session.begin():
            await self._ensure(session, sender_id, channel, at)
            await session.execute(
                sa.update(CustomerRow)
                .where(CustomerRow.sender_id == sender_id)
                .values(unsubscribed_at=None if subscribed else at)
            )

    async def last_inbound(self, sender_id: str) -> datetime | None:
        async with self._sessions() as session:
            return await session.scalar(
                sa.select(CustomerRow.last_inbound_at).where(CustomerRow.sender_id == sender_id)
            )

    async def is_unsubscribed(self, sender_id: str) -> bool:
        async with self._sessions() as session:
            value = await session.scalar(
                sa.select(CustomerRow.unsubscribed_at).where(CustomerRow.sender_id == sender_id)
            )
            return value is not None

    async def opt_out_of_surveys(self, sender_id: str, channel: str, at: datetime) -> bool:
        async with self._sessions() as session, session.begin():
            await self._ensure(session, sender_id, channel, at)
            result = await session.execute(
                sa.update(CustomerRow)
                .where(CustomerRow.sender_id == sender_id, CustomerRow.surveys_opted_out_at.is_(None))
                .values(surveys_opted_out_at=at)
            )
            return bool(result.rowcount)

    async def standing(self, sender_id: str) -> CustomerStanding:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    sa.select(
                        CustomerRow.unsubscribed_at,
                        CustomerRow.surveys_opted_out_at,
                        CustomerRow.last_inbound_at,
                        CustomerRow.channel,
                    ).where(CustomerRow.sender_id == sender_id)
                )
            ).first()
        if row is None:
            return CustomerStanding(False, False, False, None, None)
        return CustomerStanding(True, row[0] is not None, row[1] is not None, row[2], row[3])
