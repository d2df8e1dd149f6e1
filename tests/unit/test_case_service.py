from datetime import timedelta

import pytest

from bot.cases.errors import CaseNotFound, IllegalTransition, InvalidCaseData
from bot.cases.model import CaseDraft, Priority, Status
from bot.cases.rules import SlaPolicy
from bot.cases.service import CaseService
from tests.conftest import Clock
from tests.fakes import FakeUowFactory


def draft(**kw: object) -> CaseDraft:
    base = dict(
        sender_id="wx-1",
        channel="wechat",
        description="空调修完第二天又不制冷了",
        category="installation_repair",
        phone="138 1234 5678",
        order_id="JD2026112012345",
    )
    base.update(kw)
    return CaseDraft(**base)  # type: ignore[arg-type]


@pytest.fixture
def service(fake_uow: FakeUowFactory, policy: SlaPolicy, clock: Clock) -> CaseService:
    return CaseService(fake_uow, policy, clock=clock)


async def test_a_case_gets_a_number_priority_deadlines_and_an_audit_event(
    service: CaseService, fake_uow: FakeUowFactory, clock: Clock
) -> None:
    case = await service.open_case(draft())
    assert case.number == "C20261120-0001"
    assert case.priority is Priority.P3
    assert case.status is Status.NEW
    assert case.phone == "13812345678"  # normalised
    assert case.first_response_due == clock.now + timedelta(hours=24)
    stored = fake_uow.store.cases["C20261120-0001"]
    assert [e.kind for e in stored.events] == ["created"]
    assert fake_uow.store.customers["wx-1"]["phone"] == "13812345678"


async def test_numbers_count_up_per_local_day(service: CaseService, clock: Clock) -> None:
    first = await service.open_case(draft())
    second = await service.open_case(draft())
    clock.now += timedelta(hours=16)  # 02:30 UTC + 16 h = next day 02:30 in Shanghai
    third = await service.open_case(draft())
    assert [first.number, second.number, third.number] == [
        "C20261120-0001",
        "C20261120-0002",
        "C20261121-0001",
    ]


async def test_a_safety_complaint_is_p1_with_a_one_hour_response(service: CaseService, clock: Clock) -> None:
    case = await service.open_case(draft(description="燃气灶装完一直有煤气味"))
    assert case.priority is Priority.P1
    assert case.first_response_due == clock.now + timedelta(hours=1)


@pytest.mark.parametrize("bad", [dict(category="weather"), dict(phone="12345"), dict(description="   ")])
async def test_bad_drafts_create_nothing(service: CaseService, fake_uow: FakeUowFactory, bad: dict) -> None:
    with pytest.raises(InvalidCaseData):
        await service.open_case(draft(**bad))
    assert fake_uow.store.cases == {}


async def test_a_customer_sees_own_cases_only(service: CaseService) -> None:
    mine = await service.open_case(draft())
    theirs = await service.open_case(draft(sender_id="wx-2"))
    assert [c.number for c in await service.open_cases_for("wx-1")] == [mine.number]
    assert (await service.case_for_customer("wx-1", mine.number.lower())).number == mine.number
    with pytest.raises(CaseNotFound):
        await service.case_for_customer("wx-1", theirs.number)
    with pytest.raises(CaseNotFound):
        await service.case_for_customer("wx-1", "C20991231-9999")
    with pytest.raises(CaseNotFound):
        await service.case_for_customer("wx-1", "'; DROP TABLE cases; --")


async def test_status_changes_are_recorded_and_stamped(service: CaseService, clock: Clock) -> None:
    case = await service.open_case(draft())
    clock.now += timedelta(minutes=30)
    acked = await service.change_status(case.number, Status.ACKNOWLEDGED, actor="agent:li")
    assert acked.first_responded_at == clock.now
    await service.change_status(case.number, Status.IN_PROGRESS, actor="agent:li")
    resolved = await service.change_status(case.number, Status.RESOLVED, actor="agent:li", note="换了压缩机")
    assert resolved.resolved_at == clock.now
    assert [c.number for c in await service.open_cases_for("wx-1")] == []
    reopened = await service.change_status(case.number, Status.REOPENED, actor="customer:wx-1")
    assert reopened.resolved_at is None
    full = await service.get(case.number)
    assert [(e.kind, e.from_value, e.to_value) for e in full.events] == [
        ("created", None, "new"),
        ("status_changed", "new", "acknowledged"),
        ("status_changed", "acknowledged", "in_progress"),
        ("status_changed", "in_progress", "resolved"),
        ("status_changed", "resolved", "reopened"),
    ]
    assert full.events[3].note == "换了压缩机"


async def test_resolution_listeners_hear_whether_the_customer_had_withdrawn(
    service: CaseService, clock: Clock
) -> None:
    """A withdrawn complaint is not surveyed on resolution; one reopened after the withdrawal is."""
    heard: list[tuple[str, bool]] = []

    async def listener(case: object, *, withdrawn: bool) -> None:
        heard.append((case.number, withdrawn))  # type: ignore[attr-defined]

    service.on_resolved.append(listener)
    kept = await service.open_case(draft())
    taken_back = await service.open_case(draft(description="快递丢了", category="delivery"))
    await service.add_customer_words(
        taken_back.number, "客户要求撤销投诉：不用处理了", actor="customer:wx-1", withdrawal=True
    )
    for number in (kept.number, taken_back.number):
        for step in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
            clock.now += timedelta(minutes=1)
            await service.change_status(number, step, actor="agent:li")
    assert heard == [(kept.number, False), (taken_back.number, True)]
    for step in (Status.REOPENED, Status.IN_PROGRESS, Status.RESOLVED):  # the problem came back
        clock.now += timedelta(minutes=1)
        await service.change_status(taken_back.number, step, actor="agent:li")
    assert heard[-1] == (taken_back.number, False)


async def test_the_worklist_knows_which_cases_their_customers_took_back(
    service: CaseService, clock: Clock
) -> None:
    kept = await service.open_case(draft())
    taken_back = await service.open_case(draft(description="快递丢了", category="delivery"))
    came_back = await service.open_case(draft(description="宽带又断了", category="other"))
    for number in (taken_back.number, came_back.number):
        await service.add_customer_words(number, "客户要求撤销投诉", actor="customer:wx-1", withdrawal=True)
    for step in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED, Status.REOPENED):  # it came back
        clock.now += timedelta(minutes=1)
        await service.change_status(came_back.number, step, actor="agent:li")
    worklist = await service.worklist()
    assert {c.number for c in worklist} == {kept.number, taken_back.number, came_back.number}
    assert await service.withdrawn_among(worklist) == {taken_back.number}


async def test_a_reopened_case_owes_a_new_answer_counted_from_the_reopening(
    service: CaseService, clock: Clock
) -> None:
    """A case filed on the 20th, resolved and reopened on the 23rd, promised contact by the 21st."""
    case = await service.open_case(draft())  # P3: first response 24 h, from the 20th
    clock.now += timedelta(days=3)
    for step in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED, Status.REOPENED):
        await service.change_status(case.number, step, actor="agent:li")
    reopened_at = clock.now
    clock.now += timedelta(minutes=5)
    reopened = await service.get(case.number)
    assert reopened.first_response_due == reopened_at + timedelta(hours=24)
    assert reopened.resolution_due > reopened.first_response_due > clock.now
    raised = await service.change_priority(case.number, Priority.P2, actor="survey:1")
    p2 = service._policy.deadlines[Priority.P2]
    assert raised.first_response_due == reopened_at + timedelta(hours=p2.first_response_hours)
    assert raised.first_response_due > clock.now and raised.first_response_due < reopened.first_response_due
    fresh = await service.open_case(draft(description="快递丢了", category="delivery"))
    lowered = await service.change_priority(fresh.number, Priority.P4, actor="agent:li")
    p4 = service._policy.deadlines[Priority.P4]
    assert lowered.first_response_due == fresh.created_at + timedelta(hours=p4.first_response_hours)


async def test_an_illegal_change_changes_nothing(service: CaseService) -> None:
    case = await service.open_case(draft())
    with pytest.raises(IllegalTransition):
        await service.change_status(case.number, Status.CLOSED, actor="agent:li")
    full = await service.get(case.number)
    assert full.status is Status.NEW
    assert len(full.events) == 1


async def test_priority_change_moves_the_deadlines(service: CaseService, clock: Clock) -> None:
    case = await service.open_case(draft())
    raised = await service.change_priority(case.number, Priority.P1, actor="agent:li", note="老人独居")
    assert raised.first_response_due == case.created_at + timedelta(hours=1)
    assert (await service.get(case.number)).events[-1].kind == "priority_changed"


async def test_returning_customers_phone_is_remembered(service: CaseService) -> None:
    assert await service.known_phone("wx-1") is None
    await service.open_case(draft())
    assert await service.known_phone("wx-1") == "13812345678"


async def test_a_number_left_with_later_words_becomes_the_phone_to_call(service: CaseService) -> None:
    """A case opened for a person has no phone; "13912345678" left while waiting stayed in the
    notes, and the console told the agent there was no number to call."""
    case = await service.open_case(
        draft(source="handoff", category="other", phone=None, description="无客服在线时转人工")
    )
    assert case.phone is None
    actor = "customer:wx-1"
    noted = await service.add_customer_words(case.number, "等待人工时留言：139 1234 5678", actor=actor)
    assert noted.phone == "13912345678" and (await service.get(case.number)).phone == "13912345678"
    fixed = await service.add_customer_words(case.number, "不对，手机号是13812340000", actor=actor)
    assert fixed.phone == "13812340000" and await service.known_phone("wx-1") == "13812340000"
    unclear = await service.add_customer_words(case.number, "13800001111或者13900002222都行", actor=actor)
    assert unclear.phone == "13812340000"  # two numbers: the agent reads the note and decides
    stored = await service.get(case.number)
    assert stored.phone == "13812340000" and "13800001111或者13900002222都行" in stored.description


async def test_a_very_long_later_message_does_not_swamp_the_description(service: CaseService) -> None:
    case = await service.open_case(draft())
    rant = "空调坏了" * 1300  # 5,200 characters while waiting for a person
    added = await service.add_customer_words(case.number, rant, actor="customer:wx-1")
    assert added.description.startswith("空调修完第二天又不制冷了\n空调坏了")
    assert len(added.description) == len("空调修完第二天又不制冷了\n") + 300 and added.description.endswith(
        "…"
    )
