"""The case service: opens cases, answers status questions, moves cases through the workflow."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.cases.errors import CaseNotFound, IllegalTransition, InvalidCaseData
from bot.cases.intake import MAX_DESCRIPTION
from bot.cases.model import (
    CATEGORIES,
    PUSH_CHANNELS,
    Attachment,
    Case,
    CaseDraft,
    CaseEvent,
    Priority,
    Status,
)
from bot.cases.ports import UnitOfWork
from bot.cases.rules import (
    DETAILS_CORRECTED,
    WITHDRAWAL,
    NextOpening,
    PriorityAssessment,
    SlaPolicy,
    assess_priority,
    check_transition,
    deadlines_for,
    format_case_number,
    normalise_case_number,
    sla_started_at,
    withdrawn_by_customer,
    work_order,
)
from bot.nlu.patterns import find_phones, normalise_phone

logger = logging.getLogger(__name__)
UowFactory = Callable[..., UnitOfWork]
UNFILED_ATTACHMENTS = timedelta(hours=24)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


#: How much of a later message joins the description (the history keeps it to MAX_DESCRIPTION).
MORE_WORDS = 300


async def _locked(uow: UnitOfWork, number: str) -> Case:
    """The case, locked for the rest of the unit of work."""
    case = await uow.cases.get(number, for_update=True)
    if case is None:
        raise CaseNotFound(number)
    return case


class ResolutionListener(Protocol):
    """Told when a case is resolved; ``withdrawn``: the customer had taken the complaint back."""

    async def __call__(self, case: Case, *, withdrawn: bool) -> object: ...


class CaseService:
    def __init__(
        self,
        uow: UowFactory,
        policy: SlaPolicy,
        *,
        clock: Callable[[], datetime] = utcnow,
        timezone_name: str = "Asia/Shanghai",
        next_opening: NextOpening | None = None,
    ) -> None:
        self._uow = uow
        self._policy = policy
        self._clock = clock
        self._next_opening = next_opening
        self.tz = ZoneInfo(timezone_name)
        #: Called after a case is resolved (the survey service schedules its callback here).
        self.on_resolved: list[ResolutionListener] = []

    async def open_case(self, draft: CaseDraft) -> Case:
        """Create a numbered case with priority and deadlines, and its first audit event."""
        if draft.category not in CATEGORIES:
            raise InvalidCaseData(f"unknown category {draft.category!r}")
        phone = normalise_phone(draft.phone)
        if phone is None and (draft.phone or (draft.source == "chat" and draft.channel not in PUSH_CHANNELS)):
            # On WeChat a customer may choose to be reached in the chat; elsewhere nobody could.
            raise InvalidCaseData("a case needs a valid mainland mobile or landline number")
        description = draft.description.strip()
        if not description:
            raise InvalidCaseData("a case needs a description")
        now = self._clock()
        assessment = assess_priority(
            self._policy,
            draft.category,
            description,
            draft.satisfaction,
            draft.satisfaction_confidence,
        )
        if draft.escalate and assessment.priority.rank > 2:  # P1 stays for safety
            assessment = PriorityAssessment(
                assessment.priority.raised(), [*assessment.reasons, f"escalated:{draft.source}"]
            )
        first_due, resolution_due = deadlines_for(self._policy, assessment.priority, now, self._next_opening)
        day = now.astimezone(self.tz).date()
        async with self._uow() as uow:
            # The sequence bump comes first: it takes the write lock before anything is read.
            sequence = await uow.cases.next_sequence(day.strftime("%Y%m%d"))
            customer_id = await uow.cases.ensure_customer(draft.sender_id, draft.channel, now, phone)
            parent = None
            if draft.parent_case_number:
                parent = await uow.cases.get(draft.parent_case_number)
                if parent is None:
                    raise CaseNotFound(draft.parent_case_number)
            case = Case(
                number=format_case_number(day, sequence),
                sender_id=draft.sender_id,
                channel=draft.channel,
                category=draft.category,
                description=description,
                phone=phone,
                order_id=draft.order_id,
                priority=assessment.priority,
                priority_reasons=assessment.reasons,
                status=Status.NEW,
                satisfaction=draft.satisfaction,
                source=draft.source,
                parent_case_number=parent.number if parent else None,
                created_at=now,
                updated_at=now,
                first_response_due=first_due,
                resolution_due=resolution_due,
            )
            case.events.append(
                CaseEvent(
                    kind="created",
                    at=now,
                    actor=f"customer:{draft.sender_id}",
                    to_value=Status.NEW.value,
                    data={
                        "priority": assessment.priority.value,
                        "reasons": assessment.reasons,
                        "source": draft.source,
                    },
                )
            )
            case = await uow.cases.add(case, customer_id)
            # Photos sent before the complaint was filed belong to it.
            await uow.cases.link_unfiled_attachments(draft.sender_id, case, now - UNFILED_ATTACHMENTS)
            await uow.commit()
        return case

    def now(self) -> datetime:
        """The service's clock, so answers about deadlines agree with the deadlines it set."""
        return self._clock()

    async def known_phone(self, sender_id: str) -> str | None:
        """The phone a returning customer gave last time, so intake need not ask again."""
        async with self._uow(readonly=True) as uow:
            return await uow.cases.customer_phone(sender_id)

    async def open_cases_for(self, sender_id: str) -> list[Case]:
        async with self._uow(readonly=True) as uow:
            return await uow.cases.for_sender(sender_id, open_only=True)

    async def cases_for(self, sender_id: str) -> list[Case]:
        async with self._uow(readonly=True) as uow:
            return await uow.cases.for_sender(sender_id, open_only=False)

    async def case_for_customer(self, sender_id: str, raw_number: str) -> Case:
        """The customer's own case; anybody else's looks exactly like a missing one."""
        number = normalise_case_number(raw_number)
        if number is None:
            raise CaseNotFound(raw_number)
        async with self._uow(readonly=True) as uow:
            case = await uow.cases.get(number)
        if case is None or case.sender_id != sender_id:
            raise CaseNotFound(number)
        return case

    async def get(self, number: str) -> Case:
        async with self._uow(readonly=True) as uow:
            case = await uow.cases.get(number)
            if case is None:
                raise CaseNotFound(number)
            case.events = await uow.cases.events(number)
        return case

    async def is_open(self, number: str) -> bool:
        """Whether the case is still being worked (False for an unknown number)."""
        async with self._uow(readonly=True) as uow:
            case = await uow.cases.get(number)
        return case is not None and case.is_open

    async def search(self, *, status: Status | None = None, limit: int = 50, offset: int = 0) -> list[Case]:
        async with self._uow(readonly=True) as uow:
            return await uow.cases.search(status=status, limit=limit, offset=offset)

    async def worklist(self, limit: int = 300) -> list[Case]:
        """The open cases in the order to work them (``work_order``)."""
        async with self._uow(readonly=True) as uow:
            return work_order(await uow.cases.open_by_deadline(limit))

    async def withdrawn_among(self, cases: list[Case]) -> set[str]:
        """Which of these open cases their customers took back: an agent working the list should
        not call about a complaint the customer withdrew without knowing it."""
        async with self._uow(readonly=True) as uow:
            numbers = [c.number for c in cases]
            events = await uow.cases.events_of_kinds(numbers, [WITHDRAWAL, "status_changed"])
        return {number for number, history in events.items() if withdrawn_by_customer(history)}

    async def awaiting(self, kind: str, *, settled_by: tuple[str, ...], since: datetime) -> list[str]:
        """Cases with an event of ``kind`` since ``since`` that no ``settled_by`` event followed
        (a resolution notice held back for the night, say)."""
        async with self._uow(readonly=True) as uow:
            numbers = await uow.cases.numbers_with_event(kind, since)
            history = await uow.cases.events_of_kinds(numbers, [kind, *settled_by])
        return [number for number, events in history.items() if events[-1].kind == kind]

    async def claim(self, number: str, kind: str, *, claim: str, settled_by: tuple[str, ...]) -> Case | None:
        """Append a ``claim`` event if ``kind`` is still the latest of these, under the case's lock:
        of two workers, one takes it and the other gets None."""
        now = self._clock()
        async with self._uow() as uow:
            case = await _locked(uow, number)
            history = await uow.cases.events_of_kinds([number], [kind, claim, *settled_by])
            if not history.get(number) or history[number][-1].kind != kind:
                return None
            await uow.cases.save(replace(case, updated_at=now), [CaseEvent(kind=claim, at=now, actor="bot")])
            await uow.commit()
        return case

    async def change_status(self, number: str, to: Status, *, actor: str, note: str | None = None) -> Case:
        """Move a case along the workflow; illegal moves raise and change nothing."""
        now = self._clock()
        async with self._uow() as uow:
            case = await _locked(uow, number)
            check_transition(case.number, case.status, to)
            event = CaseEvent(
                kind="status_changed",
                at=now,
                actor=actor,
                from_value=case.status.value,
                to_value=to.value,
                note=note,
            )
            updated = replace(case, status=to, updated_at=now)
            if to is Status.ACKNOWLEDGED and updated.first_responded_at is None:
                updated.first_responded_at = now
            elif to is Status.RESOLVED:
                updated.resolved_at = now
            elif to is Status.CLOSED:
                updated.closed_at = now
            elif to is Status.REOPENED:
                # The old deadlines count from the day it was filed and have often passed: "我们会在
                # 12月02日 13:00 前与您联系" told a customer on the 5th. A reopened case owes a new
                # answer, counted from now.
                updated.resolved_at = None
                updated.closed_at = None
                updated.first_response_due, updated.resolution_due = deadlines_for(
                    self._policy, case.priority, now, self._next_opening
                )
            await uow.cases.save(updated, [event])
            withdrawn = to is Status.RESOLVED and withdrawn_by_customer(await uow.cases.events(number))
            await uow.commit()
        if to is Status.RESOLVED:
            for listener in self.on_resolved:
                try:
                    await listener(updated, withdrawn=withdrawn)
                except Exception:  # the case is resolved either way; the listener reports its own trouble
                    logger.exception("a listener for resolved case %s failed", number)
        return updated

    async def acknowledge_by_contact(self, sender_id: str, *, actor: str, how: str) -> list[Case]:
        """A person talking with the customer is the first response their new cases wait for: without
        this the agent's answer in the chat leaves the case "等待受理" and its deadline runs out."""
        acknowledged = []
        for case in await self.open_cases_for(sender_id):
            if case.status is not Status.NEW:
                continue
            try:
                acknowledged.append(
                    await self.change_status(case.number, Status.ACKNOWLEDGED, actor=actor, note=how)
                )
            except IllegalTransition:  # acknowledged meanwhile by someone else: nothing left to do
                continue
        return acknowledged

    async def change_priority(
        self, number: str, to: Priority, *, actor: str, note: str | None = None
    ) -> Case:
        """Re-prioritise; the deadlines follow the new priority from when the case was filed, or last
        reopened (a reopened case's clock starts again)."""
        now = self._clock()
        async with self._uow() as uow:
            case = await _locked(uow, number)
            if case.priority is to:
                return case
            started = sla_started_at(case, await uow.cases.events(number))
            first_due, resolution_due = deadlines_for(self._policy, to, started, self._next_opening)
            event = CaseEvent(
                kind="priority_changed",
                at=now,
                actor=actor,
                from_value=case.priority.value,
                to_value=to.value,
                note=note,
            )
            updated = replace(
                case,
                priority=to,
                first_response_due=first_due,
                resolution_due=resolution_due,
                updated_at=now,
            )
            await uow.cases.save(updated, [event])
            await uow.commit()
        return updated

    async def record_urging(self, number: str, words: str, *, actor: str) -> Case:
        """The customer chased this case (催办): kept in its audit trail for the agents, who see how
        often and since when a customer has been waiting. Urgency words in the chase ("再不处理我就打
        12315", "家里有老人没热水") raise its priority as they would on a new complaint."""
        return await self._append(number, "urged", words.strip()[:500] or None, actor, urgency_words=words)

    async def add_customer_words(
        self, number: str, words: str, *, actor: str, withdrawal: bool = False
    ) -> Case:
        """What the customer said after the case was opened (a survey comment after a bare score):
        added to the description agents read first, and to the history. A mobile number in them
        becomes the case's contact phone: "13912345678" left while waiting for a person stayed in
        the notes, and the console told the agent there was no phone to call. ``withdrawal``: the
        words take the complaint back, so its resolution is not followed by a survey."""
        phones = {str(span.value) for span in find_phones(words)}
        phone = phones.pop() if len(phones) == 1 else None
        # The description is what agents read first: a 5,000-character message while waiting made it
        # 5,222 characters long. It gets the start; the history keeps the words whole (to a limit).
        short = words if len(words) <= MORE_WORDS else words[: MORE_WORDS - 1] + "…"
        kind = WITHDRAWAL if withdrawal else "note"
        return await self._append(
            number, kind, words[:MAX_DESCRIPTION], actor, more_description=short, phone=phone
        )

    async def add_note(self, number: str, note: str, *, actor: str) -> Case:
        return await self._append(number, "note", note, actor)

    async def correct_details(
        self, number: str, *, actor: str, order_id: str | None = None, phone: str | None = None
    ) -> Case:
        """An order number or phone sent after filing ("订单号发错了，应该是JD…"): it replaces the one
        on the case, with the old value in the history. Before, the bot asked whether the customer
        wanted to complain and the case kept the wrong number."""
        phone = normalise_phone(phone) if phone else None
        now = self._clock()
        async with self._uow() as uow:
            case = await _locked(uow, number)
            updated = replace(case, updated_at=now)
            events = []
            if order_id and order_id != case.order_id:
                updated.order_id = order_id
                events.append(self._correction(now, actor, "订单号", case.order_id, order_id))
            if phone and phone != case.phone:
                updated.phone = phone
                await uow.cases.ensure_customer(case.sender_id, case.channel, now, phone)
                events.append(self._correction(now, actor, "联系电话", case.phone, phone))
            if events:
                await uow.cases.save(updated, events)
                await uow.commit()
        return updated

    @staticmethod
    def _correction(now: datetime, actor: str, what: str, old: str | None, new: str) -> CaseEvent:
        return CaseEvent(
            kind=DETAILS_CORRECTED, at=now, actor=actor, from_value=old, to_value=new, note=f"客户更正{what}"
        )

    async def reopen_for_customer(self, number: str, words: str, *, actor: str) -> Case:
        """ "还是不脱水" after the resolution notice: the same case again, one step more urgent (as a
        bad survey answer makes it; urgency words may make it more), with the words added to its
        description, rather than a new case that starts from nothing."""
        await self.change_status(number, Status.REOPENED, actor=actor, note="客户反映问题仍在")
        # The words join the description, which the worklist shows and agents read first (and any
        # urgency words in them raise the case, as later words always do).
        case = await self.add_customer_words(number, words.strip(), actor=actor)
        return await self.escalate(case, actor=actor, why="客户反映问题仍在，提高优先级")

    async def escalate(self, case: Case, *, actor: str, why: str) -> Case:
        """One step more urgent for a customer let down (a bad survey answer, a problem back), but
        never to P1 this way: P1 is for safety."""
        if case.priority.rank <= 2:
            return case
        return await self.change_priority(case.number, case.priority.raised(), actor=actor, note=why)

    async def record(self, number: str, kind: str, note: str, *, actor: str = "bot") -> Case:
        """Something done about the case outside it (the customer told of its resolution)."""
        return await self._append(number, kind, note, actor)

    async def _append(
        self,
        number: str,
        kind: str,
        note: str | None,
        actor: str,
        *,
        more_description: str | None = None,
        phone: str | None = None,
        urgency_words: str | None = None,
    ) -> Case:
        """One event in a case's history (and, with ``more_description``, words added to it; with
        ``phone``, the customer's newest number to call; urgency words in either raise the priority)."""
        now = self._clock()
        async with self._uow() as uow:
            case = await _locked(uow, number)
            updated = replace(case, updated_at=now)
            events = [CaseEvent(kind=kind, at=now, actor=actor, note=note)]
            if more_description:
                updated.description = f"{case.description}\n{more_description}".strip()
            new_words = urgency_words or more_description
            if new_words:
                events += self._raise_for_new_words(updated, new_words, now, actor)
            if phone and phone != case.phone:
                updated.phone = phone  # the latest number given: "不对，手机号是…" corrects the last one
                await uow.cases.ensure_customer(case.sender_id, case.channel, now, phone)
            await uow.cases.save(updated, events)
            await uow.commit()
        return updated

    def _raise_for_new_words(self, case: Case, words: str, now: datetime, actor: str) -> list[CaseEvent]:
        """ "家里一股煤气味" written while waiting for a person left the case at P4, due Monday:
        urgency words added later raise the priority (never lower it), with deadlines counted from
        now, or kept if they were sooner."""
        assessment = assess_priority(self._policy, case.category, words)
        if not assessment.urgent_terms or assessment.priority.rank >= case.priority.rank:
            return []  # the category alone would undo an agent's lowering
        first_due, resolution_due = deadlines_for(self._policy, assessment.priority, now, self._next_opening)
        event = CaseEvent(
            kind="priority_changed",
            at=now,
            actor=actor,
            from_value=case.priority.value,
            to_value=assessment.priority.value,
            note="客户补充的情况涉及：" + "、".join(assessment.urgent_terms),
        )
        case.priority = assessment.priority
        case.priority_reasons = [
            *case.priority_reasons,
            *(r for r in assessment.reasons if r.startswith("urgent:")),
        ]
        case.first_response_due = min(case.first_response_due, first_due)
        case.resolution_due = min(case.resolution_due, resolution_due)
        return [event]

    async def attach(self, attachment: Attachment, *, for_new_case: bool = False) -> Attachment:
        """Keep a customer's file with their newest open case (or unfiled until they open one).
        ``for_new_case``: the customer is describing a new complaint, so the file waits for that one."""
        async with self._uow() as uow:
            open_cases = (
                [] if for_new_case else await uow.cases.for_sender(attachment.sender_id, open_only=True)
            )
            if open_cases:
                case = open_cases[0]
                attachment.case_number = case.number
                await uow.cases.save(
                    replace(case, updated_at=attachment.created_at),
                    [
                        CaseEvent(
                            kind="attachment",
                            at=attachment.created_at,
                            actor=f"customer:{attachment.sender_id}",
                            note=attachment.summary,
                            data={"media_id": attachment.media_id, "path": attachment.stored_path},
                        )
                    ],
                )
            attachment = await uow.cases.add_attachment(attachment)
            await uow.commit()
        return attachment

    async def attachments(self, number: str) -> list[Attachment]:
        async with self._uow(readonly=True) as uow:
            return await uow.cases.attachments(number)

    def local_time(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)
