"""Surveys on a real database: idempotent intake, safe claiming by several workers, the send-time
rules as the worker applies them, reminders, expiry and figures.

Every test runs on SQLite and, when DATABASE_URL is set, on PostgreSQL (``migrated``). A "node" is
one process's view of the database: its own engine and services. The Rasa server is a fake whose
``trigger_intent`` does what ``action_start_survey`` / ``action_remind_survey`` do.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.customers import CustomerService
from bot.db.customer_store import SqlCustomerStore
from bot.db.migrate import downgrade, upgrade
from bot.db.models import ServiceEventRow, SurveyEventRow, SurveyRow
from bot.db.survey_store import SqlSurveyStore
from bot.surveys.errors import InvalidServiceEvent
from bot.surveys.model import ServiceEvent, Survey, SurveyStatus
from bot.surveys.rules import SurveyPolicy
from bot.surveys.service import SurveyService
from bot.wiring import Services, build_services
from bot.worker import SurveyDispatch, SurveyReminders
from tests.conftest import Clock

LEASE = timedelta(minutes=5)  # what SurveyService.claim_due leases for
SECOND = timedelta(seconds=1)


class Node:
    """One process: its own engine, the wired services, and a survey service on the test's clock."""

    def __init__(self, url: str, clock: Clock, *, template_configured: bool = False) -> None:
        self.services: Services = build_services(Settings.from_env({"DATABASE_URL": url}))
        self.engine = self.services.engine
        self.store = SqlSurveyStore(self.engine)
        self.customers = CustomerService(SqlCustomerStore(self.engine))
        self.surveys = SurveyService(
            self.store,
            self.customers,
            self.services.cases,
            SurveyPolicy(),
            template_configured=template_configured,
            clock=clock,
        )


@pytest.fixture
async def nodes(migrated: str, clock: Clock) -> AsyncIterator[Callable[..., Node]]:
    """A factory of nodes on the migrated database; all are closed afterwards."""
    made: list[Node] = []

    def make(**kw: Any) -> Node:
        node = Node(migrated, clock, **kw)
        made.append(node)
        return node

    yield make
    for node in made:
        await node.services.close()


@dataclass(frozen=True)
class Message:
    """What reached a customer's phone."""

    sender_id: str
    survey_id: int
    via: str
    intent: str


@dataclass
class FakeRasa:
    """The Rasa server as the worker sees it. Triggering runs what the survey actions do: mark the
    survey sent (or reminded) and let the form speak only if that returned the survey.

    With ``hang_after=k`` only k triggers reach Rasa; later ones wait for ``wake``: the worker is
    stuck there (a stalled process), or killed there if its task is cancelled."""

    actions: SurveyService
    phone: list[Message]
    loops: dict[str, str] = field(default_factory=dict)
    paused: set[str] = field(default_factory=set)
    hang_after: int | None = None
    triggered: list[int] = field(default_factory=list)
    finished: int = 0
    hanging: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def tracker(self, sender_id: str) -> dict[str, Any]:
        await asyncio.sleep(0)
        loop = self.loops.get(sender_id)
        return {"active_loop": {"name": loop} if loop else {}, "paused": sender_id in self.paused}

    async def trigger_intent(
        self, conversation_id: str, intent: str, entities: dict[str, Any], output_channel: str
    ) -> None:
        if self.hang_after is not None and len(self.triggered) >= self.hang_after and not self.wake.is_set():
            self.hanging.set()
            await self.wake.wait()
        survey_id = int(entities["survey_id"])
        self.triggered.append(survey_id)
        if intent == "EXTERNAL_survey_start":
            done = await self.actions.mark_sent(survey_id, entities["survey_delivery"])
        else:
            done = await self.actions.mark_reminded(survey_id)
        if done is not None:
            self.phone.append(Message(conversation_id, survey_id, entities["survey_delivery"], intent))
        self.finished += 1

    async def stuck(self) -> None:
        """Until the worker hangs with its first ``hang_after`` triggers completely done."""
        for _ in range(3000):
            if self.hanging.is_set() and self.finished == self.hang_after:
                return
            await asyncio.sleep(0.01)
        raise TimeoutError("the worker never got stuck")


def dispatch(node: Node, rasa: FakeRasa, batch: int = 50) -> SurveyDispatch:
    return SurveyDispatch(node.surveys, rasa, batch=batch)  # type: ignore[arg-type]


async def drain(worker: SurveyDispatch, clock: Clock) -> int:
    """Run a worker until it finds nothing due; how many surveys it claimed."""
    total = 0
    while claimed := await worker.run_once(clock.now):
        total += claimed
        await asyncio.sleep(0)
    return total


def service_event(external_id: str, sender: str, done: datetime, **kw: Any) -> ServiceEvent:
    return ServiceEvent(
        external_id=external_id,
        sender_id=sender,
        channel="wechat",
        service_type=kw.pop("service_type", "repair"),
        technician=kw.pop("technician", "王师傅"),
        completed_at=done,
        **kw,
    )


async def due_survey(
    node: Node, clock: Clock, sender: str, *, wrote: timedelta | None = timedelta(hours=1), **kw: Any
) -> Survey:
    """A scheduled survey already due (service done 3 h ago); the customer wrote ``wrote`` ago."""
    if wrote is not None:
        await node.customers.customer_wrote(sender, "wechat", clock.now - wrote)
    intake = await node.surveys.record_service_event(
        service_event(f"WO-{sender}", sender, clock.now - timedelta(hours=3), **kw)
    )
    assert intake.created and intake.survey is not None and intake.survey.id is not None
    assert intake.survey.status is SurveyStatus.SCHEDULED and intake.survey.due_at <= clock.now
    return intake.survey


async def due_surveys(node: Node, clock: Clock, prefix: str, n: int) -> list[int]:
    """``n`` due surveys for as many customers, all in the 48 h window (stored directly: faster)."""

    async def one(i: int) -> int:
        sender = f"{prefix}-{i}"
        await node.customers.customer_wrote(sender, "wechat", clock.now - timedelta(hours=1))
        survey = await node.store.add(
            Survey(
                sender_id=sender,
                channel="wechat",
                subject="service",
                service_type="repair",
                technician="王师傅",
                status=SurveyStatus.SCHEDULED,
                due_at=clock.now - timedelta(minutes=i % 60),
                created_at=clock.now - timedelta(hours=1),
                updated_at=clock.now - timedelta(hours=1),
            )
        )
        assert survey.id is not None
        return survey.id

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def sent_survey(node: Node, clock: Clock, sender: str, **kw: Any) -> Survey:
    survey = await due_survey(node, clock, sender, **kw)
    sent = await node.surveys.mark_sent(survey.id or 0, "customer_service")
    assert sent is not None
    return sent


async def history(node: Node, survey_id: int) -> list[tuple[datetime, str | None, str, str | None]]:
    """The survey_events rows of a survey, oldest first, straight from the table."""
    async with node.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                SurveyEventRow.at, SurveyEventRow.from_status, SurveyEventRow.to_status, SurveyEventRow.reason
            )
            .where(SurveyEventRow.survey_id == survey_id)
            .order_by(SurveyEventRow.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def count(node: Node, stmt: sa.sql.Select) -> int:
    async with node.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(stmt.subquery()))).scalar_one())


async def statuses(node: Node) -> Counter[str]:
    async with node.engine.connect() as conn:
        return Counter(r[0] for r in await conn.execute(sa.select(SurveyRow.status)))


# --- service events ----------------------------------------------------------------------------


async def test_the_same_service_event_posted_ten_times_at_once_makes_one_survey(
    nodes: Callable[..., Node], clock: Clock
) -> None:
    """Ten concurrent posts of one external id from five processes: one row, one survey, nine repeats."""
    posters = [nodes() for _ in range(5)]
    event = service_event("WO-dup", "wx-dup", clock.now - timedelta(hours=1))
    intakes = await asyncio.gather(*(posters[n % 5].surveys.record_service_event(event) for n in range(10)))

    assert sorted(i.created for i in intakes) == [False] * 9 + [True]
    assert len({i.event.id for i in intakes}) == 1
    (created,) = [i for i in intakes if i.created]
    assert created.survey is not None and created.survey.status is SurveyStatus.SCHEDULED
    assert {i.survey.id for i in intakes if i.survey is not None} == {created.survey.id}
    node = posters[0]
    assert await count(node, sa.select(ServiceEventRow.id)) == 1
    assert await count(node, sa.select(SurveyRow.id).where(SurveyRow.sender_id == "wx-dup")) == 1


class FailingOnceStore(SqlSurveyStore):
    """Scheduling the survey fails once (the process dies, the database hiccups)."""

    failed = False

    async def add(self, survey: Survey) -> Survey:
        if not self.failed:
            self.failed = True
            raise ConnectionError("lost the database while scheduling the survey")
        return await super().add(survey)


async def test_a_retried_service_event_still_gets_its_survey_after_a_failed_first_try(
    nodes: Callable[..., Node], clock: Clock
) -> None:
    """The order system retries after an error; the retry must end with a scheduled survey."""
    node = nodes()
    flaky = SurveyService(
        FailingOnceStore(node.engine), node.customers, node.services.cases, SurveyPolicy(), clock=clock
    )
    event = service_event("WO-retry", "wx-retry", clock.now - timedelta(hours=1))
    with pytest.raises(ConnectionError):
        await flaky.record_service_event(event)
    retry = await node.surveys.record_service_event(event)
    assert retry.survey is not None and retry.survey.status is SurveyStatus.SCHEDULED
    assert await count(node, sa.select(SurveyRow.id).where(SurveyRow.sender_id == "wx-retry")) == 1


class PausingStore(SqlSurveyStore):
    """Scheduling the survey waits for ``go``: the moment between storing the event and its survey."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.reached = asyncio.Event()
        self.go = asyncio.Event()

    async def add(self, survey: Survey) -> Survey:
        self.reached.set()
        await self.go.wait()
        return await super().add(survey)


async def test_a_repeat_posted_while_the_first_is_scheduling_reports_the_survey(
    nodes: Callable[..., Node], clock: Clock
) -> None:
    node = nodes()
    paused = PausingStore(node.engine)
    slow = SurveyService(paused, node.customers, node.services.cases, SurveyPolicy(), clock=clock)
    event = service_event("WO-overlap", "wx-overlap", clock.now - timedelta(hours=1))
    first = asyncio.create_task(slow.record_service_event(event))
    await asyncio.wait_for(paused.reached.wait(), 30)
    repeat_task = asyncio.create_task(nodes().surveys.record_service_event(event))
    await asyncio.wait({repeat_task}, timeout=2)  # a single-transaction intake would wait for the first
    paused.go.set()
    created, repeat = await first, await repeat_task
    assert created.created and not repeat.created and created.survey is not None
    assert repeat.survey is not None and repeat.survey.id == created.survey.id


@pytest.mark.parametrize(
    ("name", "kw"), [("order_id", {"order_id": "9" * 65}), ("channel", {"channel": "w" * 33})]
)
async def test_an_over_long_field_is_refused_by_name(
    nodes: Callable[..., Node], clock: Clock, name: str, kw: dict[str, str]
) -> None:
    """What the columns cannot hold is a 400 naming the field, on every database."""
    event = service_event("WO-long", "wx-long", clock.now - timedelta(hours=1))
    event = ServiceEvent(**{**event.__dict__, **kw})
    with pytest.raises(InvalidServiceEvent) as err:
        await nodes().surveys.record_service_event(event)
    assert err.value.field == name


# --- claiming ----------------------------------------------------------------------------------


async def add_scheduled(store: SqlSurveyStore, now: datetime, n: int, **kw: Any) -> list[int]:
    async def one(i: int) -> int:
        survey = await store.add(
            Survey(
                sender_id=f"o_claim_{i}",
                channel="wechat",
                subject="service",
                service_type="repair",
                status=kw.get("status", SurveyStatus.SCHEDULED),
                due_at=kw.get("due_at", now - timedelta(seconds=i % 97)),
                created_at=now - timedelta(hours=3),
                updated_at=now - timedelta(hours=3),
            )
        )
        assert survey.id is not None
        return survey.id

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def test_four_claimers_take_three_hundred_due_surveys_exactly_once_until_the_lease_ends(
    nodes: Callable[..., Node], clock: Clock
) -> None:
    """Batches of 25 from four processes; a claim holds for its lease and ends with it."""
    setup = nodes()
    now = clock.now
    due = await add_scheduled(setup.store, now, 300)
    await add_scheduled(setup.store, now, 3, due_at=now + timedelta(hours=1))  # not due yet
    await add_scheduled(setup.store, now, 3, status=SurveyStatus.SENT)  # not scheduled any more
    claimers = [nodes().store for _ in range(4)]

    async def claim_all(store: SqlSurveyStore) -> list[int]:
        mine: list[int] = []
        while batch := await store.claim_due(now, 25, LEASE):
            assert len(batch) <= 25 and all(s.status is SurveyStatus.SCHEDULED for s in batch)
            mine.extend(s.id for s in batch if s.id is not None)
            assert len(mine) <= len(due), "claimed the same surveys again"
            await asyncio.sleep(0.01)  # handling the batch before claiming the next
        return mine

    claims = await asyncio.gather(*(claim_all(store) for store in claimers))
    every = [i for mine in claims for i in mine]
    twice = [i for i, n in Counter(every).items() if n > 1]
    assert not twice, f"claimed more than once: {twice[:10]}"
    assert sorted(every) == sorted(due)
    assert sum(1 for mine in claims if mine) >= 2, "the claimers did not run side by side"

    assert await claimers[0].claim_due(now + LEASE - SECOND, 500, LEASE) == []
    again = await claimers[1].claim_due(now + LEASE, 500, LEASE)
    assert sorted(s.id for s in again) == sorted(due)  # type: ignore[type-var]
    assert {s.attempts for s in again} == {2}


async def test_mark_sent_from_two_processes_at_once_lets_one_win(
    nodes: Callable[..., Node], clock: Clock
) -> None:
    """The action's guard: of two simultaneous starts of a survey exactly one may speak."""
    setup, a, b = nodes(), nodes(), nodes()
    ids = await add_scheduled(setup.store, clock.now, 25)
    results = await asyncio.gather(
        *(node.surveys.mark_sent(i, "customer_service") for i in ids for node in (a, b))
    )
    winners = Counter(s.id for s in results if s is not None)
    assert sorted(winners) == sorted(ids) and set(winners.values()) == {1}
    for i in ids[:3]:
        assert [(f, t, r) for _, f, t, r in await history(setup, i)] == [
            ("scheduled", "sent", "via customer_service")
        ]


# --- the worker ---------------------------------------------------------------------------------


async def test_two_workers_racing_send_every_survey_exactly_once(
    nodes: Callable[..., Node], clock: Clock
) -> None:
    """Two worker processes, each with its own Rasa/action server, drain 200 due surveys."""
    setup = nodes()
    ids = await due_surveys(setup, clock, "wx-race", 200)
    phone: list[Message] = []
    rasas = [FakeRasa(nodes().surveys, phone) for _ in range(2)]
    workers = [dispatch(nodes(), rasa, batch=20) for rasa in rasas]

    claimed = await asyncio.gather(*(drain(w, clock) for w in workers))

    assert all(claimed), f"both workers should have worked: {claimed}"
    triggered = rasas[0].triggered + rasas[1].triggered
    assert sorted(triggered) == sorted(ids), "a survey was triggered twice or never"
    assert len(phone) == 200 and sorted(m.survey_id for m in phone) == sorted(ids)
    assert {(m.via, m.intent) for m in phone} == {("customer_service", "EXTERNAL_survey_start")}
    assert await statuses(setup) == Counter({"sent": 200})


async def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    nodes: Callable[..., Node], clock: Clock
) -> None:
    """Killed after triggering 10 of its 25: the rest come back when the lease ends."""
    setup = nodes()
    ids = await due_surveys(setup, clock, "wx-kill", 60)
    phone: list[Message] = []
    doomed_rasa = FakeRasa(nodes().surveys, phone, hang_after=10)
    doomed_node = nodes()
    doomed = asyncio.create_task(dispatch(doomed_node, doomed_rasa, batch=25).run_once(clock.now))
    await doomed_rasa.stuck()
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    await doomed_node.services.close()  # the process is gone
    assert len(phone) == 10 and await statuses(setup) == Counter({"sent": 10, "scheduled": 50})

    survivor = dispatch(nodes(), FakeRasa(nodes().surveys, phone))
    assert await drain(survivor, clock) == 35  # the unclaimed ones; the doomed worker's 15 are leased
    assert len(phone) == 45
    clock.now += LEASE - SECOND
    assert await drain(survivor, clock) == 0
    clock.now += SECOND
    assert await drain(survivor, clock) == 15

    assert sorted(m.survey_id for m in phone) == sorted(ids)
    assert await statuses(setup) == Counter({"sent": 60})


async def test_a_stalled_worker_waking_after_its_lease_sends_nothing_twice(
    nodes: Callable[..., Node], clock: Clock
) -> None:
    """A worker stuck past its lease: another sends its surveys; when it wakes, mark_sent stops it."""
    setup = nodes()
    ids = await due_surveys(setup, clock, "wx-stall", 30)
    phone: list[Message] = []
    stalled_rasa = FakeRasa(nodes().surveys, phone, hang_after=5)
    stalled = asyncio.create_task(dispatch(nodes(), stalled_rasa, batch=20).run_once(clock.now))
    await stalled_rasa.stuck()

    clock.now += LEASE
    assert await drain(dispatch(nodes(), FakeRasa(nodes().surveys, phone)), clock) == 25
    stalled_rasa.wake.set()
    assert await asyncio.wait_for(stalled, 30) == 20

    assert len(stalled_rasa.triggered) == 20  # it did trigger its whole batch ...
    assert sorted(m.survey_id for m in phone) == sorted(ids)  # ... yet every survey went out once
    assert await statuses(setup) == Counter({"sent": 30})


async def test_the_worker_postpones_cancels_and_gives_up_with_a_reason_on_record(
    nodes: Callable[..., Node], clock: Clock
) -> None:
    """Busy in intake → +30 min; unsubscribed / opted out → cancelled; no window, no template →
    unreachable. Each change is a survey_events row with its time and reason."""
    node = nodes()
    busy = await due_survey(node, clock, "wx-busy")
    gone = await due_survey(node, clock, "wx-gone")
    quiet = await due_survey(node, clock, "wx-quiet")
    far = await due_survey(node, clock, "wx-far", wrote=timedelta(hours=49))
    created_at = clock.now
    clock.now += timedelta(minutes=7)
    await node.customers.unsubscribed("wx-gone", "wechat", clock.now)
    await node.customers.opt_out_of_surveys("wx-quiet", "wechat", clock.now)
    phone: list[Message] = []
    rasa = FakeRasa(nodes().surveys, phone, loops={"wx-busy": "complaint_form"})

    assert await dispatch(node, rasa).run_once(clock.now) == 4
    assert phone == [] and rasa.triggered == []

    expected = {
        busy.id: ("scheduled", "intake_in_progress"),
        gone.id: ("cancelled", "unsubscribed"),
        quiet.id: ("cancelled", "opted_out"),
        far.id: ("unreachable", "outside_48h_window_no_template"),
    }
    for survey_id, (status, reason) in expected.items():
        assert survey_id is not None
        stored = await node.store.get(survey_id)
        assert stored is not None and (stored.status.value, stored.reason) == (status, reason)
        rows = await history(node, survey_id)
        assert [(at, f, t) for at, f, t, _ in rows] == [
            (created_at, None, "scheduled"),
            (clock.now, "scheduled", status),
        ]
        assert rows[0][3].startswith("due ") and rows[1][3] == reason
    postponed = await node.store.get(busy.id or 0)
    assert postponed is not None and postponed.due_at == clock.now + timedelta(minutes=30)

    rasa.loops.clear()  # the customer has finished the complaint
    clock.now += timedelta(minutes=29)
    assert await dispatch(node, rasa).run_once(clock.now) == 0
    clock.now += timedelta(minutes=1)
    assert await dispatch(node, rasa).run_once(clock.now) == 1
    assert [m.survey_id for m in phone] == [busy.id]


async def test_a_run_in_the_quiet_hours_postpones_to_nine(nodes: Callable[..., Node], clock: Clock) -> None:
    """Due at 09:30, found at 22:30 Shanghai: moved to 09:00 the next morning."""
    node = nodes()
    survey = await due_survey(node, clock, "wx-night")
    clock.now = datetime(2026, 11, 20, 14, 30, tzinfo=timezone.utc)  # 22:30 in Shanghai
    rasa = FakeRasa(nodes().surveys, [])
    assert await dispatch(node, rasa).run_once(clock.now) == 1
    stored = await node.store.get(survey.id or 0)
    assert stored is not None and rasa.triggered == []
    assert (stored.status, stored.reason) == (SurveyStatus.SCHEDULED, "quiet_hours")
    assert stored.due_at == datetime(2026, 11, 21, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai
    assert (await history(node, survey.id or 0))[-1] == (clock.now, "scheduled", "scheduled", "quiet_hours")
    clock.now = datetime(2026, 11, 21, 0, 59, tzinfo=timezone.utc)
    assert await dispatch(node, rasa).run_once(clock.now) == 0


async def test_outside_the_window_a_configured_template_is_used(
    nodes: Callable[..., Node], clock: Clock
) -> None:
    """No message for 49 h but a template configured: the survey goes out as a template."""
    node = nodes(template_configured=True)
    survey = await due_survey(node, clock, "wx-template", wrote=timedelta(hours=49))
    phone: list[Message] = []
    await dispatch(node, FakeRasa(node.surveys, phone)).run_once(clock.now)
    assert phone == [Message("wx-template", survey.id or 0, "template", "EXTERNAL_survey_start")]
    stored = await node.store.get(survey.id or 0)
    assert stored is not None and (stored.status, stored.sent_via) == (SurveyStatus.SENT, "template")


# --- after sending -----------------------------------------------------------------------------


async def test_a_survey_expires_after_72_hours_and_a_late_answer_still_counts(
    nodes: Callable[..., Node], clock: Clock
) -> None:
    node = nodes()
    survey = await sent_survey(node, clock, "wx-late")
    sent_at = clock.now
    clock.now = sent_at + timedelta(hours=72) - SECOND
    assert await node.surveys.expire_due() == 0
    clock.now = sent_at + timedelta(hours=72)
    assert await nodes().surveys.expire_due() == 1
    assert await node.surveys.expire_due() == 0
    expired = await node.store.get(survey.id or 0)
    assert expired is not None and expired.status is SurveyStatus.EXPIRED
    assert (await history(node, survey.id or 0))[-1] == (
        clock.now,
        "sent",
        "expired",
        "no answer after 72 h",
    )

    clock.now += timedelta(hours=8)
    outcome = await node.surveys.answer(
        "wx-late", survey_id=None, rating=4, label="satisfied", confidence=0.9, comment="挺好的"
    )
    assert outcome.late and not outcome.bad and outcome.survey is not None
    answered = await node.store.get(survey.id or 0)
    assert answered is not None
    assert (answered.status, answered.score, answered.answered_at, answered.comment) == (
        SurveyStatus.ANSWERED,
        4,
        clock.now,
        "挺好的",
    )
    assert (await history(node, survey.id or 0))[-1] == (clock.now, "expired", "answered", "late score 4")


async def test_one_reminder_after_24_hours_from_two_racing_workers(
    nodes: Callable[..., Node], clock: Clock
) -> None:
    """The reminder is claimed by one worker only, sent once, and never again."""
    node = nodes()
    survey = await sent_survey(node, clock, "wx-remind", wrote=timedelta(0))
    sent_at = clock.now
    phone: list[Message] = []
    rasas = [FakeRasa(nodes().surveys, phone) for _ in range(2)]
    workers = [SurveyReminders(nodes().surveys, rasa) for rasa in rasas]  # type: ignore[arg-type]

    async def both() -> list[int]:
        return list(await asyncio.gather(*(w.run_once(clock.now) for w in workers)))

    clock.now = sent_at + timedelta(hours=24) - SECOND
    assert await both() == [0, 0]
    clock.now = sent_at + timedelta(hours=24)
    assert sorted(await both()) == [0, 1]
    assert rasas[0].triggered + rasas[1].triggered == [survey.id]
    assert phone == [Message("wx-remind", survey.id or 0, "customer_service", "EXTERNAL_survey_reminder")]
    reminded = await node.store.get(survey.id or 0)
    assert reminded is not None and (reminded.status, reminded.reminded_at) == (
        SurveyStatus.REMINDED,
        clock.now,
    )
    assert (await history(node, survey.id or 0))[-1][1:3] == ("sent", "reminded")
    clock.now += LEASE + timedelta(hours=1)
    assert await both() == [0, 0]
    assert await node.surveys.claim_reminders() == []
    assert len(phone) == 1


async def test_a_reminder_claim_holds_for_its_lease(nodes: Callable[..., Node], clock: Clock) -> None:
    """Claimed but never reported on (the worker died): claimable again only after the lease."""
    node = nodes()
    survey = await sent_survey(node, clock, "wx-lease")
    clock.now += timedelta(hours=24)
    a, b = nodes(), nodes()
    claims = await asyncio.gather(a.surveys.claim_reminders(), b.surveys.claim_reminders())
    assert sorted(len(c) for c in claims) == [0, 1]
    clock.now += LEASE - SECOND
    assert await a.surveys.claim_reminders() == []
    clock.now += SECOND
    assert [s.id for s in await b.surveys.claim_reminders()] == [survey.id]


# --- figures -----------------------------------------------------------------------------------


async def test_figures_for_a_week_by_week_technician_and_service_type(
    nodes: Callable[..., Node], clock: Clock
) -> None:
    """4 sent in the week, 3 answered (5, 4, 1): response 0.75, average 3.33, CSAT 0.6667."""
    node = nodes()
    week_start = datetime(2026, 11, 15, 16, 0, tzinfo=timezone.utc)  # Monday 16 Nov 00:00 in Shanghai
    week_end = week_start + timedelta(days=7)
    this_week = clock.now
    clock.now = this_week - timedelta(days=7)
    last_week = await sent_survey(node, clock, "wx-last-week")  # not in this week's figures
    await node.surveys.answer(  # a 3 is answered but not satisfied
        "wx-last-week", survey_id=last_week.id, rating=3, label=None, confidence=None, comment=None
    )
    clock.now = this_week
    plan = [
        ("wx-a", "王师傅", "repair", 5),
        ("wx-b", "王师傅", "repair", 4),
        ("wx-c", "李师傅", "installation", 1),
        ("wx-d", "李师傅", "installation", None),
    ]
    for sender, technician, service_type, score in plan:
        survey = await sent_survey(node, clock, sender, technician=technician, service_type=service_type)
        if score is not None:
            await node.surveys.answer(
                sender, survey_id=survey.id, rating=score, label=None, confidence=None, comment=None
            )
    await due_survey(node, clock, "wx-not-sent")  # scheduled, never sent: not in the denominator

    def picked(rows: list[dict[str, Any]], key: str) -> dict[str, tuple[Any, ...]]:
        return {
            r[key]: (
                r["sent"],
                r["answered"],
                r["response_rate"],
                r["average_score"],
                r["csat"],
                r["remediation_cases"],
            )
            for r in rows
        }

    week = picked(await node.surveys.stats("week", week_start, week_end), "week")
    assert week == {"2026-W47": (4, 3, 0.75, 3.33, 0.6667, 1)}
    by_tech = picked(await node.surveys.stats("technician", week_start, week_end), "technician")
    assert by_tech == {"王师傅": (2, 2, 1.0, 4.5, 1.0, 0), "李师傅": (2, 1, 0.5, 1.0, 0.0, 1)}
    by_type = picked(await node.surveys.stats("service_type", week_start, week_end), "service_type")
    assert by_type == {"repair": (2, 2, 1.0, 4.5, 1.0, 0), "installation": (2, 1, 0.5, 1.0, 0.0, 1)}
    both = picked(await node.surveys.stats("week", week_start - timedelta(days=7), week_end), "week")
    assert both == {"2026-W46": (1, 1, 1.0, 3.0, 0.0, 0), "2026-W47": (4, 3, 0.75, 3.33, 0.6667, 1)}


async def test_the_survey_migration_downgrades_with_a_phoneless_remediation_case(
    nodes: Callable[..., Node], clock: Clock
) -> None:
    """Rolling back 0003 must work on a database that has been used."""
    node = nodes()
    survey = await sent_survey(node, clock, "wx-rollback")
    outcome = await node.surveys.answer(
        "wx-rollback", survey_id=survey.id, rating=1, label=None, confidence=None, comment="太差了"
    )
    assert outcome.remediation_case is not None and outcome.remediation_case.phone is None
    url = node.services.settings.database_url
    await downgrade(url, "0003_surveys")  # what came later goes first
    try:
        await downgrade(url, "0002_wechat")
    finally:
        async with node.engine.begin() as conn:  # what a failed SQLite batch leaves behind
            await conn.execute(sa.text("DROP TABLE IF EXISTS _alembic_tmp_cases"))
        await upgrade(url)
