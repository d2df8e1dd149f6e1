"""SQL storage for volunteered feedback."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import session_factory
from bot.db.models import FeedbackRow
from bot.feedback.service import FeedbackEntry


class SqlFeedbackStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = session_factory(engine)

    def __call__(self) -> SqlFeedbackStore:
        return self

    async def add(self, entry: FeedbackEntry) -> None:
        async with self._sessions() as session, session.begin():
            session.add(
                FeedbackRow(
                    sender_id=entry.sender_id,
                    channel=entry.channel,
                    kind=entry.kind,
                    text=entry.text,
                    rating=entry.rating,
                    satisfaction=entry.satisfaction,
                    created_at=entry.created_at,
                )
            )
