"""The outbox: every outbound message is recorded with its fate; failures retry with backoff.

Plain data and rules here; the SQL store is ``bot.db.outbox_store``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Protocol


class OutboxStatus(str, Enum):
    PENDING = "pending"  # recorded, being sent now
    SENT = "sent"
    RETRYING = "retrying"  # a transient failure; the worker tries again at next_attempt_at
    SENDING = "sending"  # claimed by a worker (lease until next_attempt_at)
    SKIPPED = "skipped"  # deliberately not sent (outside the 48 h window, unsubscribed ...)
    DEAD = "dead"  # failed for good; listed by the ops API


#: Waits before the 2nd, 3rd ... attempt; after the last one the message is a dead letter.
BACKOFF = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
)


def next_attempt(attempts: int, now: datetime) -> datetime | None:
    """When to try again after ``attempts`` failed tries, or None to give up."""
    if attempts > len(BACKOFF):
        return None
    return now + BACKOFF[attempts - 1]


@dataclass
class OutboxRecord:
    channel: str
    recipient: str
    kind: str
    payload: dict[str, Any]
    purpose: str
    status: OutboxStatus
    created_at: datetime
    updated_at: datetime
    attempts: int = 0
    reason: str | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class OutboxStore(Protocol):
    async def add(self, record: OutboxRecord) -> OutboxRecord: ...

    async def update(self, record: OutboxRecord) -> None: ...

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxRecord]:
        """Due retries, claimed so no other worker takes them until the lease ends."""

    async def search(
        self, *, status: OutboxStatus | None, recipient: str | None, limit: int
    ) -> list[OutboxRecord]: ...
