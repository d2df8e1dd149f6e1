import functools
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.cases.errors import IllegalTransition, InvalidCaseData
from bot.cases.intake import safety_terms
from bot.cases.model import Case, Priority, Status
from bot.cases.rules import (
    SlaPolicy,
    assess_priority,
    check_transition,
    deadlines_for,
    format_case_number,
    is_breached,
    next_statuses,
    normalise_case_number,
    work_order,
)
from bot.handoff.rules import HandoffPolicy, next_opening

LEGAL = [
    (Status.NEW, Status.ACKNOWLEDGED),
    (Status.ACKNOWLEDGED, Status.IN_PROGRESS),
    (Status.IN_PROGRESS, Status.RESOLVED),
    (Status.RESOLVED, Status.CLOSED),
    (Status.RESOLVED, Status.REOPENED),
    (Status.CLOSED, Status.REOPENED),
    (Status.REOPENED, Status.IN_PROGRESS),
]


@pytest.mark.parametrize(("current", "requested"), LEGAL)
def test_workflow_allows_its_steps(current: Status, requested: Status) -> None:
    check_transition("C20261120-0001", current, requested)


@pytest.mark.parametrize(
    ("current", "requested"),
    [(a, b) for a in Status for b in Status if (a, b) not in LEGAL],
)
def test_everything_else_is_refused_with_a_typed_error(current: Status, requested: Status) -> None:
    with pytest.raises(IllegalTransition) as err:
        check_transition("C20261120-0001", current, requested)
    assert err.value.current == current.value
    assert err.value.requested == requested.value


def test_next_statuses_follow_the_workflow() -> None:
    assert next_statuses(Status.RESOLVED) == [Status.CLOSED, Status.REOPENED]
    assert next_statuses(Status.NEW) == [Status.ACKNOWLEDGED]


def test_case_numbers_carry_the_day_and_the_sequence() -> None:
    assert format_case_number(date(2026, 11, 20), 7) == "C20261120-0007"
    assert format_case_number(date(2026, 11, 20), 12345) == "C20261120-12345"
    with pytest.raises(InvalidCaseData):
        format_case_number(date(2026, 11, 20), 0)


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("C20261120-0007", "C20261120-0007"),
        ("c20261120-0007", "C20261120-0007"),
        ("C202611200007", "C20261120-0007"),
        ("编号ｃ２０２６１１２０－０００７", "C20261120-0007"),
        ("C20261320-0007", None),  # no 13th month
        ("JC20261120-0007", None),  # part of something else
        ("C2026112-0007", None),
        ("20261120-0007", "C20261120-0007"),  # copied without the C: it replaced an order number
        ("查一下20261120－0007", "C20261120-0007"),
        ("订单号20261120-0007", None),  # called an order by the customer
        ("202611200007", None),  # digits alone may be anything
        ("20261320-0007", None),
        ("c20261207-1", "C20261207-0001"),  # zeros left out: it replaced the case's order number
        ("C20261207-12", "C20261207-0012"),
        ("C20261207-0", None),
        ("20261207-1", None),  # no "C" and no zeros: anything
        ("C202612071", None),  # without the dash, where does the day end?
    ],
)
def test_typed_case_numbers_are_normalised(typed: str, canonical: str | None) -> None:
    assert normalise_case_number(typed) == canonical


def test_category_sets_the_base_priority(policy: SlaPolicy) -> None:
    assert assess_priority(policy, "delivery", "快递三天没到").priority is Priority.P3
    assert assess_priority(policy, "other", "公众号菜单点不开").priority is Priority.P4


@pytest.mark.parametrize(
    "text", ["家里有煤气味，师傅装的灶漏气", "热水器漏电了！", "插座冒烟", "孩子被烫伤了"]
)
def test_safety_words_make_a_p1(policy: SlaPolicy, text: str) -> None:
    result = assess_priority(policy, "installation_repair", text)
    assert result.priority is Priority.P1
    assert any(r.startswith("urgent:") for r in result.reasons)


@pytest.mark.parametrize("text", ["检查过了没有漏电，就是不制热", "不是漏气，是打不着火"])
def test_negated_safety_words_do_not(policy: SlaPolicy, text: str) -> None:
    assert assess_priority(policy, "installation_repair", text).priority is Priority.P3


def test_escalation_threats_make_a_p2(policy: SlaPolicy) -> None:
    assert assess_priority(policy, "billing", "多扣我200，不退我就打12315").priority is Priority.P2


@pytest.mark.parametrize(
    "text",
    [
        "我家空调外机漏水，滴到楼下邻居家了",  # was P3: 24 h to a first call about the neighbour's ceiling
        "新装的洗衣机排水管脱了，卫生间淹了",
        "师傅走后水管爆了，家里全是水",
        "暖气片装好了还是没暖气，屋里冻得不行",
        "门锁换完进不了家了",
        "我家宽带从昨天晚上开始就上不了网了",  # was P4: 断网 was a P2, its everyday words were not
    ],
)
def test_damage_that_spreads_or_a_home_left_unusable_makes_a_p2(policy: SlaPolicy, text: str) -> None:
    assert assess_priority(policy, "installation_repair", text).priority is Priority.P2
    assert assess_priority(policy, "installation_repair", "空调外机有点滴水").priority is Priority.P3


@pytest.mark.parametrize(
    "text",
    [
        "燃气灶点火有股怪味",  # was P3 and no safety advice: no "燃气味" in it
        "煤气灶点不着，屋里有股臭鸡蛋味",
        "天然气热水器用的时候闻到一股刺鼻的味道",
    ],
)
def test_a_gas_appliance_that_smells_odd_makes_a_p1(policy: SlaPolicy, text: str) -> None:
    assert assess_priority(policy, "product_quality", text).priority is Priority.P1
    assert safety_terms(policy, text)


@pytest.mark.parametrize(
    "text",
    [
        "燃气灶打不着火，没有异味",
        "燃气灶打不着火，没闻到什么味",
        "炒菜油烟味很大",
        "燃气费扣多了，客服口气真臭",
    ],
)
def test_a_gas_appliance_without_an_odd_smell_does_not(policy: SlaPolicy, text: str) -> None:
    assert assess_priority(policy, "product_quality", text).priority is Priority.P3
    assert not safety_terms(policy, text)


def test_a_combination_needs_two_groups() -> None:
    raw = {
        "priorities": {
            p: {"first_response_hours": 1, "resolution_hours": 2} for p in ("P1", "P2", "P3", "P4")
        },
        "urgent_combinations": {"P1": [[["燃气"]]]},
    }
    with pytest.raises(InvalidCaseData):
        SlaPolicy.from_mapping(raw)


def test_an_angry_customer_raises_one_step_but_never_to_p1(policy: SlaPolicy) -> None:
    angry = "气死我了，三天了还没到！！！"
    assert assess_priority(policy, "delivery", angry, "dissatisfied", 0.95).priority is Priority.P2
    assert assess_priority(policy, "delivery", angry, "dissatisfied", 0.5).priority is Priority.P3
    # every complaint is dissatisfied; that alone is not anger, or nearly every case would be P2
    assert (
        assess_priority(policy, "delivery", "快递三天了还没到", "dissatisfied", 0.99).priority is Priority.P3
    )
    assert assess_priority(policy, "billing", "打12315", "dissatisfied", 0.99).priority is Priority.P2


def test_unknown_category_is_refused(policy: SlaPolicy) -> None:
    with pytest.raises(InvalidCaseData):
        assess_priority(policy, "weather", "下雨了")


def test_deadlines_follow_the_policy(policy: SlaPolicy) -> None:
    opened = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
    first, resolution = deadlines_for(policy, Priority.P3, opened)
    assert first - opened == timedelta(hours=24)
    assert resolution - opened == timedelta(hours=72)
    first, _ = deadlines_for(policy, Priority.P1, opened)
    assert first - opened == timedelta(hours=1)


SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("priority", "opened", "first", "resolution"),
    [
        # in the daytime nothing moves
        (Priority.P3, "2026-11-20 10:00", "2026-11-21 10:00", "2026-11-23 10:00"),
        (Priority.P2, "2026-11-20 14:00", "2026-11-20 18:00", "2026-11-22 14:00"),
        # a deadline at night moves to 09:00, when agents are back
        (Priority.P2, "2026-11-20 23:00", "2026-11-21 09:00", "2026-11-23 09:00"),
        (Priority.P2, "2026-11-20 20:00", "2026-11-21 09:00", "2026-11-22 20:00"),
        (Priority.P3, "2026-11-20 05:08", "2026-11-21 09:00", "2026-11-23 09:00"),
        # safety: someone is on call, so a P1 keeps its hour
        (Priority.P1, "2026-11-20 23:00", "2026-11-21 00:00", "2026-11-21 23:00"),
    ],
)
def test_a_deadline_never_falls_while_nobody_is_on_duty(
    policy: SlaPolicy, priority: Priority, opened: str, first: str, resolution: str
) -> None:
    on_duty = HandoffPolicy()  # 09:00-21:00 every day, Shanghai
    local = [datetime.fromisoformat(t).replace(tzinfo=SHANGHAI) for t in (opened, first, resolution)]
    due = deadlines_for(policy, priority, local[0], functools.partial(next_opening, policy=on_duty))
    assert due == (local[1], local[2])


def test_breach_is_judged_on_when_it_was_done() -> None:
    due = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)
    assert not is_breached(due, due - timedelta(minutes=1), due + timedelta(days=1))
    assert is_breached(due, None, due + timedelta(seconds=1))


def test_a_policy_missing_a_priority_is_refused() -> None:
    with pytest.raises(InvalidCaseData):
        SlaPolicy.from_mapping({"priorities": {"P1": {"first_response_hours": 1, "resolution_hours": 2}}})


def test_a_policy_naming_an_unknown_category_is_refused() -> None:
    raw = {
        "priorities": {
            p: {"first_response_hours": 1, "resolution_hours": 2} for p in ("P1", "P2", "P3", "P4")
        },
        "category_priority": {"weather": "P1"},
    }
    with pytest.raises(InvalidCaseData):
        SlaPolicy.from_mapping(raw)


def test_open_cases_are_worked_nearest_deadline_first() -> None:
    """A new case's clock is its first response; an acknowledged one's is its resolution."""
    t0 = datetime(2026, 12, 5, 10, tzinfo=timezone.utc)

    def case(n: str, priority: Priority, status: Status, first: int, resolve: int, answered: bool) -> Case:
        return Case(
            n, "c", "wechat", "other", "x", None, None, priority, status, t0,
            t0 + timedelta(hours=first), t0 + timedelta(hours=resolve),
            first_responded_at=t0 if answered else None,
        )  # fmt: skip

    cases = [
        case("C-new-p4", Priority.P4, Status.NEW, 24, 168, False),
        case("C-late", Priority.P3, Status.NEW, -2, 70, False),  # its first response is 2 h late
        case("C-acked", Priority.P3, Status.ACKNOWLEDGED, -30, 3, True),  # answered: 3 h to resolve
        case("C-tie-p2", Priority.P2, Status.IN_PROGRESS, 1, 3, True),
        case("C-done", Priority.P1, Status.RESOLVED, -5, -1, True),  # not open: not listed
    ]
    assert [c.number for c in work_order(cases)] == ["C-late", "C-tie-p2", "C-acked", "C-new-p4"]
