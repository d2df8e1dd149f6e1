"""The Rasa server's tracker store against Rasa's own SQL tracker store, side by side.

Every message on every channel costs the Rasa server a tracker load and a save. This plays N
conversations of M turns (five events a turn, as the bench's scripted conversations produce) through
Rasa's stock ``SQLTrackerStore`` and through ``bot.rasa_stores.CareLoopTrackerStore`` on the same
database, alternating, and prints the CPU each spends per turn (all threads: ours saves and loads in
worker threads), and the ratio. SQLite in a temporary directory, or DATABASE_URL when set.

Usage: python bench/tracker_store.py [--conversations 200] [--turns 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rasa.core.tracker_store import SQLTrackerStore, TrackerStore  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402

from bot.config import sync_database_url  # noqa: E402
from bot.rasa_stores import CareLoopTrackerStore  # noqa: E402

INTENTS = ["greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "out_of_scope", "complain"]


def turn(i: int) -> list[Event]:
    parse = {
        "text": "我的投诉处理得怎么样了",
        "intent": {"name": "ask_case_status", "confidence": 0.9},
        "entities": [],
        "intent_ranking": [{"name": n, "confidence": 0.01} for n in INTENTS],
        "satisfaction": {"label": "neutral", "confidence": 0.8},
        "message_id": f"m{i}",
    }
    return [
        UserUttered(parse["text"], parse["intent"], [], parse),
        ActionExecuted("action_case_status", policy="RulePolicy", confidence=1.0),
        BotUttered("您目前没有处理中的投诉。"),
        SlotSet("human_offered", False),
        ActionExecuted("action_listen", policy="RulePolicy", confidence=1.0),
    ]


async def play(store: TrackerStore, domain: Domain, conversations: int, turns: int) -> float:
    """CPU milliseconds per turn: load the tracker, add a turn, save it."""
    run = uuid.uuid4().hex[:8]
    started = time.process_time()
    for c in range(conversations):
        sender = f"bench-{run}-{c}"
        for t in range(turns):
            tracker = await store.retrieve(sender)
            if tracker is None:
                tracker = DialogueStateTracker(sender, domain.slots)
                for event in (
                    ActionExecuted("action_session_start"),
                    SessionStarted(),
                    ActionExecuted("action_listen"),
                ):
                    tracker.update(event)
            for event in turn(c * turns + t):
                tracker.update(event)
            await store.save(tracker)
    return (time.process_time() - started) * 1000 / (conversations * turns)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="careloop-ts-") as tmp:
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
        os.environ["DATABASE_URL"], os.environ["CARELOOP_VAR_DIR"] = url, tmp
        domain = Domain.load(str(ROOT / "domain.yml"))
        stores = {"Rasa SQLTrackerStore": SQLTrackerStore(domain, host=sync_database_url(url))}
        stores["CareLoopTrackerStore"] = CareLoopTrackerStore(domain)
        print(
            f"database: {url.split('@')[-1]}; {args.conversations} conversations x {args.turns} turns a round"
        )
        figures: dict[str, list[float]] = {name: [] for name in stores}
        for r in range(args.rounds):
            order = list(stores) if r % 2 == 0 else list(reversed(stores))
            for name in order:
                figures[name].append(asyncio.run(play(stores[name], domain, args.conversations, args.turns)))
        for name, values in figures.items():
            print(
                f"{name:22} {min(values):6.2f} ms CPU per turn (best of {args.rounds}; rounds "
                + ", ".join(f"{v:.2f}" for v in values)
                + ")"
            )
        stock, ours = (min(v) for v in figures.values())
        print(f"CareLoop / Rasa: x{ours / stock:.2f} of the CPU")


if __name__ == "__main__":
    main()
