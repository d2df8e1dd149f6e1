"""Complaint intake: the form's slot extraction and validation, its questions, submit and cancel."""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    affirmed_guess,
    answers_not_taken,
    answers_what_is_wrong,
    ask_fault_again,
    ask_what_went_wrong,
    bot_words_before,
    channel_of,
    denied_a_guess,
    events_since_form_start,
    first_entity_value,
    fragment_before,
    latest_entities,
    latest_intent,
    latest_parse,
    latest_text,
    satisfaction_of,
    unplaced_words,
    user_messages_since_form_start,
)
from actions.contact import answer_cancellation, answer_contact_question
from actions.corrections import answer_correction
from actions.fallback import guesses
from actions.messages import catalogue, render, say
from actions.reopening import about_an_open_case, reopen_if_back
from actions.services import get_services
from actions.status import ActionCaseStatus, answer_withdrawal
from actions.surveys import add_to_bad_answer
from bot.cases.intake import (
    asks_for_a_person,
    asks_for_case_number,
    asks_for_time,
    category_awaited,
    chases_what_is_awaited,
    confirms,
    confirms_explicitly,
    declines_phone,
    describes_beside_numbers,
    gives_address,
    is_about_the_category,
    is_angry,
    is_cancellation,
    is_plain_answer,
    is_substantive_description,
    names_only_a_category,
    names_own_category,
    names_something,
    only_chases,
    only_never_mind,
    prefers_wechat,
    refers_to_number_on_file,
    resumes,
    rewritten_description,
    safety_terms,
    says_more_than_wait,
    says_no_order,
    strongly_displeased,
    trim_description,
    unsure_of_category,
    without_numbers_on_file,
    without_person_request,
)
from bot.cases.model import CATEGORIES, CATEGORY_LABELS, PUSH_CHANNELS, CaseDraft
from bot.feedback.rules import names_no_problem, only_praise
from bot.nlu.patterns import (
    CATEGORY_GUESS,
    find_category_mention,
    mask_phone,
    mask_phones_in,
    normalise_order_id,
    normalise_phone,
)
from bot.surveys.rules import names_device_fault
from bot.timefmt import format_local
from bot.wiring import Services

logger = logging.getLogger(__name__)

FORM = "complaint_form"
INTAKE_SLOTS = ("complaint_description", "complaint_category", "order_id", "phone", "complaint_confirmed")
NO_ORDER = "none"
#: The phone slot of a customer who would rather be reached in this WeChat chat than by phone.
NO_PHONE = "wechat"
#: A message with one of these intents is a digression, never a slot value.
DIGRESSIONS = {
    "deny",
    "ask_case_status",
    "request_human",
    "bot_challenge",
    "out_of_scope",
    "greet",
    "thank",
    "goodbye",
    "suggest",
    "give_rating",
    "opt_out",
}
#: Intents whose words are about the problem itself: they can add to, or repeat, its description.
ABOUT_THE_PROBLEM = frozenset({"complain", "give_feedback"})
#: The category model is trusted from this confidence on; below it the bot asks.
CATEGORY_CONFIDENCE = 0.45
#: An out-of-context "inform" this likely to be a complaint is treated as one.
PROBLEM_LIKELIHOOD = 0.2


def _with_more_detail(description: str | None, text: str) -> str:
    """The description so far with the customer's new words added (once), nothing dropped."""
    if not description:
        return text
    return description if text in description else f"{description}\n{text}"


def _is_payload(text: str) -> bool:
    return text.startswith("/")


def _answers_another_question(tracker: Tracker, slot: str) -> bool:
    """Not an attempt at the question asked: a phone number given when the order was asked for, an
    order number corrected, or more detail about the problem ("对了，师傅还把地板刮花了"). Taking
    it as a wrong answer would tell the customer their number "looks wrong" for no reason."""
    if any(latest_entities(tracker, name) for name in ("order_id", "phone", "case_number") if name != slot):
        return True
    return _adds_detail(tracker) or gives_address(latest_text(tracker))


_NUMBER_LABELS = re.compile(r"订单号?|运单号?|单号|手机号?|电话|号码|编号|是|为|[:：]")


def _gives_a_number(tracker: Tracker) -> bool:
    """The latest message carries an order number or a phone."""
    return any(latest_entities(tracker, name) for name in ("order_id", "phone"))


def _words_besides_numbers(tracker: Tracker) -> str:
    """The latest message without its order, phone and case numbers and their labels."""
    parse = latest_parse(tracker)
    text = str(parse.get("text") or "")
    spans = sorted(
        (e["start"], e["end"])
        for e in parse.get("entities") or []
        if e.get("entity") in ("order_id", "phone", "case_number") and e.get("start") is not None
    )
    for start, end in reversed(spans):
        text = text[:start] + text[end:]
    return _NUMBER_LABELS.sub("", text)


def _amends_the_summary(tracker: Tracker) -> bool:
    """An address ("应该是朝阳区建国路5号"), or, after "地址写错了" got "请直接告诉我要改的内容", what
    the customer wants changed that has no question of its own: it goes with the description, for the
    person who handles the case. It got "请问您是要投诉反映问题…" and was lost."""
    text = latest_text(tracker)
    if _is_payload(text) or latest_intent(tracker) in DIGRESSIONS or is_cancellation(text):
        return False
    if gives_address(text):
        return True
    return (
        tracker.get_slot("requested_slot") == "complaint_confirmed"
        and _asked_what_to_change(tracker)
        and not confirms(text)
        and not is_about_the_category(text)
        and is_substantive_description(re.sub(r"[0-9A-Za-z\s]", "", _words_besides_numbers(tracker)))
    )


def _says_no_order_ahead(tracker: Tracker) -> bool:
    """ "没有订单号" while the category is asked: the answer to the next question, given early. It was
    ignored, and the category asked again."""
    text = latest_text(tracker)
    return (
        tracker.get_slot("requested_slot") == "complaint_category"
        and tracker.get_slot("order_id") is None
        and says_no_order(text)
        and bool(_ORDER_WORD.search(text))
    )


_ORDER_WORD = re.compile(r"订单|单号")


def _adds_detail(tracker: Tracker) -> bool:
    """More about the problem while a later question is open: "对了，师傅还把地板刮花了", or, asked
    for the order number, "不对，是师傅装的时候弄坏的" (no letter or digit in it, so no order
    number: it was once answered "订单号格式不太对" and lost), or, asked for the category, "那我的订单
    JD20261130123 已经签收了但我没收到货" (the real problem, after "我想问一下你们的退货政策")."""
    text, intent = latest_text(tracker), latest_intent(tracker)
    rest = _words_besides_numbers(tracker)
    # "我换手机号了，新号码…": around a number, only words that are not its label count
    described = describes_beside_numbers if _gives_a_number(tracker) else is_substantive_description
    # "不制冷" to the order question, after "我上周买的冰箱": too short to describe a problem alone,
    # but a complaint with no letter or digit is no order number or phone ("订单号格式不太对")
    in_brief = (
        tracker.get_slot("requested_slot") in ("order_id", "phone")
        and intent in ABOUT_THE_PROBLEM
        and names_something(rest)
        and not any(c.isascii() and c.isalnum() for c in rest)
    )
    if (
        tracker.get_slot("complaint_description") is None
        or any(c.isdigit() for c in rest)
        or not (described(rest) or in_brief)
        or says_no_order(text)
        or (asks_for_time(text) and not (intent in ABOUT_THE_PROBLEM and says_more_than_wait(text)))
        or declines_phone(text)
        or prefers_wechat(text)
        or refers_to_number_on_file(text)
        or names_only_a_category(text)
        or resumes(text)
    ):
        return False
    if intent in ABOUT_THE_PROBLEM:
        return True
    if intent == "nlu_fallback" and strongly_displeased(*satisfaction_of(latest_parse(tracker))):
        # "快递员态度很差，还把我的东西扔地上" at the order question, placed nowhere by the model, got
        # "订单号格式不太对" and was lost
        return True
    requested = tracker.get_slot("requested_slot")
    return (
        intent == "inform"
        and requested in ("order_id", "complaint_category")
        and not any(c.isascii() and c.isalnum() for c in rest)
        and not (
            requested == "complaint_category" and (find_category_mention(text) or unsure_of_category(text))
        )
    )


def _acknowledge_detail(dispatcher: CollectingDispatcher, requested: str | None) -> None:
    """ "我家冰箱", then "不制冷了" at the order question: the detail was kept but the question came
    again word for word, as if nothing had been heard. The summary shows it without being told."""
    if requested != "complaint_confirmed":
        say(dispatcher, "detail_added")


def _number_corrected_in_description(tracker: Tracker, slot: str, new: str) -> dict[str, Any]:
    """ "订单号错了，应该是JD…0002": a description written with the old number kept it, so the case
    said one order in its words and another in its order field, and the agent could not tell."""
    old, description = tracker.get_slot(slot), tracker.get_slot("complaint_description")
    if not (old and description) or old in (NO_ORDER, NO_PHONE) or old == new:
        return {}
    corrected = re.sub(re.escape(str(old)), lambda _: new, description, flags=re.IGNORECASE)
    return {"complaint_description": corrected} if corrected != description else {}


def _repeats_the_problem(tracker: Tracker) -> bool:
    """The problem, or a part of it, told again while a later question is open."""
    text = latest_text(tracker).strip()
    return (
        latest_intent(tracker) in ABOUT_THE_PROBLEM
        and is_substantive_description(text)
        and text in (tracker.get_slot("complaint_description") or "")
    )


async def hand_over_intake(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: str,
    *,
    with_words: bool,
    case_message: str,
    no_case_message: str | None = None,
) -> list[EventType]:
    """A person takes over an unfinished intake: what it has so far becomes a case (so nothing is
    forgotten and the agent starts from it), the intake ends, and the conversation is queued.
    ``with_words``: the latest message is part of the problem (an angry one), not just a request."""
    from actions.handoff import hand_to_a_person, handed_over

    services = await get_services()
    before = tracker.get_slot("complaint_description") or ""
    description = _with_more_detail(before, latest_text(tracker)) if with_words else before
    category = tracker.get_slot("complaint_category") or first_entity_value(tracker, "complaint_category")
    # "…订单号 TX20261201888，电话 13512345678" in the message that is handed over: the form never
    # validated it, and the case had neither, so the agent had no number to call.
    phone = (
        normalise_phone(str(first_entity_value(tracker, "phone") or ""))
        or _given_phone(tracker)
        or await services.cases.known_phone(tracker.sender_id)
    )
    order = normalise_order_id(str(first_entity_value(tracker, "order_id") or "")) or tracker.get_slot(
        "order_id"
    )
    label, confidence = _worst_satisfaction(tracker)
    case = None
    try:
        case = await services.cases.open_case(
            CaseDraft(
                sender_id=tracker.sender_id,
                channel=channel_of(tracker),
                description=trim_description(description),
                category=category if category in CATEGORIES else "other",
                phone=phone,
                order_id=None if order in (None, NO_ORDER) else order,
                satisfaction=label,
                satisfaction_confidence=confidence,
                source="chat" if phone else "handoff",
            )
        )
    except Exception:  # the person still comes; after hours the queue opens a case itself
        logger.exception("could not open a case from %s's intake", tracker.sender_id)
    if case is not None:
        # "P3 普通" told an angry customer their complaint was ordinary: only urgency is worth saying.
        urgency = f"，{case.priority.label}" if case.priority.rank <= 2 else ""
        say(dispatcher, case_message, case_number=case.number, urgency=urgency)
    elif no_case_message:
        say(dispatcher, no_case_message)
    handed = await hand_to_a_person(
        dispatcher,
        tracker,
        reason,
        case_number=case.number if case else None,
        priority=case.priority.value if case else None,
    )
    # Not handed over (the queue failed): a case was opened, so the intake must not start over.
    listen = [] if handed_over(handed) else [FollowupAction("action_listen")]
    return [*reset_intake(), ActiveLoop(None), *handed, *(listen if case else [])]


def _just_agrees(tracker: Tracker) -> bool:
    """ "好的" / "嗯嗯" to "请留一个手机号": the customer will give it; the question is asked again
    without calling their "好的" a malformed number."""
    text = latest_text(tracker)
    return (latest_intent(tracker) == "affirm" and is_plain_answer(text)) or resumes(text)


def _wechat_offered(tracker: Tracker) -> bool:
    """The bot's last words offered to reach the customer in this chat instead of by phone."""
    return bot_words_before(tracker) == render("phone_why_wechat")


def _better_than_a_guess_of_other(tracker: Tracker, current: str | None, named: Any) -> bool:
    """ "我要投诉", "你们的快递员" (read as 其他问题), then "把我的包裹放在楼下就走了…" at the order
    question: the detail was added, but the case stayed under 其他问题 and the customer had to correct
    it at the summary. A specific category read from the detail replaces "other" the model guessed,
    never one the customer chose from the menu."""
    if current != "other" or named in (None, "other") or not _adds_detail(tracker):
        return False
    asked = (
        e.get("event") == "slot"
        and e.get("name") == "requested_slot"
        and e.get("value") == "complaint_category"
        for e in events_since_form_start(tracker, FORM)
    )
    return not any(asked)


def _category_read_from_description(tracker: Tracker) -> str | None:
    """The model's category for a description the intent model took for an answer: "油烟机装歪了"
    (inform) started the intake and then got the category question a complaint would not have."""
    if tracker.get_slot("complaint_category") or latest_intent(tracker) != "inform":
        return None
    if tracker.get_slot("requested_slot") not in (None, "complaint_description"):
        return None  # "网络问题" to the category question is the customer's answer, read as such
    guess = tracker.latest_message.get(CATEGORY_GUESS) or {}
    if (guess.get("confidence") or 0) < CATEGORY_CONFIDENCE:
        return None
    return guess.get("value") if is_substantive_description(latest_text(tracker)) else None


def _category_of_earlier_words(tracker: Tracker) -> str | None:
    """The model's category for the words before the description began: "上周你们给我装的空调"
    ("请问空调遇到了什么问题？"), then "不制冷", got the category question about an installation."""
    if tracker.get_slot("complaint_category") or tracker.get_slot("requested_slot") not in (
        None,
        "complaint_description",
    ):
        return None
    earlier = unplaced_words(tracker)
    users = [e for e in tracker.events if e.get("event") == "user"][:-1]
    for event in reversed(users):
        if earlier and event.get("text") == earlier:
            for found in (event.get("parse_data") or {}).get("entities") or []:
                if (
                    found.get("entity") == "complaint_category"
                    and (found.get("confidence_entity") or 0) >= CATEGORY_CONFIDENCE
                ):
                    return str(found.get("value"))
            return None
    return None


class ValidateComplaintForm(FormValidationAction):
    def name(self) -> str:
        return "validate_complaint_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = latest_text(tracker)
        if not _is_payload(text) and is_angry(text, *satisfaction_of(latest_parse(tracker))):
            return await self._hand_over_in_anger(dispatcher, tracker)
        if tracker.get_slot("complaint_description") is None and not _is_payload(text):
            redirected = await reopen_if_back(dispatcher, tracker) or await about_an_open_case(
                dispatcher, tracker, domain
            )
            if redirected is not None:
                return redirected
            if await add_to_bad_answer(dispatcher, tracker, offer_person=False):
                # "不用了" to a person after a bad survey answer, then "他还把我家地板刮花了": a second
                # complaint asked for the order again; it is more about the same visit
                return intake_left()
            if await answer_contact_question(dispatcher, tracker):  # "投诉电话是多少" is not a complaint
                return intake_left()
            if answer_cancellation(dispatcher, tracker):  # "我要取消我的订单" is not one either
                return intake_left()
            if asks_for_case_number(text):  # "我没收到编号" was filed as a complaint
                return [*await ActionCaseStatus().run(dispatcher, tracker, domain), *intake_left()]
            policy, satisfaction = (await get_services()).policy, satisfaction_of(latest_parse(tracker))
            if latest_intent(tracker) == "complain" and only_praise(policy, text, *satisfaction):
                # Long praise is a complaint to the intent model: it got "马上帮您登记投诉".
                from actions.feedback import ActionRecordFeedback

                return [*await ActionRecordFeedback().run(dispatcher, tracker, domain), *intake_left()]
            if (
                tracker.get_slot("requested_slot") is None
                and latest_intent(tracker) == "complain"
                and names_no_problem(policy, text, *satisfaction)
                and not asks_for_a_person(text)
            ):
                # "我到前台了" got an apology and the intake. Asked what the customer wants instead; a
                # problem told next is added to these words ("海尔的热水器，买了三年了", "不出热水了").
                say(dispatcher, "inform_without_context")
                return intake_left()
            if (
                tracker.get_slot("requested_slot") is None
                and latest_intent(tracker) == "complain"
                and ask_what_went_wrong(dispatcher, tracker)
            ):
                # "我上个月在你们这买的洗衣机" got "非常抱歉给您添麻烦了" before any problem was named
                return intake_left()
        if not _is_payload(text) and latest_intent(tracker) not in DIGRESSIONS and asks_for_a_person(text):
            # The model heard the complaint in "空调一直滴水，我要找人工"; the customer also asked for
            # a person, and was asked for the order number instead.
            from actions.handoff import leave_intake_for_a_person

            words = is_substantive_description(without_person_request(text))
            described = tracker.get_slot("complaint_description")
            if words or described:  # a case follows: safety advice first, as in the intake
                await self._advise_on_safety(dispatcher, text, described or "")
            return await leave_intake_for_a_person(dispatcher, tracker, "customer_request", with_words=words)
        return await super().run(dispatcher, tracker, domain)

    async def _hand_over_in_anger(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """A customer writing in strong anger gets a person at once, not more questions."""
        text = latest_text(tracker)
        await self._advise_on_safety(dispatcher, text, tracker.get_slot("complaint_description") or "")
        return await hand_over_intake(
            dispatcher,
            tracker,
            "angry",
            with_words=True,
            case_message="angry_case_created",
            no_case_message="angry_no_case",
        )

    # --- description ---------------------------------------------------------------------

    async def extract_complaint_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text, intent = latest_text(tracker), latest_intent(tracker)
        current = tracker.get_slot("complaint_description")
        # "能不能快点送到" (a suggestion to the model) or "快点退款" (a status question) with nothing open
        chase = current is None and chases_what_is_awaited(text)
        # "不脱水" to the description question was a "no" to the model, and cancelled the intake
        # (and "空调漏水怎么办" was out of scope: "这个我帮不上忙")
        fault = (
            current is None
            and intent in ("deny", "out_of_scope")
            and names_device_fault(text)
            and not is_cancellation(text)
        )
        if _is_payload(text) or (
            intent in DIGRESSIONS and not (answers_what_is_wrong(tracker) or chase or fault)
        ):
            return {}
        requested = tracker.get_slot("requested_slot")
        rewritten = rewritten_description(text) if current is not None else None
        if rewritten:  # "问题描述改一下：…" replaces; it was added to the old one, request and all
            value = rewritten
        elif current is None and requested in (None, "complaint_description"):
            earlier = unplaced_words(tracker)  # "我上周买的冰箱" before "今天发现不制冷了"
            fragment = None if earlier else fragment_before(tracker)  # "快递", then "三天了还没到"
            if fragment and names_something(fragment) and is_substantive_description(fragment + text):
                value = f"{fragment.strip()}，{text.strip()}"  # one sentence: "快递，三天了还没到"
            elif not (earlier and is_substantive_description(earlier)):
                value = text
            else:  # "投诉" to "您是要投诉反映问题，还是…" added nothing to the problem before it; "不制冷"
                # to "请问空调遇到了什么问题？" is the whole problem, and was dropped
                value = _with_more_detail(earlier, text) if names_something(text) else earlier
        elif (
            current is not None
            and requested != "complaint_description"
            and _adds_detail(tracker)
            and text not in current
        ):
            value = _with_more_detail(current, text)  # more detail later in the intake is added, not lost
            _acknowledge_detail(dispatcher, requested)
        elif current is not None and _amends_the_summary(tracker) and text not in current:
            value = _with_more_detail(current, text)  # an address, or what to change at the summary
            _acknowledge_detail(dispatcher, requested)
        elif current is not None and requested != "complaint_description" and _repeats_the_problem(tracker):
            # Said again, as customers do when unsure they were heard: it once fell through every
            # rule of the intake, and a person was called with the intake lost.
            say(dispatcher, "problem_already_noted")
            return {"complaint_description": current}
        else:
            return {}
        if current is None and is_substantive_description(value):
            say(dispatcher, "ack_complaint")
        await self._advise_on_safety(dispatcher, text, current or "")
        return {"complaint_description": value}

    @staticmethod
    async def _advise_on_safety(dispatcher: CollectingDispatcher, new: str, before: str) -> None:
        """Gas, electricity, fire, injury: safety advice comes before any question (once)."""
        policy = (await get_services()).policy
        if safety_terms(policy, new) and not safety_terms(policy, before):
            say(dispatcher, "safety_first")

    async def validate_complaint_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        if not is_substantive_description(text):
            if tracker.get_slot("requested_slot") == "complaint_description":
                say(dispatcher, "description_too_short")
            return {"complaint_description": None}
        return {"complaint_description": trim_description(text)}

    # --- category ------------------------------------------------------------------------

    async def extract_complaint_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        requested = tracker.get_slot("requested_slot")
        current = tracker.get_slot("complaint_category")
        if requested == "complaint_category" and unsure_of_category(latest_text(tracker)):
            return {"complaint_category": "other"}  # the agent files it; the intake goes on
        awaited = category_awaited(latest_text(tracker)) if current is None else None
        if awaited and requested in (None, "complaint_description"):
            return {"complaint_category": awaited}  # "快点发货": what is awaited says where it belongs
        if latest_intent(tracker) in DIGRESSIONS - {"deny"}:  # "不对，是收费的问题" corrects it
            return {}  # "我要找人工客服" names no category, whatever words it shares with one
        for entity in latest_entities(tracker, "complaint_category"):
            from_model = (
                entity.get("extractor") == "ComplaintCategoryClassifier"
                and latest_intent(tracker) in ABOUT_THE_PROBLEM
            )
            sure = (entity.get("confidence_entity") or 0) >= CATEGORY_CONFIDENCE
            if from_model and sure and _better_than_a_guess_of_other(tracker, current, entity.get("value")):
                return {"complaint_category": entity.get("value")}
            if from_model and (current or not sure):
                continue  # a guess never overrides an answer, and a weak guess is asked about
            if from_model and not is_substantive_description(latest_text(tracker)):
                continue  # the model files even "我要投诉" somewhere; the description will say where
            return {"complaint_category": entity.get("value")}
        guess = _category_read_from_description(tracker) or _category_of_earlier_words(tracker)
        if guess:
            return {"complaint_category": guess}
        if requested == "complaint_category" and latest_intent(tracker) not in DIGRESSIONS:
            return {"complaint_category": latest_text(tracker)}
        return {}

    async def validate_complaint_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value in CATEGORIES:
            return {"complaint_category": value}
        named = find_category_mention(str(value or ""))
        if named:
            return {"complaint_category": named}
        if tracker.get_slot("requested_slot") == "complaint_category" and names_own_category(
            str(value or "")
        ):
            # "网络问题": the customer's own answer, not on the menu. Asking again got the same words
            # back, and the menu a third time; the agent files it.
            return {"complaint_category": "other"}
        if (
            tracker.get_slot("requested_slot") == "complaint_category"
            and answers_not_taken(tracker, FORM, "complaint_category") >= 1
        ):
            # "投诉" to the menu, twice: the same menu came back every time, for as long as the
            # customer kept answering it. Sorting the complaint is the agent's job.
            return {"complaint_category": "other"}
        return {"complaint_category": None}  # asked again, with the buttons

    # --- order number --------------------------------------------------------------------

    async def extract_order_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        value = first_entity_value(tracker, "order_id")
        if value:
            new = normalise_order_id(str(value)) or str(value)
            return {"order_id": value, **_number_corrected_in_description(tracker, "order_id", new)}
        text, intent = latest_text(tracker), latest_intent(tracker)
        if tracker.get_slot("requested_slot") != "order_id":
            if _says_no_order_ahead(tracker):
                return {"order_id": NO_ORDER}  # not asked for it again later
            return {}
        if declines_phone(text, named=True):  # "我不想留电话" is no "no order": the phone's, early
            return {}
        if text == "/deny" or says_no_order(text) or (intent == "deny" and not is_cancellation(text)):
            return {"order_id": NO_ORDER}
        if asks_for_time(text) and not _aside_after_a_wait(tracker):  # "等一下我找找": no number yet
            return {"order_id": text}
        if intent in DIGRESSIONS or _is_payload(text) or _answers_another_question(tracker, "order_id"):
            return {}
        return {"order_id": text}

    async def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value == NO_ORDER:
            return {"order_id": NO_ORDER}
        order = normalise_order_id(str(value or ""))
        if order is None and not (_just_agrees(tracker) or asks_for_time(latest_text(tracker))):
            say(dispatcher, "invalid_order_id")  # "好的" is no malformed number; the question says the rest
        return {"order_id": order}

    # --- phone ---------------------------------------------------------------------------

    async def extract_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        value = first_entity_value(tracker, "phone")
        if value:  # also a correction at any step ("不对，手机号是…")
            new = normalise_phone(str(value)) or str(value)
            return {"phone": value, **_number_corrected_in_description(tracker, "phone", new)}
        requested = tracker.get_slot("requested_slot")
        if requested is None and tracker.get_slot("phone") is None:
            known = await (await get_services()).cases.known_phone(tracker.sender_id)
            return {"phone": known} if known else {}
        text = latest_text(tracker)
        if requested == "phone" and prefers_wechat(text):  # "不留电话，微信联系我"
            return {"phone": NO_PHONE}
        if (
            requested == "phone"
            and _wechat_offered(tracker)
            and (declines_phone(text) or _just_agrees(tracker))
        ):
            # "还是不留了" or "好的" to "…不想留也可以，处理人员会在微信上联系您": taken at its word. The
            # first got "这个号码好像不太对", both the phone question again, as if nothing had been said.
            return {"phone": NO_PHONE}
        if requested == "phone" and declines_phone(text):  # heard as a "no", which cancels the intake
            return {"phone": text}
        if (
            requested == "order_id"
            and declines_phone(text, named=True)
            and channel_of(tracker) in PUSH_CHANNELS
        ):
            # "我不想留电话" at the order question was taken for "no order", and the phone asked next
            return {"phone": NO_PHONE}
        if requested != "phone" or latest_intent(tracker) in DIGRESSIONS:
            return {}
        return {} if _is_payload(text) or _answers_another_question(tracker, "phone") else {"phone": text}

    async def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value == NO_PHONE:
            if channel_of(tracker) in PUSH_CHANNELS:
                if tracker.get_slot("requested_slot") == "order_id":
                    say(dispatcher, "phone_declined_early")  # the order question follows again
                return {"phone": NO_PHONE}
            say(dispatcher, "phone_needed_here")  # nobody could write to them here first
            return {"phone": None}
        phone = normalise_phone(str(value or ""))
        text = latest_text(tracker)
        if phone is None and not (
            _just_agrees(tracker)
            or declines_phone(text)
            or asks_for_time(text)
            or refers_to_number_on_file(text)  # the question says why we cannot look it up
        ):
            say(dispatcher, "invalid_phone")
        elif phone is not None and tracker.get_slot("requested_slot") in (
            "complaint_description",
            "complaint_category",
            "order_id",
        ):
            # Given while something else was asked, that question is asked again next: without this
            # the customer sees their number ignored ("我给了手机号，你又问订单号").
            say(dispatcher, "phone_noted", phone=mask_phone(phone))
        return {"phone": phone}

    # --- confirmation --------------------------------------------------------------------

    async def extract_complaint_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "complaint_confirmed":
            return {}
        intent, text = latest_intent(tracker), latest_text(tracker)
        corrected = any(latest_entities(tracker, e) for e in ("phone", "order_id")) or (
            intent == "inform" and latest_entities(tracker, "complaint_category")
        )
        if intent == "affirm" and not corrected and (_is_payload(text) or confirms(text)):
            if not _is_payload(text) and not confirms_explicitly(text) and _asked_what_to_change(tracker):
                return {"complaint_confirmed": None}  # "好" to "告诉我要改的内容": the summary again
            return {"complaint_confirmed": True}
        if intent == "deny" and not is_cancellation(text):
            return {"complaint_confirmed": False}  # something is wrong: ask what
        return {}

    async def validate_complaint_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"complaint_confirmed": True if value is True else None}


class _AskFromCatalogue(Action):
    """A form question that is just a catalogue message."""

    key = ""

    def name(self) -> str:
        return f"action_{self.key}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        say(dispatcher, self.key)
        return []


class ActionAskComplaintDescription(_AskFromCatalogue):
    key = "ask_complaint_description"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if _said_since_latest_message(tracker, render("description_too_short")):
            return []  # "能再具体说说吗？…" was just asked: the question again would say it twice
        return await super().run(dispatcher, tracker, domain)


def _said_since_latest_message(tracker: Tracker, text: str) -> bool:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot" and event.get("text") == text:
            return True
    return False


class _AskAgain(_AskFromCatalogue):
    """A question whose second asking answers what the customer said instead of repeating itself:
    "等一下我找找" gets time to look, "我不想留电话" why the number is needed. (Asked the first time,
    the form has not yet set ``requested_slot`` to the slot.)"""

    slot = ""
    again_key = ""

    @staticmethod
    def reason_to_answer(text: str) -> bool:
        raise NotImplementedError

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        again = tracker.get_slot("requested_slot") == self.slot
        answer = again and self.reason_to_answer(latest_text(tracker)) and not _aside_after_a_wait(tracker)
        say(dispatcher, self.answer_key(tracker) if answer else self.key)
        return []

    def answer_key(self, tracker: Tracker) -> str:
        return self.again_key


def _aside_after_a_wait(tracker: Tracker) -> bool:
    """ "等等，我先查下我的投诉进度" at the order question: a status question, not a search for the
    number. It got "好的，不着急😊 找到后直接发给我就行" and no status."""
    text = latest_text(tracker)
    return asks_for_time(text) and latest_intent(tracker) in DIGRESSIONS and says_more_than_wait(text)


class ActionAskOrderId(_AskAgain):
    key, slot, again_key = "ask_order_id", "order_id", "order_take_your_time"
    reason_to_answer = staticmethod(asks_for_time)


class ActionAskPhone(_AskAgain):
    key, slot, again_key = "ask_phone", "phone", "phone_why"

    @staticmethod
    def reason_to_answer(text: str) -> bool:
        return declines_phone(text) or refers_to_number_on_file(text) or asks_for_time(text)

    def answer_key(self, tracker: Tracker) -> str:
        """On WeChat a customer who will not leave a number is offered this chat instead: a person
        can write to them from the console. The only way out used to be cancelling the complaint.
        "等下我找下手机号" got the question again, word for word, as if unheard."""
        text = latest_text(tracker)
        if asks_for_time(text) and not (declines_phone(text) or refers_to_number_on_file(text)):
            return "phone_take_your_time"
        wechat = channel_of(tracker) in PUSH_CHANNELS
        if refers_to_number_on_file(text):  # "就是我微信绑定的那个"
            return "phone_not_on_file_wechat" if wechat else "phone_not_on_file"
        return "phone_why_wechat" if wechat else self.again_key


def _given_phone(tracker: Tracker) -> str | None:
    """The phone slot as a number: None for a customer reached in the chat instead."""
    phone = tracker.get_slot("phone")
    return None if phone in (None, NO_PHONE) else phone


def _contact_line(phone: str | None) -> str:
    return mask_phone(phone) if phone else render("summary_no_phone")


class ActionAskComplaintCategory(Action):
    def name(self) -> str:
        return "action_ask_complaint_category"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        buttons = [
            {"title": CATEGORY_LABELS[c], "payload": f'/inform{{"complaint_category":"{c}"}}'}
            for c in CATEGORIES
        ]
        say(dispatcher, "ask_complaint_category", buttons=buttons)
        return []


def _description_to_file(tracker: Tracker) -> str:
    order = tracker.get_slot("order_id")
    return without_numbers_on_file(
        tracker.get_slot("complaint_description") or "",
        None if order in (None, NO_ORDER) else order,
        _given_phone(tracker),
    )


def summary(tracker: Tracker) -> str:
    order = tracker.get_slot("order_id")
    phone = _given_phone(tracker)
    description = mask_phones_in(_description_to_file(tracker))
    if len(description) > 120:
        description = description[:119] + "…"
    return render(
        "confirm_complaint",
        description=description,
        category=CATEGORY_LABELS.get(tracker.get_slot("complaint_category") or "", "未选择"),
        order="无" if order in (None, NO_ORDER) else order,
        phone=_contact_line(phone),
    )


class ActionAskComplaintConfirmed(Action):
    def name(self) -> str:
        return "action_ask_complaint_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        denied_summary = (
            latest_intent(tracker) == "deny"
            and not is_cancellation(latest_text(tracker))
            and requested_when_customer_wrote(tracker) == "complaint_confirmed"
        )
        if denied_summary:  # "不对" to the summary: ask what to change instead of repeating it
            say(dispatcher, "ask_what_to_change")
            return []
        dispatcher.utter_message(text=summary(tracker), buttons=catalogue()["confirm_complaint"]["buttons"])
        return []


def _asked_what_to_change(tracker: Tracker) -> bool:
    """The bot's last words before the latest message were "好的，请直接告诉我要改的内容…"."""
    seen_latest = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_latest:
                return False
            seen_latest = True
        elif event.get("event") == "bot" and seen_latest:
            return event.get("text") == render("ask_what_to_change")
    return False


def requested_when_customer_wrote(tracker: Tracker) -> str | None:
    """The slot the form had asked for when the latest message arrived."""
    requested = at_last_message = None
    for event in tracker.events:
        if event.get("event") == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value")
        elif event.get("event") == "user":
            at_last_message = requested
    return at_last_message


def _worst_satisfaction(tracker: Tracker) -> tuple[str | None, float | None]:
    """The angriest the customer sounded during this intake (for priority)."""
    worst: tuple[str | None, float | None] = (None, None)
    for event in user_messages_since_form_start(tracker, FORM):
        label, confidence = satisfaction_of(event.get("parse_data") or {})
        if label == "dissatisfied" and (worst[0] != "dissatisfied" or (confidence or 0) > (worst[1] or 0)):
            worst = (label, confidence)
        elif worst[0] is None and label:
            worst = (label, confidence)
    return worst


def reset_intake() -> list[EventType]:
    return [SlotSet(slot, None) for slot in INTAKE_SLOTS] + [SlotSet("requested_slot", None)]


def intake_left() -> list[EventType]:
    """The intake ended without a case, because the message was answered as something else: its
    slots cleared, the form off, the bot waiting for the customer."""
    return [*reset_intake(), ActiveLoop(None), FollowupAction("action_listen")]


#: A number and nothing else: "1", "２", "3。".
_BARE_NUMBER = re.compile(r"^\s*([0-9０-９]{1,2})\s*[。.!！]?\s*$")


def stray_number(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType] | None:
    """ "1" typed at one of the intake's questions was thanked as a one-point score ("谢谢您的评分（1分）！
    非常抱歉…") and kept as feedback. At the category question it picks that option of the menu (the
    summary shows the choice, to be corrected); anywhere else it is a malformed answer. None outside
    the intake, or for a score written as one ("5分")."""
    matched = _BARE_NUMBER.match(latest_text(tracker))
    if tracker.active_loop_name != FORM or matched is None:
        return None
    number = int(matched.group(1))  # int() reads full-width digits too
    requested = tracker.get_slot("requested_slot")
    if requested == "complaint_category" and 1 <= number <= len(CATEGORIES):
        return [SlotSet("complaint_category", CATEGORIES[number - 1])]
    if requested == "order_id":
        say(dispatcher, "invalid_order_id")
    elif requested == "phone":
        say(dispatcher, "invalid_phone")
    return []  # the form asks its question again


class ActionSubmitComplaint(Action):
    def name(self) -> str:
        return "action_submit_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        services = await get_services()
        order = tracker.get_slot("order_id")
        label, confidence = _worst_satisfaction(tracker)
        try:
            case = await services.cases.open_case(
                CaseDraft(
                    sender_id=tracker.sender_id,
                    channel=channel_of(tracker),
                    description=_description_to_file(tracker),
                    category=tracker.get_slot("complaint_category") or "other",
                    phone=_given_phone(tracker),
                    order_id=None if order in (None, NO_ORDER) else order,
                    satisfaction=label,
                    satisfaction_confidence=confidence,
                )
            )
        except Exception:  # the customer must never see a trace, and must not lose the intake
            logger.exception("could not open a case for %s", tracker.sender_id)
            say(dispatcher, "case_creation_failed")
            return [SlotSet("complaint_confirmed", None), FollowupAction(FORM)]
        events = reset_intake()
        say(
            dispatcher,
            "case_created",
            attached=await _attached(services, case.number),
            case_number=case.number,
            category_label=CATEGORY_LABELS[case.category],
            priority=case.priority.label,
            first_response_due=format_local(case.first_response_due, services.cases.tz),
            contact=render("contact_by_phone", tail=case.phone[-4:])
            if case.phone
            else render("contact_in_wechat"),
        )
        if case.priority.value == "P1":
            # Safety: a person takes over at once. (Anger is handed over before this, mid-intake.)
            from actions.handoff import hand_to_a_person

            events += await hand_to_a_person(
                dispatcher, tracker, "p1_case", case_number=case.number, priority=case.priority.value
            )
        return events


ATTACHMENT_WORDS = {"image": "张图片", "video": "段视频", "location": "个位置", "link": "个链接"}


async def _attached(services: Services, number: str) -> str:
    """ "附件：2 张图片\n": the photos sent during the intake were promised to go with the case
    ("登记投诉时会一起附上"); the receipt says they did."""
    try:
        kinds = Counter(a.kind for a in await services.cases.attachments(number))
    except Exception:
        logger.exception("could not count the attachments of %s", number)
        return ""
    shown = [f"{n} {ATTACHMENT_WORDS.get(kind, '个文件')}" for kind, n in sorted(kinds.items())]
    return f"附件：{'、'.join(shown)}\n" if shown else ""


class ActionCancelComplaint(Action):
    def name(self) -> str:
        return "action_cancel_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if _never_mind_the_phone(tracker):
            wechat = channel_of(tracker) in PUSH_CHANNELS
            say(dispatcher, "cancel_or_go_on_wechat" if wechat else "cancel_or_go_on")
            # The intake stays open for the answer; re-activating it clears the form's rejection of
            # "那算了", which would otherwise leave the next answer to the fallback rules first.
            return [ActiveLoop(FORM), FollowupAction("action_listen")]
        say(dispatcher, "complaint_cancelled")
        return [ActiveLoop(None), *reset_intake()]


def _never_mind_the_phone(tracker: Tracker) -> bool:
    """ "那算了" after the customer's worry about the phone was answered: never mind the number, or
    the whole complaint? It cancelled the complaint; now the customer is asked, once."""
    if tracker.get_slot("requested_slot") != "phone" or not only_never_mind(latest_text(tracker)):
        return False
    earlier = [str(e.get("text") or "") for e in user_messages_since_form_start(tracker, FORM)[:-1]]
    return any(declines_phone(t) for t in earlier) and not any(only_never_mind(t) for t in earlier)


class ActionRouteInform(Action):
    """Information, a yes or a no with no question open: a bare yes or no is acknowledged; a
    described problem starts the intake, a case number gets its status, anything else gets a
    question about what the customer wants. A "no" with more in it ("账单不对", "取消订单") is not
    met with "好的"."""

    def name(self) -> str:
        return "action_route_inform"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if await answer_withdrawal(dispatcher, tracker):  # "撤回投诉" is heard as a "no"
            return []
        if answers_what_is_wrong(tracker):  # "尺寸不对" to "请问衣服遇到了什么问题？"
            return [FollowupAction(FORM)]
        if await answer_contact_question(dispatcher, tracker):  # "给我一个联系电话" started an intake
            return []
        if tracker.active_loop_name is None and answer_cancellation(dispatcher, tracker):
            return []  # "取消订单": a person does that
        if tracker.active_loop_name is None and only_chases(latest_text(tracker)):  # "赶紧的" is a yes
            chased = await about_an_open_case(dispatcher, tracker, domain)
            if chased is not None:
                return chased
        if tracker.active_loop_name is None and ask_what_went_wrong(dispatcher, tracker):  # "家里那台冰箱"
            return []
        if tracker.active_loop_name is None and ask_fault_again(dispatcher, tracker):  # "对", but what?
            return []
        if tracker.active_loop_name is None and asks_for_case_number(latest_text(tracker)):
            return await ActionCaseStatus().run(dispatcher, tracker, domain)  # "我的工单号是多少"
        meant = affirmed_guess(tracker)
        if meant is not None:  # "是的" to "您是想投诉或反映问题吗？": what was offered first
            taken = await self._take_the_guess(next(iter(guesses(meant)), None), dispatcher, tracker, domain)
            if taken is not None:
                return taken
        if denied_a_guess(tracker):
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        yes_or_no = latest_intent(tracker) in ("affirm", "deny")
        if yes_or_no and (tracker.active_loop or {}).get("name") == FORM:
            # A yes or no the intake did not take ("嗯嗯那个啥" at the summary, heard as a yes) got
            # "这个我帮不上忙…" or "还有什么可以帮您的吗？" in the middle of filing; the question follows.
            say(dispatcher, "intake_not_placed")
            return []
        if latest_intent(tracker) == "affirm" and confirms(latest_text(tracker)) and unplaced_words(tracker):
            # "对" to "您是要投诉反映问题，还是查询之前投诉的进度呢？" got "好的。还有什么可以帮您的吗？" and
            # the words before it were lost. A yes takes the first offer: the intake, with those words.
            return [FollowupAction(FORM)]
        if yes_or_no and is_plain_answer(latest_text(tracker)):
            dispatcher.utter_message(response="utter_anything_else")
            return []
        parse = latest_parse(tracker)
        ranking = {r.get("name"): r.get("confidence", 0.0) for r in parse.get("intent_ranking") or []}
        label, confidence = satisfaction_of(parse)
        describes_problem = ranking.get("complain", 0.0) >= PROBLEM_LIKELIHOOD or (
            label == "dissatisfied" and (confidence or 0.0) >= 0.6
        )
        if yes_or_no:  # the form takes no description from a "no": the customer is asked instead
            if describes_problem:
                say(dispatcher, "inform_without_context")
            else:  # "取消订单": something the bot cannot do, so it says what it can
                dispatcher.utter_message(response="utter_out_of_scope")
            return []
        if describes_problem and is_substantive_description(latest_text(tracker)):
            return [FollowupAction(FORM)]
        if _gives_a_number(tracker) and describes_beside_numbers(_words_besides_numbers(tracker)):
            return [FollowupAction(FORM)]  # a complaint with its details: not a correction either
        if await answer_correction(dispatcher, tracker):
            return []
        if latest_entities(tracker, "case_number"):
            # Answered here, not as a follow-up action: no rule says what follows one, and the core
            # fallback then handed the customer who had just been answered to a person.
            return await ActionCaseStatus().run(dispatcher, tracker, domain)
        say(dispatcher, "inform_without_context")
        return []

    @staticmethod
    async def _take_the_guess(
        guess: str | None, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType] | None:
        if guess == "complain":
            return [FollowupAction(FORM)]  # the form reads the words the customer confirmed
        if guess == "ask_case_status":
            return await ActionCaseStatus().run(dispatcher, tracker, domain)
        if guess == "request_human":
            from actions.handoff import hand_to_a_person

            return await hand_to_a_person(dispatcher, tracker, "customer_request")
        return None  # anything else: a yes is agreed with, as before
