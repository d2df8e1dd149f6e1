"""Satisfaction callbacks (回访): start, ask, understand the answer, act on a bad one, opt out."""

from __future__ import annotations

import logging
from datetime import tzinfo
from typing import Any, TypedDict

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import (
    ActionExecuted,
    ActiveLoop,
    EventType,
    FollowupAction,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    as_typed,
    bot_words_before,
    channel_of,
    first_entity_value,
    latest_intent,
    latest_parse,
    latest_text,
    satisfaction_of,
)
from actions.messages import catalogue, render, say
from actions.services import get_services
from bot.cases.errors import CaseError
from bot.cases.intake import (
    asks_for_a_person,
    confirms,
    is_cancellation,
    is_plain_answer,
    is_substantive_description,
    misconduct_told_pleasantly,
    safety_terms,
    solicits_praise,
)
from bot.cases.model import CATEGORIES, Case
from bot.feedback.rules import names_no_problem
from bot.nlu.patterns import withholds_score
from bot.surveys.errors import SurveyError
from bot.surveys.model import SERVICE_LABELS, SURVEY_QUESTION, Survey, SurveyStatus
from bot.surveys.rules import (
    FACES_CONFIDENCE,
    asks_to_stop,
    asks_why_surveyed,
    brief_displeasure,
    changes_score,
    declines_survey,
    done_with_a_wish,
    doubts_the_sender,
    english_verdict,
    fails_again,
    faint_praise_then_fault,
    few_words,
    has_reservation,
    is_bad,
    mocks_praise,
    not_tried_yet,
    only_courtesy,
    only_faces,
    only_two_edged_smiles,
    praise_outweighs_complaint,
    reports_fixed,
    satisfied_with_reservation,
    says_goodbye,
    says_it_went_wrong,
    says_no_verdict,
    says_not_done,
    says_nothing_more,
    score_from_satisfaction,
    shrugs,
    starts_new_matter,
    thumbs_verdict,
    wants_better_next_time,
    weighs_both,
)
from bot.surveys.service import AnswerOutcome
from bot.timefmt import format_local
from bot.wiring import Services

logger = logging.getLogger(__name__)

FORM = "survey_form"
SURVEY_SLOTS = ("survey_id", "survey_delivery", "survey_score", "survey_comment")
NO_COMMENT = "-"
#: A message with one of these intents is not an answer to the survey.
DIGRESSIONS = {
    "ask_case_status",
    "request_human",
    "opt_out",
    "bot_challenge",
    "out_of_scope",
    "greet",
    "thank",
    "goodbye",
    "EXTERNAL_survey_start",
    "EXTERNAL_survey_reminder",
}
#: Said in passing or on leaving; with a verdict ("满意，拜拜") they are an answer.
CLOSINGS = frozenset({"thank", "goodbye"})
#: The score of a survey the customer declined ("不想评"): ends it, records nothing.
DECLINED = 0.0


def pictures_for_the_score(tracker: Tracker) -> bool:
    """ "[弱][弱]", "👏👏" or "🤔" to the score question: the survey form's to take (scored when the
    model is sure of the tone, else the question again), though the model calls most lone pictures
    out_of_scope or cannot tell their intent: "[弱]" got "这个我帮不上忙" and the question again."""
    return (
        tracker.get_slot("requested_slot") == "survey_score"
        and only_faces(latest_text(tracker))
        and latest_intent(tracker) not in CLOSINGS  # "[抱拳]" thanks, "[再见]" leaves: as in words
    )


_WAITING = ("survey_take_your_time", "survey_not_tried_yet", "survey_waiting_quietly")


def _said_it_would_wait(tracker: Tracker) -> bool:
    """The bot's last words before this message said it would wait for the verdict."""
    return bot_words_before(tracker) in {render(key) for key in _WAITING}


def waits_again(tracker: Tracker) -> bool:
    """No verdict yet, or a yes to waiting, after the bot has already said it would wait."""
    text = latest_text(tracker)
    return (says_no_verdict(text) or not_tried_yet(text) or _plain_yes(tracker)) and _said_it_would_wait(
        tracker
    )


def _plain_yes(tracker: Tracker) -> bool:
    text = latest_text(tracker)
    return is_plain_answer(text) and (latest_intent(tracker) == "affirm" or confirms(text))


def agrees_to_wait(tracker: Tracker) -> bool:
    """ "好的" to "好的，不着急😊 等您用上一段时间…" was scored 3 (一般) and closed the survey: a yes to
    waiting, not a verdict on the service."""
    return _plain_yes(tracker) and _said_it_would_wait(tracker)


def asked_too_soon(tracker: Tracker) -> bool:
    """ "刚装好，还没用呢" to the score question: no verdict yet, whatever intent the model gives it
    ("没试过" is out of scope to it, "还没来得及用" a complaint)."""
    return tracker.get_slot("requested_slot") == "survey_score" and not_tried_yet(latest_text(tracker))


def heard(tracker: Tracker) -> tuple[str | None, float | None]:
    """The answer's satisfaction: the model's, except where it hears praise in words that are none.
    A worker pressing for a good score ("师傅走之前非要我打5分"), work not done ("没装好") and the
    fault back soon after a visit ("空调不制冷了，师傅上周刚修过") are displeasure; a score withheld
    ("满分？别想了") or a wish for better ("希望下次能准时点") is not praise. They were scored 5, 4, 5,
    4 and 5. The job done ("已解决", "网速恢复正常了") is praise unless the model is fairly sure of
    displeasure."""
    label, confidence = satisfaction_of(latest_parse(tracker))
    text = latest_text(tracker)
    english = english_verdict(text)
    if english:
        return english  # "not good" was praise to the model, "so so" displeasure
    thumbs = thumbs_verdict(text)
    if thumbs and thumbs != label:
        return thumbs, 0.0  # "👎" was neutral to the model, and the question was asked again
    if label != "dissatisfied" and (
        misconduct_told_pleasantly(text)  # "装好了，但是师傅要了50块辛苦费" was a 4
        or says_not_done(text)
        or mocks_praise(text)
        or fails_again(text)
    ):
        return "dissatisfied", 0.0  # "满意个鬼" was a 5, "马桶堵了，师傅昨天刚通过" a 5
    if satisfied_with_reservation(text) and not says_not_done(text):
        return "satisfied", 0.0  # "满意，就是有点慢" was a 2 with a case: a 4, the reservation kept
    if done_with_a_wish(text):
        return "satisfied", 0.0  # "修好了，不过下次能不能提前打个电话" was a 2 with a case: a 4
    if label != "dissatisfied" and faint_praise_then_fault(text):
        return "dissatisfied", 0.0  # "装得还行，就是师傅态度不太好" was a 4, and thanked
    # "没按时来，不过修得很好" or a long story of praise with "设计不好" in it: the model weighs those
    praised_too = label == "satisfied" and (weighs_both(text) or (confidence or 0.0) >= 0.8)
    if label != "dissatisfied" and says_it_went_wrong(text) and not praised_too:
        return "dissatisfied", 0.0  # "师傅没来" was a 4, "不满意，没按约定时间来" a 4
    if label == "satisfied" and says_it_went_wrong(text):
        return "satisfied", 0.0  # praise beside a fault is never a 5: "产品不行，师傅还可以" was one
    if shrugs(text):
        return "neutral", confidence  # "无所谓": no displeasure to follow up (it was a 2 and a case)
    if label == "satisfied" and (withholds_score(text) or wants_better_next_time(text)):
        return "neutral", confidence
    if (
        label != "satisfied"
        and reports_fixed(text)
        and not (label == "dissatisfied" and (confidence or 0.0) >= 0.5)
    ):
        return "satisfied", 0.0  # "修好了" alone is a 4: the job done, nothing more said
    return label, confidence


def _survey_id(tracker: Tracker) -> int | None:
    raw = first_entity_value(tracker, "survey_id") or tracker.get_slot("survey_id")
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def _rating(tracker: Tracker) -> int | None:
    value = first_entity_value(tracker, "rating")
    try:
        rating = int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return rating if rating is not None and 1 <= rating <= 5 else None


def _service_words(survey: Survey) -> str:
    who = f"（服务人员：{survey.technician}）" if survey.technician and survey.subject == "service" else ""
    if survey.subject == "case":
        return f"投诉 {survey.case_number} 的处理" if survey.case_number else "投诉的处理"
    return f"{SERVICE_LABELS.get(survey.service_type, '服务')}{who}"


def _score_buttons() -> list[dict[str, str]]:
    return catalogue()["survey_question"]["buttons"]


def _template_data(survey: Survey, tz: Any, reminder: bool) -> dict[str, Any]:
    """Fields of the configured template (first / keyword1 / keyword2 / remark)."""
    return {
        "template": {
            "data": {
                "first": {
                    "value": render("survey_template_first" if not reminder else "survey_template_reminder")
                },
                "keyword1": {"value": _service_words(survey)},
                "keyword2": {"value": format_local(survey.sent_at or survey.created_at, tz)},
                "remark": {"value": render("survey_template_remark")},
            }
        }
    }


class ActionStartSurvey(Action):
    """Started by the worker (trigger_intent). Marks the survey sent exactly once, then the form asks."""

    def name(self) -> str:
        return "action_start_survey"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        services = await get_services()
        survey_id = _survey_id(tracker)
        via = str(first_entity_value(tracker, "survey_delivery") or "customer_service")
        survey = await services.surveys.mark_sent(survey_id, via) if survey_id else None
        if survey is None:  # already sent (a retried trigger) or gone: say nothing
            logger.info("survey %s not started again", survey_id)
            return [FollowupAction("action_listen")]
        return [
            SlotSet("survey_id", str(survey.id)),
            SlotSet("survey_delivery", via),
            SlotSet("survey_score", None),
            SlotSet("survey_comment", None),
        ]


class ActionRemindSurvey(Action):
    """The one reminder after 24 h; the form then asks again, in reminder words."""

    def name(self) -> str:
        return "action_remind_survey"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        services = await get_services()
        survey_id = _survey_id(tracker)
        survey = await services.surveys.mark_reminded(survey_id) if survey_id else None
        if survey is None:
            return [FollowupAction("action_listen")]
        via = str(first_entity_value(tracker, "survey_delivery") or "customer_service")
        return [
            SlotSet("survey_id", str(survey.id)),
            SlotSet("survey_delivery", via),
            SlotSet("survey_score", None),
            SlotSet("survey_comment", None),
        ]


class ActionAskSurveyScore(Action):
    """The score question: a menu of 1-5 in the window, the configured template outside it."""

    def name(self) -> str:
        return "action_ask_survey_score"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        services = await get_services()
        survey = await _survey(services, _survey_id(tracker))
        intent = latest_intent(tracker)
        pushed = intent in ("EXTERNAL_survey_start", "EXTERNAL_survey_reminder")
        if survey is None:
            say(dispatcher, "survey_question_generic", buttons=_score_buttons())
        elif pushed and tracker.get_slot("survey_delivery") == "template":
            reminder = intent == "EXTERNAL_survey_reminder"
            dispatcher.utter_message(
                json_message=_template_data(survey, services.cases.tz, reminder=reminder)
            )
        elif not pushed and waits_again(tracker):
            # "刚装好，还没用呢", then "过两天再说吧": the same reply and menu came back word for word
            say(dispatcher, "survey_waiting_quietly")
        elif not pushed and says_no_verdict(latest_text(tracker)):
            say(dispatcher, "survey_take_your_time", buttons=_score_buttons())
        elif not pushed and not_tried_yet(latest_text(tracker)):
            say(dispatcher, "survey_not_tried_yet", buttons=_score_buttons())
        elif not pushed and (intent == "thank" or only_courtesy(latest_text(tracker))):
            say(dispatcher, "survey_thanked", buttons=_score_buttons())
        elif intent == "EXTERNAL_survey_reminder":
            say(dispatcher, "survey_reminder", buttons=_score_buttons(), service=_service_words(survey))
        elif not pushed:  # after a digression: not the first question's "您好！您的…已经完成" again
            say(dispatcher, "survey_question_again", buttons=_score_buttons(), service=_service_words(survey))
        else:  # pushed by the worker, the first question: if WeChat refuses it, nobody was asked
            say(
                dispatcher,
                "survey_question",
                buttons=_score_buttons(),
                purpose=SURVEY_QUESTION if pushed else None,
                service=_service_words(survey),
            )
        return []


class ActionAskSurveyComment(Action):
    def name(self) -> str:
        return "action_ask_survey_comment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        services = await get_services()
        survey = await _answered(services, _survey_id(tracker))
        if survey is None or not is_bad(survey.score, survey.satisfaction):
            say(dispatcher, "survey_ask_comment")
            return []
        if _asked_for_a_comment_already(tracker):
            # After a digression ("赶紧处理" got the case's status): the question, not the whole apology
            # and its deadline again, word for word
            say(dispatcher, "survey_sorry_ask_comment_again")
            return []
        reopened = survey.remediation_case_number is None and survey.subject == "case"
        number = survey.remediation_case_number or survey.case_number or ""
        try:
            case: Case | None = await services.cases.get(number)
        except CaseError:
            case = None
        key = "survey_sorry_ask_comment_reopened" if reopened else "survey_sorry_ask_comment"
        say(dispatcher, key, **_promise(case, services.cases.tz))
        return []


def _asked_for_a_comment_already(tracker: Tracker) -> bool:
    """Whether the customer has written since the score was set: then the comment question was asked
    (Rasa logs no event of its own for a form's question, only the words)."""
    wrote = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            wrote = True
        elif event.get("event") == "slot" and event.get("name") == "survey_score":
            if event.get("value") is not None:
                return wrote
    return False


class _Promise(TypedDict):
    number: str
    due: str
    urgency: str


def _promise(case: Case | None, tz: tzinfo) -> _Promise:
    """The apology's case number and first-response deadline; "优先处理" only for a P1 or P2 case,
    since the status answer would show a P3 as "P3 普通"."""
    if case is None:
        return {"number": "", "due": "", "urgency": ""}
    urgency = "，优先处理" if case.priority.rank <= 2 else ""
    return {"number": case.number, "due": format_local(case.first_response_due, tz), "urgency": urgency}


async def _survey(services: Services, survey_id: int | None) -> Survey | None:
    """The survey the conversation is about, or None if there is none (any more)."""
    if survey_id is None:
        return None
    try:
        return await services.surveys.get(survey_id)
    except SurveyError:
        return None


async def _answered(services: Services, survey_id: int | None) -> Survey | None:
    """The survey if its score is already recorded (a bare score is recorded before the comment)."""
    survey = await _survey(services, survey_id)
    return survey if survey is not None and survey.status is SurveyStatus.ANSWERED else None


async def _answer(
    tracker: Tracker, *, survey_id: int | None, rating: int | None, comment: str | None
) -> AnswerOutcome:
    """The survey service's answer, with what the NLU heard in the message (satisfaction, category)."""
    label, confidence = heard(tracker)
    categories = [
        e.get("value")
        for e in tracker.latest_message.get("entities") or []
        if e.get("entity") == "complaint_category"
    ]
    return await (await get_services()).surveys.answer(
        tracker.sender_id,
        survey_id=survey_id,
        rating=rating,
        label=label,
        confidence=confidence,
        comment=comment,
        # a worker pressing for a good review is conduct, whatever the job was (it went to the
        # installation team as installation_repair)
        category="service_attitude"
        if solicits_praise(latest_text(tracker))
        else next((c for c in categories if c in CATEGORIES), None),
    )


async def _record_score(tracker: Tracker, score: int) -> dict[str, Any]:
    """Record a bare score at once: many customers tap "5分" and never answer the comment question,
    and their score must count (and a bad one must reach a person) all the same."""
    try:
        outcome = await _answer(tracker, survey_id=_survey_id(tracker), rating=score, comment=None)
    except SurveyError:
        logger.exception(
            "could not record the score of %s; it is tried again after the comment", tracker.sender_id
        )
        return {}
    return {"survey_id": str(outcome.survey.id)} if outcome.survey else {}


#: A survey in one of these states takes no answer: nobody is waiting for one.
CLOSED_WITHOUT_ANSWER = (SurveyStatus.UNREACHABLE, SurveyStatus.CANCELLED, SurveyStatus.FAILED)


async def _closed_without_answer(tracker: Tracker) -> bool:
    survey = await _survey(await get_services(), _survey_id(tracker))
    return survey is not None and survey.status in CLOSED_WITHOUT_ANSWER


def _step_aside(tracker: Tracker) -> list[EventType]:
    """The form leaves as if it had never been there, and the message is heard afresh: the same
    rewind and replay Rasa's two-stage fallback uses for a clarified message."""
    message = tracker.latest_message
    return [
        UserUtteranceReverted(),
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        *(SlotSet(slot, None) for slot in SURVEY_SLOTS),
        ActionExecuted("action_listen"),
        UserUttered(
            message.get("text"), parse_data=message, input_channel=tracker.get_latest_input_channel()
        ),
    ]


class ValidateSurveyForm(FormValidationAction):
    def name(self) -> str:
        return "validate_survey_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if await _closed_without_answer(tracker):
            # The question never reached the customer (WeChat refused it): "我家热水器又漏水了" two
            # days later was thanked as a survey answer and recorded nowhere.
            return _step_aside(tracker)
        return await super().run(dispatcher, tracker, domain)

    async def extract_survey_score(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "survey_score":
            return {}
        intent, text = latest_intent(tracker), latest_text(tracker)
        rating = _rating(tracker)
        if rating is not None:
            comment = _comment_around_score(text, tracker)
            return {"survey_score": float(rating), **({"survey_comment": comment} if comment else {})}
        label, confidence = heard(tracker)
        if doubts_the_sender(text):
            # "你们是不是骗子" was scored 1 with an apology and a remediation case
            say(dispatcher, "survey_genuine")
            return {"survey_score": None}
        if asks_why_surveyed(text):
            say(dispatcher, "survey_why")  # "为什么要打分" was a 2, an apology and a remediation case
            return {"survey_score": None}
        if says_no_verdict(text) or agrees_to_wait(tracker):
            return {"survey_score": None}  # "哦" or "收到" is no refusal (the model's "no"): ask again
        if shrugs(text):
            return {"survey_score": 3.0, "survey_comment": text}  # "随便吧": out of scope to the model
        done = label == "satisfied" and reports_fixed(text)  # "已经修好了" is no refusal, nor a complaint
        # "没有按时来" and "不行" are verdicts, not a refusal to give one, though the model says "no"
        english = english_verdict(text) is not None  # "not bad" is a "no", "good job" a greeting
        verdict = done or says_not_done(text) or says_it_went_wrong(text) or english
        if (intent == "deny" and not verdict) or declines_survey(text):
            # The words are kept with the refusal: "你们搞错了吧，我没叫过维修" tells the operator the
            # dispatch system sent the wrong customer, which "declined" alone did not.
            words = text.strip() if text.strip() and not text.startswith("/") else NO_COMMENT
            return {"survey_score": DECLINED, "survey_comment": words}
        if pictures_for_the_score(tracker):
            sure = thumbs_verdict(text) is not None or (
                label in ("satisfied", "dissatisfied") and (confidence or 0.0) >= FACES_CONFIDENCE
            )
            if sure and not only_two_edged_smiles(text):
                score = score_from_satisfaction(label, confidence, text)
                return {"survey_score": float(score), "survey_comment": text} if score else {}
            return {"survey_score": None}  # "🤔", "[疑问]", a lone "[微笑]": no verdict yet, ask again
        if asked_too_soon(tracker):
            return {"survey_score": None}  # whatever its intent ("没试过" is out of scope): ask later
        # "不怎么样" and "666" are out of scope to the model ("666" is chit-chat at first contact), but
        # to "这次服务怎么样" they are the answer: a bad verdict, or a few words of plain praise
        praise = label == "satisfied" and (confidence or 0.0) >= FACES_CONFIDENCE and few_words(text)
        brief = praise or brief_displeasure(label, confidence, text)  # "666" / "无语"
        # "以后还会找你们的" is praise that the model may hear as a request for a person ("找你们")
        praised = (
            label == "satisfied" and (confidence or 0.0) >= FACES_CONFIDENCE and not asks_for_a_person(text)
        )
        aside = intent in DIGRESSIONS - CLOSINGS and not (
            english
            or (intent == "out_of_scope" and (verdict or brief))
            or (intent == "request_human" and praised)
        )
        if aside or text.startswith("/") or not text.strip():
            return {}
        if intent == "complain" and starts_new_matter(text):
            return {}  # about something else: the complaint rule takes it, the survey waits
        if only_courtesy(text) or (intent in CLOSINGS and label in (None, "neutral")):
            # "拜拜" ends the survey as a refusal would (no reminder); "谢谢" gets the question again.
            if intent == "goodbye" or says_goodbye(text):
                return {"survey_score": DECLINED, "survey_comment": text.strip()}
            return {"survey_score": None}
        if (
            intent == "complain"
            and label != "dissatisfied"
            and not done
            and not praise_outweighs_complaint(label, confidence, text)
            and not names_no_problem((await get_services()).policy, text, label, confidence)
        ):
            # A problem to fix is a bad answer however calmly put: it gets a case, not "感谢您的评价".
            # Not a remark with no problem in it: "补了个胎，就那样，能开就行" was a 2 and opened a case.
            label, confidence = "dissatisfied", 0.0
        # Free text without a number: scored from the satisfaction label; the words are the comment.
        score = score_from_satisfaction(label, confidence, text)
        return {"survey_score": float(score), "survey_comment": text} if score else {}

    async def validate_survey_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # a reset for a new survey, not an answer
            return {"survey_score": None}
        try:
            score = int(float(value))
        except (TypeError, ValueError):
            score = -1
        if score == DECLINED:
            return {"survey_score": DECLINED}
        if not 1 <= score <= 5:
            say(dispatcher, "survey_score_invalid")
            return {"survey_score": None}
        recorded = await _record_score(tracker, score) if tracker.get_slot("survey_comment") is None else {}
        return {"survey_score": float(score), **recorded}

    async def extract_survey_comment(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "survey_comment":
            return {}
        intent, text = latest_intent(tracker), latest_text(tracker)
        if (
            text in ("/deny",)
            or (intent == "deny" and not is_cancellation(text))
            or says_nothing_more(text)
            or only_courtesy(text)  # "谢谢，拜拜" is not a comment for the operator to read
        ):
            return {"survey_comment": NO_COMMENT}
        if intent in DIGRESSIONS - {"deny", "thank", "goodbye"} or text.startswith("/"):
            return {}
        return {"survey_comment": text}

    async def validate_survey_comment(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"survey_comment": None}
        text = latest_text(tracker)
        words = as_typed(tracker, text) if str(value) in (text, text.strip()) else str(value)
        return {"survey_comment": words.strip()[:4000]}  # verbatim: "不戳", not the NLU's "不错"


def _rescore(tracker: Tracker) -> int | None:
    """A new score where the comment was asked for: a bare one ("3分", a tap on the menu again) or one
    that says it changes the first ("改成3分吧")."""
    rating = _rating(tracker)
    if rating is None or tracker.get_slot("requested_slot") not in ("survey_comment", None):
        return None
    text = latest_text(tracker)
    return rating if _comment_around_score(text, tracker) is None or changes_score(text) else None


def _comment_around_score(text: str, tracker: Tracker) -> str | None:
    """ "2分，师傅迟到了两个小时": the words besides the score are a comment, kept verbatim."""
    if text.startswith("/"):
        return None
    entity = next(
        (e for e in tracker.latest_message.get("entities") or [] if e.get("entity") == "rating"), None
    )
    rest = text
    if entity and entity.get("start") is not None:
        rest = text[: entity["start"]] + text[entity["end"] :]
    meaningful = [c for c in rest if c.isalnum()]
    return text.strip() if len(meaningful) >= 4 else None


def _thank(dispatcher: CollectingDispatcher, words: str | None, label: str | None) -> None:
    """A wish in the answer ("下次能不能提前打个电话") is acknowledged as one, and so is a fault told
    beside a good score ("5分", then "就是师傅鞋套没穿，踩脏了地板"), which got "我们会继续努力"."""
    if words and wants_better_next_time(words):
        say(dispatcher, "survey_thanks_wish")
    elif words and (label == "dissatisfied" or has_reservation(words)):
        say(dispatcher, "survey_thanks_noted")
    else:
        say(dispatcher, "survey_thanks")


async def record_answer(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    *,
    survey_id: int | None,
    rating: int | None,
    comment: str | None,
) -> list[EventType]:
    """Record a survey answer and say what follows: thanks, or an apology, a case and a person."""
    services = await get_services()
    try:
        outcome = await _answer(tracker, survey_id=survey_id, rating=rating, comment=comment)
    except SurveyError:
        logger.exception("could not record a survey answer from %s", tracker.sender_id)
        say(dispatcher, "survey_answer_kept")
        return []
    if not outcome.bad:
        _thank(dispatcher, comment, heard(tracker)[0])
        return [SlotSet("human_offered", False)]
    _apologise(dispatcher, outcome, services.cases.tz)
    return [SlotSet("human_offered", True)]


def _apologise(dispatcher: CollectingDispatcher, outcome: AnswerOutcome, tz: tzinfo) -> None:
    """The apology for a bad answer, with the case that follows it up: reopened, or opened for it
    (or none, if opening one failed)."""
    case = outcome.remediation_case or outcome.reopened_case
    key = "survey_sorry_reopened" if outcome.reopened_case else "survey_sorry"
    say(dispatcher, key, **_promise(case, tz))


async def correct_score(
    dispatcher: CollectingDispatcher, tracker: Tracker, rating: int
) -> list[EventType] | None:
    """A score given just after the survey was answered corrects it (``SurveyService.correct_score``);
    None if no survey was answered lately, and the score is plain feedback."""
    services = await get_services()
    try:
        outcome = await services.surveys.correct_score(tracker.sender_id, rating)
    except SurveyError:
        logger.exception("could not correct %s's survey score", tracker.sender_id)
        return None
    if outcome is None:
        return None
    if outcome.remediation_case or outcome.reopened_case:  # the new score is a bad one
        _apologise(dispatcher, outcome, services.cases.tz)
        return [SlotSet("human_offered", True)]
    say(dispatcher, "survey_rescored", rating=rating)
    return []


class ActionSubmitSurvey(Action):
    def name(self) -> str:
        return "action_submit_survey"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        score = tracker.get_slot("survey_score")
        comment = tracker.get_slot("survey_comment")
        resets = [SlotSet(s, None) for s in SURVEY_SLOTS] + [SlotSet("requested_slot", None)]
        if score == DECLINED:
            survey_id = _survey_id(tracker)
            if survey_id:
                words = None if comment in (None, NO_COMMENT) else str(comment)
                await (await get_services()).surveys.decline(survey_id, words)
            say(dispatcher, "survey_declined")
            return resets
        services = await get_services()
        answered = await _answered(services, _survey_id(tracker))
        rescore = _rescore(tracker)
        if answered is not None and rescore is not None:
            # "改成3分吧" to the comment question was kept as the comment, and the score stayed a 5
            corrected = await correct_score(dispatcher, tracker, rescore)
            if corrected is not None:
                return corrected + resets
        if answered is not None:  # the score was recorded when given: this adds the comment
            return await add_to_answer(dispatcher, tracker, services, answered, comment) + resets
        events = await record_answer(
            dispatcher,
            tracker,
            survey_id=_survey_id(tracker),
            rating=int(score) if score else None,
            comment=None if comment in (None, NO_COMMENT) else comment,
        )
        return events + resets


async def add_to_answer(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    services: Services,
    survey: Survey,
    comment: str | None,
) -> list[EventType]:
    """The comment on an answered survey: after its score, or a word more just after it was done
    ("对了，下次能不能提前打电话" was thanked as a suggestion, and the survey never showed it)."""
    words = None if comment in (None, NO_COMMENT) else comment
    label, _ = heard(tracker)
    try:
        outcome = await services.surveys.add_comment(
            tracker.sender_id, survey.stored_id, words, label=label if words else None
        )
    except SurveyError:
        logger.exception("could not add a comment to survey %s", survey.id)
        say(dispatcher, "survey_answer_kept")
        return []
    if not outcome.bad:
        _thank(dispatcher, words, label)
        return [SlotSet("human_offered", False)]
    if outcome.remediation_case or outcome.reopened_case:  # the comment made the answer a bad one
        _apologise(dispatcher, outcome, services.cases.tz)
    else:
        say(dispatcher, "survey_offer_human_noted" if words else "survey_offer_human")
    return [SlotSet("human_offered", True)]


class ActionPauseSurvey(Action):
    """The customer has something else to say (a complaint, "算了"): the survey steps aside.

    It stays open: a score given later still counts, and it expires after 72 h if none comes."""

    def name(self) -> str:
        return "action_pause_survey"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if latest_intent(tracker) == "deny":
            say(dispatcher, "survey_declined")
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            SlotSet("survey_score", None),
            SlotSet("survey_comment", None),
        ]


class ActionOptOut(Action):
    def name(self) -> str:
        return "action_opt_out"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = latest_text(tracker)
        if not asks_to_stop(text):
            # "是真的回访吗" (opt_out to the model, 0.49) unsubscribed the customer who asked it
            say(dispatcher, "survey_genuine" if doubts_the_sender(text) else "opt_out_confirm")
            return [FollowupAction("survey_form")] if tracker.active_loop_name == "survey_form" else []
        services = await get_services()
        try:
            await services.surveys.opt_out(tracker.sender_id, channel_of(tracker))
        except Exception:
            logger.exception("could not opt %s out of surveys", tracker.sender_id)
            say(dispatcher, "opt_out_failed")
            return []
        say(dispatcher, "opt_out_done")
        return [ActiveLoop(None), SlotSet("requested_slot", None), *[SlotSet(s, None) for s in SURVEY_SLOTS]]


class ActionOptOutInIntake(ActionOptOut):
    """ "以后别给我发回访了" in the middle of an intake got "订单号格式不太对": the customer is opted
    out and the intake goes on where it was."""

    def name(self) -> str:
        return "action_opt_out_in_intake"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        await super().run(dispatcher, tracker, domain)
        return []


class ActionMoreAboutBadAnswer(Action):
    """After a bad answer and the offer of a person the customer writes more ("地板也没擦"): it goes
    into the case the answer opened, not into a second complaint that asks for the order again.
    A bare "我要投诉" starts a new complaint, and so do another matter ("对了，我家热水器也漏水了")
    and danger ("有煤气味": its own P1 case and the safety advice)."""

    def name(self) -> str:
        return "action_more_about_bad_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if not await add_to_bad_answer(dispatcher, tracker, offer_person=True):
            return [SlotSet("human_offered", False), FollowupAction("complaint_form")]
        return []  # the offer of a person still stands


async def add_to_bad_answer(
    dispatcher: CollectingDispatcher, tracker: Tracker, *, offer_person: bool
) -> bool:
    """More about a survey answered badly in the last half hour goes onto its case; True if it did.
    ``offer_person``: the offer of a person still stands (not after the customer said no to it)."""
    text = latest_text(tracker)
    services = await get_services()
    survey = await services.surveys.last_bad_answer(tracker.sender_id)
    new_matter = (
        not is_substantive_description(text)
        or starts_new_matter(text)
        or bool(safety_terms(services.policy, text))
    )
    if survey is None or new_matter:
        return False
    try:
        await services.surveys.add_comment(tracker.sender_id, survey.stored_id, text)
    except SurveyError:
        logger.exception("could not add more words to survey %s", survey.id)
        say(dispatcher, "survey_answer_kept")
        return True
    number = survey.remediation_case_number or survey.case_number
    if number:
        say(dispatcher, "survey_more_noted" if offer_person else "survey_more_noted_declined", number=number)
    else:
        say(dispatcher, "survey_offer_human_noted" if offer_person else "survey_noted")
    return True


class ActionDeclineHuman(Action):
    def name(self) -> str:
        return "action_decline_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        say(dispatcher, "human_declined")
        return [SlotSet("human_offered", False)]


__all__ = ["heard", "record_answer", "score_from_satisfaction"]
