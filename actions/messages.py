"""The catalogue of what actions say (``messages.yml``), so wording is edited in one file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk.executor import CollectingDispatcher

CATALOGUE = Path(__file__).with_name("messages.yml")


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, Any]]:
    with open(CATALOGUE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def render(key: str, **values: Any) -> str:
    return str(catalogue()[key]["text"]).format(**values)


def say(
    dispatcher: CollectingDispatcher,
    key: str,
    buttons: list[dict[str, str]] | None = None,
    *,
    purpose: str | None = None,
    **values: Any,
) -> None:
    """Send catalogue message ``key`` with its placeholders filled and its (or given) buttons.
    ``purpose`` travels with the message to the channel (the WeChat outbox records it)."""
    entry = catalogue()[key]
    extra = {"purpose": purpose} if purpose else {}
    dispatcher.utter_message(
        text=render(key, **values), buttons=buttons or entry.get("buttons") or [], **extra
    )
