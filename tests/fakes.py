"""In-memory stand-ins for the storage ports, so service and action tests need no database."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime

from bot.cases.model import Attachment, Case, CaseEvent, Status
from bot.feedback.service import FeedbackEntry
from bot.handoff.errors import AlreadyInConversation


@dataclass
class FakeStore:
    customers: dict[str, dict] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)
    feedback: list[FeedbackEntry] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    commits: int = 0


class FakeCaseRepository:
    def __init__(self, store: FakeStore, staged: dict[str, Case]) -> None:
        self._store = store
        self._staged = staged

    async def ensure_customer(
        self, sender_id: str, channel: str, now: datetime, phone: str | None = None
    ) -> int:
        customer = self._store.customers.setdefault(
            sender_id, {"id": len(self._store.customers) + 1, "channel": channel, "phone": None}
        )
        if phone:
            customer["phone"] = phone
        return customer["id"]

    async def customer_phone(self, sender_id: str) -> str | None:
        return (self._store.customers.get(sender_id) or {}).get("phone")

    async def next_sequence(self, day: str) -> int:
        self._store.sequences[day] = self._store.sequences.get(day, 0) + 1
        return self._store.sequences[day]

    async def add(self, case: Case, customer_id: int) -> Case:
        case.id = len(self._store.cases) + len(self._staged) + 1
        self._staged[case.number] = copy.deepcopy(case)
        return case

    def _all(self) -> dict[str, Case]:
        return {**self._store.cases, **self._staged}

    async def get(self, number: str, *, for_update: bool = False) -> Case | None:
        found = self._all().get(number)
        return copy.deepcopy(found) if found else None

    async def for_sender(self, sender_id: str, *, open_only: bool) -> list[Case]:
        found = [c for c in self._all().values() if c.sender_id == sender_id and (c.is_open or not open_only)]
        return sorted((copy.deepcopy(c) for c in found), key=lambda c: (c.created_at, c.number), reverse=True)

    async def save(self, case: Case, new_events: list[CaseEvent]) -> None:
        stored = copy.deepcopy(case)
        stored.events = self._all()[case.number].events + list(new_events)
        self._staged[case.number] = stored

    async def search(self, *, status: Status | None = None, limit: int = 50, offset: int = 0) -> list[Case]:
        found = [c for c in self._all().values() if status is None or c.status is status]
        return sorted(found, key=lambda c: c.created_at, reverse=True)[offset : offset + limit]

    async def open_by_deadline(self, limit: int) -> list[Case]:
        from bot.cases.rules import work_order

        return copy.deepcopy(work_order(self._all().values())[:limit])

    async def events(self, number: str) -> list[CaseEvent]:
        return list(self._all()[number].events)

    async def events_of_kinds(self, numbers: list[str], kinds: list[str]) -> dict[str, list[CaseEvent]]:
        cases = self._all()
        found = {n: [e for e in cases[n].events if e.kind in kinds] for n in numbers if n in cases}
        return {n: events for n, events in found.items() if events}

    async def numbers_with_event(self, kind: str, since: datetime) -> list[str]:
        return [n for n, c in self._all().items() if any(e.kind == kind and e.at >= since for e in c.events)]

    async def add_attachment(self, attachment: Attachment) -> Attachment:
        attachment.id = len(self._store.attachments) + 1
        self._store.attachments.append(copy.deepcopy(attachment))
        return attachment

    async def link_unfiled_attachments(self, sender_id: str, case: Case, since: datetime) -> int:
        unfiled = [
            a
            for a in self._store.attachments
            if a.sender_id == sender_id and a.case_number is None and a.created_at >= since
        ]
        for a in unfiled:
            a.case_number = case.number
            self._staged[case.number].events.append(
                CaseEvent(kind="attachment", at=a.created_at, actor=f"customer:{sender_id}", note=a.summary)
            )
        return len(unfiled)

    async def attachments(self, number: str) -> list[Attachment]:
        return [a for a in self._store.attachments if a.case_number == number]


class FakeUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self._staged: dict[str, Case] = {}
        self.cases = FakeCaseRepository(store, self._staged)

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._staged.clear()  # uncommitted work is lost, as with a rolled-back transaction

    async def commit(self) -> None:
        self._store.cases.update(self._staged)
        self._staged.clear()
        self._store.commits += 1


class FakeUowFactory:
    def __init__(self, store: FakeStore | None = None) -> None:
        self.store = store or FakeStore()

    def __call__(self, *, readonly: bool = False) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)


class FakeFeedbackStore:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def __call__(self) -> FakeFeedbackStore:
        return self

    async def add(self, entry: FeedbackEntry) -> None:
        self._store.feedback.append(entry)


class FakeCustomerStore:
    """Customer facts in memory."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}

    def _row(self, sender_id: str, channel: str = "wechat") -> dict:
        return self.rows.setdefault(
            sender_id, {"channel": channel, "last_inbound": None, "unsubscribed": None, "opted_out": None}
        )

    async def record_inbound(self, sender_id: str, channel: str, at: datetime) -> None:
        row = self._row(sender_id, channel)
        row["last_inbound"] = max(filter(None, [row["last_inbound"], at]))

    async def set_subscribed(self, sender_id: str, channel: str, subscribed: bool, at: datetime) -> None:
        self._row(sender_id, channel)["unsubscribed"] = None if subscribed else at

    async def last_inbound(self, sender_id: str) -> datetime | None:
        return self.rows.get(sender_id, {}).get("last_inbound")

    async def is_unsubscribed(self, sender_id: str) -> bool:
        return bool(self.rows.get(sender_id, {}).get("unsubscribed"))

    async def opt_out_of_surveys(self, sender_id: str, channel: str, at: datetime) -> bool:
        row = self._row(sender_id, channel)
        changed = row["opted_out"] is None
        row["opted_out"] = row["opted_out"] or at
        return changed

    async def standing(self, sender_id: str):  # type: ignore[no-untyped-def]
        from bot.customers import CustomerStanding

        row = self.rows.get(sender_id)
        if row is None:
            return CustomerStanding(False, False, False, None, None)
        return CustomerStanding(
            True, bool(row["unsubscribed"]), bool(row["opted_out"]), row["last_inbound"], row["channel"]
        )


class FakeSurveyStore:
    """Surveys and service events in memory, with the same claiming rules as the SQL store."""

    def __init__(self) -> None:
        from bot.surveys.model import ServiceEvent, Survey

        self.events: dict[str, ServiceEvent] = {}
        self.surveys: dict[int, Survey] = {}
        self.leases: dict[int, datetime] = {}

    async def add_service_event(self, event):  # type: ignore[no-untyped-def]
        import dataclasses

        if event.external_id in self.events:
            return self.events[event.external_id], False
        stored = dataclasses.replace(event, id=len(self.events) + 1)
        self.events[event.external_id] = stored
        return stored, True

    async def survey_for_service_event(self, service_event_id: int):  # type: ignore[no-untyped-def]
        return next(
            (copy.deepcopy(s) for s in self.surveys.values() if s.service_event_id == service_event_id), None
        )

    async def add(self, survey):  # type: ignore[no-untyped-def]
        if survey.service_event_id is not None:
            existing = await self.survey_for_service_event(survey.service_event_id)
            if existing is not None:
                return existing
        survey.id = len(self.surveys) + 1
        self.surveys[survey.id] = copy.deepcopy(survey)
        return survey

    async def get(self, survey_id: int):  # type: ignore[no-untyped-def]
        found = self.surveys.get(survey_id)
        return copy.deepcopy(found) if found else None

    async def save(self, survey, changes, *, expect=None) -> bool:  # type: ignore[no-untyped-def]
        current = self.surveys[survey.id]
        if expect is not None and current.status is not expect:
            return False
        stored = copy.deepcopy(survey)
        stored.history = current.history + list(changes)
        self.surveys[survey.id] = stored
        self.leases.pop(survey.id, None)
        return True

    async def latest_for(self, sender_id: str, statuses):  # type: ignore[no-untyped-def]
        found = [s for s in self.surveys.values() if s.sender_id == sender_id and s.status in statuses]
        return copy.deepcopy(max(found, key=lambda s: (s.updated_at, s.id))) if found else None

    async def recent_contact(self, sender_id: str, since: datetime) -> bool:
        from bot.surveys.model import SurveyStatus

        counted = {
            SurveyStatus.SCHEDULED,
            SurveyStatus.SENT,
            SurveyStatus.REMINDED,
            SurveyStatus.ANSWERED,
            SurveyStatus.EXPIRED,
        }
        return any(
            s.sender_id == sender_id and s.status in counted and (s.sent_at or s.due_at) >= since
            for s in self.surveys.values()
        )

    def _claim(self, match, now, limit, lease):  # type: ignore[no-untyped-def]
        free = [s for s in self.surveys.values() if match(s) and self.leases.get(s.id, now) <= now]
        claimed = []
        for s in sorted(free, key=lambda s: (s.due_at, s.id))[:limit]:
            self.leases[s.id] = now + lease
            s.attempts += 1
            claimed.append(copy.deepcopy(s))
        return claimed

    async def claim_due(self, now, limit, lease):  # type: ignore[no-untyped-def]
        from bot.surveys.model import SurveyStatus

        return self._claim(
            lambda s: s.status is SurveyStatus.SCHEDULED and s.due_at <= now, now, limit, lease
        )

    async def claim_reminders(self, sent_before, now, limit, lease):  # type: ignore[no-untyped-def]
        from bot.surveys.model import SurveyStatus

        return self._claim(
            lambda s: s.status is SurveyStatus.SENT and s.sent_at <= sent_before and s.reminded_at is None,
            now,
            limit,
            lease,
        )

    async def claim_expired(self, sent_before, now, limit, lease):  # type: ignore[no-untyped-def]
        from bot.surveys.model import SurveyStatus

        return self._claim(
            lambda s: s.status in (SurveyStatus.SENT, SurveyStatus.REMINDED) and s.sent_at <= sent_before,
            now,
            limit,
            lease,
        )

    async def release(self, survey_id: int) -> None:
        self.leases.pop(survey_id, None)

    async def search(self, *, status=None, sender_id=None, limit=100):  # type: ignore[no-untyped-def]
        found = [
            copy.deepcopy(s)
            for s in self.surveys.values()
            if (status is None or s.status is status) and (sender_id is None or s.sender_id == sender_id)
        ]
        return sorted(found, key=lambda s: s.id, reverse=True)[:limit]

    async def for_stats(self, since, until):  # type: ignore[no-untyped-def]
        return [copy.deepcopy(s) for s in self.surveys.values() if s.sent_at and since <= s.sent_at < until]


class FakeHandoffStore:
    """Handoffs and agents in memory; transitions are conditional like the SQL store's."""

    def __init__(self) -> None:
        from bot.handoff.model import Agent, Handoff

        self.handoffs: dict[int, Handoff] = {}
        self.log: list[tuple] = []
        self.agent_rows: dict[str, tuple[Agent, str]] = {}
        self.online_count = 1

    async def add(self, handoff, event):  # type: ignore[no-untyped-def]
        existing = await self.open_for(handoff.sender_id)
        if existing is not None and handoff.status.open:  # as the database's unique index
            raise AlreadyInConversation(existing.id)
        handoff.id = len(self.handoffs) + 1
        self.handoffs[handoff.id] = copy.deepcopy(handoff)
        self.log.append(
            (handoff.id, handoff.queued_at, *event)
        )  # as the SQL store: (at, kind, actor, detail)
        return handoff

    async def get(self, handoff_id):  # type: ignore[no-untyped-def]
        found = self.handoffs.get(handoff_id)
        return copy.deepcopy(found) if found else None

    async def open_for(self, sender_id):  # type: ignore[no-untyped-def]
        found = [h for h in self.handoffs.values() if h.sender_id == sender_id and h.status.open]
        return copy.deepcopy(found[-1]) if found else None

    async def transition(self, handoff_id, expect, values, event, *, expect_agent=None):  # type: ignore[no-untyped-def]
        from bot.handoff.model import HandoffStatus

        h = self.handoffs.get(handoff_id)
        if h is None or h.status not in expect or (expect_agent is not None and h.agent != expect_agent):
            return False
        for key, value in values.items():
            setattr(h, key, HandoffStatus(value) if key == "status" else value)
        self.log.append((handoff_id, values.get("updated_at"), *event))
        return True

    async def touch(self, handoff_id, **values):  # type: ignore[no-untyped-def]
        for key, value in values.items():
            setattr(self.handoffs[handoff_id], key, value)

    async def claim_notice(self, handoff_id, now, quiet_since):  # type: ignore[no-untyped-def]
        from bot.handoff.model import HandoffStatus

        h = self.handoffs[handoff_id]
        if h.status is not HandoffStatus.WAITING or (h.noticed_at is not None and h.noticed_at > quiet_since):
            return False
        h.noticed_at = now
        return True

    async def in_status(self, statuses, agent=None):  # type: ignore[no-untyped-def]
        return [
            copy.deepcopy(h)
            for h in self.handoffs.values()
            if h.status in statuses and (agent is None or h.agent == agent)
        ]

    async def events(self, handoff_id):  # type: ignore[no-untyped-def]
        return [e[1:] for e in self.log if e[0] == handoff_id]

    async def online(self, since):  # type: ignore[no-untyped-def]
        return self.online_count

    async def add_agent(self, agent, password_hash, now):  # type: ignore[no-untyped-def]
        agent.id = len(self.agent_rows) + 1
        self.agent_rows[agent.username] = (agent, password_hash)
        return agent

    async def agent_with_hash(self, username):  # type: ignore[no-untyped-def]
        return self.agent_rows.get(username)

    async def set_password_hash(self, username, password_hash):  # type: ignore[no-untyped-def]
        agent, _ = self.agent_rows[username]
        self.agent_rows[username] = (agent, password_hash)

    async def agents(self):  # type: ignore[no-untyped-def]
        return [a for a, _ in self.agent_rows.values()]

    async def seen(self, username, at):  # type: ignore[no-untyped-def]
        return None

    async def set_active(self, username, active):  # type: ignore[no-untyped-def]
        self.agent_rows[username][0].active = active


class FakeRasa:
    """Records what would have gone to Rasa's HTTP API."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    async def append_events(
        self,
        conversation_id,
        events,
        *,
        output_channel=None,  # type: ignore[no-untyped-def]
        execute_side_effects=False,
    ):
        self.calls.append(("events", conversation_id, events, output_channel, execute_side_effects))

    async def trigger_intent(self, conversation_id, intent, entities, output_channel):  # type: ignore[no-untyped-def]
        self.calls.append(("trigger", conversation_id, intent, entities, output_channel))

    async def tracker(self, conversation_id, include_events="NONE"):  # type: ignore[no-untyped-def]
        return {"sender_id": conversation_id, "events": [], "paused": False, "active_loop": {}}

    async def close(self) -> None:
        return None


class FakeBus:
    def __init__(self) -> None:
        self.published: list[tuple] = []

    async def conversation(self, sender_id, event):  # type: ignore[no-untyped-def]
        self.published.append(("conversation", sender_id, event))

    async def queue_changed(self, event):  # type: ignore[no-untyped-def]
        self.published.append(("queue", event))

    async def close(self) -> None:
        return None
