"""Small helpers shared by the action modules."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.messages import render, say
from bot.cases.intake import confirms, is_cancellation, names_something, strongly_displeased
from bot.feedback.rules import purchase_without_problem
from bot.nlu.patterns import english_words

#: Words the bot could not place belong to a complaint that follows them this soon.
UNPLACED_FOR_SECONDS = 30 * 60


def _answer_to_a_guess(tracker: Tracker) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The misunderstood message and the customer's answer to the bot's guess about it ("您是想投诉
    吗？"), when the latest message is that answer. Events: the misunderstood message, the answer,
    a rewind, the answer replayed."""
    events = tracker.events
    users: list[int] = []  # the last three user messages, read from the end: actions call this often
    for i in range(len(events) - 1, -1, -1):
        if events[i].get("event") == "user":
            users.insert(0, i)
            if len(users) == 3:
                break
    if len(users) < 3:
        return None
    original, answered, replayed = (events[i] for i in users[-3:])
    if answered.get("text") != replayed.get("text"):
        return None
    if not any(e.get("event") == "rewind" for e in events[users[-2] : users[-1]]):
        return None
    words = str(original.get("text") or "")
    if ((original.get("parse_data") or {}).get("intent") or {}).get("name") != "nlu_fallback":
        return None
    if not words or words.startswith("/"):
        return None
    return original, replayed


def _takes_the_guess(answer: dict[str, Any]) -> bool:
    """A tapped button, or a typed yes ("是的", "确认") to the bot's first guess."""
    text = str(answer.get("text") or "")
    intent = ((answer.get("parse_data") or {}).get("intent") or {}).get("name")
    return text.startswith("/") or (intent == "affirm" and confirms(text))


def clarified_message(tracker: Tracker) -> dict[str, Any] | None:
    """The message a customer meant when they answered the two-stage fallback ("您是想投诉吗？")
    with a button or a typed yes.

    Rasa replays the tapped payload ("/complain"), or the "是的", as the latest message, so without
    this the intake would ask them to describe a problem they have just described, and feedback
    would be recorded as "/give_feedback".
    """
    answer = _answer_to_a_guess(tracker)
    if answer is None or not _takes_the_guess(answer[1]):
        return None
    return _meant(answer[0])


def _meant(original: dict[str, Any]) -> dict[str, Any]:
    """The misunderstood message's parse, with the words as the customer typed them."""
    return {**(original.get("parse_data") or {}), "text": str(original.get("text"))}


def affirmed_guess(tracker: Tracker) -> dict[str, Any] | None:
    """The misunderstood message's parse, when the latest message is a typed yes to the bot's guess
    about it. Rasa ends its fallback on the yes and replays "是的" as an ordinary "affirm": the
    customer who typed "确认" to "您是想投诉或反映问题吗？" got "好的。还有什么可以帮您的吗？" and their
    complaint was filed nowhere."""
    answer = _answer_to_a_guess(tracker)
    if answer is None or str(answer[1].get("text") or "").startswith("/") or not _takes_the_guess(answer[1]):
        return None  # not a yes, or a tap: Rasa itself replays the tapped intent
    return _meant(answer[0])


def unplaced_words(tracker: Tracker) -> str | None:
    """The customer's previous message, when the bot could not place it and the latest message
    describes the problem instead of answering the bot's question: "我上周买的冰箱" ("您是想投诉或反映
    问题吗？"), then "今天发现不制冷了". The case said only "今天发现不制冷了": nobody knew what had
    stopped cooling."""
    answer = _answer_to_a_guess(tracker)
    if answer is not None:
        original, replayed = answer
        if _takes_the_guess(replayed):
            return None  # a tap or a yes: the clarified words are the latest message's own
        return _if_recent(original, replayed)
    return _previous_if_answered_with(tracker, "inform_without_context") or _purchase_asked_about(tracker)


def _purchase_asked_about(tracker: Tracker) -> str | None:
    """ "我上个月在你们这买的洗衣机", if the bot's answer was "请问洗衣机遇到了什么问题？", or if the
    customer said only "对" to that and was asked again (`ask_fault_again`)."""
    asked = _answers_purchase_question(tracker)
    if asked is not None:
        return asked
    users = [i for i, e in enumerate(tracker.events) if e.get("event") == "user"][-3:]
    if len(users) < 3:
        return None
    first = tracker.events[users[0]]
    thing = purchase_without_problem(_read(first))
    if thing is None:
        return None
    said = [
        [str(e.get("text")) for e in tracker.events[start + 1 : end] if e.get("event") == "bot"]
        for start, end in itertools.pairwise(users)
    ]
    if render("purchase_without_problem", thing=thing) not in said[0]:
        return None
    if render("purchase_fault_asked_again", thing=thing) not in said[1]:
        return None
    return _if_recent(first, tracker.events[users[2]])


def _answers_purchase_question(tracker: Tracker) -> str | None:
    """The purchase's words, if the latest message answers "请问洗衣机遇到了什么问题？"."""
    return _previous_if_answered_with(
        tracker, "purchase_without_problem", lambda words: {"thing": purchase_without_problem(words)}
    )


def ask_fault_again(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """ "对" / "嗯" to "请问冰箱遇到了什么问题？" says there is a problem, not which: it started the
    intake with the purchase as the whole description, and the fault was asked for nowhere."""
    if latest_intent(tracker) != "affirm" or names_something(latest_text(tracker)):
        return False
    asked = _answers_purchase_question(tracker)
    thing = purchase_without_problem(asked) if asked else None
    if thing:
        say(dispatcher, "purchase_fault_asked_again", thing=thing)
    return bool(thing)


def answers_what_is_wrong(tracker: Tracker) -> bool:
    """The reply to "请问洗衣机遇到了什么问题？", whatever the models make of it: "声音很大" was
    "您是想评价我们的服务吗？", "制冷效果差" thanked as feedback, "尺寸不对" a no. After that question a
    displeased answer that names something is the problem."""
    text = latest_text(tracker)
    if text.startswith("/") or not names_something(text) or is_cancellation(text):
        return False
    if satisfaction_of(latest_parse(tracker))[0] != "dissatisfied":
        return False
    return _purchase_asked_about(tracker) is not None


def ask_what_went_wrong(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """ "我上个月在你们这买的洗衣机" / "我家空调", and nothing else: "请问洗衣机遇到了什么问题？"
    rather than an apology, "这个我帮不上忙" or a guess. The answer joins these words."""
    thing = purchase_without_problem(latest_text(tracker))
    if thing:
        say(dispatcher, "purchase_without_problem", thing=thing)
    return bool(thing)


def fragment_before(tracker: Tracker) -> str | None:
    """The customer's previous message, when it was too short to describe the problem ("快递" to the
    description question got "能再具体说说吗？") and the latest one goes on from it ("三天了还没到"):
    the case said only "三天了还没到", and nobody knew what had not arrived."""
    return _previous_if_answered_with(tracker, "description_too_short")


def _previous_if_answered_with(
    tracker: Tracker, key: str, fill: Callable[[str], dict[str, Any]] | None = None
) -> str | None:
    """The customer's previous message, if the bot answered it with catalogue message ``key`` (its
    placeholders ``fill``ed from that message's words) and it was recent."""
    users = [i for i, e in enumerate(tracker.events) if e.get("event") == "user"][-2:]
    if len(users) < 2:
        return None
    earlier = tracker.events[users[0]]
    asked = render(key, **(fill(_read(earlier)) if fill else {}))
    between = tracker.events[users[0] + 1 : users[1]]
    if not any(e.get("event") == "bot" and e.get("text") == asked for e in between):
        return None
    return _if_recent(tracker.events[users[0]], tracker.events[users[1]])


def _read(event: dict[str, Any]) -> str:
    """A user event's words as the models read them."""
    return str((event.get("parse_data") or {}).get("text") or event.get("text") or "")


def _if_recent(earlier: dict[str, Any], later: dict[str, Any]) -> str | None:
    words = str(earlier.get("text") or "")
    if not words or words.startswith("/"):
        return None
    if float(later.get("timestamp") or 0) - float(earlier.get("timestamp") or 0) > UNPLACED_FOR_SECONDS:
        return None
    return words


def denied_a_guess(tracker: Tracker) -> bool:
    """A typed "不是" to the bot's guess. Rasa ends the fallback on any intent but its own
    "out_of_scope" (the "都不是" button), so without this the customer got "好的" and lost the
    chance to say it another way."""
    answer = _answer_to_a_guess(tracker)
    if answer is None:
        return False
    return ((answer[1].get("parse_data") or {}).get("intent") or {}).get("name") == "deny"


def latest_parse(tracker: Tracker) -> dict[str, Any]:
    """The latest message as the customer meant it: after a clarifying tap, the words and the
    satisfaction of the message they clarified, with the intent and entities of the tap."""
    latest = tracker.latest_message
    meant = clarified_message(tracker)
    if meant is None:
        return latest
    # A tap carries the message's entities in its payload; a typed yes has none of its own.
    typed = not str(latest.get("text") or "").startswith("/")
    entities = {"entities": meant.get("entities") or []} if typed else {}
    return {**latest, "text": meant["text"], "satisfaction": meant.get("satisfaction"), **entities}


def latest_text(tracker: Tracker) -> str:
    return str(latest_parse(tracker).get("text") or "")


def bot_words_before(tracker: Tracker) -> str | None:
    """What the bot said last before the customer's latest message; None if the customer wrote
    between, or it said nothing."""
    events = tracker.events
    latest = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    for event in reversed(events[:latest]):
        if event.get("event") == "user":
            return None
        if event.get("event") == "bot":
            return str(event.get("text") or "")
    return None


def words_behind(tracker: Tracker) -> str:
    """The customer's own words for the latest message. A tapped button ("/request_human" under
    "Sorry, I can only read Chinese…") stands for the message it answered, if that was recent: an
    out-of-hours case for a person read "无客服在线时转人工：/request_human"."""
    text = latest_text(tracker)
    if not text.startswith("/"):
        return text
    users = [e for e in tracker.events if e.get("event") == "user"][-2:]
    return (_if_recent(users[0], users[1]) or "") if len(users) == 2 else ""


def as_typed(tracker: Tracker, text: str) -> str:
    """``text`` as the customer typed it: the NLU reads simplified characters and chat spellings
    written out ("不戳" → "不错"), but what is kept as their own words is what they wrote."""
    for event in reversed(tracker.events):
        if event.get("event") == "user" and (event.get("parse_data") or {}).get("text") == text:
            return str(event.get("text") or text)
    return text


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def latest_entities(tracker: Tracker, name: str) -> list[dict[str, Any]]:
    return [e for e in latest_parse(tracker).get("entities") or [] if e.get("entity") == name]


def first_entity_value(tracker: Tracker, name: str) -> Any:
    found = latest_entities(tracker, name)
    return found[0].get("value") if found else None


def satisfaction_of(parse: dict[str, Any]) -> tuple[str | None, float | None]:
    sat = parse.get("satisfaction") or {}
    return sat.get("label"), sat.get("confidence")


def vents(tracker: Tracker) -> bool:
    """Strong displeasure in Chinese words the models place nowhere ("你们公司太坑了", "气死我了"):
    a complaint not yet told, not something the bot cannot help with."""
    text = latest_text(tracker)
    if text.startswith("/") or english_words(text) or is_cancellation(text):
        return False
    return strongly_displeased(*satisfaction_of(latest_parse(tracker)))


def channel_of(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "rest"


def user_messages_since_form_start(tracker: Tracker, form: str) -> list[dict[str, Any]]:
    """User events of the current run of ``form``, including the message that started it."""
    return [e for e in events_since_form_start(tracker, form) if e.get("event") == "user"]


def answers_not_taken(tracker: Tracker, form: str, slot: str) -> int:
    """How often, in the current run of ``form``, an answer for ``slot`` was not one it could take
    (validation set the slot to None, and the question came again). The form asks its questions
    itself, so they leave no event of their own to count."""
    events = events_since_form_start(tracker, form)
    return sum(
        1 for e in events if e.get("event") == "slot" and e.get("name") == slot and e.get("value") is None
    )


def events_since_form_start(tracker: Tracker, form: str) -> list[dict[str, Any]]:
    """Events of the current run of ``form``, from the message that started it."""
    events = list(tracker.events)
    start, active = 0, None
    for i, event in enumerate(events):
        if event.get("event") == "active_loop":
            if event.get("name") == form and active != form:
                start = i
            active = event.get("name")
    # The message that triggered the form comes just before its activation.
    for i in range(min(start, len(events) - 1), -1, -1):
        if events[i].get("event") == "user":
            start = i
            break
    return events[start:]
