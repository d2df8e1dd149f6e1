"""Rasa tracker store on CareLoop's database, with its blocking SQL kept off the event loop.

Rasa's stock ``SQLTrackerStore`` runs synchronous SQLAlchemy inside coroutines, so every save and
load stalls the Rasa server for all customers. This subclass takes its database from CareLoop's
settings and runs the same statements in a worker thread, written in SQLAlchemy Core (below).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import event

from bot.config import Settings, sync_database_url


class CareLoopTrackerStore(SQLTrackerStore):
    def __init__(
        self,
        domain: Domain | None = None,
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("host", None)  # Rasa passes the endpoint's url as host; ours comes from settings
        settings = Settings.from_env()
        url = sync_database_url(settings.database_url)
        if url.startswith("sqlite:///"):
            settings.var_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)
        if self.engine.dialect.name == "sqlite":

            @event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        await asyncio.to_thread(self._save_sync, tracker)

    # Rasa's own save and load go through the ORM: a row object per event, a COUNT wrapped around the
    # whole event query, the statements compiled again each time. The same statements in SQLAlchemy
    # Core, compiled once, do the same work for a fraction of the CPU (bench/tracker_store.py); they
    # run in the Rasa server's process for every message of every channel.
    @functools.cached_property
    def _statements(self) -> tuple[sa.sql.Select, sa.sql.Select, sa.sql.Insert]:
        """Rasa's ``_event_query`` (this conversation session's events: those from the latest
        ``session_started`` on, or all of them before the first), as a load and a count, and the insert."""
        events = self.SQLEvent.__table__
        sender = sa.bindparam("sender_id")
        session_start = (
            sa.select(sa.func.max(events.c.timestamp))
            .where(events.c.sender_id == sender, events.c.type_name == SessionStarted.type_name)
            .scalar_subquery()
        )
        current = sa.and_(
            events.c.sender_id == sender,
            sa.or_(events.c.timestamp >= session_start, session_start.is_(None)),
        )
        load = sa.select(events.c.data).where(current).order_by(events.c.id)
        count = sa.select(sa.func.count()).select_from(events).where(current)
        return load, count, sa.insert(events)

    def _save_sync(self, tracker: DialogueStateTracker) -> None:
        _, count, insert = self._statements
        with self.engine.begin() as conn:
            stored = conn.execute(count, {"sender_id": tracker.sender_id}).scalar_one()
            rows = []
            for evt in itertools.islice(tracker.events, stored, None):
                data = evt.as_dict()
                rows.append(
                    {
                        "sender_id": tracker.sender_id,
                        "type_name": evt.type_name,
                        "timestamp": data.get("timestamp"),
                        "intent_name": (data.get("parse_data") or {}).get("intent", {}).get("name"),
                        "action_name": data.get("name"),
                        "data": json.dumps(data),
                    }
                )
            if rows:
                conn.execute(insert, rows)

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        events = await asyncio.to_thread(self._load_events, sender_id, fetch_events_from_all_sessions)
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    def _load_events(self, sender_id: str, all_sessions: bool) -> list[dict[str, Any]]:
        if all_sessions:  # the API's full tracker: rare, Rasa's own query
            with self.session_scope() as session:
                rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=True).all()
                return [json.loads(row.data) for row in rows]
        load, _, _ = self._statements
        with self.engine.connect() as conn:
            return [json.loads(data) for (data,) in conn.execute(load, {"sender_id": sender_id})]

    async def keys(self) -> list[str]:
        def _keys() -> list[str]:
            with self.session_scope() as session:
                return [s for (s,) in session.query(self.SQLEvent.sender_id).distinct().all()]

        return await asyncio.to_thread(_keys)
