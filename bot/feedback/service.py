"""Records what customers volunteer (feedback, suggestions, scores) so nothing said is lost."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.cases.service import utcnow

KINDS = ("feedback", "suggestion", "rating")


@dataclass(frozen=True)
class FeedbackEntry:
    sender_id: str
    channel: str
    kind: str
    text: str
    rating: int | None
    satisfaction: str | None
    created_at: datetime


class FeedbackStore(Protocol):
    async def add(self, entry: FeedbackEntry) -> None: ...


class FeedbackService:
    def __init__(self, store: Callable[[], FeedbackStore], clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock

    async def record(
        self,
        *,
        sender_id: str,
        channel: str,
        kind: str,
        text: str,
        rating: int | None = None,
        satisfaction: str | None = None,
    ) -> FeedbackEntry:
        if kind not in KINDS:
            raise ValueError(f"unknown feedback kind {kind!r}")
        if rating is not None and not 1 <= rating <= 5:
            raise ValueError(f"rating out of range: {rating}")
        entry = FeedbackEntry(
            sender_id, channel, kind, text.strip()[:4000], rating, satisfaction, self._clock()
        )
        await self._store().add(entry)
        return entry
