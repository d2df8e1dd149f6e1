"""Handoff rules and the handoff service over fakes."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta, timezone

import pytest

from bot.cases.model import CaseDraft, Status
from bot.handoff.errors import AlreadyInConversation, AlreadyTaken, NotYourConversation
from bot.handoff.model import Agent, Handoff, HandoffStatus, Role
from bot.handoff.rules import (
    HandoffPolicy,
    agent_gone_quiet,
    asks_how_to_reach_us,
    contact_before_opening,
    customer_gone_quiet,
    next_opening,
    queue_order,
    says_more,
    wait_estimate,
    waiting_notice_due,
    within_hours,
)
from bot.wiring import Services
from tests.conftest import Clock

SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)  # a Friday


def handoff(
    n: int, priority: str, minutes_ago: int, status: HandoffStatus = HandoffStatus.WAITING
) -> Handoff:
    queued = T0 - timedelta(minutes=minutes_ago)
    return Handoff(
        sender_id=f"c{n}",
        channel="wechat",
        reason="customer_request",
        priority=priority,
        status=status,
        queued_at=queued,
        updated_at=queued,
        id=n,
    )


def test_the_queue_is_priority_first_then_waiting_time() -> None:
    order = queue_order(
        [
            handoff(1, "P3", 30),
            handoff(2, "P1", 1),
            handoff(3, "P3", 40),
            handoff(4, "P2", 5),
            handoff(5, "P1", 3, HandoffStatus.ACTIVE),
        ]
    )
    assert [h.id for h in order] == [2, 4, 3, 1]


def test_wait_estimates() -> None:
    policy = HandoffPolicy()
    assert (
        wait_estimate(1, 1, policy) == 4
        and wait_estimate(5, 2, policy) == 10
        and wait_estimate(1, 0, policy) >= 1
    )


def test_business_hours_and_when_agents_are_back() -> None:
    weekdays = HandoffPolicy(opens=time(9), closes=time(18), weekdays=frozenset(range(5)))
    assert within_hours(T0, weekdays)
    evening = T0.replace(hour=19)
    assert not within_hours(evening, weekdays)
    assert next_opening(evening, weekdays) == datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)  # Monday
    assert next_opening(T0, weekdays) == T0
    assert within_hours(evening, HandoffPolicy(opens=None, closes=None))
    policy = HandoffPolicy.from_env({"HANDOFF_HOURS": "08:30-20:00", "HANDOFF_DAYS": "1-5"})
    assert (policy.opens, policy.closes, policy.weekdays) == (time(8, 30), time(20), frozenset(range(5)))
    with pytest.raises(ValueError):
        HandoffPolicy.from_env({"HANDOFF_HOURS": "all day"})


def test_silence_rules() -> None:
    policy = HandoffPolicy()
    h = handoff(1, "P3", 0, HandoffStatus.ACTIVE)
    h.accepted_at = T0
    assert not agent_gone_quiet(h, T0 + timedelta(minutes=9), policy)
    assert agent_gone_quiet(h, T0 + timedelta(minutes=11), policy)  # accepted, never said a word
    h.last_agent_at = T0 + timedelta(minutes=1)
    assert not agent_gone_quiet(h, T0 + timedelta(hours=1), policy)  # the customer's turn
    h.last_customer_at = T0 + timedelta(minutes=2)
    assert agent_gone_quiet(h, T0 + timedelta(minutes=13), policy)
    assert not customer_gone_quiet(h, T0 + timedelta(hours=2), policy)  # the agent's turn, not theirs
    h.last_agent_at = T0 + timedelta(minutes=3)  # the agent answered; now the customer is silent
    assert not customer_gone_quiet(h, T0 + timedelta(minutes=32), policy)
    assert customer_gone_quiet(h, T0 + timedelta(minutes=34), policy)


def test_before_the_agents_first_word_only_the_agent_can_be_too_slow() -> None:
    patient = HandoffPolicy(agent_idle=timedelta(hours=2), customer_idle=timedelta(minutes=30))
    h = handoff(1, "P3", 0, HandoffStatus.ACTIVE)
    h.accepted_at = T0
    assert not customer_gone_quiet(h, T0 + timedelta(hours=1), patient)  # they await the agent
    assert agent_gone_quiet(h, T0 + timedelta(hours=3), patient)


def test_a_customer_waiting_in_the_queue_is_never_dropped_for_silence() -> None:
    waiting = handoff(1, "P3", 0, HandoffStatus.WAITING)
    assert not customer_gone_quiet(waiting, T0 + timedelta(hours=12), HandoffPolicy())


def test_a_waiting_customer_who_writes_hears_back_at_most_every_three_minutes() -> None:
    policy = HandoffPolicy()
    waiting = handoff(1, "P3", 30)
    assert waiting_notice_due(waiting, T0, policy)  # never told since they wrote
    waiting.noticed_at = T0 - timedelta(minutes=2, seconds=59)
    assert not waiting_notice_due(waiting, T0, policy)
    waiting.noticed_at = T0 - timedelta(minutes=3)
    assert waiting_notice_due(waiting, T0, policy)
    held = handoff(2, "P3", 30, HandoffStatus.ACTIVE)
    assert not waiting_notice_due(held, T0, policy)  # the agent answers, not the bot
    quieter = HandoffPolicy.from_env({"HANDOFF_WAITING_NOTICE_MINUTES": "30"})
    assert not waiting_notice_due(waiting, T0, quieter)


AGENT = Agent("li", "小李", Role.AGENT)
OTHER = Agent("wang", "小王", Role.AGENT)
BOSS = Agent("zhao", "赵主管", Role.SUPERVISOR)


async def test_asking_twice_queues_once_and_tells_the_place(fake_services: Services) -> None:
    h = fake_services.handoffs
    first = await h.request("c1", "wechat", "customer_request")
    urgent = await h.request("c2", "wechat", "p1_case", priority="P1")
    again = await h.request("c1", "wechat", "customer_request")
    assert again.existing and again.handoff.id == first.handoff.id
    assert (urgent.place, again.place) == (1, 2)  # the P1 jumps the queue


async def test_exactly_one_of_twenty_concurrent_accepts_wins(fake_services: Services) -> None:
    ticket = await fake_services.handoffs.request("c1", "wechat", "customer_request")
    agents = [Agent(f"a{i}", f"客服{i}", Role.AGENT) for i in range(20)]

    async def accept(agent: Agent) -> str | None:
        try:
            return (await fake_services.handoffs.accept(ticket.handoff.id, agent)).agent
        except AlreadyTaken:
            return None

    winners = [w for w in await asyncio.gather(*(accept(a) for a in agents)) if w]
    assert len(winners) == 1
    assert (await fake_services.handoffs.get(ticket.handoff.id)).agent == winners[0]


async def test_the_agent_greets_a_customer_who_has_said_what_is_wrong_without_asking_again(
    fake_services: Services,
) -> None:
    """ "请问有什么可以帮您？" after the customer had described the problem, waited and left a message."""
    h = fake_services.handoffs
    plain = await h.request("c1", "wechat", "customer_request")
    with_case = await h.request("c2", "wechat", "intake_misunderstood", case_number="C20261120-0007")
    for ticket in (plain, with_case):
        await h.accept(ticket.handoff.id, AGENT)
    said = {c[1]: c[2][0]["text"] for c in fake_services.rasa.calls if c[0] == "events"}  # type: ignore[attr-defined]
    assert said == {
        "c1": "您好，我是客服小李，很高兴为您服务，请问有什么可以帮您？",
        "c2": "您好，我是客服小李，您的诉求（编号 C20261120-0007）我已经看到了，接下来由我为您处理。",
    }


async def test_replies_go_through_rasa_marked_with_the_agent(fake_services: Services) -> None:
    ticket = await fake_services.handoffs.request("c1", "wechat", "customer_request")
    await fake_services.handoffs.accept(ticket.handoff.id, AGENT)
    await fake_services.handoffs.reply(ticket.handoff.id, AGENT, "您好，我来帮您看看")
    calls = [c for c in fake_services.rasa.calls if c[0] == "events"]  # type: ignore[attr-defined]
    (_, sender, events, channel, side_effects) = calls[-1]
    assert (sender, channel, side_effects) == ("c1", "wechat", True)
    assert events[0]["event"] == "bot" and events[0]["text"] == "您好，我来帮您看看"
    assert events[0]["metadata"] == {"agent": "li"}


async def test_the_agents_first_answer_is_the_first_response_of_the_customers_new_cases(
    fake_services: Services, clock: Clock
) -> None:
    cases = fake_services.cases
    new = await cases.open_case(
        CaseDraft("c1", "wechat", "空调装好第二天就漏水了", "installation_repair", "13812345678")
    )
    older = await cases.open_case(CaseDraft("c1", "wechat", "发票一直没开", "billing", "13812345678"))
    await cases.change_status(older.number, Status.ACKNOWLEDGED, actor="agent:wang")
    ticket = await fake_services.handoffs.request("c1", "wechat", "customer_request")
    await fake_services.handoffs.accept(ticket.handoff.id, AGENT)
    assert (await cases.get(new.number)).first_responded_at is None  # the automatic greeting is not it
    clock.now += timedelta(minutes=2)
    await fake_services.handoffs.reply(ticket.handoff.id, AGENT, "您好，明天上午安排师傅上门可以吗？")
    await fake_services.handoffs.reply(ticket.handoff.id, AGENT, "师傅姓张")
    answered = await cases.get(new.number)
    assert (answered.status, answered.first_responded_at) == (Status.ACKNOWLEDGED, clock.now)
    changes = [(e.actor, e.to_value, e.note) for e in answered.events if e.kind == "status_changed"]
    assert changes == [("agent:li", "acknowledged", "客服已在人工对话中回复客户")]
    assert len((await cases.get(older.number)).events) == len(older.events or []) + 1  # untouched


async def test_an_agent_reaches_out_about_a_case_nobody_asked_a_person_about(
    fake_services: Services, clock: Clock
) -> None:
    """A complaint filed by the bot at night: an agent writes first, and the conversation is theirs."""
    h, cases = fake_services.handoffs, fake_services.cases
    case = await cases.open_case(CaseDraft("c1", "wechat", "宽带断了两天", "other", "13812345678"))
    handoff = await h.reach_out("c1", "wechat", AGENT, case_number=case.number, priority="P2")
    assert (handoff.status, handoff.agent, handoff.reason, handoff.case_number, handoff.priority) == (
        HandoffStatus.ACTIVE,
        "li",
        "agent_outreach",
        case.number,
        "P2",
    )
    assert fake_services.rasa.calls[-1][:3] == ("events", "c1", [{"event": "pause"}])  # type: ignore[attr-defined]
    assert [kind for _, kind, _, _ in await h.history(handoff.id)] == ["reached_out", "accepted"]
    assert await h.queue() == []  # never offered to anyone else
    clock.now += timedelta(minutes=1)
    await h.reply(handoff.id, AGENT, f"您好，关于您的投诉 {case.number}，师傅明天上午上门可以吗？")
    assert (await cases.get(case.number)).first_responded_at == clock.now  # the first response
    with pytest.raises(AlreadyInConversation) as raised:
        await h.reach_out("c1", "wechat", OTHER, case_number=case.number)
    assert raised.value.handoff_id == handoff.id
    clock.now += timedelta(minutes=31)
    assert await h.enforce_timeouts() == (0, 1)  # no answer: the bot has the customer back


async def test_only_the_holder_or_a_supervisor_may_act(fake_services: Services) -> None:
    ticket = await fake_services.handoffs.request("c1", "wechat", "customer_request")
    await fake_services.handoffs.accept(ticket.handoff.id, AGENT)
    with pytest.raises(NotYourConversation):
        await fake_services.handoffs.reply(ticket.handoff.id, OTHER, "我来插一句")
    with pytest.raises(NotYourConversation):
        await fake_services.handoffs.hand_back(ticket.handoff.id, OTHER)
    moved = await fake_services.handoffs.transfer(ticket.handoff.id, BOSS, OTHER)  # a supervisor reassigns
    assert moved.agent == "wang"
    with pytest.raises(NotYourConversation):
        await fake_services.handoffs.reply(ticket.handoff.id, AGENT, "还是我")


async def test_handing_back_resumes_the_bot_and_schedules_a_survey(fake_services: Services) -> None:
    fake_services.handoffs.on_handed_back.append(
        lambda h: fake_services.surveys.schedule_for_agent(h.sender_id, h.channel, h.agent or "")
    )
    ticket = await fake_services.handoffs.request("c1", "wechat", "customer_request")
    await fake_services.handoffs.accept(ticket.handoff.id, AGENT)
    closed = await fake_services.handoffs.hand_back(ticket.handoff.id, AGENT, note="已解决")
    assert closed.status is HandoffStatus.CLOSED and closed.outcome == "handed_back"
    calls = fake_services.rasa.calls  # type: ignore[attr-defined]
    resume = next(c for c in calls if c[0] == "events" and c[2][0]["event"] == "resume")
    assert [e["event"] for e in resume[2]] == ["resume", "action"] and resume[2][1]["name"] == "action_listen"
    assert calls[-1][:3] == ("trigger", "c1", "EXTERNAL_handback") and calls[-1][4] == "wechat"
    (survey,) = await fake_services.surveys.search(sender_id="c1")
    assert (survey.subject, survey.technician) == ("agent", "li")


async def test_the_customer_can_go_back_to_the_bot_while_waiting(fake_services: Services) -> None:
    await fake_services.handoffs.request("c1", "wechat", "customer_request")
    assert await fake_services.handoffs.cancel("c1")
    assert await fake_services.handoffs.open_for("c1") is None
    said = [c for c in fake_services.rasa.calls if c[0] == "events" and c[2][0]["event"] == "bot"]  # type: ignore[attr-defined]
    assert "取消转人工" in said[-1][2][0]["text"]


async def test_after_hours_a_case_keeps_the_request(fake_services: Services, clock: Clock) -> None:
    fake_services.handoffs.policy = HandoffPolicy(
        opens=time(9), closes=time(9, 30)
    )  # it is 10:30 in Shanghai
    await fake_services.cases.open_case(CaseDraft("c1", "wechat", "宽带断了三天", "other", "13812345678"))
    ticket = await fake_services.handoffs.request("c1", "wechat", "customer_request")
    assert not ticket.open_now and ticket.opens_at is not None and ticket.case_number is not None
    fresh = await fake_services.handoffs.request(
        "c9", "wechat", "customer_request", summary="要找人，宽带装好就没网"
    )
    assert fresh.case_number is not None and fresh.case_number != ticket.case_number
    assert (
        await fake_services.cases.get(fresh.case_number)
    ).description == "非工作时间转人工：要找人，宽带装好就没网"
    bare = await fake_services.handoffs.request("c8", "wechat", "customer_request", summary="要找人")
    assert (await fake_services.cases.get(bare.case_number or "")).description == "非工作时间转人工"


async def test_silent_agents_and_customers(fake_services: Services, clock: Clock) -> None:
    h = fake_services.handoffs
    a = await h.request("c1", "wechat", "customer_request")
    b = await h.request("c2", "wechat", "customer_request")
    await h.accept(a.handoff.id, AGENT)
    clock.now += timedelta(minutes=11)
    await h.customer_wrote(await h.get(b.handoff.id), "还在吗")
    assert await h.enforce_timeouts() == (1, 0)  # li never answered c1: back to the queue
    assert (await h.get(a.handoff.id)).status is HandoffStatus.WAITING
    clock.now += timedelta(minutes=31)
    assert await h.enforce_timeouts() == (0, 0)  # waiting customers wait for us: nobody is dropped
    await h.accept(b.handoff.id, OTHER)
    await h.reply(b.handoff.id, OTHER, "您好，我是小王")
    clock.now += timedelta(minutes=29)
    assert await h.enforce_timeouts() == (0, 0)
    clock.now += timedelta(minutes=2)
    assert await h.enforce_timeouts() == (0, 1)  # c2 silent 30 min after the agent's answer: back to the bot
    assert await h.open_for("c2") is None
    assert (await h.open_for("c1")).status is HandoffStatus.WAITING


def _bot_lines(fake_services: Services) -> list[str]:
    calls = fake_services.rasa.calls  # type: ignore[attr-defined]
    return [e["text"] for c in calls if c[0] == "events" for e in c[2] if e["event"] == "bot"]


async def test_a_customer_writing_in_the_queue_is_told_it_arrived_once_not_per_line(
    fake_services: Services, clock: Clock
) -> None:
    h = fake_services.handoffs
    await h.request("c0", "wechat", "customer_request")
    ticket = await h.request("c1", "wechat", "customer_request")
    for line in ["空调又坏了", "就是上周修的那台", "麻烦快点"]:  # one message typed as three lines
        await h.customer_wrote(await h.open_for("c1"), line)
    assert _bot_lines(fake_services) == [
        "您的留言客服会看到🙋 您前面还有 1 位，预计等待约 8 分钟。回复“算了”可返回机器人服务。"
    ]
    clock.now += timedelta(minutes=3)
    await h.customer_wrote(await h.open_for("c1"), "还要等多久？")
    assert len(_bot_lines(fake_services)) == 2
    await h.accept(ticket.handoff.id, AGENT)
    clock.now += timedelta(minutes=30)
    await h.customer_wrote(await h.open_for("c1"), "在吗")  # an agent holds it now: the bot stays quiet
    assert [line for line in _bot_lines(fake_services) if "留言" in line] == _bot_lines(fake_services)[:2]


async def test_at_night_a_waiting_customer_hears_when_agents_are_back(
    fake_services: Services, clock: Clock
) -> None:
    fake_services.handoffs.policy = HandoffPolicy(opens=time(9), closes=time(9, 30))  # 10:30 in Shanghai
    ticket = await fake_services.handoffs.request("c1", "wechat", "p1_case", priority="P1")
    await fake_services.handoffs.customer_wrote(ticket.handoff, "我的投诉怎么样了")
    (said,) = _bot_lines(fake_services)
    assert said == (
        f"您的留言已记录（编号 {ticket.case_number}），客服将于 11月21日 09:00 上线后第一时间处理。"
        "回复“算了”可返回机器人服务。"
    )


@pytest.mark.parametrize(
    ("summary", "kept"),
    [
        ("转人工", False),
        ("[菜单] 人工", False),
        ("帮我转一下人工吧", False),
        ("宽带又断了", True),
        ("你们客服电话多少", True),
    ],
)
def test_a_case_for_later_keeps_only_words_that_say_more_than_the_request(summary: str, kept: bool) -> None:
    assert says_more(summary) is kept


def test_a_promise_to_call_before_the_agents_are_back_still_stands() -> None:
    opens = T0 + timedelta(hours=8)
    due = T0 + timedelta(hours=1)
    assert contact_before_opening(due, None, opens, T0) == due
    assert contact_before_opening(T0 + timedelta(hours=24), None, opens, T0) is None  # agents back first
    assert contact_before_opening(due, T0, opens, T0) is None  # already contacted
    assert contact_before_opening(due, None, opens, due + timedelta(minutes=1)) is None  # too late now


async def test_a_safety_case_at_night_keeps_its_one_hour_promise(
    fake_services: Services, clock: Clock
) -> None:
    fake_services.handoffs.policy = HandoffPolicy(opens=time(9), closes=time(9, 30))  # 10:30 in Shanghai
    draft = CaseDraft("c1", "wechat", "家里煤气味很重，管子漏了", "installation_repair", "13812345678")
    case = await fake_services.cases.open_case(draft)
    assert case.priority.value == "P1"
    ticket = await fake_services.handoffs.request(
        "c1", "wechat", "p1_case", case_number=case.number, priority="P1"
    )
    assert ticket.contact_by == case.first_response_due == clock.now + timedelta(hours=1)
    await fake_services.handoffs.customer_wrote(ticket.handoff, "人呢")
    assert _bot_lines(fake_services) == [
        f"您的留言已记录（编号 {case.number}），我们会在 11月20日 11:30 前与您联系。"
        "回复“算了”可返回机器人服务。"
    ]


async def test_a_gas_smell_reported_while_waiting_at_night_makes_a_safety_case(
    fake_services: Services, clock: Clock
) -> None:
    """ "转人工" at night, then "家里一股煤气味，很重": no safety advice, and the case stayed other/P4,
    first contact due after the weekend."""
    fake_services.handoffs.policy = HandoffPolicy(opens=time(9), closes=time(9, 30))  # 10:30 in Shanghai
    h = fake_services.handoffs
    await h.request("c2", "wechat", "customer_request", summary="转人工")  # first in the queue
    ticket = await h.request("c1", "wechat", "customer_request", summary="转人工")
    assert [w.sender_id for w, _ in await h.queue()] == ["c2", "c1"]
    case = await fake_services.cases.get(ticket.case_number or "")
    assert (case.priority.value, ticket.handoff.priority) == ("P4", "P3")
    clock.now += timedelta(minutes=1)
    await h.customer_wrote(await h.open_for("c1"), "家里一股煤气味，很重")
    case = await fake_services.cases.get(case.number)
    assert case.priority.value == "P1" and case.first_response_due == clock.now + timedelta(hours=1)
    raised = [e for e in case.events if e.kind == "priority_changed"]
    assert [(e.from_value, e.to_value, e.note) for e in raised] == [
        ("P4", "P1", "客户补充的情况涉及：煤气味")
    ]
    safety, notice = _bot_lines(fake_services)
    assert safety.startswith("⚠️ 安全第一：如有燃气泄漏请立即关闭总阀") and case.number in safety
    assert notice == (
        f"您的留言已记录（编号 {case.number}），我们会在 11月20日 11:31 前与您联系。"
        "回复“算了”可返回机器人服务。"
    )
    assert [w.sender_id for w, _ in await h.queue()] == ["c1", "c2"]  # moved up the queue
    await h.customer_wrote(await h.open_for("c1"), "煤气味还是很重")  # advice once, no lowering
    assert (await fake_services.cases.get(case.number)).priority.value == "P1"
    assert len([line for line in _bot_lines(fake_services) if "安全第一" in line]) == 1


async def test_in_hours_with_nobody_at_the_console_nobody_promises_an_agent_at_once(
    fake_services: Services, clock: Clock
) -> None:
    """A small shop's console is often empty at 10:00 too: "马上为您接通" would be a promise nobody
    keeps, so the request becomes a case and the customer hears its deadline instead."""
    fake_services.handoffs._store.online_count = 0  # type: ignore[attr-defined]
    ticket = await fake_services.handoffs.request("c1", "wechat", "customer_request", summary="宽带又断了")
    assert ticket.open_now and not ticket.staffed and ticket.case_number is not None
    case = await fake_services.cases.get(ticket.case_number)
    assert case.description == "无客服在线时转人工：宽带又断了"
    assert ticket.situation == "unstaffed_promise" and ticket.contact_by == case.first_response_due
    await fake_services.handoffs.customer_wrote(ticket.handoff, "人呢")
    assert _bot_lines(fake_services) == [
        f"您的留言已记录（编号 {case.number}），我们会在 11月21日 10:30 前与您联系。"
        "回复“算了”可返回机器人服务。"
    ]
    fake_services.handoffs._store.online_count = 1  # type: ignore[attr-defined]
    clock.now += timedelta(minutes=3)  # an agent signs in: the queue wording is back
    await fake_services.handoffs.customer_wrote(await fake_services.handoffs.open_for("c1"), "还要等吗")
    assert _bot_lines(fake_services)[-1].startswith("您的留言客服会看到🙋 马上为您接通")


async def test_what_a_customer_leaves_while_nobody_is_there_is_on_the_case_and_survives_cancelling(
    fake_services: Services, clock: Clock
) -> None:
    """ "您的留言已记录（编号 C…）": the case said only "转人工", and the question left after it
    ("我想问下安装费怎么算") was in no place an agent working the case would look."""
    h = fake_services.handoffs
    h._store.online_count = 0  # type: ignore[attr-defined]
    ticket = await h.request("c1", "wechat", "customer_request", summary="转人工")
    await h.customer_wrote(ticket.handoff, "我想问下安装费怎么算")
    await h.customer_wrote(await h.open_for("c1"), "[菜单] 人工")
    case = await fake_services.cases.get(ticket.case_number or "")
    assert case.description == "无客服在线时转人工\n等待人工时留言：我想问下安装费怎么算"  # not "：转人工"
    assert [(e.kind, e.actor) for e in case.events][-1] == ("note", "customer:c1")
    assert await h.cancel("c1")
    assert _bot_lines(fake_services)[-1].startswith(
        f"好的，已为您取消转人工。已登记的诉求（编号 {case.number}）客服仍会跟进"
    )
    assert (await fake_services.cases.get(case.number)).status is Status.NEW  # still owed an answer


async def test_cancelling_after_the_case_was_resolved_promises_no_follow_up(
    fake_services: Services, clock: Clock
) -> None:
    """It said "已登记的诉求（编号 C…）客服仍会跟进" about a case resolved while the customer waited."""
    h = fake_services.handoffs
    h._store.online_count = 0  # type: ignore[attr-defined]
    ticket = await h.request("c1", "wechat", "customer_request", summary="转人工")
    for step in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
        await fake_services.cases.change_status(ticket.case_number or "", step, actor="api:api")
    assert await h.cancel("c1")
    assert _bot_lines(fake_services)[-1] == "好的，已为您取消转人工，我继续为您服务😊 还有什么可以帮您？"


async def test_with_nobody_at_the_console_a_deadline_already_met_is_not_promised_again(
    fake_services: Services, clock: Clock
) -> None:
    fake_services.handoffs._store.online_count = 0  # type: ignore[attr-defined]
    case = await fake_services.cases.open_case(
        CaseDraft("c1", "wechat", "宽带断了三天", "other", "13812345678")
    )
    await fake_services.cases.change_status(case.number, Status.ACKNOWLEDGED, actor="agent:li")
    ticket = await fake_services.handoffs.request("c1", "wechat", "customer_request")
    assert ticket.case_number == case.number and ticket.contact_by is None
    assert ticket.situation == "unstaffed"


@pytest.mark.parametrize(
    "text",
    [
        "你们的客服电话是多少",
        "客服热线多少",
        "售后电话",
        "400电话是多少",
        "怎么联系你们",
        "有没有电话可以打",
        "给我一个联系电话",
        "我要投诉，你们投诉电话多少",
        "联系方式发我一下",
    ],
)
def test_asking_how_to_reach_the_business_is_recognised(text: str) -> None:
    assert asks_how_to_reach_us(text)


@pytest.mark.parametrize(
    "text",
    [
        "你们电话打不通",  # a complaint about the line
        "打了三次客服电话都没人接",
        "我想打电话投诉",
        "师傅电话多少",  # the technician's number is on the case, not the business's
        "快递员电话是多少",
        "联系电话换了",  # the customer's own number
        "我的联系电话是13812345678",
        "你们的客服态度太差了",
        "我要转人工",
        "怎么才能找到真人",  # asks for a person: handed over
        "请问怎么联系人工客服",
        "冬天开的也是电暖气，怎么可能用这么多气？打燃气公司电话，说是按表抄的",  # a complaint
    ],
)
def test_a_problem_with_the_line_or_the_customers_own_number_is_not_that_question(text: str) -> None:
    assert not asks_how_to_reach_us(text)
