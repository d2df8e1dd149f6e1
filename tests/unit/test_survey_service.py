"""The survey service over in-memory fakes: scheduling, sending once, answers, opt-out, figures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.cases.model import CaseDraft, Priority, Status
from bot.surveys.errors import InvalidServiceEvent
from bot.surveys.model import ServiceEvent, SurveyStatus
from bot.surveys.rules import Delivery
from bot.surveys.service import Conversation
from bot.wiring import Services
from bot.worker import SurveyReminders
from tests.conftest import Clock
from tests.fakes import FakeRasa


def event(
    external_id: str = "WO-1", sender: str = "wx-1", done: datetime | None = None, **kw: object
) -> ServiceEvent:
    return ServiceEvent(
        external_id=external_id,
        sender_id=sender,
        channel="wechat",
        service_type=str(kw.pop("service_type", "repair")),
        technician=kw.pop("technician", "王师傅"),
        completed_at=done or datetime.now().astimezone(),
        **kw,
    )  # type: ignore[arg-type]


async def test_a_service_event_schedules_a_survey_once(fake_services: Services, clock: Clock) -> None:
    first = await fake_services.surveys.record_service_event(event(done=clock.now))
    again = await fake_services.surveys.record_service_event(event(done=clock.now))
    assert first.created and not again.created
    assert again.survey is not None and again.survey.id == first.survey.id  # type: ignore[union-attr]
    assert first.survey.status is SurveyStatus.SCHEDULED  # type: ignore[union-attr]
    assert first.survey.due_at == clock.now + timedelta(hours=2)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("service_type", {"service_type": "haircut"}),
        ("external_id", {"external_id": ""}),
        ("openid", {"sender": ""}),
    ],
)
async def test_bad_service_events_name_the_field(fake_services: Services, field: str, kw: dict) -> None:
    with pytest.raises(InvalidServiceEvent) as err:
        await fake_services.surveys.record_service_event(event(**kw))
    assert err.value.field == field


async def test_unsubscribed_opted_out_and_recently_surveyed_customers_get_none(
    fake_services: Services, clock: Clock
) -> None:
    customers = fake_services.customers
    await customers.unsubscribed("gone", "wechat", clock.now)
    await customers.opt_out_of_surveys("quiet", "wechat", clock.now)
    reasons = []
    for n, sender in enumerate(["gone", "quiet", "busy", "busy"]):
        intake = await fake_services.surveys.record_service_event(event(f"WO-{n}", sender, clock.now))
        reasons.append((intake.survey.status.value, intake.survey.reason))  # type: ignore[union-attr]
    assert reasons == [
        ("cancelled", "unsubscribed"),
        ("cancelled", "opted_out"),
        ("scheduled", None),
        ("cancelled", "frequency_cap"),
    ]


async def test_the_send_time_decision(fake_services: Services, clock: Clock) -> None:
    surveys = fake_services.surveys
    await fake_services.customers.customer_wrote("wx-1", "wechat", clock.now - timedelta(hours=1))
    survey = (await surveys.record_service_event(event(done=clock.now - timedelta(hours=3)))).survey
    assert survey is not None
    assert (await surveys.plan_for(survey, Conversation())).delivery is Delivery.CUSTOMER_SERVICE
    busy = await surveys.plan_for(survey, Conversation("intake_in_progress"))
    assert (busy.action, busy.reason) == ("postpone", "intake_in_progress")
    assert busy.until == clock.now + timedelta(minutes=30)
    clock.now = clock.now.replace(hour=14)  # 22:30 in Shanghai
    night = await surveys.plan_for(survey, Conversation())
    assert (night.action, night.reason) == ("postpone", "quiet_hours")
    clock.now = clock.now + timedelta(days=3)  # the customer's last message is now days old
    clock.now = clock.now.replace(hour=3)  # 11:00 in Shanghai
    assert (await surveys.plan_for(survey, Conversation())).action == "unreachable"  # no template configured


async def test_a_case_survey_is_not_sent_once_the_case_is_open_again(
    fake_services: Services, clock: Clock
) -> None:
    """ "还是不脱水" reopened the case before its survey was due; the survey still asked how the
    finished handling went."""
    cases, surveys = fake_services.cases, fake_services.surveys
    await fake_services.customers.customer_wrote("wx-1", "wechat", clock.now)
    case = await cases.open_case(
        CaseDraft("wx-1", "wechat", "洗衣机不脱水", "installation_repair", "13812345678")
    )
    for status in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
        await cases.change_status(case.number, status, actor="agent:li")
    (first,) = await surveys.search(sender_id="wx-1")
    assert (await surveys.plan_for(first, Conversation())).action == "send"
    await cases.reopen_for_customer(case.number, "还是不脱水", actor="customer:wx-1")
    later = await surveys.plan_for(first, Conversation())
    assert (later.action, later.reason) == ("cancel", "case_reopened")
    await surveys.give_up(first, SurveyStatus.CANCELLED, later.reason or "")
    for status in (Status.IN_PROGRESS, Status.RESOLVED):  # fixed this time
        await cases.change_status(case.number, status, actor="agent:li")
    again = [s for s in await surveys.search(sender_id="wx-1") if s.id != first.id]
    assert [(s.status, s.case_number) for s in again] == [(SurveyStatus.SCHEDULED, case.number)]


async def test_a_case_resolved_at_night_is_surveyed_two_hours_after_the_customer_is_told(
    fake_services: Services, clock: Clock
) -> None:
    """Resolved at 23:00, the notice waits for 09:00 (bot/notices.py); the survey came at 09:00 too,
    right under it, instead of the two hours later a daytime resolution gets."""
    cases, surveys = fake_services.cases, fake_services.surveys
    case = await cases.open_case(CaseDraft("wx-1", "wechat", "洗衣机不脱水", "installation_repair", None))
    clock.now = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)  # 23:00 in Shanghai
    for status in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
        await cases.change_status(case.number, status, actor="agent:li")
    (night,) = await surveys.search(sender_id="wx-1")
    assert night.due_at == datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)  # 11:00, not 09:00
    day = await cases.open_case(CaseDraft("wx-2", "wechat", "空调不制冷", "installation_repair", None))
    clock.now = datetime(2026, 11, 21, 4, 0, tzinfo=timezone.utc)  # 12:00
    for status in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
        await cases.change_status(day.number, status, actor="agent:li")
    (daytime,) = await surveys.search(sender_id="wx-2")
    assert daytime.due_at == clock.now + timedelta(hours=2)


async def test_a_survey_is_marked_sent_exactly_once(fake_services: Services, clock: Clock) -> None:
    survey = (await fake_services.surveys.record_service_event(event(done=clock.now))).survey
    assert survey is not None and survey.id is not None
    assert await fake_services.surveys.mark_sent(survey.id, "customer_service") is not None
    assert await fake_services.surveys.mark_sent(survey.id, "customer_service") is None  # a retried trigger


async def sent_survey(services: Services, clock: Clock, **kw: object):  # type: ignore[no-untyped-def]
    survey = (await services.surveys.record_service_event(event(done=clock.now, **kw))).survey
    return await services.surveys.mark_sent(survey.id, "customer_service")


async def test_a_bad_answer_opens_an_escalated_remediation_case(
    fake_services: Services, clock: Clock
) -> None:
    survey = await sent_survey(fake_services, clock)
    outcome = await fake_services.surveys.answer(
        "wx-1",
        survey_id=None,
        rating=2,
        label="dissatisfied",
        confidence=0.9,
        comment="2分，师傅迟到了两个小时",
    )
    assert outcome.bad and outcome.score == 2 and outcome.remediation_case is not None
    case = outcome.remediation_case
    assert case.priority is Priority.P2 and "escalated:survey" in case.priority_reasons
    assert case.category == "installation_repair" and case.source == "survey"
    assert "师傅迟到了两个小时" in case.description and "王师傅" in case.description
    stored = await fake_services.surveys.get(survey.id)
    assert (stored.status, stored.score, stored.comment) == (
        SurveyStatus.ANSWERED,
        2,
        "2分，师傅迟到了两个小时",
    )
    assert stored.remediation_case_number == case.number


async def test_a_bad_answer_after_a_question_goes_to_the_case_the_question_opened(
    fake_services: Services, clock: Clock
) -> None:
    survey = await sent_survey(fake_services, clock)
    asked = await fake_services.surveys.question_asked(survey.id, "师傅几点能再来一趟？")
    assert asked is not None and asked.priority is Priority.P3
    outcome = await fake_services.surveys.answer(
        "wx-1", survey_id=None, rating=2, label="dissatisfied", confidence=0.9, comment="2分，还是没修好"
    )
    case = outcome.remediation_case
    assert case is not None and case.number == asked.number  # was a second case about the same visit
    assert case.priority is Priority.P2
    assert "回访不满意（2分）：2分，还是没修好" in case.description
    assert [c.number for c in await fake_services.cases.open_cases_for("wx-1")] == [asked.number]
    assert (await fake_services.surveys.get(survey.id)).remediation_case_number == asked.number


async def test_a_question_from_another_survey_is_not_taken_for_this_one(
    fake_services: Services, clock: Clock
) -> None:
    first = await sent_survey(fake_services, clock)
    await fake_services.surveys.question_asked(first.id, "师傅几点能再来一趟？")
    await fake_services.surveys.answer(
        "wx-1", survey_id=first.id, rating=5, label="satisfied", confidence=0.9, comment="5"
    )
    clock.now += timedelta(days=40)
    second = await sent_survey(fake_services, clock, external_id="WO-2")
    outcome = await fake_services.surveys.answer(
        "wx-1", survey_id=second.id, rating=1, label="dissatisfied", confidence=0.9, comment="1分"
    )
    case = outcome.remediation_case
    assert case is not None and f"回访#{second.id}）" in case.description
    assert len(await fake_services.cases.open_cases_for("wx-1")) == 2


@pytest.mark.parametrize(
    ("heard", "category"),
    [
        ("other", "delivery"),  # "太差了": the model's "other" is no answer; the service is
        (None, "delivery"),  # a bare score
        ("product_quality", "product_quality"),  # "送来的东西是坏的": what the answer names
    ],
)
async def test_a_remediation_case_is_filed_under_the_service_unless_the_answer_names_another(
    fake_services: Services, clock: Clock, heard: str | None, category: str
) -> None:
    survey = await sent_survey(fake_services, clock, service_type="delivery")
    outcome = await fake_services.surveys.answer(
        "wx-1",
        survey_id=survey.id,
        rating=1,
        label="dissatisfied",
        confidence=0.9,
        comment="太差了",
        category=heard,
    )
    assert outcome.remediation_case is not None
    assert (outcome.remediation_case.category, outcome.remediation_case.priority) == (category, Priority.P2)


async def test_a_good_answer_is_thanked_and_opens_nothing(fake_services: Services, clock: Clock) -> None:
    await sent_survey(fake_services, clock)
    outcome = await fake_services.surveys.answer(
        "wx-1", survey_id=None, rating=None, label="satisfied", confidence=0.95, comment="师傅很专业"
    )
    assert (outcome.bad, outcome.score, outcome.remediation_case) == (False, 5, None)


async def test_a_middling_score_followed_by_a_complaint_is_a_bad_answer(
    fake_services: Services, clock: Clock
) -> None:
    """ "3", then "快递员放门口就走了，也没打电话": the bot said "感谢您的评价" and nothing followed."""
    survey = await sent_survey(fake_services, clock, service_type="delivery")
    first = await fake_services.surveys.answer(
        "wx-1", survey_id=survey.id, rating=3, label="neutral", confidence=0.9, comment=None
    )
    assert (first.bad, first.remediation_case) == (False, None)
    outcome = await fake_services.surveys.add_comment(
        "wx-1", survey.id, "快递员放门口就走了，也没打电话", label="dissatisfied"
    )
    assert outcome.bad and outcome.remediation_case is not None
    case = outcome.remediation_case
    assert case.category == "delivery" and "快递员放门口就走了" in case.description
    stored = await fake_services.surveys.get(survey.id)
    assert (stored.score, stored.satisfaction, stored.remediation_case_number) == (
        3,
        "dissatisfied",
        case.number,
    )
    more = await fake_services.surveys.add_comment("wx-1", survey.id, "东西还被淋湿了", label="dissatisfied")
    assert more.bad and more.remediation_case is None  # joins that case, no second one
    assert (await fake_services.cases.get(case.number)).description.endswith("东西还被淋湿了")


async def test_a_middling_score_with_a_neutral_comment_is_just_thanked(
    fake_services: Services, clock: Clock
) -> None:
    survey = await sent_survey(fake_services, clock)
    await fake_services.surveys.answer(
        "wx-1", survey_id=survey.id, rating=3, label="neutral", confidence=0.9, comment=None
    )
    outcome = await fake_services.surveys.add_comment("wx-1", survey.id, "还行吧，一般般", label="neutral")
    assert (outcome.bad, outcome.remediation_case) == (False, None)


async def test_a_bad_answer_about_a_resolved_case_reopens_it(fake_services: Services, clock: Clock) -> None:
    cases = fake_services.cases
    case = await cases.open_case(CaseDraft("wx-1", "wechat", "宽带经常掉线", "other", "13812345678"))
    clock.now += timedelta(days=4)  # resolved four days after it was filed
    for status in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
        await cases.change_status(case.number, status, actor="agent:li")
    (survey,) = await fake_services.surveys.search(sender_id="wx-1")  # scheduled by the resolution
    assert survey.subject == "case" and survey.case_number == case.number
    await fake_services.surveys.mark_sent(survey.id, "customer_service")
    outcome = await fake_services.surveys.answer(
        "wx-1", survey_id=survey.id, rating=None, label="dissatisfied", confidence=0.95, comment="根本没修好"
    )
    assert outcome.reopened_case is not None and outcome.remediation_case is None
    reopened = await cases.get(case.number)
    assert reopened.status is Status.REOPENED and reopened.priority is Priority.P3  # P4 → P3
    # the apology promises contact by the case's first-response deadline: counted from now, not from
    # the filing four days ago (it promised a time already past)
    assert clock.now < reopened.first_response_due <= clock.now + timedelta(hours=24)
    assert any(e.kind == "status_changed" and "根本没修好" in (e.note or "") for e in reopened.events)


async def test_a_comment_after_a_bad_score_goes_to_the_reopened_case(
    fake_services: Services, clock: Clock
) -> None:
    cases = fake_services.cases
    case = await cases.open_case(CaseDraft("wx-1", "wechat", "宽带经常掉线", "other", "13812345678"))
    for status in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
        await cases.change_status(case.number, status, actor="agent:li")
    (survey,) = await fake_services.surveys.search(sender_id="wx-1")
    await fake_services.surveys.mark_sent(survey.id, "customer_service")
    await fake_services.surveys.answer(
        "wx-1", survey_id=survey.id, rating=1, label="neutral", confidence=0.6, comment=None
    )
    outcome = await fake_services.surveys.add_comment("wx-1", survey.id, "还是天天掉线", label="dissatisfied")
    assert outcome.bad and outcome.survey is not None and outcome.survey.comment == "还是天天掉线"
    stored = await fake_services.surveys.get(survey.id)
    assert (stored.status, stored.score, stored.comment, stored.satisfaction) == (
        SurveyStatus.ANSWERED,
        1,
        "还是天天掉线",
        "dissatisfied",
    )
    reopened = await cases.get(case.number)
    assert reopened.status is Status.REOPENED
    assert any(e.kind == "note" and "还是天天掉线" in (e.note or "") for e in reopened.events)


async def test_an_answer_after_expiry_still_counts(fake_services: Services, clock: Clock) -> None:
    survey = await sent_survey(fake_services, clock)
    clock.now += timedelta(hours=73)
    assert await fake_services.surveys.expire_due() == 1
    assert (await fake_services.surveys.get(survey.id)).status is SurveyStatus.EXPIRED
    outcome = await fake_services.surveys.answer(
        "wx-1", survey_id=None, rating=4, label="satisfied", confidence=0.8, comment=None
    )
    assert outcome.late and (await fake_services.surveys.get(survey.id)).status is SurveyStatus.ANSWERED


async def test_one_reminder_after_24_hours(fake_services: Services, clock: Clock) -> None:
    survey = await sent_survey(fake_services, clock)
    assert await fake_services.surveys.claim_reminders() == []
    clock.now += timedelta(hours=25)
    (due,) = await fake_services.surveys.claim_reminders()
    assert await fake_services.surveys.mark_reminded(due.id) is not None
    assert await fake_services.surveys.mark_reminded(due.id) is None
    assert await fake_services.surveys.claim_reminders() == []
    assert (await fake_services.surveys.get(survey.id)).status is SurveyStatus.REMINDED


@pytest.mark.parametrize("complained", [False, True])
async def test_no_reminder_to_a_customer_who_complained_since(
    fake_services: Services, clock: Clock, complained: bool
) -> None:
    survey = await sent_survey(fake_services, clock)
    await fake_services.customers.customer_wrote("wx-1", "wechat", clock.now)  # inside the 48 h window
    clock.now += timedelta(hours=2)
    if complained:
        await fake_services.cases.open_case(
            CaseDraft("wx-1", "wechat", "师傅多收了我200块上门费", "billing", "13812345678")
        )
    clock.now += timedelta(hours=23)
    rasa = FakeRasa()
    assert await SurveyReminders(fake_services.surveys, rasa).run_once(clock.now) == 1  # type: ignore[arg-type]
    triggers = [c[2] for c in rasa.calls if c[0] == "trigger"]
    assert triggers == ([] if complained else ["EXTERNAL_survey_reminder"])
    if complained:  # marked as reminded, so it is not claimed again (the reminder action marks the other)
        assert (await fake_services.surveys.get(survey.id)).status is SurveyStatus.REMINDED
        assert await fake_services.surveys.claim_reminders() == []


async def test_no_reminder_to_a_customer_who_has_written_since_the_question(
    fake_services: Services, clock: Clock
) -> None:
    """ "师傅几点能再来一趟？" to the score question, and the next day "打扰一下～之前邀请您评价…"."""
    survey = await sent_survey(fake_services, clock)
    clock.now += timedelta(minutes=3)
    await fake_services.customers.customer_wrote("wx-1", "wechat", clock.now)
    clock.now += timedelta(hours=25)
    rasa = FakeRasa()
    assert await SurveyReminders(fake_services.surveys, rasa).run_once(clock.now) == 1  # type: ignore[arg-type]
    assert [c for c in rasa.calls if c[0] == "trigger"] == []
    after = await fake_services.surveys.get(survey.id)
    assert (after.status, after.history[-1].reason) == (
        SurveyStatus.REMINDED,
        "no reminder: the customer has written since the question",
    )


async def test_opting_out_cancels_what_is_pending(fake_services: Services, clock: Clock) -> None:
    await sent_survey(fake_services, clock)
    assert await fake_services.surveys.opt_out("wx-1", "wechat") == 1
    clock.now += timedelta(days=30)
    later = await fake_services.surveys.record_service_event(event("WO-2", done=clock.now))
    assert later.survey.reason == "opted_out"  # type: ignore[union-attr]
    cancelled = await fake_services.surveys.search(sender_id="wx-1", status=SurveyStatus.CANCELLED)
    assert len(cancelled) == 2
    first = await fake_services.surveys.get(min(s.id for s in cancelled))
    assert [(c.from_status, c.to_status, c.reason) for c in first.history][-1] == (
        "sent",
        "cancelled",
        "opted_out",
    )


async def test_figures_by_week_service_type_and_technician(fake_services: Services, clock: Clock) -> None:
    scores = {"A": 5, "B": 4, "C": 1, "D": None}
    for n, (sender, score) in enumerate(scores.items()):
        survey = await sent_survey(
            fake_services,
            clock,
            external_id=f"WO-{n}",
            sender=sender,
            technician="王师傅" if n < 2 else "李师傅",
        )
        if score is not None:
            await fake_services.surveys.answer(
                sender, survey_id=survey.id, rating=score, label=None, confidence=None, comment=None
            )
    since, until = clock.now - timedelta(days=1), clock.now + timedelta(days=1)
    by_tech = {r["technician"]: r for r in await fake_services.surveys.stats("technician", since, until)}
    assert by_tech["王师傅"] | {} == {
        **by_tech["王师傅"],
        "sent": 2,
        "answered": 2,
        "response_rate": 1.0,
        "average_score": 4.5,
        "csat": 1.0,
    }
    assert (by_tech["李师傅"]["response_rate"], by_tech["李师傅"]["csat"]) == (0.5, 0.0)
    (week,) = await fake_services.surveys.stats("week", since, until)
    assert (week["sent"], week["answered"], week["average_score"], week["csat"]) == (4, 3, 3.33, 0.6667)
    assert week["remediation_cases"] == 1


async def test_waiting_out_quiet_hours_does_not_use_up_the_tries(
    fake_services: Services, clock: Clock
) -> None:
    """Five postponements and then one Rasa hiccup must not fail the survey: only failures count."""
    intake = await fake_services.surveys.record_service_event(event(done=clock.now))
    survey = intake.survey
    assert survey is not None
    store = fake_services.surveys._store  # type: ignore[attr-defined]
    store.surveys[survey.id].attempts = 5  # claimed five times, postponed each time
    await fake_services.surveys.postpone(
        store.surveys[survey.id], clock.now + timedelta(hours=1), "quiet_hours"
    )
    after = await store.get(survey.id)
    assert (after.status, after.attempts, after.reason) == (SurveyStatus.SCHEDULED, 0, "quiet_hours")
    assert after.due_at == clock.now + timedelta(hours=1)
