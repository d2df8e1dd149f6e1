"""The customer hears that their complaint was resolved, unless they withdrew it or a person is
talking with them; a notice that could not be sent is in the case's history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.cases.model import Case, CaseDraft, Status
from bot.cases.service import CaseService
from bot.handoff.model import Agent, Role
from bot.notices import HELD, NOTICE_FAILED, NOTIFIED, SENDING, ResolutionNotifier
from bot.surveys.rules import SurveyPolicy, next_allowed
from bot.wiring import Services
from tests.conftest import Clock
from tests.fakes import FakeRasa


async def _resolve(cases: CaseService, number: str, clock: Clock) -> None:
    for step in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
        clock.now += timedelta(minutes=1)
        await cases.change_status(number, step, actor="agent:li", note="已更换压缩机")


def _draft(sender: str = "wx-1", channel: str = "wechat") -> CaseDraft:
    return CaseDraft(sender, channel, "空调修完第二天又不制冷了", "installation_repair", "13812345678")


async def _filed(services: Services, clock: Clock, sender: str = "wx-1", channel: str = "wechat") -> Case:
    """A complaint as a customer files it: their message opens WeChat's 48-hour window."""
    await services.customers.customer_wrote(sender, channel, clock.now)
    return await services.cases.open_case(_draft(sender, channel))


async def test_a_resolved_complaint_is_told_to_its_customer_on_wechat(
    fake_services: Services, clock: Clock
) -> None:
    rasa: FakeRasa = fake_services.rasa  # type: ignore[assignment]
    case = await _filed(fake_services, clock)
    await _resolve(fake_services.cases, case.number, clock)
    (call,) = [c for c in rasa.calls if c[0] == "events"]
    _, sender, events, channel, side_effects = call
    assert (sender, channel, side_effects) == ("wx-1", "wechat", True)
    text = events[0]["text"]
    assert case.number in text and "安装维修" in text and "已处理完毕" in text
    assert "压缩机" not in text  # the agent's note is for colleagues
    history = (await fake_services.cases.get(case.number)).events
    assert [(e.kind, e.actor, e.note) for e in history][-1] == (NOTIFIED, "bot", text)


async def test_no_notice_when_withdrawn_or_an_agent_is_talking_or_not_on_wechat(
    fake_services: Services, clock: Clock
) -> None:
    rasa: FakeRasa = fake_services.rasa  # type: ignore[assignment]
    cases = fake_services.cases
    withdrawn = await _filed(fake_services, clock, "wx-1")
    await cases.add_customer_words(withdrawn.number, "不用处理了", actor="customer:wx-1", withdrawal=True)
    talking = await _filed(fake_services, clock, "wx-2")
    ticket = await fake_services.handoffs.request("wx-2", "wechat", reason="customer_request")
    await fake_services.handoffs.accept(ticket.handoff.id or 0, Agent("li", "小李", Role.AGENT))
    web = await _filed(fake_services, clock, "web-3", channel="rest")
    waiting = await _filed(fake_services, clock, "wx-4")  # queued for a person, nobody talking yet
    await fake_services.handoffs.request("wx-4", "wechat", reason="customer_request")
    for case in (withdrawn, talking, web, waiting):
        await _resolve(cases, case.number, clock)
    told = {c[1] for c in rasa.calls if c[0] == "events" and "已处理完毕" in c[2][0].get("text", "")}
    assert told == {"wx-4"}  # the agent holding wx-2's conversation tells them
    for case in (withdrawn, talking, web):
        assert NOTIFIED not in [e.kind for e in (await cases.get(case.number)).events]
    last = (await cases.get(talking.number)).events[-1]  # the agent is told to say it
    assert (last.kind, last.note) == (NOTICE_FAILED, "客服正在与客户对话：请由客服告知客户")


class _RasaDown(FakeRasa):
    async def append_events(self, *args: object, **kwargs: object) -> None:
        raise ConnectionError("rasa is down")


async def test_a_notice_that_could_not_go_out_is_in_the_history(
    fake_services: Services, clock: Clock
) -> None:
    cases = fake_services.cases
    cases.on_resolved[:] = [
        ResolutionNotifier(cases, _RasaDown(), fake_services.handoffs, fake_services.customers)
    ]
    case = await _filed(fake_services, clock)
    await _resolve(cases, case.number, clock)
    resolved = await cases.get(case.number)
    assert resolved.status is Status.RESOLVED  # resolved all the same
    last = resolved.events[-1]
    assert (last.kind, last.note) == (NOTICE_FAILED, "ConnectionError: rasa is down")


@pytest.mark.parametrize("template", [True, False])
async def test_after_48_hours_the_notice_goes_as_the_template_or_the_history_says_to_call(
    fake_services: Services, clock: Clock, template: bool
) -> None:
    """Most complaints are resolved more than 48 hours after the customer last wrote (P3 has 72
    hours, P4 a week), when WeChat refuses a customer-service message. The notice was sent anyway,
    refused, and the history said "已告知客户"."""
    rasa: FakeRasa = fake_services.rasa  # type: ignore[assignment]
    cases = fake_services.cases
    cases.on_resolved[:] = [
        ResolutionNotifier(
            cases, rasa, fake_services.handoffs, fake_services.customers, template_configured=template
        )
    ]
    case = await _filed(fake_services, clock)
    clock.now += timedelta(hours=49)
    await _resolve(cases, case.number, clock)
    calls = [c for c in rasa.calls if c[0] == "events"]
    last = (await cases.get(case.number)).events[-1]
    if not template:
        assert calls == []
        assert last.kind == NOTICE_FAILED and "超过 48 小时" in last.note and "请电话告知客户" in last.note
        return
    ((_, sender, (event,), channel, _),) = calls
    assert (sender, channel, event["text"]) == ("wx-1", "wechat", None)  # a text would only be refused
    fields = event["data"]["custom"]["template"]["data"]
    assert fields["first"]["value"] == "您好，您的投诉已处理完毕✅"
    assert fields["keyword1"]["value"] == f"投诉 {case.number}（安装维修）"
    assert fields["keyword2"]["value"] == "11月22日 11:33"  # when it was resolved, Shanghai time
    assert "直接回复" in fields["remark"]["value"]
    assert last.kind == NOTIFIED and last.note.startswith("（模板消息）")


async def test_a_customer_who_left_the_account_is_not_written_to(
    fake_services: Services, clock: Clock
) -> None:
    rasa: FakeRasa = fake_services.rasa  # type: ignore[assignment]
    case = await _filed(fake_services, clock)
    await fake_services.customers.unsubscribed("wx-1", "wechat", clock.now)
    await _resolve(fake_services.cases, case.number, clock)
    assert [c for c in rasa.calls if c[0] == "events"] == []
    last = (await fake_services.cases.get(case.number)).events[-1]
    assert last.kind == NOTICE_FAILED and "取消关注" in last.note


async def test_a_case_resolved_at_night_is_told_when_the_quiet_hours_end(
    fake_services: Services, clock: Clock
) -> None:
    """A batch of resolutions from the dispatch system at 23:00 woke customers with notices; the
    surveys wait for 09:00, and now so do the notices."""
    rasa: FakeRasa = fake_services.rasa  # type: ignore[assignment]
    cases = fake_services.cases
    quiet = SurveyPolicy()  # 21:00-09:00 Shanghai
    notices = ResolutionNotifier(
        cases,
        rasa,
        fake_services.handoffs,
        fake_services.customers,
        next_allowed=lambda m: next_allowed(m, quiet),
    )
    cases.on_resolved[:] = [notices]
    clock.now = clock.now.replace(hour=14, minute=50)  # 22:50 in Shanghai
    case, reopened = await _filed(fake_services, clock), await _filed(fake_services, clock, "wx-2")
    for c in (case, reopened):
        await _resolve(cases, c.number, clock)
    assert [c for c in rasa.calls if c[0] == "events"] == []
    last = (await cases.get(case.number)).events[-1]
    assert (last.kind, last.note) == (HELD, "夜间不打扰：11月21日 09:00 后告知客户")
    assert await notices.send_held() == 0  # still night
    clock.now += timedelta(hours=9)  # 07:53: the customer writes that it is broken again
    await cases.change_status(reopened.number, Status.REOPENED, actor="customer:wx-2")
    clock.now += timedelta(hours=1, minutes=10)  # 09:03
    assert await notices.send_held() == 1
    ((_, sender, (event,), _, _),) = [c for c in rasa.calls if c[0] == "events"]
    assert sender == "wx-1" and "已处理完毕" in event["text"]
    assert [e.kind for e in (await cases.get(case.number)).events][-3:] == [HELD, SENDING, NOTIFIED]
    last = (await cases.get(reopened.number)).events[-1]
    assert (last.kind, last.note) == (NOTICE_FAILED, "案件已重新打开，不再告知客户已处理")
    assert await notices.send_held() == 0  # each once
