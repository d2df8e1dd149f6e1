"""SQL storage for agents and handoffs; accepting is one conditional update (one winner)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased

from bot.db.engine import session_factory, single_statements
from bot.db.models import AgentRow, CaseRow, HandoffEventRow, HandoffRow
from bot.handoff.errors import AlreadyInConversation
from bot.handoff.model import Agent, Handoff, HandoffStatus, Role

_Case = aliased(CaseRow)


def _with_case_number(handoff: Any) -> sa.sql.Select:
    """Handoffs (ORM rows or plain columns) each with its case's number."""
    return sa.select(handoff, _Case.number.label("case_number")).outerjoin(
        _Case, _Case.id == HandoffRow.case_id
    )


_OPEN_FOR = (
    _with_case_number(HandoffRow.__table__)
    .where(
        HandoffRow.sender_id == sa.bindparam("sender_id"),
        HandoffRow.status.in_([HandoffStatus.WAITING.value, HandoffStatus.ACTIVE.value]),
    )
    .order_by(HandoffRow.id.desc())
    .limit(1)
)


def _handoff(row: HandoffRow | sa.engine.Row, case_number: str | None) -> Handoff:
    return Handoff(
        id=row.id,
        sender_id=row.sender_id,
        channel=row.channel,
        reason=row.reason,
        priority=row.priority,
        status=HandoffStatus(row.status),
        agent=row.agent,
        case_number=case_number,
        queued_at=row.queued_at,
        accepted_at=row.accepted_at,
        closed_at=row.closed_at,
        last_customer_at=row.last_customer_at,
        last_agent_at=row.last_agent_at,
        noticed_at=row.noticed_at,
        outcome=row.outcome,
        note=row.note,
        updated_at=row.updated_at,
    )


def _agent(row: AgentRow) -> Agent:
    return Agent(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        active=row.active,
    )


class SqlHandoffStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = session_factory(engine)
        self._single = single_statements(engine)
        self._sqlite = engine.dialect.name == "sqlite"

    def _select(self) -> sa.sql.Select:
        return _with_case_number(HandoffRow)

    async def add(self, handoff: Handoff, event: tuple[str, str, str | None]) -> Handoff:
        """Raises ``AlreadyInConversation`` when the customer has an open handoff already (added by
        another process since the caller looked)."""
        try:
            return await self._insert(handoff, event)
        except sa.exc.IntegrityError:
            existing = await self.open_for(handoff.sender_id) if handoff.status.open else None
            if existing is None:
                raise
            raise AlreadyInConversation(existing.id or 0) from None

    async def _insert(self, handoff: Handoff, event: tuple[str, str, str | None]) -> Handoff:
        async with self._sessions() as session, session.begin():
            if self._sqlite:
                await session.execute(sa.text("BEGIN IMMEDIATE"))
            case_id = None
            if handoff.case_number:
                case_id = await session.scalar(
                    sa.select(CaseRow.id).where(CaseRow.number == handoff.case_number)
                )
            row = HandoffRow(
                sender_id=handoff.sender_id,
                channel=handoff.channel,
                reason=handoff.reason,
                priority=handoff.priority,
                status=handoff.status.value,
                case_id=case_id,
                queued_at=handoff.queued_at,
                updated_at=handoff.updated_at,
                last_customer_at=handoff.last_customer_at,
            )
            session.add(row)
            await session.flush()
            handoff.id = row.id
            session.add(
                HandoffEventRow(
                    handoff_id=row.id, at=handoff.queued_at, kind=event[0], actor=event[1], detail=event[2]
                )
            )
        return handoff

    async def get(self, handoff_id: int) -> Handoff | None:
        async with self._sessions() as session:
            found = (await session.execute(self._select().where(HandoffRow.id == handoff_id))).first()
            return _handoff(*found) if found else None

    async def open_for(self, sender_id: str) -> Handoff | None:
        """Asked for every message a customer sends: one read, built once, no transaction around it."""
        async with self._single.connect() as conn:
            found = (await conn.execute(_OPEN_FOR, {"sender_id": sender_id})).first()
        return _handoff(found, found.case_number) if found else None

    async def transition(
        self,
        handoff_id: int,
        expect: list[HandoffStatus],
        values: dict,
        event: tuple[str, str, str | None],
        *,
        expect_agent: str | None = None,
    ) -> bool:
        """Change a handoff only if it is still in one of ``expect`` (and held by ``expect_agent``)."""
        now = values.get("updated_at")
        async with self._sessions() as session, session.begin():
            stmt = sa.update(HandoffRow).where(
                HandoffRow.id == handoff_id, HandoffRow.status.in_([s.value for s in expect])
            )
            if expect_agent is not None:
                stmt = stmt.where(HandoffRow.agent == expect_agent)
            result = await session.execute(stmt.values(**values))
            if result.rowcount != 1:
                return False
            session.add(
                HandoffEventRow(handoff_id=handoff_id, at=now, kind=event[0], actor=event[1], detail=event[2])
            )
            return True

    async def touch(self, handoff_id: int, **values: datetime | str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(sa.update(HandoffRow).where(HandoffRow.id == handoff_id).values(**values))

    async def claim_notice(self, handoff_id: int, now: datetime, quiet_since: datetime) -> bool:
        """Take the right to tell a waiting customer where they stand: one process wins, and not again
        before ``quiet_since`` has passed."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                sa.update(HandoffRow)
                .where(
                    HandoffRow.id == handoff_id,
                    HandoffRow.status == HandoffStatus.WAITING.value,
                    sa.or_(HandoffRow.noticed_at.is_(None), HandoffRow.noticed_at <= quiet_since),
                )
                .values(noticed_at=now)
            )
            return bool(result.rowcount == 1)

    async def in_status(self, statuses: list[HandoffStatus], agent: str | None = None) -> list[Handoff]:
        stmt = (
            self._select().where(HandoffRow.status.in_([s.value for s in statuses])).order_by(HandoffRow.id)
        )
        if agent is not None:
            stmt = stmt.where(HandoffRow.agent == agent)
        async with self._sessions() as session:
            return [_handoff(*r) for r in (await session.execute(stmt)).all()]

    async def events(self, handoff_id: int) -> list[tuple[datetime, str, str, str | None]]:
        async with self._sessions() as session:
            rows = (
                (
                    await session.execute(
                        sa.select(HandoffEventRow)
                        .where(HandoffEventRow.handoff_id == handoff_id)
                        .order_by(HandoffEventRow.at, HandoffEventRow.id)
                    )
                )
                .scalars()
                .all()
            )
            return [(r.at, r.kind, r.actor, r.detail) for r in rows]

    # --- agents ---------------------------------------------------------------------------------

    async def add_agent(self, agent: Agent, password_hash: str, now: datetime) -> Agent:
        async with self._sessions() as session, session.begin():
            row = AgentRow(
                username=agent.username,
                display_name=agent.display_name,
                role=agent.role.value,
                password_hash=password_hash,
                active=agent.active,
                created_at=now,
            )
            session.add(row)
            await session.flush()
            agent.id = row.id
        return agent

    async def agent_with_hash(self, username: str) -> tuple[Agent, str] | None:
        async with self._sessions() as session:
            row = (await session.execute(sa.select(AgentRow).where(AgentRow.username == username))).scalar()
            return (_agent(row), row.password_hash) if row else None

    async def set_password_hash(self, username: str, password_hash: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                sa.update(AgentRow).where(AgentRow.username == username).values(password_hash=password_hash)
            )

    async def set_active(self, username: str, active: bool) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                sa.update(AgentRow).where(AgentRow.username == username).values(active=active)
            )

    async def agents(self) -> list[Agent]:
        async with self._sessions() as session:
            rows = (await session.execute(sa.select(AgentRow).order_by(AgentRow.username))).scalars().all()
            return [_agent(r) for r in rows]

    async def seen(self, username: str, at: datetime) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                sa.update(AgentRow).where(AgentRow.username == username).values(last_seen_at=at)
            )

    async def online(self, since: datetime) -> int:
        async with self._sessions() as session:
            return int(
                await session.scalar(
                    sa.select(sa.func.count())
                    .select_from(AgentRow)
                    .where(AgentRow.active.is_(True), AgentRow.last_seen_at >= since)
                )
                or 0
            )
