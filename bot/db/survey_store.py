"""SQL storage for service events and surveys, with claiming that is safe under several workers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import aliased

from bot.db.case_repository import _insert
from bot.db.engine import session_factory
from bot.db.models import CaseRow, ServiceEventRow, SurveyEventRow, SurveyRow
from bot.surveys.model import ServiceEvent, Survey, SurveyChange, SurveyStatus

_Case = aliased(CaseRow)
_Remedy = aliased(CaseRow)


def _event(row: ServiceEventRow) -> ServiceEvent:
    return ServiceEvent(
        id=row.id,
        external_id=row.external_id,
        sender_id=row.sender_id,
        channel=row.channel,
        service_type=row.service_type,
        technician=row.technician,
        order_id=row.order_id,
        description=row.description,
        completed_at=row.completed_at,
        received_at=row.received_at,
    )


def _survey(row: SurveyRow, case_number: str | None, remedy_number: str | None) -> Survey:
    return Survey(
        id=row.id,
        sender_id=row.sender_id,
        channel=row.channel,
        subject=row.subject,
        service_type=row.service_type,
        technician=row.technician,
        service_event_id=row.service_event_id,
        case_number=case_number,
        status=SurveyStatus(row.status),
        due_at=row.due_at,
        sent_at=row.sent_at,
        sent_via=row.sent_via,
        reminded_at=row.reminded_at,
        answered_at=row.answered_at,
        score=row.score,
        satisfaction=row.satisfaction,
        comment=row.comment,
        remediation_case_number=remedy_number,
        reason=row.reason,
        attempts=row.attempts,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlSurveyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = session_factory(engine)
        self._sqlite = engine.dialect.name == "sqlite"

    def _select(self) -> sa.sql.Select:
        return (
            sa.select(SurveyRow, _Case.number, _Remedy.number)
            .outerjoin(_Case, _Case.id == SurveyRow.case_id)
            .outerjoin(_Remedy, _Remedy.id == SurveyRow.remediation_case_id)
        )

    async def _begin_write(self, session: AsyncSession) -> None:
        if self._sqlite:
            await session.execute(sa.text("BEGIN IMMEDIATE"))

    # --- service events -----------------------------------------------------------------------

    async def add_service_event(self, event: ServiceEvent) -> tuple[ServiceEvent, bool]:
        """Store once per external id: (the stored event, True if it is new)."""
        async with self._sessions() as session, session.begin():
            await self._begin_write(session)
            result = await session.execute(
                _insert(session, ServiceEventRow.__table__)
                .values(
                    external_id=event.external_id,
                    sender_id=event.sender_id,
                    channel=event.channel,
                    service_type=event.service_type,
                    technician=event.technician,
                    order_id=event.order_id,
                    description=event.description,
                    completed_at=event.completed_at,
                    received_at=event.received_at,
                )
                .on_conflict_do_nothing(index_elements=["external_id"])
            )
            row = (
                await session.execute(
                    sa.select(ServiceEventRow).where(ServiceEventRow.external_id == event.external_id)
                )
            ).scalar_one()
            return _event(row), bool(result.rowcount)

    async def survey_for_service_event(self, service_event_id: int) -> Survey | None:
        async with self._sessions() as session:
            found = (
                await session.execute(self._select().where(SurveyRow.service_event_id == service_event_id))
            ).first()
            return _survey(*found) if found else None

    # --- surveys ------------------------------------------------------------------------------

    async def add(self, survey: Survey) -> Survey:
        """Insert; a service event's survey is made once, so a second add returns the first."""
        try:
            return await self._add(survey)
        except sa.exc.IntegrityError:
            if survey.service_event_id is None:
                raise
            existing = await self.survey_for_service_event(survey.service_event_id)
            if existing is None:
                raise
            return existing

    async def _add(self, survey: Survey) -> Survey:
        async with self._sessions() as session, session.begin():
            await self._begin_write(session)
            case_id = await self._case_id(session, survey.case_number)
            row = SurveyRow(
                sender_id=survey.sender_id,
                channel=survey.channel,
                subject=survey.subject,
                service_type=survey.service_type,
                technician=survey.technician,
                service_event_id=survey.service_event_id,
                case_id=case_id,
                status=survey.status.value,
                due_at=survey.due_at,
                attempts=survey.attempts,
                reason=survey.reason,
                created_at=survey.created_at,
                updated_at=survey.updated_at,
            )
            session.add(row)
            await session.flush()
            survey.id = row.id
            session.add_all([self._change_row(row.id, c) for c in survey.history])
        return survey

    async def get(self, survey_id: int) -> Survey | None:
        async with self._sessions() as session:
            found = (await session.execute(self._select().where(SurveyRow.id == survey_id))).first()
            if not found:
                return None
            survey = _survey(*found)
            survey.history = await self._history(session, survey_id)
            return survey

    async def save(
        self, survey: Survey, changes: list[SurveyChange], *, expect: SurveyStatus | None = None
    ) -> bool:
        """Write the survey; with ``expect``, only if its stored status still is that (else False)."""
        async with self._sessions() as session, session.begin():
            await self._begin_write(session)
            stmt = sa.update(SurveyRow).where(SurveyRow.id == survey.id)
            if expect is not None:
                stmt = stmt.where(SurveyRow.status == expect.value)
            result = await session.execute(
                stmt.values(
                    status=survey.status.value,
                    due_at=survey.due_at,
                    sent_at=survey.sent_at,
                    sent_via=survey.sent_via,
                    reminded_at=survey.reminded_at,
                    answered_at=survey.answered_at,
                    score=survey.score,
                    satisfaction=survey.satisfaction,
                    comment=survey.comment,
                    remediation_case_id=await self._case_id(session, survey.remediation_case_number),
                    reason=survey.reason,
                    attempts=survey.attempts,
                    updated_at=survey.updated_at,
                    lease_until=None,
                )
            )
            if not result.rowcount:
                return False
            session.add_all([self._change_row(survey.stored_id, c) for c in changes])
            return True

    async def latest_for(self, sender_id: str, statuses: list[SurveyStatus]) -> Survey | None:
        async with self._sessions() as session:
            found = (
                await session.execute(
                    self._select()
                    .where(
                        SurveyRow.sender_id == sender_id, SurveyRow.status.in_([s.value for s in statuses])
                    )
                    .order_by(SurveyRow.updated_at.desc(), SurveyRow.id.desc())
                    .limit(1)
                )
            ).first()
            return _survey(*found) if found else None

    async def recent_contact(self, sender_id: str, since: datetime) -> bool:
        """A survey sent, or due, to this customer since ``since`` (the frequency cap)."""
        counted = [
            SurveyStatus.SCHEDULED,
            SurveyStatus.SENT,
            SurveyStatus.REMINDED,
            SurveyStatus.ANSWERED,
            SurveyStatus.EXPIRED,
        ]
        async with self._sessions() as session:
            found = await session.scalar(
                sa.select(SurveyRow.id)
                .where(
                    SurveyRow.sender_id == sender_id,
                    SurveyRow.status.in_([s.value for s in counted]),
                    sa.func.coalesce(SurveyRow.sent_at, SurveyRow.due_at) >= since,
                )
                .limit(1)
            )
            return found is not None

    async def claim(
        self, where: Any, order_by: Any, now: datetime, limit: int, lease: timedelta
    ) -> list[Survey]:
        """Surveys matching ``where`` whose lease is free, leased to this worker for ``lease``."""
        free = sa.or_(SurveyRow.lease_until.is_(None), SurveyRow.lease_until <= now)
        ids_stmt = sa.select(SurveyRow.id).where(where, free).order_by(order_by).limit(limit)
        async with self._sessions() as session, session.begin():
            if self._sqlite:
                await session.execute(sa.text("BEGIN IMMEDIATE"))
            else:
                ids_stmt = ids_stmt.with_for_update(skip_locked=True)
            ids = list((await session.execute(ids_stmt)).scalars().all())
            if not ids:
                return []
            await session.execute(
                sa.update(SurveyRow)
                .where(SurveyRow.id.in_(ids))
                .values(lease_until=now + lease, attempts=SurveyRow.attempts + 1)
            )
            rows = (
                await session.execute(self._select().where(SurveyRow.id.in_(ids)).order_by(order_by))
            ).all()
            return [_survey(*r) for r in rows]

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[Survey]:
        where = sa.and_(SurveyRow.status == SurveyStatus.SCHEDULED.value, SurveyRow.due_at <= now)
        return await self.claim(where, SurveyRow.due_at, now, limit, lease)

    async def claim_reminders(
        self, sent_before: datetime, now: datetime, limit: int, lease: timedelta
    ) -> list[Survey]:
        where = sa.and_(
            SurveyRow.status == SurveyStatus.SENT.value,
            SurveyRow.sent_at <= sent_before,
            SurveyRow.reminded_at.is_(None),
        )
        return await self.claim(where, SurveyRow.sent_at, now, limit, lease)

    async def claim_expired(
        self, sent_before: datetime, now: datetime, limit: int, lease: timedelta
    ) -> list[Survey]:
        where = sa.and_(
            SurveyRow.status.in_([SurveyStatus.SENT.value, SurveyStatus.REMINDED.value]),
            SurveyRow.sent_at <= sent_before,
        )
        return await self.claim(where, SurveyRow.sent_at, now, limit, lease)

    async def release(self, survey_id: int) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                sa.update(SurveyRow).where(SurveyRow.id == survey_id).values(lease_until=None)
            )

    async def search(
        self, *, status: SurveyStatus | None = None, sender_id: str | None = None, limit: int = 100
    ) -> list[Survey]:
        stmt = self._select().order_by(SurveyRow.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(SurveyRow.status == status.value)
        if sender_id is not None:
            stmt = stmt.where(SurveyRow.sender_id == sender_id)
        async with self._sessions() as session:
            return [_survey(*r) for r in (await session.execute(stmt)).all()]

    async def for_stats(self, since: datetime, until: datetime) -> list[Survey]:
        """Surveys that went out in the period (the denominator of the response rate). One whose
        question WeChat refused (unreachable after it was sent) never reached anybody."""
        stmt = self._select().where(
            SurveyRow.sent_at >= since,
            SurveyRow.sent_at < until,
            SurveyRow.status != SurveyStatus.UNREACHABLE.value,
        )
        async with self._sessions() as session:
            return [_survey(*r) for r in (await session.execute(stmt)).all()]

    # --- helpers -----------------------------------------------------------------------------

    @staticmethod
    async def _case_id(session: AsyncSession, number: str | None) -> int | None:
        if not number:
            return None
        return await session.scalar(sa.select(CaseRow.id).where(CaseRow.number == number))

    @staticmethod
    def _change_row(survey_id: int, change: SurveyChange) -> SurveyEventRow:
        return SurveyEventRow(
            survey_id=survey_id,
            at=change.at,
            from_status=change.from_status,
            to_status=change.to_status,
            reason=change.reason,
        )

    @staticmethod
    async def _history(session: AsyncSession, survey_id: int) -> list[SurveyChange]:
        rows = (
            (
                await session.execute(
                    sa.select(SurveyEventRow)
                    .where(SurveyEventRow.survey_id == survey_id)
                    .order_by(SurveyEventRow.at, SurveyEventRow.id)
                )
            )
            .scalars()
            .all()
        )
        return [SurveyChange(r.at, r.from_status, r.to_status, r.reason) for r in rows]
