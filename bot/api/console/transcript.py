"""The conversation as an agent reads it, from the Rasa tracker (the one transcript, agent turns included).

Plain Python: the console renders these items and the live stream produces the same shape, so a page
reload and a live update look alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from bot.handoff.model import MENU_SHOWN

#: Rasa events that are not turns but worth a line in the transcript.
MARKERS = {
    "pause": "机器人已暂停，等待人工客服",
    "resume": "机器人已恢复对话",
    "session_started": "新会话开始",
}


@dataclass(frozen=True)
class Turn:
    """One line of the transcript. ``who`` is customer, bot, agent or system."""

    who: str
    text: str
    at: datetime | None
    agent: str | None = None  # username, for agent turns
    agent_name: str | None = None
    buttons: list[str] = field(default_factory=list)


def _moment(raw: Any) -> datetime | None:
    if isinstance(raw, (int, float)) and raw > 0:
        return datetime.fromtimestamp(raw, tz=timezone.utc)
    if isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return None


def _buttons(data: Any) -> list[str]:
    if not isinstance(data, Mapping):
        return []
    found = []
    for key in ("buttons", "quick_replies"):
        for button in data.get(key) or []:
            if isinstance(button, Mapping):
                title = button.get("title") or button.get("payload")
                if title:
                    found.append(str(title))
    return found


def _bot_text(event: Mapping[str, Any]) -> str:
    text = event.get("text")
    if text:
        return str(text)
    raw = event.get("data")
    data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    if data.get("image"):
        return "[图片]"
    if data.get("attachment"):
        return "[附件]"
    custom = data.get("custom")
    if isinstance(custom, Mapping) and isinstance(custom.get("template"), Mapping):
        fields = custom["template"].get("data")
        fields = fields if isinstance(fields, Mapping) else {}
        values = [str(f["value"]) for f in fields.values() if isinstance(f, Mapping) and f.get("value")]
        return " ".join(["[模板消息]", *values])
    if custom:
        return "[自定义消息]"
    return ""


def _customer_text(text: str, metadata: Mapping[str, Any], offered: Mapping[str, str]) -> str:
    """What the customer did where Rasa keeps only a payload: "/affirm" was a tap on "需要人工",
    "/greet" a follow of the account."""
    if not text.startswith("/"):
        return text
    raw = metadata.get("wechat")
    wechat: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    event = str(wechat.get("event") or "").lower()
    if event in ("subscribe", "subscribe_scan"):
        return "[关注公众号]"
    if event == "click":
        intent = text[1:].split("{")[0]
        return f"[菜单] {MENU_SHOWN.get(intent, intent)}"
    return f"[点选] {offered[text]}" if text in offered else text


def _offered(data: Any) -> dict[str, str]:
    """payload → title of the buttons a bot turn offered."""
    if not isinstance(data, Mapping):
        return {}
    buttons = [b for b in data.get("buttons") or [] if isinstance(b, Mapping)]
    return {str(b["payload"]): str(b.get("title") or b["payload"]) for b in buttons if b.get("payload")}


def turns_from_tracker(tracker: Mapping[str, Any], names: Mapping[str, str]) -> list[Turn]:
    """Customer, bot and agent turns in order; ``names`` maps agent usernames to display names."""
    turns: list[Turn] = []
    offered: dict[str, str] = {}  # the buttons of the bot's latest turn that had some
    said_last = ""  # the customer's latest words
    replayed: str | None = None  # after a rewind, Rasa replays the customer's message: shown once
    for event in tracker.get("events") or []:
        if not isinstance(event, Mapping):
            continue
        kind = event.get("event")
        at = _moment(event.get("timestamp"))
        raw_metadata = event.get("metadata")
        metadata: Mapping[str, Any] = raw_metadata if isinstance(raw_metadata, Mapping) else {}
        if kind == "rewind":
            replayed = said_last
        elif kind == "user":
            text = str(event.get("text") or "")
            if text and text == replayed:
                replayed = None
                continue
            replayed = None
            if text:
                said_last = text
                turns.append(Turn("customer", _customer_text(text, metadata, offered), at))
        elif kind == "bot":
            text = _bot_text(event)
            buttons = _buttons(event.get("data"))
            offered = _offered(event.get("data")) or offered
            if not text and not buttons:
                continue
            agent = metadata.get("agent")
            if agent:
                agent = str(agent)
                turns.append(Turn("agent", text, at, agent, names.get(agent, agent), buttons))
            else:
                turns.append(Turn("bot", text, at, buttons=buttons))
        elif kind in MARKERS:
            turns.append(Turn("system", MARKERS[kind], at))
    return turns


def live_turn(event: Mapping[str, Any], names: Mapping[str, str]) -> Turn | None:
    """A LiveBus conversation event (customer/agent/bot/status) as a transcript line."""
    kind = event.get("type")
    at = _moment(event.get("at"))
    text = str(event.get("text") or "")
    if kind == "customer" and text:
        return Turn("customer", text, at)
    if kind == "agent" and text:
        agent = str(event.get("agent") or "")
        return Turn("agent", text, at, agent or None, names.get(agent, agent) or None)
    if kind == "bot" and text:
        return Turn("bot", text, at)
    if kind == "status":
        return Turn("system", "对话已交还机器人" if event.get("status") == "bot" else "对话状态已更新", at)
    return None


def local(moment: datetime | None, tz: ZoneInfo, fmt: str = "%m-%d %H:%M:%S") -> str:
    return moment.astimezone(tz).strftime(fmt) if moment else ""


def turn_to_dict(turn: Turn, tz: ZoneInfo) -> dict[str, Any]:
    """For the live stream: the same fields the page shows."""
    return {
        "who": turn.who,
        "text": turn.text,
        "time": local(turn.at, tz),
        "agent": turn.agent,
        "agent_name": turn.agent_name,
        "buttons": turn.buttons,
    }


def names_of(agents: Iterable[Any]) -> dict[str, str]:
    return {a.username: a.display_name for a in agents}
