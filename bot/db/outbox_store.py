"""SQL storage for the outbox, with claiming that is safe under several workers.

PostgreSQL: ``FOR UPDATE SKIP LOCKED``. SQLite: ``BEGIN IMMEDIATE`` (one writer at a time). Either
way a claim sets a lease (status ``sending`` until ``next_attempt_at``): a worker that dies mid-way
leaves its claims to be taken again when the lease ends, so nothing is lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import session_factory, single_statements
from bot.db.models import OutboxRow
from bot.wechat.outbox import HELD_REASONS, OutboxRecord, OutboxStatus


def _record(row: OutboxRow | sa.engine.Row) -> OutboxRecord:
    return OutboxRecord(
        id=row.id,
        channel=row.channel,
        recipient=row.recipient,
        kind=row.kind,
        payload=dict(row.payload or {}),
        purpose=row.purpose,
        status=OutboxStatus(row.status),
        reason=row.reason,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
    )


def _progress(record: OutboxRecord) -> dict[str, object]:
    """The columns a send's progress changes."""
    return {
        "status": record.status.value,
        "reason": record.reason,
        "attempts": record.attempts,
        "last_error": record.last_error,
        "updated_at": record.updated_at,
        "next_attempt_at": record.next_attempt_at,
        "sent_at": record.sent_at,
    }


class SqlOutboxStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = session_factory(engine)
        self._single = single_statements(engine)
        self._sqlite = engine.dialect.name == "sqlite"

    # add, update and deferred run for every message sent: each is one statement, built once (building
    # and compiling it cost more CPU than the database spends on it) and committed on its own. The row
    # is still written before the send, and the send's outcome after it.
    _ADD = sa.insert(OutboxRow.__table__)
    _UPDATE = sa.update(OutboxRow.__table__).where(OutboxRow.__table__.c.id == sa.bindparam("row_id"))
    _DEFERRED = (
        sa.select(OutboxRow.__table__)
        .where(
            OutboxRow.recipient == sa.bindparam("recipient"),
            OutboxRow.status == OutboxStatus.SKIPPED.value,
            OutboxRow.reason.in_(HELD_REASONS),
            OutboxRow.created_at >= sa.bindparam("since"),
        )
        .order_by(OutboxRow.id)
    )

    async def add(self, record: OutboxRecord) -> OutboxRecord:
        values = {
            "channel": record.channel,
            "recipient": record.recipient,
            "kind": record.kind,
            "payload": record.payload,
            "purpose": record.purpose,
            "created_at": record.created_at,
            **_progress(record),
        }
        async with self._single.connect() as conn:
            record.id = (await conn.execute(self._ADD, values)).inserted_primary_key[0]
        return record

    async def update(self, record: OutboxRecord) -> None:
        async with self._single.connect() as conn:
            await conn.execute(self._UPDATE, {"row_id": record.id, **_progress(record)})

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxRecord]:
        due = sa.or_(
            sa.and_(OutboxRow.status == OutboxStatus.RETRYING.value, OutboxRow.next_attempt_at <= now),
            sa.and_(OutboxRow.status == OutboxStatus.SENDING.value, OutboxRow.next_attempt_at <= now),
        )
        stmt = sa.select(OutboxRow).where(due).order_by(OutboxRow.next_attempt_at, OutboxRow.id).limit(limit)
        async with self._sessions() as session, session.begin():
            if self._sqlite:
                await session.execute(sa.text("BEGIN IMMEDIATE"))
            else:
                stmt = stmt.with_for_update(skip_locked=True)
            rows = (await session.execute(stmt)).scalars().all()
            if rows:
                await session.execute(
                    sa.update(OutboxRow)
                    .where(OutboxRow.id.in_([r.id for r in rows]))
                    .values(status=OutboxStatus.SENDING.value, next_attempt_at=now + lease, updated_at=now)
                )
            claimed = [_record(r) for r in rows]
        for record in claimed:
            record.status = OutboxStatus.SENDING
        return claimed

    async def search(
        self, *, status: OutboxStatus | None = None, recipient: str | None = None, limit: int = 100
    ) -> list[OutboxRecord]:
        stmt = sa.select(OutboxRow).order_by(OutboxRow.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(OutboxRow.status == status.value)
        if recipient is not None:
            stmt = stmt.where(OutboxRow.recipient == recipient)
        async with self._sessions() as session:
            return [_record(r) for r in (await session.execute(stmt)).scalars().all()]

    async def deferred(self, recipient: str, since: datetime) -> list[OutboxRecord]:
        async with self._single.connect() as conn:
            rows = (await conn.execute(self._DEFERRED, {"recipient": recipient, "since": since})).all()
        return [_record(r) for r in rows]

    async def undelivered(self, recipient: str, since: datetime, limit: int = 50) -> list[OutboxRecord]:
        """The newest ``limit`` of them, oldest first."""
        stmt = (
            sa.select(OutboxRow)
            .where(
                OutboxRow.recipient == recipient,
                OutboxRow.created_at >= since,
                OutboxRow.status != OutboxStatus.SENT.value,
            )
            .order_by(OutboxRow.id.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).scalars().all()
        return [_record(r) for r in reversed(rows)]
