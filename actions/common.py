"""Small helpers shared by the action modules."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker


def clarified_message(tracker: Tracker) -> dict[str, Any] | None:
    """The message a customer meant when they answered the two-stage fallback ("您是想投诉吗？")
    with a button.

    Rasa replays the tapped payload ("/complain") as the latest message, so without this the
    intake would ask them to describe a problem they have just described, and feedback would be
    recorded as "/give_feedback". Events: the misunderstood message, the tap, a rewind, the replay.
    """
    events = tracker.events
    users: list[int] = []  # the last three user messages, read from the end: actions call this often
    for i in range(len(events) - 1, -1, -1):
        if events[i].get("event") == "user":
            users.insert(0, i)
            if len(users) == 3:
                break
    if len(users) < 3:
        return None
    original, tapped, replayed = (events[i] for i in users[-3:])
    text = str(replayed.get("text") or "")
    if not text.startswith("/") or tapped.get("text") != text:
        return None
    if not any(e.get("event") == "rewind" for e in events[users[-2] : users[-1]]):
        return None
    parse = original.get("parse_data") or {}
    words = str(original.get("text") or "")
    if (parse.get("intent") or {}).get("name") != "nlu_fallback" or not words or words.startswith("/"):
        return None
    return {**parse, "text": words}


def latest_parse(tracker: Tracker) -> dict[str, Any]:
    """The latest message as the customer meant it: after a clarifying tap, the words and the
    satisfaction of the message they clarified, with the intent and entities of the tap."""
    latest = tracker.latest_message
    meant = clarified_message(tracker)
    if meant is None:
        return latest
    return {**latest, "text": meant["text"], "satisfaction": meant.get("satisfaction")}


def latest_text(tracker: Tracker) -> str:
    return str(latest_parse(tracker).get("text") or "")


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def latest_entities(tracker: Tracker, name: str) -> list[dict[str, Any]]:
    return [e for e in tracker.latest_message.get("entities") or [] if e.get("entity") == name]


def first_entity_value(tracker: Tracker, name: str) -> Any:
    found = latest_entities(tracker, name)
    return found[0].get("value") if found else None


def satisfaction_of(parse: dict[str, Any]) -> tuple[str | None, float | None]:
    sat = parse.get("satisfaction") or {}
    return sat.get("label"), sat.get("confidence")


def channel_of(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "rest"


def user_messages_since_form_start(tracker: Tracker, form: str) -> list[dict[str, Any]]:
    """User events of the current run of ``form``, including the message that started it."""
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
    return [e for e in events[start:] if e.get("event") == "user"]
