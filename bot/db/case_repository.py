"""SQL storage for cases: rows in, plain ``Case`` objects out."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.cases.model import Attachment, Case, CaseEvent, Priority, Status, attachment_summary
from bot.db.models import AttachmentRow, CaseEventRow, CaseRow, CaseSequenceRow, CustomerRow

_Parent = aliased(CaseRow)


def _insert(session: AsyncSession, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, which knows ON CONFLICT."""
    name = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(table)


def _event_from_row(r: CaseEventRow) -> CaseEvent:
    return CaseEvent(
        kind=r.kind,
        at=r.at,
        actor=r.actor,
        from_value=r.from_value,
        to_value=r.to_value,
        note=r.note,
        data=dict(r.data or {}),
    )


def _case_from_row(row: CaseRow, customer: CustomerRow, parent_number: str | None) -> Case:
    return Case(
        id=row.id,
        number=row.number,
        sender_id=customer.sender_id,
        channel=customer.channel,
        category=row.category,
        description=row.description,
        phone=row.phone,
        order_id=row.order_id,
        priority=Priority(row.priority),
        priority_reasons=list(row.priority_reasons or []),
        status=Status(row.status),
        satisfaction=row.satisfaction,
        owner=row.owner,
        source=row.source,
        parent_case_number=parent_number,
        created_at=row.created_at,
        updated_at=row.updated_at,
        first_response_due=row.first_response_due,
        resolution_due=row.resolution_due,
        first_responded_at=row.first_responded_at,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
    )


def _event_row(case_id: int, event: CaseEvent) -> CaseEventRow:
    return CaseEventRow(
        case_id=case_id,
        at=event.at,
        kind=event.kind,
        actor=event.actor[:64],
        from_value=event.from_value,
        to_value=event.to_value,
        note=event.note,
        data=event.data,
    )


class SqlCaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _select(self) -> sa.sql.Select:
        return (
            sa.select(CaseRow, CustomerRow, _Parent.number)
            .join(CustomerRow, CustomerRow.id == CaseRow.customer_id)
            .outerjoin(_Parent, _Parent.id == CaseRow.parent_case_id)
        )

    async def ensure_customer(
        self, sender_id: str, channel: str, now: datetime, phone: str | None = None
    ) -> int:
        stmt = _insert(self.session, CustomerRow.__table__).values(
            sender_id=sender_id, channel=channel, phone=phone, created_at=now
        )
        await self.session.execute(stmt.on_conflict_do_nothing(index_elements=["sender_id"]))
        customer_id, known_phone = (
            await self.session.execute(
                sa.select(CustomerRow.id, CustomerRow.phone).where(CustomerRow.sender_id == sender_id)
            )
        ).one()
        if phone and phone != known_phone:
            await self.session.execute(
                sa.update(CustomerRow).where(CustomerRow.id == customer_id).values(phone=phone)
            )
        return int(customer_id)

    async def customer_phone(self, sender_id: str) -> str | None:
        return await self.session.scalar(
            sa.select(CustomerRow.phone).where(CustomerRow.sender_id == sender_id)
        )

    async def next_sequence(self, day: str) -> int:
        table = CaseSequenceRow.__table__
        stmt = (
            _insert(self.session, table)
            .values(day=day, last_value=1)
            .on_conflict_do_update(index_elements=["day"], set_={"last_value": table.c.last_value + 1})
        )
        if self.session.bind is not None and self.session.bind.dialect.name == "postgresql":
            return int((await self.session.execute(stmt.returning(table.c.last_value))).scalar_one())
        # SQLAlchemy 1.4 cannot RETURN on SQLite; the unit of work holds SQLite's write lock
        # (BEGIN IMMEDIATE), so reading back inside the same transaction is just as atomic.
        await self.session.execute(stmt)
        return int(await self.session.scalar(sa.select(table.c.last_value).where(table.c.day == day)))

    async def add(self, case: Case, customer_id: int) -> Case:
        parent_id = None
        if case.parent_case_number:
            parent_id = await self.session.scalar(
                sa.select(CaseRow.id).where(CaseRow.number == case.parent_case_number)
            )
        row = CaseRow(
            number=case.number,
            customer_id=customer_id,
            category=case.category,
            description=case.description,
            order_id=case.order_id,
            phone=case.phone,
            priority=case.priority.value,
            priority_reasons=case.priority_reasons,
            status=case.status.value,
            satisfaction=case.satisfaction,
            owner=case.owner,
            source=case.source,
            parent_case_id=parent_id,
            created_at=case.created_at,
            updated_at=case.updated_at or case.created_at,
            first_response_due=case.first_response_due,
            resolution_due=case.resolution_due,
        )
        self.session.add(row)
        await self.session.flush()
        self.session.add_all([_event_row(row.id, e) for e in case.events])
        await self.session.flush()
        case.id = row.id
        return case

    async def get(self, number: str, *, for_update: bool = False) -> Case | None:
        stmt = self._select().where(CaseRow.number == number)
        if for_update and self.session.bind is not None and self.session.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=CaseRow)
        found = (await self.session.execute(stmt)).first()
        return _case_from_row(*found) if found else None

    async def for_sender(self, sender_id: str, *, open_only: bool) -> list[Case]:
        stmt = self._select().where(CustomerRow.sender_id == sender_id)
        if open_only:
            stmt = stmt.where(CaseRow.status.notin_([Status.RESOLVED.value, Status.CLOSED.value]))
        stmt = stmt.order_by(CaseRow.created_at.desc(), CaseRow.id.desc())
        return [_case_from_row(*r) for r in (await self.session.execute(stmt)).all()]

    async def save(self, case: Case, new_events: list[CaseEvent]) -> None:
        if case.id is None:
            raise ValueError("save() needs a case loaded from the repository")
        await self.session.execute(
            sa.update(CaseRow)
            .where(CaseRow.id == case.id)
            .values(
                category=case.category,
                description=case.description,
                order_id=case.order_id,
                phone=case.phone,
                priority=case.priority.value,
                priority_reasons=case.priority_reasons,
                status=case.status.value,
                satisfaction=case.satisfaction,
                owner=case.owner,
                updated_at=case.updated_at,
                first_response_due=case.first_response_due,
                resolution_due=case.resolution_due,
                first_responded_at=case.first_responded_at,
                resolved_at=case.resolved_at,
                closed_at=case.closed_at,
            )
        )
        self.session.add_all([_event_row(case.id, e) for e in new_events])
        await self.session.flush()

    async def search(self, *, status: Status | None = None, limit: int = 50, offset: int = 0) -> list[Case]:
        stmt = self._select()
        if status is not None:
            stmt = stmt.where(CaseRow.status == status.value)
        stmt = stmt.order_by(CaseRow.created_at.desc(), CaseRow.id.desc()).limit(limit).offset(offset)
        return [_case_from_row(*r) for r in (await self.session.execute(stmt)).all()]

    async def open_by_deadline(self, limit: int) -> list[Case]:
        next_due = sa.case(
            (CaseRow.first_responded_at.is_(None), CaseRow.first_response_due),
            else_=CaseRow.resolution_due,
        )
        stmt = (
            self._select()
            .where(CaseRow.status.notin_([Status.RESOLVED.value, Status.CLOSED.value]))
            .order_by(next_due, CaseRow.id)
            .limit(limit)
        )
        return [_case_from_row(*r) for r in (await self.session.execute(stmt)).all()]

    async def events(self, number: str) -> list[CaseEvent]:
        stmt = (
            sa.select(CaseEventRow)
            .join(CaseRow, CaseRow.id == CaseEventRow.case_id)
            .where(CaseRow.number == number)
            .order_by(CaseEventRow.at, CaseEventRow.id)
        )
        return [_event_from_row(r) for r in (await self.session.execute(stmt)).scalars().all()]

    async def events_of_kinds(self, numbers: list[str], kinds: list[str]) -> dict[str, list[CaseEvent]]:
        found: dict[str, list[CaseEvent]] = {}
        if not numbers or not kinds:
            return found
        stmt = (
            sa.select(CaseRow.number, CaseEventRow)
            .join(CaseRow, CaseRow.id == CaseEventRow.case_id)
            .where(CaseRow.number.in_(numbers), CaseEventRow.kind.in_(kinds))
            .order_by(CaseEventRow.at, CaseEventRow.id)
        )
        for number, row in (await self.session.execute(stmt)).all():
            found.setdefault(number, []).append(_event_from_row(row))
        return found

    async def numbers_with_event(self, kind: str, since: datetime) -> list[str]:
        stmt = (
            sa.select(CaseRow.number)
            .join(CaseEventRow, CaseRow.id == CaseEventRow.case_id)
            .where(CaseEventRow.kind == kind, CaseEventRow.at >= since)
            .distinct()
        )
        return list((await self.session.scalars(stmt)).all())

    async def add_attachment(self, attachment: Attachment) -> Attachment:
        case_id = None
        if attachment.case_number:
            case_id = await self.session.scalar(
                sa.select(CaseRow.id).where(CaseRow.number == attachment.case_number)
            )
        row = AttachmentRow(
            sender_id=attachment.sender_id,
            case_id=case_id,
            channel=attachment.channel,
            kind=attachment.kind,
            media_id=attachment.media_id,
            source_url=attachment.source_url,
            stored_path=attachment.stored_path,
            content_type=attachment.content_type,
            size=attachment.size,
            created_at=attachment.created_at,
        )
        self.session.add(row)
        await self.session.flush()
        attachment.id = row.id
        return attachment

    async def link_unfiled_attachments(self, sender_id: str, case: Case, since: datetime) -> int:
        if case.id is None:
            raise ValueError(f"case {case.number} is not saved yet: nothing can be filed under it")
        case_id = case.id
        rows = (
            (
                await self.session.execute(
                    sa.select(AttachmentRow).where(
                        AttachmentRow.sender_id == sender_id,
                        AttachmentRow.case_id.is_(None),
                        AttachmentRow.created_at >= since,
                    )
                )
            )
            .scalars()
            .all()
        )
        for row in rows:
            row.case_id = case_id
            self.session.add(
                _event_row(
                    case_id,
                    CaseEvent(
                        kind="attachment",
                        at=row.created_at,
                        actor=f"customer:{sender_id}",
                        note=attachment_summary(row.kind, row.source_url),
                        data={"media_id": row.media_id, "path": row.stored_path},
                    ),
                )
            )
        await self.session.flush()
        return len(rows)

    async def attachments(self, number: str) -> list[Attachment]:
        stmt = (
            sa.select(AttachmentRow)
            .join(CaseRow, CaseRow.id == AttachmentRow.case_id)
            .where(CaseRow.number == number)
            .order_by(AttachmentRow.created_at, AttachmentRow.id)
        )
        return [
            Attachment(
                id=r.id,
                sender_id=r.sender_id,
                channel=r.channel,
                kind=r.kind,
                created_at=r.created_at,
                media_id=r.media_id,
                source_url=r.source_url,
                stored_path=r.stored_path,
                content_type=r.content_type,
                size=r.size,
                case_number=number,
            )
            for r in (await self.session.execute(stmt)).scalars().all()
        ]
