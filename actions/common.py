"""Small helpers shared by the action modules."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

PRIORITY_LABELS = {"P1": "P1 特急", "P2": "P2 紧急", "P3": "P3 普通", "P4": "P4 一般"}


def latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


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
