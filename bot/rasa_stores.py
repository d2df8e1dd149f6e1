"""Rasa tracker store on CareLoop's database, with its blocking SQL kept off the event loop.

Rasa's stock ``SQLTrackerStore`` runs synchronous SQLAlchemy inside coroutines, so every save and
load stalls the Rasa server for all customers. This subclass takes its database from CareLoop's
settings and runs the same statements in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
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

    def _save_sync(self, tracker: DialogueStateTracker) -> None:
        with self.session_scope() as session:
            for evt in self._additional_events(session, tracker):
                data = evt.as_dict()
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=evt.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=(data.get("parse_data") or {}).get("intent", {}).get("name"),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        events = await asyncio.to_thread(self._load_events, sender_id, fetch_events_from_all_sessions)
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    def _load_events(self, sender_id: str, all_sessions: bool) -> list[dict[str, Any]]:
        with self.session_scope() as session:
            rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=all_sessions).all()
            return [json.loads(row.data) for row in rows]

    async def keys(self) -> list[str]:
        def _keys() -> list[str]:
            with self.session_scope() as session:
                return [s for (s,) in session.query(self.SQLEvent.sender_id).distinct().all()]

        return await asyncio.to_thread(_keys)
