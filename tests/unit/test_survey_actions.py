"""Survey actions as the action server runs them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services as action_services
from actions.feedback import ActionRecordFeedback
from actions.handoff import ActionRequestHuman
from actions.status import ActionCannotHelp
from actions.surveys import (
    ActionAskSurveyComment,
    ActionAskSurveyScore,
    ActionMoreAboutBadAnswer,
    ActionOptOut,
    ActionOptOutInIntake,
    ActionStartSurvey,
    ActionSubmitSurvey,
    ValidateSurveyForm,
)
from bot.cases.model import CaseDraft, Status
from bot.config import PROJECT_ROOT
from bot.surveys.model import ServiceEvent, SurveyStatus
from bot.wiring import Services
from tests.conftest import Clock
from tests.fakes import FakeUowFactory

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def wired(fake_services: Services) -> Iterator[Services]:
    action_services.use_services(fake_services)
    yield fake_services
    action_services.use_services(None)


def tracker(
    text: str,
    intent: str,
    entities: list[dict[str, Any]] | None = None,
    slots: dict | None = None,
    requested: str | None = None,
    satisfaction: tuple[str, float] = ("neutral", 0.9),
    loop: str | None = "survey_form",
) -> Tracker:
    message = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
        "satisfaction": {"label": satisfaction[0], "confidence": satisfaction[1]},
    }
    return Tracker(
        "wx-1",
        {"requested_slot": requested, **(slots or {})},
        message,
        [{"event": "user", "text": text, "parse_data": message}],
        False,
        None,
        {"name": loop} if loop else {},
        "action_listen",
    )


async def a_sent_survey(services: Services, clock: Clock) -> int:
    intake = await services.surveys.record_service_event(
        ServiceEvent("WO-9", "wx-1", "wechat", "installation", clock.now, technician="张师傅")
    )
    await services.surveys.mark_sent(intake.survey.id, "customer_service")  # type: ignore[union-attr]
    return intake.survey.id  # type: ignore[union-attr]


async def validate(t: Tracker) -> tuple[dict[str, Any], list[str]]:
    dispatcher = CollectingDispatcher()
    events = await ValidateSurveyForm().run(dispatcher, t, DOMAIN)
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}, [
        m["text"] for m in dispatcher.messages
    ]


async def test_a_score_with_words_fills_score_and_comment() -> None:
    text = "2分，师傅迟到了两个小时"
    rating = {"entity": "rating", "value": 2, "start": 0, "end": 2}
    slots, _ = await validate(tracker(text, "give_rating", [rating], requested="survey_score"))
    assert slots["survey_score"] == 2.0 and slots["survey_comment"] == text


async def test_a_bare_score_leaves_the_comment_to_be_asked() -> None:
    slots, _ = await validate(
        tracker(
            "4",
            "give_rating",
            [{"entity": "rating", "value": 4, "start": 0, "end": 1}],
            requested="survey_score",
        )
    )
    assert slots == {"survey_score": 4.0}


async def test_free_text_is_scored_from_its_satisfaction() -> None:
    slots, _ = await validate(
        tracker(
            "装得挺好的，师傅很耐心",
            "give_feedback",
            requested="survey_score",
            satisfaction=("satisfied", 0.93),
        )
    )
    assert slots == {"survey_score": 5.0, "survey_comment": "装得挺好的，师傅很耐心"}


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        ("没有", "deny", "-"),
        ("没有了", "inform", "-"),
        ("下次早点来就好", "suggest", "下次早点来就好"),
        ("没有了，谢谢", "thank", "-"),  # kept as a comment for the operator to read
        ("就这样吧", "goodbye", "-"),
        ("没什么要说的", "nlu_fallback", "-"),
        ("没有，挺好的", "give_feedback", "没有，挺好的"),
    ],
)
async def test_the_optional_comment(text: str, intent: str, expected: str) -> None:
    slots, _ = await validate(tracker(text, intent, requested="survey_comment", slots={"survey_score": 4.0}))
    assert slots["survey_comment"] == expected


async def no_answer_yet(services: Services, clock: Clock, text: str, intent: str) -> tuple[int, dict]:
    """The words are no score (the slot is set to None, so the form goes on without a fallback);
    returns the survey and the question as it is asked again."""
    t = tracker(text, intent, requested="survey_score")
    slots, said = await validate(t)
    assert slots == {"survey_score": None} and said == []
    survey_id = await a_sent_survey(services, clock)
    t.slots.update({"survey_id": str(survey_id), "survey_delivery": "customer_service"})
    dispatcher = CollectingDispatcher()
    await ActionAskSurveyScore().run(dispatcher, t, DOMAIN)
    [again] = dispatcher.messages
    assert len(again["buttons"]) == 5
    return survey_id, again


async def test_asked_too_soon_is_no_answer_and_the_bot_can_wait(wired: Services, clock: Clock) -> None:
    """ "刚装好，还没用呢" two hours after an installation was scored 3 (一般) and closed the survey:
    a false 一般 in the company's CSAT and no reminder. Now the survey stays open for one."""
    survey_id, again = await no_answer_yet(wired, clock, "刚装好，还没用呢", "give_feedback")
    assert again["text"].startswith("好的，不着急😊 等您用上一段时间")
    assert (await wired.surveys.get(survey_id)).status is SurveyStatus.SENT


@pytest.mark.parametrize("then", ["过两天再说吧", "嗯", "好的", "行"])
async def test_no_verdict_said_again_is_met_quietly(wired: Services, clock: Clock, then: str) -> None:
    """ "刚装好，还没用呢", then "过两天再说吧": "好的，不着急😊 等您用上一段时间…" and the five
    buttons came back word for word, and again for every "嗯" after it. "好的" to it was scored 3
    (一般) and closed the survey."""
    survey_id, first = await no_answer_yet(wired, clock, "刚装好，还没用呢", "give_feedback")
    t = tracker(then, "affirm", requested="survey_score")
    t.slots.update({"survey_id": str(survey_id), "survey_delivery": "customer_service"})
    t.events[:0] = [
        {"event": "user", "text": "刚装好，还没用呢"},
        {"event": "bot", "text": first["text"], "data": {"buttons": first["buttons"]}},
    ]
    slots, _ = await validate(t)
    assert slots == {"survey_score": None}
    dispatcher = CollectingDispatcher()
    await ActionAskSurveyScore().run(dispatcher, t, DOMAIN)
    assert [(m["text"], m["buttons"]) for m in dispatcher.messages] == [
        ("好的，不打扰您了😊 想好了随时回复1-5分或者说说感受就行。", [])
    ]
    assert (await wired.surveys.get(survey_id)).status is SurveyStatus.SENT  # still open for its answer


async def test_asked_too_soon_is_no_answer_whatever_its_intent(wired: Services, clock: Clock) -> None:
    """ "没试过" is out of scope to the model: the rule for that runs first, and must leave the
    words to the survey form, not answer "抱歉，这个我帮不上忙"."""
    await no_answer_yet(wired, clock, "没试过", "out_of_scope")
    t = tracker("没试过", "out_of_scope", requested="survey_score")
    dispatcher = CollectingDispatcher()
    assert await ActionCannotHelp().run(dispatcher, t, DOMAIN) == [] and dispatcher.messages == []


async def test_filler_is_no_answer_and_the_question_comes_again(wired: Services, clock: Clock) -> None:
    """ "嗯嗯那个啥" (a yes to the model, neutral in tone) was scored 3 (一般) and closed the survey;
    the customer's real answer after it went to general feedback."""
    _, again = await no_answer_yet(wired, clock, "嗯嗯那个啥", "affirm")
    assert again["text"].startswith("好的，不着急😊")


@pytest.mark.parametrize(
    ("text", "intent", "satisfaction", "score"),
    [
        ("[弱][弱]", "out_of_scope", ("dissatisfied", 0.93), 1.0),  # was a digression: asked again
        ("[强][强]", "give_feedback", ("satisfied", 0.95), 5.0),
        ("👏👏", "out_of_scope", ("satisfied", 0.75), 4.0),
        ("😭", "nlu_fallback", ("dissatisfied", 0.72), 2.0),
    ],
)
async def test_pictures_alone_are_an_answer(
    wired: Services, clock: Clock, text: str, intent: str, satisfaction: tuple[str, float], score: float
) -> None:
    """WeChat's "/:weak" reaches the bot as "[弱]"; to the score question it is an answer, not
    something the bot "cannot help with" (the rule for out_of_scope runs before the form)."""
    survey_id = await a_sent_survey(wired, clock)
    t = tracker(
        text, intent, slots={"survey_id": str(survey_id)}, requested="survey_score", satisfaction=satisfaction
    )
    dispatcher = CollectingDispatcher()
    assert await ActionCannotHelp().run(dispatcher, t, DOMAIN) == [] and dispatcher.messages == []
    slots, _ = await validate(t)
    assert slots == {"survey_score": score, "survey_comment": text}


@pytest.mark.parametrize(
    ("text", "intent", "satisfaction"),
    [
        ("🎉", "out_of_scope", ("dissatisfied", 0.62)),  # before the model had seen one: no case for it
        ("[疑问]", "give_feedback", ("neutral", 0.99)),  # was scored 3 (一般) and the survey closed
        ("🤔", "out_of_scope", ("dissatisfied", 0.42)),
        # A smile that is a sneer to some and a smile to others: was scored 1 and opened a case.
        ("[微笑]", "nlu_fallback", ("dissatisfied", 0.86)),
        ("🙂🙂", "nlu_fallback", ("dissatisfied", 0.75)),
    ],
)
async def test_a_picture_of_uncertain_tone_gets_the_question_again(
    wired: Services, clock: Clock, text: str, intent: str, satisfaction: tuple[str, float]
) -> None:
    t = tracker(text, intent, requested="survey_score", satisfaction=satisfaction)
    assert await validate(t) == ({"survey_score": None}, [])
    dispatcher = CollectingDispatcher()
    assert await ActionCannotHelp().run(dispatcher, t, DOMAIN) == [] and dispatcher.messages == []
    survey_id = await a_sent_survey(wired, clock)
    t.slots.update({"survey_id": str(survey_id), "survey_delivery": "customer_service"})
    await ActionAskSurveyScore().run(dispatcher, t, DOMAIN)
    [again] = dispatcher.messages
    assert (
        again["text"].startswith("请问您对这次安装服务（服务人员：张师傅）满意吗？")
        and len(again["buttons"]) == 5
    )
    assert (await wired.surveys.get(survey_id)).status is SurveyStatus.SENT


async def test_folded_hands_alone_are_thanks_as_in_words(wired: Services, clock: Clock) -> None:
    _, again = await no_answer_yet(wired, clock, "[抱拳]", "thank")
    assert again["text"].startswith("不客气😊 方便的话给这次服务打个分")


async def test_a_complaint_is_not_taken_for_an_answer() -> None:
    slots, _ = await validate(tracker("我另外还要投诉快递", "complain", requested="survey_score"))
    assert slots == {}


async def test_starting_twice_asks_once(wired: Services, clock: Clock) -> None:
    survey_id = await a_sent_survey(wired, clock)  # already sent
    dispatcher = CollectingDispatcher()
    t = tracker(
        "EXTERNAL_survey_start",
        "EXTERNAL_survey_start",
        [{"entity": "survey_id", "value": str(survey_id)}],
        loop=None,
    )
    events = await ActionStartSurvey().run(dispatcher, t, DOMAIN)
    assert events == [{"event": "followup", "timestamp": None, "name": "action_listen"}]


async def test_a_case_survey_names_the_case_readably(wired: Services, clock: Clock) -> None:
    """It read "您的投诉C20261206-0001的处理已经完成", the number run into the words."""
    case = await wired.cases.open_case(CaseDraft("wx-1", "wechat", "宽带断了", "other", "13812345678"))
    for step in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
        await wired.cases.change_status(case.number, step, actor="agent:li")
    (survey,) = wired.surveys._store.surveys.values()  # type: ignore[attr-defined]
    dispatcher = CollectingDispatcher()
    slots = {"survey_id": str(survey.id), "survey_delivery": "customer_service"}
    t = tracker("EXTERNAL_survey_start", "EXTERNAL_survey_start", slots=slots)
    await ActionAskSurveyScore().run(dispatcher, t, DOMAIN)
    assert f"您的投诉 {case.number} 的处理已经完成" in dispatcher.messages[0]["text"]


async def test_only_the_first_pushed_question_says_it_is_a_survey_question(
    wired: Services, clock: Clock
) -> None:
    """The channel reports that message lost (WeChat refused it) against the survey; a question
    asked again in a conversation, or the reminder, is not the survey's first contact."""
    survey_id = await a_sent_survey(wired, clock)
    slots = {"survey_id": str(survey_id), "survey_delivery": "customer_service"}
    purposes = []
    for intent in ("EXTERNAL_survey_start", "EXTERNAL_survey_reminder", "give_feedback"):
        dispatcher = CollectingDispatcher()
        await ActionAskSurveyScore().run(dispatcher, tracker(intent, intent, slots=slots), DOMAIN)
        [question] = dispatcher.messages
        assert len(question["buttons"]) == 5  # the score menu each time
        purposes.append(question.get("purpose"))
    assert purposes == ["survey", None, None]


async def test_the_question_asked_again_does_not_greet_again(wired: Services, clock: Clock) -> None:
    """After "这个问题我帮您登记了…先请您给这次服务打个分吧：" came "您好！您的维修服务…已经完成": the
    greeting of the first question, in the middle of a conversation."""
    survey_id = await a_sent_survey(wired, clock)
    slots = {"survey_id": str(survey_id), "survey_delivery": "customer_service"}
    dispatcher = CollectingDispatcher()
    t = tracker("师傅几点能再来一趟？", "out_of_scope", slots=slots, requested="survey_score")
    await ActionAskSurveyScore().run(dispatcher, t, DOMAIN)
    [question] = dispatcher.messages
    assert not question["text"].startswith("您好") and "已经完成" not in question["text"]
    assert "满意吗" in question["text"] and "1-5分" in question["text"]
    assert len(question["buttons"]) == 5


async def test_a_survey_whose_question_never_arrived_steps_aside_for_the_next_message(
    wired: Services, clock: Clock
) -> None:
    """WeChat refused the question (45015). Two days later "我家热水器又漏水了" was thanked as the
    survey's answer and recorded nowhere: the survey form was still waiting in Rasa."""
    survey_id = await a_sent_survey(wired, clock)
    complaint = tracker(
        "我家热水器又漏水了",
        "complain",
        slots={"survey_id": str(survey_id)},
        requested="survey_score",
        satisfaction=("dissatisfied", 0.9),
    )
    taken, _ = await validate(complaint)  # while the question may have arrived, it is an answer
    assert taken["survey_score"] == 1.0

    await wired.surveys.question_lost("wx-1", "wechat_45015")
    dispatcher = CollectingDispatcher()
    events = await ValidateSurveyForm().run(dispatcher, complaint, DOMAIN)
    assert dispatcher.messages == []
    assert [e["event"] for e in events][:3] == ["rewind", "active_loop", "slot"]
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    [replayed] = [e for e in events if e["event"] == "user"]
    assert replayed["text"] == "我家热水器又漏水了" and replayed["parse_data"]["intent"]["name"] == "complain"
    assert [e["event"] for e in events][-2:] == ["action", "user"]  # heard afresh, outside the form
    survey = await wired.surveys.get(survey_id)
    assert (survey.status, survey.score) == (SurveyStatus.UNREACHABLE, None)


async def submit(
    survey_id: int,
    score: int,
    text: str,
    intent: str = "give_rating",
    *,
    with_comment: bool = True,
    satisfaction: tuple[str, float] = ("neutral", 0.9),
    dispatcher: CollectingDispatcher | None = None,
) -> list[dict[str, Any]]:
    """The survey form done with ``score`` (and ``text`` as the comment): action_submit_survey runs."""
    slots = {"survey_id": str(survey_id), "survey_score": float(score)}
    if with_comment:
        slots["survey_comment"] = text
    t = tracker(text, intent, slots=slots, satisfaction=satisfaction)
    return await ActionSubmitSurvey().run(dispatcher or CollectingDispatcher(), t, DOMAIN)


@pytest.mark.parametrize(
    ("comment", "reply"),
    [
        ("修好了，不过下次能不能提前打个电话", "感谢您的评价和建议，您的建议我们已经记下了，会继续改进😊"),
        ("修好了", "感谢您的评价，我们会继续努力😊"),
    ],
)
async def test_a_wish_in_a_good_answer_is_acknowledged(
    wired: Services, clock: Clock, comment: str, reply: str
) -> None:
    """ "修好了，不过下次能不能提前打个电话" got only "感谢您的评价，我们会继续努力", the wish unheard."""
    survey_id = await a_sent_survey(wired, clock)
    dispatcher = CollectingDispatcher()
    await submit(survey_id, 4, comment, "give_feedback", dispatcher=dispatcher)
    assert [m["text"] for m in dispatcher.messages] == [reply]
    assert (await wired.surveys.get(survey_id)).comment == comment


@pytest.mark.parametrize("score_first", [False, True])
@pytest.mark.parametrize(
    ("comment", "satisfaction", "noted"),
    [
        ("就是师傅鞋套没穿，踩脏了地板", ("dissatisfied", 0.7), True),  # got "我们会继续努力"
        ("满意，就是有点慢", ("dissatisfied", 0.49), True),
        ("送得有点慢", ("neutral", 0.6), True),
        ("师傅很专业", ("satisfied", 0.95), False),
    ],
)
async def test_a_fault_told_beside_a_good_score_is_acknowledged_as_noted(
    wired: Services,
    clock: Clock,
    fake_uow: FakeUowFactory,
    comment: str,
    satisfaction: tuple[str, float],
    noted: bool,
    score_first: bool,
) -> None:
    """ "5分", then "就是师傅鞋套没穿，踩脏了地板": "感谢您的评价，我们会继续努力😊", as if it were praise."""
    survey_id = await a_sent_survey(wired, clock)
    if score_first:  # the score recorded when given, the comment added to it
        await validate(a_score(survey_id, 5))
    dispatcher = CollectingDispatcher()
    await submit(survey_id, 5, comment, "give_feedback", satisfaction=satisfaction, dispatcher=dispatcher)
    expected = (
        "谢谢您的评价！您说的情况我们已经记下，会转给相关同事改进🙏"
        if noted
        else "感谢您的评价，我们会继续努力😊"
    )
    assert [m["text"] for m in dispatcher.messages] == [expected]
    survey = await wired.surveys.get(survey_id)
    assert (survey.score, survey.comment) == (5, comment) and not fake_uow.store.cases


@pytest.mark.parametrize(("minutes", "joined"), [(5, True), (40, False)])
async def test_a_word_more_just_after_a_survey_joins_its_answer(
    wired: Services, clock: Clock, fake_uow: FakeUowFactory, minutes: int, joined: bool
) -> None:
    """ "师傅人挺好的", "没有了", then "对了，下次能不能提前打电话": thanked as a suggestion and filed
    apart, and the survey's own record never showed it."""
    survey_id = await a_sent_survey(wired, clock)
    await submit(survey_id, 5, "师傅人挺好的", "give_feedback", satisfaction=("satisfied", 0.9))
    clock.now += timedelta(minutes=minutes)
    wish = "对了，下次能不能提前打电话"
    dispatcher = CollectingDispatcher()
    await ActionRecordFeedback().run(dispatcher, tracker(wish, "suggest", loop=None), DOMAIN)
    survey = await wired.surveys.get(survey_id)
    if joined:
        assert survey.comment == f"师傅人挺好的\n{wish}" and fake_uow.store.feedback == []
        assert [m["text"] for m in dispatcher.messages] == [
            "感谢您的评价和建议，您的建议我们已经记下了，会继续改进😊"
        ]
    else:  # long after: a suggestion of its own
        assert survey.comment == "师傅人挺好的" and len(fake_uow.store.feedback) == 1


async def test_a_bad_answer_gets_an_apology_a_case_and_the_offer_of_a_person(
    wired: Services, clock: Clock, fake_uow: FakeUowFactory
) -> None:
    survey_id = await a_sent_survey(wired, clock)
    dispatcher = CollectingDispatcher()
    t = tracker(
        "没有",
        "deny",
        slots={"survey_id": str(survey_id), "survey_score": 2.0, "survey_comment": "2分，师傅迟到了两个小时"},
    )
    events = await ActionSubmitSurvey().run(dispatcher, t, DOMAIN)
    (case,) = fake_uow.store.cases.values()
    assert case.source == "survey" and "师傅迟到了两个小时" in case.description
    reply = dispatcher.messages[0]
    assert case.number in reply["text"] and "人工" in reply["text"]
    assert [b["payload"] for b in reply["buttons"]] == ["/affirm", "/deny"]
    assert {"event": "slot", "timestamp": None, "name": "human_offered", "value": True} in events
    assert (await wired.surveys.get(survey_id)).status is SurveyStatus.ANSWERED


@pytest.mark.parametrize(
    ("service", "priority", "urgent"), [("installation", "P2", True), ("telecom", "P3", False)]
)
async def test_the_apology_says_priority_only_of_a_case_that_has_it(
    wired: Services, clock: Clock, fake_uow: FakeUowFactory, service: str, priority: str, urgent: bool
) -> None:
    """A broadband survey's case is "other", P4 raised to P3: "优先处理" would contradict the
    "P3 普通" the customer's status question then shows."""
    intake = await wired.surveys.record_service_event(
        ServiceEvent("WO-7", "wx-1", "wechat", service, clock.now)
    )
    survey = await wired.surveys.mark_sent(intake.survey.id, "customer_service")  # type: ignore[union-attr]
    dispatcher = CollectingDispatcher()
    slots = {"survey_id": str(survey.id), "survey_score": 1.0, "survey_comment": "太差了"}
    await ActionSubmitSurvey().run(dispatcher, tracker("没有", "deny", slots=slots), DOMAIN)
    (case,) = fake_uow.store.cases.values()
    assert case.priority.value == priority
    assert (f"（编号 {case.number}，优先处理）" in dispatcher.messages[0]["text"]) is urgent
    assert f"（编号 {case.number}" in dispatcher.messages[0]["text"]


def a_score(survey_id: int, value: int, text: str | None = None) -> Tracker:
    """A tap on the score menu (or a bare number), with no words besides it."""
    text = text or f'/give_rating{{"rating": {value}}}'
    rating = {"entity": "rating", "value": value, "start": 0, "end": len(text)}
    return tracker(
        text, "give_rating", [rating], slots={"survey_id": str(survey_id)}, requested="survey_score"
    )


async def comment_asked(t: Tracker) -> dict[str, Any]:
    dispatcher = CollectingDispatcher()
    await ActionAskSurveyComment().run(dispatcher, t, DOMAIN)
    (message,) = dispatcher.messages
    return message


async def test_a_bare_score_counts_even_if_the_comment_never_comes(wired: Services, clock: Clock) -> None:
    survey_id = await a_sent_survey(wired, clock)
    t = a_score(survey_id, 5)
    slots, said = await validate(t)
    assert slots == {"survey_score": 5.0, "survey_id": str(survey_id)} and said == []
    assert "谢谢您的评分" in (await comment_asked(t))["text"]
    survey = await wired.surveys.get(survey_id)
    assert (survey.status, survey.score, survey.comment) == (SurveyStatus.ANSWERED, 5, None)
    clock.now += timedelta(hours=30)
    assert await wired.surveys.claim_reminders() == []  # no "您还没有评价" to someone who did
    clock.now += timedelta(hours=50)
    assert await wired.surveys.expire_due() == 0
    (row,) = await wired.surveys.stats("service_type", clock.now - timedelta(days=7), clock.now)
    assert (row["answered"], row["average_score"]) == (1, 5.0)


async def test_a_bare_bad_score_opens_the_case_at_once_and_its_comment_follows(
    wired: Services, clock: Clock, fake_uow: FakeUowFactory
) -> None:
    survey_id = await a_sent_survey(wired, clock)
    t = a_score(survey_id, 2)
    await validate(t)
    (case,) = fake_uow.store.cases.values()
    asked = await comment_asked(t)
    assert case.number in asked["text"] and "哪里没做好" in asked["text"]
    assert "人工" not in asked["text"]  # one question at a time: the person is offered after it

    # "赶紧处理" got the case's status; the question again is the question, not the whole apology
    later = tracker("赶紧处理", "ask_case_status", slots=t.slots, requested="survey_comment")
    later.events[:0] = [*t.events, {"event": "slot", "name": "survey_score", "value": 2.0}]
    again = await comment_asked(later)
    assert again["text"] == "能说说哪里没做好吗？您的话会原样转给跟进的同事。"
    assert [b["payload"] for b in again["buttons"]] == ["/deny"]

    dispatcher = CollectingDispatcher()
    events = await submit(
        survey_id,
        2,
        "师傅迟到了两个小时还不道歉",
        "complain",
        satisfaction=("dissatisfied", 0.95),
        dispatcher=dispatcher,
    )
    assert len(fake_uow.store.cases) == 1  # the comment joins the case, it does not open another
    followed = fake_uow.store.cases[case.number]
    assert followed.description.endswith("\n回访留言：师傅迟到了两个小时还不道歉")  # what agents read first
    assert "回访留言：师傅迟到了两个小时还不道歉" in [e.note for e in followed.events if e.kind == "note"]
    survey = await wired.surveys.get(survey_id)
    assert (survey.score, survey.comment, survey.remediation_case_number) == (
        2,
        "师傅迟到了两个小时还不道歉",
        case.number,
    )
    (reply,) = dispatcher.messages
    assert "记下" in reply["text"] and [b["payload"] for b in reply["buttons"]] == ["/affirm", "/deny"]
    assert {"event": "slot", "timestamp": None, "name": "human_offered", "value": True} in events


@pytest.mark.parametrize(
    ("text", "start", "end", "score"),
    [
        ("改成3分吧", 2, 4, 3),  # kept as the comment, and the score stayed a 5
        ("打错了，应该是4分", 7, 9, 4),
        ("其实我想给3分", 5, 7, 3),  # kept as the comment
        ("算了给4分吧", 3, 5, 4),
        ("3", 0, 1, 3),
        ("就是3分都嫌多，师傅迟到了", 2, 4, None),  # words about the service: the comment
    ],
)
async def test_a_new_score_where_the_comment_was_asked_for_replaces_the_first(
    wired: Services, clock: Clock, text: str, start: int, end: int, score: int | None
) -> None:
    survey_id = await a_sent_survey(wired, clock)
    await validate(a_score(survey_id, 5))  # a bare 5, recorded at once; the comment is asked for
    rating = {"entity": "rating", "value": int(text[start:end][0]), "start": start, "end": end}
    dispatcher = CollectingDispatcher()
    slots = {"survey_id": str(survey_id), "survey_score": 5.0, "survey_comment": text}
    await ActionSubmitSurvey().run(dispatcher, tracker(text, "give_rating", [rating], slots=slots), DOMAIN)
    survey = await wired.surveys.get(survey_id)
    if score is None:
        assert (survey.score, survey.comment) == (5, text)
        return
    assert (survey.score, survey.comment) == (score, None)
    (reply,) = dispatcher.messages
    assert reply["text"] == f"好的，这次服务的评分已按您说的记为 {score} 分，谢谢您😊"


async def test_a_new_low_score_where_the_comment_was_asked_for_opens_a_case(
    wired: Services, clock: Clock, fake_uow: FakeUowFactory
) -> None:
    survey_id = await a_sent_survey(wired, clock)
    await validate(a_score(survey_id, 4))
    rating = {"entity": "rating", "value": 1, "start": 2, "end": 4}
    slots = {"survey_id": str(survey_id), "survey_score": 4.0, "survey_comment": "改成1分"}
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitSurvey().run(
        dispatcher, tracker("改成1分", "give_rating", [rating], slots=slots), DOMAIN
    )
    (case,) = fake_uow.store.cases.values()
    assert (await wired.surveys.get(survey_id)).score == 1
    assert case.number in dispatcher.messages[0]["text"] and "人工" in dispatcher.messages[0]["text"]
    assert {"event": "slot", "timestamp": None, "name": "human_offered", "value": True} in events


async def test_more_words_after_a_bad_answer_join_its_case_instead_of_a_second_complaint(
    wired: Services, clock: Clock, fake_uow: FakeUowFactory
) -> None:
    """ "2分，师傅迟到了两个小时", then "师傅没打招呼就迟到，地板也没擦": the second message asked for the
    order number as a new complaint while the first had just opened a case about the same visit."""
    survey_id = await a_sent_survey(wired, clock)
    await submit(survey_id, 2, "2分，师傅迟到了两个小时")
    (case,) = fake_uow.store.cases.values()

    dispatcher = CollectingDispatcher()
    more = tracker("师傅没打招呼就迟到，地板也没擦", "complain", slots={"human_offered": True}, loop=None)
    events = await ActionMoreAboutBadAnswer().run(dispatcher, more, DOMAIN)
    assert events == []  # no form, and the offer of a person still stands
    assert len(fake_uow.store.cases) == 1
    assert fake_uow.store.cases[case.number].description.endswith("回访留言：师傅没打招呼就迟到，地板也没擦")
    (reply,) = dispatcher.messages
    assert case.number in reply["text"] and "我要投诉" in reply["text"]
    assert [b["payload"] for b in reply["buttons"]] == ["/affirm", "/deny"]
    survey = await wired.surveys.get(survey_id)
    assert survey.comment == "2分，师傅迟到了两个小时\n师傅没打招呼就迟到，地板也没擦"


async def test_more_words_after_a_person_was_declined_still_join_the_bad_answers_case(
    wired: Services, clock: Clock, fake_uow: FakeUowFactory
) -> None:
    """ "2分，师傅迟到了两个小时", "不用了" to a person, then "对了，他还把我家地板刮花了": a second
    complaint that asked for the order number again, about the visit that had just opened a case."""
    from actions.intake import ValidateComplaintForm

    survey_id = await a_sent_survey(wired, clock)
    await submit(survey_id, 2, "2分，师傅迟到了两个小时")
    (case,) = fake_uow.store.cases.values()
    clock.now += timedelta(minutes=3)
    dispatcher = CollectingDispatcher()
    more = tracker(
        "对了，他还把我家地板刮花了", "complain", loop="complaint_form", satisfaction=("dissatisfied", 0.9)
    )
    events = await ValidateComplaintForm().run(dispatcher, more, DOMAIN)
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert len(fake_uow.store.cases) == 1
    assert fake_uow.store.cases[case.number].description.endswith("回访留言：对了，他还把我家地板刮花了")
    assert [(m["text"], m["buttons"]) for m in dispatcher.messages] == [
        (
            f"已经补充到工单 {case.number} 里，跟进的同事会一并处理。"
            "如果是另一个问题，请发“我要投诉”单独登记。",
            [],  # no second offer of the person just declined
        )
    ]
    clock.now += timedelta(hours=1)  # an hour later it is a complaint of its own
    later = CollectingDispatcher()
    await ValidateComplaintForm().run(later, more, DOMAIN)
    assert [m["text"] for m in later.messages][:1] == ["收到，非常抱歉给您添麻烦了，我马上帮您登记投诉。"]


def _after(said: list[tuple[str, str]], text: str, intent: str) -> Tracker:
    """A tracker whose history is ``said`` ((who, text) pairs) and then the customer's ``text``."""
    message = {"text": text, "intent": {"name": intent, "confidence": 0.95}, "entities": []}
    events = [{"event": who, "text": words} for who, words in said]
    events.append({"event": "user", "text": text, "parse_data": message})
    return Tracker("wx-1", {"human_offered": True}, message, events, False, None, {}, "action_listen")


async def test_yes_to_the_offer_of_a_person_is_a_yes_only_right_after_it(wired: Services) -> None:
    """The offer stands after "谢谢"; a "好的" to something said later queued the customer for a person."""
    offer = "非常抱歉这次服务没有让您满意🙏 …需要人工客服现在就和您沟通吗？"
    dispatcher = CollectingDispatcher()
    later = _after([("bot", offer), ("user", "谢谢"), ("bot", "不客气，还有其他需要吗？")], "好的", "affirm")
    events = await ActionRequestHuman().run(dispatcher, later, DOMAIN)
    # and the bot waits: with the offer withdrawn no rule applied, and the policies' fallback queued
    # the customer for a person ("抱歉，我还是没有理解…已为您转接人工客服")
    assert events == [
        {"event": "slot", "timestamp": None, "name": "human_offered", "value": False},
        {"event": "followup", "timestamp": None, "name": "action_listen"},
    ]
    assert await wired.handoffs.open_for("wx-1") is None
    dispatcher = CollectingDispatcher()
    events = await ActionRequestHuman().run(dispatcher, _after([("bot", offer)], "好的", "affirm"), DOMAIN)
    handoff = await wired.handoffs.open_for("wx-1")
    assert handoff is not None and handoff.reason == "survey_bad"


@pytest.mark.parametrize(
    "key",
    [
        "survey_sorry",
        "survey_sorry_reopened",
        "survey_offer_human",
        "survey_offer_human_noted",
        "survey_more_noted",
    ],
)
def test_every_offer_of_a_person_is_recognised_as_one(key: str) -> None:
    """The yes to an offer counts only right after it (``OFFER`` in the bot's last words): an offer
    reworded in messages.yml without it would make every "需要人工" tap a plain "好的"."""
    from actions.handoff import OFFER
    from actions.messages import catalogue

    assert OFFER in catalogue()[key]["text"]


async def test_a_complaint_hours_after_a_bad_answer_is_a_new_one(
    wired: Services, clock: Clock, fake_uow: FakeUowFactory
) -> None:
    survey_id = await a_sent_survey(wired, clock)
    await submit(survey_id, 1, "1分", with_comment=False)
    clock.now += timedelta(hours=3)  # "谢谢" left the offer standing; this is another day's matter
    events = await ActionMoreAboutBadAnswer().run(
        CollectingDispatcher(),
        tracker("燃气灶打不着火了", "complain", slots={"human_offered": True}, loop=None),
        DOMAIN,
    )
    assert ("followup", "complaint_form") in [(e["event"], e.get("name")) for e in events]


@pytest.mark.parametrize("text", ["我要投诉", "厨房里有一股煤气味", "对了，我家热水器也漏水了"])
async def test_a_new_complaint_or_danger_after_a_bad_answer_is_its_own_complaint(
    wired: Services, clock: Clock, fake_uow: FakeUowFactory, text: str
) -> None:
    survey_id = await a_sent_survey(wired, clock)
    await submit(survey_id, 1, "1分", with_comment=False)
    dispatcher = CollectingDispatcher()
    events = await ActionMoreAboutBadAnswer().run(
        dispatcher, tracker(text, "complain", slots={"human_offered": True}, loop=None), DOMAIN
    )
    assert [(e["event"], e.get("name")) for e in events] == [
        ("slot", "human_offered"),
        ("followup", "complaint_form"),
    ]
    assert dispatcher.messages == [] and len(fake_uow.store.cases) == 1


async def test_a_middling_score_then_a_complaint_gets_the_apology_and_a_case(
    wired: Services, clock: Clock, fake_uow: FakeUowFactory
) -> None:
    survey_id = await a_sent_survey(wired, clock)
    await validate(a_score(survey_id, 3))
    assert fake_uow.store.cases == {}
    dispatcher = CollectingDispatcher()
    events = await submit(
        survey_id,
        3,
        "快递员放门口就走了，也没打电话",
        "complain",
        satisfaction=("dissatisfied", 0.93),
        dispatcher=dispatcher,
    )
    (case,) = fake_uow.store.cases.values()
    (reply,) = dispatcher.messages
    assert "感谢" not in reply["text"] and "抱歉" in reply["text"] and case.number in reply["text"]
    assert {"event": "slot", "timestamp": None, "name": "human_offered", "value": True} in events


async def test_a_bare_bad_score_without_a_comment_still_offers_a_person(
    wired: Services, clock: Clock, fake_uow: FakeUowFactory
) -> None:
    survey_id = await a_sent_survey(wired, clock)
    await validate(a_score(survey_id, 1, "1"))
    dispatcher = CollectingDispatcher()
    nothing = tracker(
        "不想说了", "deny", slots={"survey_id": str(survey_id), "survey_score": 1.0, "survey_comment": "-"}
    )
    events = await ActionSubmitSurvey().run(dispatcher, nothing, DOMAIN)
    (case,) = fake_uow.store.cases.values()
    assert case.description.startswith("回访不满意（1分）（") and "留言" not in case.description
    (reply,) = dispatcher.messages
    assert "人工" in reply["text"] and "记下" not in reply["text"]
    assert {"event": "slot", "timestamp": None, "name": "human_offered", "value": True} in events
    assert (await wired.surveys.get(survey_id)).comment is None


async def test_a_bare_bad_score_about_a_resolved_case_reopens_it_and_asks_what_is_still_wrong(
    wired: Services, clock: Clock, fake_uow: FakeUowFactory
) -> None:
    cases = wired.cases
    case = await cases.open_case(CaseDraft("wx-1", "wechat", "宽带经常掉线", "other", "13812345678"))
    for status in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
        await cases.change_status(case.number, status, actor="agent:li")
    (survey,) = await wired.surveys.search(sender_id="wx-1")  # scheduled by the resolution
    await wired.surveys.mark_sent(survey.id or 0, "customer_service")
    t = a_score(survey.id or 0, 1)
    await validate(t)
    assert (await cases.get(case.number)).status is Status.REOPENED
    assert list(fake_uow.store.cases) == [case.number]  # reopened, not a second case
    asked = await comment_asked(t)
    assert case.number in asked["text"] and "重新打开" in asked["text"] and "哪里还没解决好" in asked["text"]


async def test_a_late_score_outside_the_form_still_answers_the_survey(wired: Services, clock: Clock) -> None:
    survey_id = await a_sent_survey(wired, clock)
    clock.now += timedelta(hours=80)
    await wired.surveys.expire_due()
    dispatcher = CollectingDispatcher()
    await ActionRecordFeedback().run(
        dispatcher, tracker("5分！", "give_rating", [{"entity": "rating", "value": 5}], loop=None), DOMAIN
    )
    survey = await wired.surveys.get(survey_id)
    assert (survey.status, survey.score) == (SurveyStatus.ANSWERED, 5)
    assert "感谢" in dispatcher.messages[0]["text"]


async def test_a_score_just_after_an_answer_in_words_is_the_score(
    wired: Services, clock: Clock, fake_uow: FakeUowFactory
) -> None:
    """ "师傅人挺好的，就是装完没把垃圾带走" was scored 2 and opened a case; "4分吧" then got
    "谢谢您的评分（4分）！" while the survey kept the 2 the figures count."""
    survey_id = await a_sent_survey(wired, clock)
    words = "师傅人挺好的，就是装完没把垃圾带走"
    t = tracker(
        words,
        "give_feedback",
        slots={"survey_id": str(survey_id), "survey_comment": words},
        satisfaction=("dissatisfied", 0.8),
    )
    await ActionSubmitSurvey().run(CollectingDispatcher(), t, DOMAIN)
    (case,) = fake_uow.store.cases.values()

    async def rate(value: int, text: str) -> list[str]:
        dispatcher = CollectingDispatcher()
        await ActionRecordFeedback().run(
            dispatcher,
            tracker(text, "give_rating", [{"entity": "rating", "value": value}], loop=None),
            DOMAIN,
        )
        return [m["text"] for m in dispatcher.messages]

    guessed = (await wired.surveys.get(survey_id)).score
    assert guessed is not None and guessed <= 2
    clock.now += timedelta(minutes=2)
    assert await rate(4, "4分吧") == ["好的，这次服务的评分已按您说的记为 4 分，谢谢您😊"]
    survey = await wired.surveys.get(survey_id)
    assert (survey.score, survey.comment, survey.remediation_case_number) == (4, words, case.number)
    assert survey.history[-1].reason == f"score {guessed} → 4, the customer's own"
    assert len(fake_uow.store.cases) == 1  # what was wrong still gets followed up
    clock.now += timedelta(hours=1)  # long after: a score is just feedback
    assert await rate(5, "5分") == ["谢谢您的评分（5分）！"]
    assert (await wired.surveys.get(survey_id)).score == 4


async def test_a_low_score_just_after_a_good_answer_opens_a_case(
    wired: Services, clock: Clock, fake_uow: FakeUowFactory
) -> None:
    survey_id = await a_sent_survey(wired, clock)
    t = tracker("没有", "deny", slots={"survey_id": str(survey_id), "survey_score": 4.0})
    await ActionSubmitSurvey().run(CollectingDispatcher(), t, DOMAIN)
    assert fake_uow.store.cases == {}
    dispatcher = CollectingDispatcher()
    events = await ActionRecordFeedback().run(
        dispatcher,
        tracker("不对，打错了，2分", "give_rating", [{"entity": "rating", "value": 2}], loop=None),
        DOMAIN,
    )
    (case,) = fake_uow.store.cases.values()
    assert case.source == "survey" and case.number in dispatcher.messages[0]["text"]
    assert {"event": "slot", "timestamp": None, "name": "human_offered", "value": True} in events
    assert (await wired.surveys.get(survey_id)).score == 2


async def test_opting_out_is_confirmed_in_one_message(wired: Services, clock: Clock) -> None:
    await a_sent_survey(wired, clock)
    dispatcher = CollectingDispatcher()
    events = await ActionOptOut().run(dispatcher, tracker("别再发了", "opt_out"), DOMAIN)
    assert len(dispatcher.messages) == 1 and "不再" in dispatcher.messages[0]["text"]
    assert events[0] == {"event": "active_loop", "timestamp": None, "name": None}
    assert (await wired.customers.standing("wx-1")).opted_out


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("是真的回访吗", "请放心，这是我们官方服务号发来的服务回访"),  # it unsubscribed the customer
        ("回访太多了", "您是想以后不再收到回访消息吗？"),
    ],
)
async def test_an_opt_out_the_words_do_not_ask_for_is_not_carried_out(
    wired: Services, clock: Clock, text: str, said: str
) -> None:
    await a_sent_survey(wired, clock)
    dispatcher = CollectingDispatcher()
    t = tracker(text, "opt_out", requested="survey_score")
    events = await ActionOptOut().run(dispatcher, t, DOMAIN)
    assert events == [{"event": "followup", "timestamp": None, "name": "survey_form"}]  # asked again
    (message,) = dispatcher.messages
    assert message["text"].startswith(said)
    assert not (await wired.customers.standing("wx-1")).opted_out


async def test_asked_whether_the_survey_is_genuine_the_bot_says_so_and_asks_again(
    wired: Services, clock: Clock, fake_uow: FakeUowFactory
) -> None:
    """ "你们是不是骗子" to the score question was scored 1, with an apology and a remediation case."""
    survey_id = await a_sent_survey(wired, clock)
    t = tracker(
        "你们是不是骗子",
        "nlu_fallback",
        slots={"survey_id": str(survey_id)},
        requested="survey_score",
        satisfaction=("dissatisfied", 0.99),
    )
    slots, said = await validate(t)
    assert slots == {"survey_score": None}
    assert (
        said[0].startswith("请放心，这是我们官方服务号发来的服务回访😊") and "不会向您索要验证码" in said[0]
    )
    assert fake_uow.store.cases == {}
    assert (await wired.surveys.get(survey_id)).status is SurveyStatus.SENT


@pytest.mark.parametrize("text", ["为什么要打分", "必须评价吗", "不打分行不行"])
async def test_asked_why_the_survey_wants_a_score_the_bot_says_so_and_asks_again(
    wired: Services, clock: Clock, fake_uow: FakeUowFactory, text: str
) -> None:
    """ "为什么要打分" (a complaint to the model, displeasure 0.63) was scored 2, with an apology, a
    remediation case and the offer of a person."""
    survey_id = await a_sent_survey(wired, clock)
    t = tracker(
        text,
        "complain",
        slots={"survey_id": str(survey_id)},
        requested="survey_score",
        satisfaction=("dissatisfied", 0.63),
    )
    slots, said = await validate(t)
    assert slots == {"survey_score": None}  # the question follows
    assert said == [
        "这是服务完成后的回访😊 您的评分和意见会直接反馈给服务团队，用来改进服务，不会影响您的售后。"
        "评价全凭自愿，不想评也没关系，回复“不评了”就行。"
    ]
    assert fake_uow.store.cases == {}
    assert (await wired.surveys.get(survey_id)).status is SurveyStatus.SENT


async def test_opting_out_in_the_middle_of_an_intake_leaves_the_intake_going(wired: Services) -> None:
    """ "以后别给我发回访了" while the order number was asked for got "订单号格式不太对"."""
    dispatcher = CollectingDispatcher()
    t = tracker("以后别给我发回访了", "opt_out", requested="order_id", loop="complaint_form")
    assert await ActionOptOutInIntake().run(dispatcher, t, DOMAIN) == []  # the form is not closed
    assert "不再" in dispatcher.messages[0]["text"]
    assert (await wired.customers.standing("wx-1")).opted_out


async def test_a_complaint_about_the_service_is_the_answer_but_a_new_matter_is_not() -> None:
    about = await validate(
        tracker(
            "等了一下午都没人来", "complain", requested="survey_score", satisfaction=("dissatisfied", 0.97)
        )
    )
    assert about[0] == {"survey_score": 1.0, "survey_comment": "等了一下午都没人来"}
    other = await validate(
        tracker(
            "另外我要投诉快递丢件", "complain", requested="survey_score", satisfaction=("dissatisfied", 0.97)
        )
    )
    assert other[0] == {}
    aside = await validate(
        tracker(
            "对了，我家热水器也漏水了，能派人看看吗",
            "complain",
            requested="survey_score",
            satisfaction=("neutral", 0.78),
        )
    )
    assert aside[0] == {}  # it was scored 3 and thanked for; the leaking heater was lost


async def test_a_refusal_keeps_the_customers_words(wired: Services, clock: Clock) -> None:
    """ "你们搞错了吧，我没叫过维修" ended the survey as "declined": the operator never learnt that
    the dispatch system had sent the wrong customer."""
    survey_id = await a_sent_survey(wired, clock)
    slots, _ = await validate(tracker("你们搞错了吧，我没叫过维修", "deny", requested="survey_score"))
    await ActionSubmitSurvey().run(
        CollectingDispatcher(),
        tracker("你们搞错了吧，我没叫过维修", "deny", slots={"survey_id": str(survey_id), **slots}),
        DOMAIN,
    )
    survey = await wired.surveys.get(survey_id)
    assert (survey.status, survey.reason) == (SurveyStatus.CANCELLED, "declined: 你们搞错了吧，我没叫过维修")
    tapped, _ = await validate(tracker("/deny", "deny", requested="survey_score"))
    assert tapped == {"survey_score": 0.0, "survey_comment": "-"}  # a tap says nothing more


async def test_a_calmly_put_complaint_about_the_service_is_a_bad_answer() -> None:
    calm = await validate(
        tracker(
            "空调装好了但是外机有异响", "complain", requested="survey_score", satisfaction=("neutral", 0.8)
        )
    )
    assert calm[0] == {"survey_score": 2.0, "survey_comment": "空调装好了但是外机有异响"}
    unsure = await validate(
        tracker("噪音特别小", "complain", requested="survey_score", satisfaction=("satisfied", 0.6))
    )
    assert unsure[0]["survey_score"] == 2.0  # praise the model doubts does not outweigh the complaint
    # a few words about a device: "吸力很小" is praise to the satisfaction model, at 0.76
    short = await validate(
        tracker("油烟机吸力很小", "complain", requested="survey_score", satisfaction=("satisfied", 0.76))
    )
    assert short[0]["survey_score"] == 2.0


@pytest.mark.parametrize(
    ("text", "satisfaction", "score"),
    [
        ("嘎嘎好，师傅老实在了，修完还帮俺把厨房灯泡换了", ("satisfied", 0.99), 5.0),
        (
            "车修的时间比说的长了一天，不过修理厂主动给我安排了代步车，这种服务太贴心了",
            ("satisfied", 0.99),
            4.0,
        ),
        ("太牛了", ("satisfied", 0.93), 5.0),  # a few words: the model must be surer
    ],
)
async def test_sure_praise_the_intent_model_calls_a_complaint_is_praise(
    text: str, satisfaction: tuple[str, float], score: float
) -> None:
    """Long praise is "complain" to the intent model: "嘎嘎好，师傅老实在了…" was scored 2, with an apology
    and a priority remediation case (seen live)."""
    slots, said = await validate(
        tracker(text, "complain", requested="survey_score", satisfaction=satisfaction)
    )
    assert slots == {"survey_score": score, "survey_comment": text} and said == []


@pytest.mark.parametrize(
    ("text", "satisfaction", "score"),
    [
        ("补了个胎，就那样，能开就行", ("neutral", 0.99), 3.0),
        ("冰箱能制冷了，就这样吧", ("neutral", 0.99), 3.0),
        ("还没上门", ("neutral", 0.98), 2.0),  # a problem however calmly put
        ("我家空调不制冷了，师傅上周刚修过", ("satisfied", 0.91), 2.0),  # praise to the model: a 5
        ("故障还在，再派人来看看", ("neutral", 0.95), 2.0),
    ],
)
async def test_a_remark_the_intent_model_calls_a_complaint_is_no_bad_answer_without_a_problem(
    wired: Services, text: str, satisfaction: tuple[str, float], score: float
) -> None:
    """ "补了个胎，就那样，能开就行" is "complain" to the intent model: it was scored 2, with an apology
    and a priority remediation case, though it names nothing wrong."""
    slots, _ = await validate(tracker(text, "complain", requested="survey_score", satisfaction=satisfaction))
    assert slots == {"survey_score": score, "survey_comment": text}


async def test_a_worker_pressing_for_a_good_score_is_a_bad_answer(wired: Services, clock: Clock) -> None:
    """ "师傅走之前非要我打5分" was recorded as a 5 and thanked: the score was the technician's, and
    asking for it is misconduct. The model hears "5分" and praise in it."""
    text = "师傅走之前非要我打5分"
    slots, _ = await validate(
        tracker(text, "give_rating", requested="survey_score", satisfaction=("satisfied", 0.9))
    )
    assert slots["survey_score"] == 2.0 and slots["survey_comment"] == text
    survey_id = await a_sent_survey(wired, clock)
    dispatcher = CollectingDispatcher()
    await ActionSubmitSurvey().run(
        dispatcher,
        tracker(
            text, "give_rating", slots={"survey_id": str(survey_id), **slots}, satisfaction=("satisfied", 0.9)
        ),
        DOMAIN,
    )
    survey = await wired.surveys.get(survey_id)
    assert (survey.score, survey.satisfaction) == (2, "dissatisfied")
    assert survey.remediation_case_number is not None
    assert "感谢" not in dispatcher.messages[0]["text"]
    case = await wired.cases.get(survey.remediation_case_number)
    assert case.category == "service_attitude"  # conduct, not the installation it followed


@pytest.mark.parametrize("intent", ["nlu_fallback", "deny"])
async def test_work_not_done_is_a_bad_answer_whatever_the_model_hears(intent: str) -> None:
    slots, _ = await validate(
        tracker("没装好", intent, requested="survey_score", satisfaction=("satisfied", 0.45))
    )
    assert slots == {"survey_score": 2.0, "survey_comment": "没装好"}  # it was a 4, or declined as a "no"


@pytest.mark.parametrize(
    ("text", "intent", "satisfaction", "score"),
    [
        ("上门了，修好了", "complain", ("satisfied", 0.96), 5.0),  # 2, an apology and a remediation case
        ("已经修好了", "deny", ("satisfied", 0.58), 4.0),  # declined: no score at all
        ("已解决", "nlu_fallback", ("dissatisfied", 0.42), 4.0),  # 2
        ("快递收到了", "complain", ("neutral", 0.99), 4.0),  # 2
        ("修好了又坏了", "complain", ("dissatisfied", 0.88), 1.0),
        ("师傅修好了就走了，垃圾也没带", "complain", ("dissatisfied", 0.93), 1.0),
        # the job done and a wish: displeasure to the model, it was a 2 with an apology and a case
        ("修好了，不过下次能不能提前打个电话", "suggest", ("dissatisfied", 0.88), 4.0),
        # better than before, a complaint to the intent model: it was a 2, with an apology and a case
        ("保养做完车开着顺多了", "complain", ("satisfied", 0.60), 4.0),
        # the goods came, the installation did not: it was a 4, the delivery heard as the job done
        ("收到了，还没装", "complain", ("neutral", 0.86), 2.0),
    ],
)
async def test_the_job_done_is_a_good_answer(
    text: str, intent: str, satisfaction: tuple[str, float], score: float
) -> None:
    slots, _ = await validate(tracker(text, intent, requested="survey_score", satisfaction=satisfaction))
    assert slots == {"survey_score": score, "survey_comment": text}


async def test_the_old_appliance_left_behind_is_a_bad_answer() -> None:
    """ "师傅把旧空调拆了没带走" was praise to the model (0.87) and scored 5."""
    text = "师傅把旧空调拆了没带走"
    slots, _ = await validate(
        tracker(text, "complain", requested="survey_score", satisfaction=("satisfied", 0.87))
    )
    assert slots == {"survey_score": 2.0, "survey_comment": text}


async def test_faint_praise_before_a_fault_is_a_bad_answer() -> None:
    """ "装得还行，就是师傅态度不太好" was scored 4 and answered "感谢您的评价，我们会继续努力"."""
    text = "装得还行，就是师傅态度不太好"
    slots, _ = await validate(
        tracker(text, "give_feedback", requested="survey_score", satisfaction=("satisfied", 0.52))
    )
    assert slots == {"survey_score": 2.0, "survey_comment": text}


@pytest.mark.parametrize("text", ["满分？别想了", "等用几天再给五星", "希望下次能准时点"])
async def test_a_score_withheld_or_a_wish_for_better_is_no_praise(text: str) -> None:
    """The model hears praise in "满分" and "五星" themselves, and in a polite wish: "满分？别想了"
    scored 4, "希望下次能准时点" 5."""
    slots, _ = await validate(
        tracker(text, "give_rating", requested="survey_score", satisfaction=("satisfied", 0.9))
    )
    assert slots == {"survey_score": 3.0, "survey_comment": text}


@pytest.mark.parametrize(
    ("text", "intent", "satisfaction", "slots"),
    [
        # a "no" to the model, and the survey closed as declined with no case
        ("没有按时来", "deny", ("dissatisfied", 0.67), {"survey_score": 2.0, "survey_comment": "没有按时来"}),
        ("不行", "deny", ("dissatisfied", 0.97), {"survey_score": 1.0, "survey_comment": "不行"}),
        # praise to the model: scored 4 and thanked
        (
            "师傅没来",
            "give_feedback",
            ("satisfied", 0.49),
            {"survey_score": 2.0, "survey_comment": "师傅没来"},
        ),
        # out of scope to the model: "这个我帮不上忙" and the question again
        (
            "不怎么样",
            "out_of_scope",
            ("dissatisfied", 0.95),
            {"survey_score": 1.0, "survey_comment": "不怎么样"},
        ),
        # a "no" that is only a sound, and thanks for asking: no verdict, the question again
        ("哦", "deny", ("neutral", 0.98), {"survey_score": None}),
        ("谢谢关心", "thank", ("satisfied", 0.8), {"survey_score": None}),
        ("收到", "complain", ("neutral", 0.99), {"survey_score": None}),
        ("还没来得及看", "complain", ("neutral", 0.98), {"survey_score": None}),
        # tired of being asked: ends the survey, no remediation case for the annoyance
        ("别烦我", "nlu_fallback", ("dissatisfied", 0.6), {"survey_score": 0.0, "survey_comment": "别烦我"}),
        ("随便吧", "out_of_scope", ("neutral", 0.92), {"survey_score": 3.0, "survey_comment": "随便吧"}),
        # chit-chat at first contact, praise to the score question
        ("666", "out_of_scope", ("satisfied", 0.79), {"survey_score": 4.0, "survey_comment": "666"}),
        ("这是什么", "out_of_scope", ("dissatisfied", 0.75), {}),  # a question: answered, then asked again
        # money beyond the bill, told calmly: it was a 4 and a thank-you
        (
            "装好了，但是师傅要了50块辛苦费",
            "give_feedback",
            ("satisfied", 0.66),
            {"survey_score": 2.0, "survey_comment": "装好了，但是师傅要了50块辛苦费"},
        ),
        # praise heard as a request for a person ("找你们"): it was passed over, the question asked again
        (
            "以后还会找你们的",
            "request_human",
            ("satisfied", 0.91),
            {"survey_score": 5.0, "survey_comment": "以后还会找你们的"},
        ),
        ("转人工，我要找真人", "request_human", ("satisfied", 0.8), {}),  # a request for a person still
        ("让你们领导联系我", "request_human", ("dissatisfied", 0.9), {}),
        # praise only to deny it: it was a 5
        (
            "满意个鬼",
            "give_feedback",
            ("satisfied", 0.94),
            {"survey_score": 2.0, "survey_comment": "满意个鬼"},
        ),
        # a sneer: it was a 5
        (
            "呵呵，真好",
            "give_feedback",
            ("satisfied", 0.91),
            {"survey_score": 2.0, "survey_comment": "呵呵，真好"},
        ),
        # 满意 with a reservation: it was a 2, an apology and a remediation case
        (
            "满意，就是有点慢",
            "give_feedback",
            ("dissatisfied", 0.49),
            {"survey_score": 4.0, "survey_comment": "满意，就是有点慢"},
        ),
        # the phone keyboard's thumbs-down: neutral to the model (0.63), and the question again
        ("👎", "nlu_fallback", ("neutral", 0.63), {"survey_score": 2.0, "survey_comment": "👎"}),
        ("👎🏻👎🏻", "out_of_scope", ("neutral", 0.63), {"survey_score": 2.0, "survey_comment": "👎🏻👎🏻"}),
        # praise beside a fault: it was a 5
        (
            "产品不行，师傅还可以",
            "give_feedback",
            ("satisfied", 0.84),
            {"survey_score": 4.0, "survey_comment": "产品不行，师傅还可以"},
        ),
        # a goodbye to the model, and the survey closed as declined
        ("等用几天再说", "goodbye", ("neutral", 1.0), {"survey_score": None}),
        # English: "not good" was praise to the model and a "no" (declined), "so so" a 1
        ("not good", "deny", ("satisfied", 0.95), {"survey_score": 2.0, "survey_comment": "not good"}),
        ("so so", "give_feedback", ("dissatisfied", 0.88), {"survey_score": 3.0, "survey_comment": "so so"}),
        # "not bad" was a "no" (declined); "great service" a request for a person, "good job" a greeting
        ("not bad", "deny", ("dissatisfied", 0.69), {"survey_score": 4.0, "survey_comment": "not bad"}),
        (
            "great service",
            "request_human",
            ("satisfied", 0.55),
            {"survey_score": 5.0, "survey_comment": "great service"},
        ),
        ("good job", "greet", ("satisfied", 0.6), {"survey_score": 5.0, "survey_comment": "good job"}),
        ("不及格", "deny", ("neutral", 0.77), {"survey_score": 2.0, "survey_comment": "不及格"}),  # declined
        # displeasure in a word, out of scope to the model: "这个我帮不上忙" and the question again
        ("无语", "out_of_scope", ("dissatisfied", 0.98), {"survey_score": 1.0, "survey_comment": "无语"}),
        ("王者荣耀怎么上分", "out_of_scope", ("satisfied", 0.9), {}),
        # an earlier visit's fault set apart from this one: it was a 2 with a remediation case
        (
            "这次挺满意，上次的师傅就不行",
            "give_feedback",
            ("satisfied", 0.68),
            {"survey_score": 4.0, "survey_comment": "这次挺满意，上次的师傅就不行"},
        ),
        (
            "上次挺好，这次不行",
            "give_feedback",
            ("satisfied", 0.6),
            {"survey_score": 2.0, "survey_comment": "上次挺好，这次不行"},
        ),
    ],
)
async def test_what_an_answer_says_decides_it_over_the_intent_the_model_gives(
    text: str, intent: str, satisfaction: tuple[str, float], slots: dict[str, Any]
) -> None:
    got, _ = await validate(tracker(text, intent, requested="survey_score", satisfaction=satisfaction))
    assert got == slots


async def test_the_comment_is_kept_as_typed() -> None:
    """The NLU reads "不戳，師傅很好" as "不错，师傅很好"; the comment is the customer's own words."""
    t = tracker("不错，师傅很好", "give_feedback", requested="survey_score", satisfaction=("satisfied", 0.99))
    t.events[-1]["text"] = "不戳，師傅很好"
    slots, _ = await validate(t)
    assert slots == {"survey_score": 5.0, "survey_comment": "不戳，師傅很好"}


async def test_a_shrug_is_middling_and_opens_no_case(wired: Services, clock: Clock) -> None:
    """ "无所谓" was heard as displeasure (0.64): scored 2, with an apology and a remediation case."""
    survey_id = await a_sent_survey(wired, clock)
    heard = ("dissatisfied", 0.64)
    slots, _ = await validate(tracker("无所谓", "nlu_fallback", requested="survey_score", satisfaction=heard))
    assert slots == {"survey_score": 3.0, "survey_comment": "无所谓"}
    dispatcher = CollectingDispatcher()
    await ActionSubmitSurvey().run(
        dispatcher,
        tracker("无所谓", "nlu_fallback", slots={"survey_id": str(survey_id), **slots}, satisfaction=heard),
        DOMAIN,
    )
    survey = await wired.surveys.get(survey_id)
    assert (survey.status, survey.score, survey.satisfaction) == (SurveyStatus.ANSWERED, 3, "neutral")
    assert survey.remediation_case_number is None
    assert "抱歉" not in dispatcher.messages[0]["text"]


async def test_a_worker_who_did_not_press_for_praise_is_praised() -> None:
    text = "师傅没让我给好评，是我自己要给的"
    slots, _ = await validate(
        tracker(text, "give_feedback", requested="survey_score", satisfaction=("satisfied", 0.9))
    )
    assert slots == {"survey_score": 5.0, "survey_comment": text}


async def test_declining_ends_the_survey_without_a_reminder(wired: Services, clock: Clock) -> None:
    survey_id = await a_sent_survey(wired, clock)
    slots, _ = await validate(tracker("不想评，没空", "give_rating", requested="survey_score"))
    assert slots == {"survey_score": 0.0, "survey_comment": "不想评，没空"}
    dispatcher = CollectingDispatcher()
    await ActionSubmitSurvey().run(
        dispatcher, tracker("不想评，没空", "deny", slots={"survey_id": str(survey_id), **slots}), DOMAIN
    )
    assert "不打扰" in dispatcher.messages[0]["text"]
    survey = await wired.surveys.get(survey_id)
    assert (survey.status, survey.reason) == (SurveyStatus.CANCELLED, "declined: 不想评，没空")
    clock.now += timedelta(hours=30)
    assert await wired.surveys.claim_reminders() == []


async def test_goodbye_to_the_score_question_ends_the_survey_politely(wired: Services, clock: Clock) -> None:
    """ "拜拜" got "再见！" and then the same score question, and a reminder the next day."""
    survey_id = await a_sent_survey(wired, clock)
    slots, said = await validate(tracker("好的，拜拜", "goodbye", requested="survey_score"))
    assert slots == {"survey_score": 0.0, "survey_comment": "好的，拜拜"} and said == []
    dispatcher = CollectingDispatcher()
    await ActionSubmitSurvey().run(
        dispatcher, tracker("好的，拜拜", "goodbye", slots={"survey_id": str(survey_id), **slots}), DOMAIN
    )
    assert [m["text"] for m in dispatcher.messages] == ["好的，不打扰您了。之后有任何问题随时找我😊"]
    survey = await wired.surveys.get(survey_id)
    assert (survey.status, survey.reason) == (SurveyStatus.CANCELLED, "declined: 好的，拜拜")
    clock.now += timedelta(hours=30)
    assert await wired.surveys.claim_reminders() == []


async def test_a_verdict_said_with_goodbye_is_the_answer() -> None:
    slots, _ = await validate(
        tracker("挺满意的，拜拜", "goodbye", requested="survey_score", satisfaction=("satisfied", 0.9))
    )
    assert slots == {"survey_score": 5.0, "survey_comment": "挺满意的，拜拜"}
    leaving, _ = await validate(
        tracker("我先去忙了，再见", "goodbye", requested="survey_score", satisfaction=("neutral", 0.8))
    )
    assert leaving == {"survey_score": 0.0, "survey_comment": "我先去忙了，再见"}  # not scored 3 (一般)


async def test_thanks_alone_gets_the_question_again_kindly(wired: Services, clock: Clock) -> None:
    """ "谢谢" got "不客气，能帮到您就好。还有其他需要吗？" and then the score question."""
    survey_id, again = await no_answer_yet(wired, clock, "谢谢", "thank")
    assert again["text"].startswith("不客气😊 方便的话给这次服务打个分")
    assert (await wired.surveys.get(survey_id)).status is SurveyStatus.SENT


async def test_a_closing_is_not_a_comment() -> None:
    slots, _ = await validate(
        tracker("谢谢，拜拜", "goodbye", requested="survey_comment", slots={"survey_score": 4.0})
    )
    assert slots["survey_comment"] == "-"


async def test_a_question_about_the_service_during_its_survey_becomes_a_case(
    wired: Services, clock: Clock
) -> None:
    """ "师傅几点能再来一趟？" to the score question got "抱歉，这个我帮不上忙" and reached nobody."""
    survey_id = await a_sent_survey(wired, clock)

    async def ask(text: str) -> list[dict]:
        t = tracker(text, "out_of_scope", slots={"survey_id": str(survey_id)}, requested="survey_score")
        dispatcher = CollectingDispatcher()
        assert await ActionCannotHelp().run(dispatcher, t, DOMAIN) == []
        return dispatcher.messages

    assert [m["response"] for m in await ask("明天天气怎么样")] == ["utter_survey_cannot_help"]
    assert await wired.cases.open_cases_for("wx-1") == []
    [said] = await ask("师傅几点能再来一趟？")
    [case] = await wired.cases.open_cases_for("wx-1")
    assert (
        said["text"]
        == f"这个问题我帮您登记了（编号 {case.number}），负责的同事会联系您📝 先请您给这次服务打个分吧："
    )
    assert (
        case.description
        == f"回访时客户提问：师傅几点能再来一趟？（安装服务，服务人员：张师傅，回访#{survey_id}）"
    )
    assert case.category == "installation_repair"
    assert (await wired.surveys.get(survey_id)).status is SurveyStatus.SENT  # the survey goes on
    [again] = await ask("那什么时候能到？")  # the second question joins the case just opened
    assert again["text"].startswith(f"这个问题我帮您记到投诉 {case.number} 里了")
    assert len(await wired.cases.open_cases_for("wx-1")) == 1


async def test_a_new_survey_starts_with_nothing_answered() -> None:
    """action_start_survey resets the slots; the reset must not read as an answer (or a refusal)."""
    t = tracker("EXTERNAL_survey_start", "EXTERNAL_survey_start", requested=None)
    t.events.append({"event": "slot", "name": "survey_score", "value": None})
    slots, said = await validate(t)
    assert slots.get("survey_score") is None and said == []
