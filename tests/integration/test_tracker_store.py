"""The Rasa server's tracker store: Rasa's SQL tracker store's rows and trackers, for less CPU."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.config import PROJECT_ROOT, sync_database_url
from bot.rasa_stores import CareLoopTrackerStore

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))


def _turn(text: str, intent: str, at: float) -> list[Event]:
    parse = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}
    return [
        UserUttered(text, parse["intent"], [], parse, timestamp=at),
        ActionExecuted("action_case_status", policy="RulePolicy", confidence=1.0, timestamp=at + 0.1),
        BotUttered("您目前没有处理中的投诉。", timestamp=at + 0.2),
        SlotSet("human_offered", False, timestamp=at + 0.3),
        ActionExecuted("action_listen", timestamp=at + 0.4),
    ]


def _session_start(at: float) -> list[Event]:
    return [
        ActionExecuted("action_session_start", timestamp=at),
        SessionStarted(timestamp=at + 0.01),
        ActionExecuted("action_listen", timestamp=at + 0.02),
    ]


async def _conversation(store: SQLTrackerStore, sender: str) -> list[list[dict[str, Any]]]:
    """Three turns, a new conversation session, two more; what ``retrieve`` gives after each save."""
    seen = []
    steps = [_session_start(1000.0), *(_turn("进度", "ask_case_status", 1001.0 + i) for i in range(3))]
    steps += [_session_start(5000.0), *(_turn("你好", "greet", 5001.0 + i) for i in range(2))]
    for i, events in enumerate(steps):
        tracker = await store.retrieve(sender) if i else None
        tracker = tracker or DialogueStateTracker(sender, DOMAIN.slots)
        for event in events:
            tracker.update(event)
        await store.save(tracker)
        seen.append([e.as_dict() for e in (await store.retrieve(sender)).events])  # type: ignore[union-attr]
    return seen


def _rows(store: SQLTrackerStore, sender: str) -> list[tuple[Any, ...]]:
    with store.session_scope() as session:
        rows = (
            session.query(store.SQLEvent)
            .filter(store.SQLEvent.sender_id == sender)
            .order_by(store.SQLEvent.id)
        )
        return [(r.type_name, r.timestamp, r.intent_name, r.action_name, r.data) for r in rows]


async def test_the_same_rows_and_trackers_as_rasas_own_store(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saves write Core statements compiled once instead of ORM objects, and loads read only the
    events' data: the rows written and the trackers read back must not change."""
    stock = SQLTrackerStore(DOMAIN, host=f"sqlite:///{tmp_path / 'stock.db'}")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CARELOOP_VAR_DIR", str(tmp_path))
    ours = CareLoopTrackerStore(DOMAIN)
    assert ours.engine.url.render_as_string(hide_password=False) == sync_database_url(database_url)
    sender = f"ts-{uuid.uuid4().hex[:8]}"

    theirs_seen, ours_seen = await _conversation(stock, sender), await _conversation(ours, sender)
    assert ours_seen == theirs_seen
    # From the latest session_started on: the second session only
    assert len(ours_seen[-1]) == 2 + 2 * 5 and ours_seen[-1][0]["event"] == "session_started"
    assert _rows(ours, sender) == _rows(stock, sender) and len(_rows(ours, sender)) == 2 * 3 + 5 * 5
    full = await ours.retrieve_full_tracker(sender)
    assert full is not None and len(full.events) == 31
    assert await ours.retrieve(f"nobody-{sender}") is None
