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

    async def deferred(self, recipient: str, since: datetime) -> list[OutboxRecord]:
        """Messages the allowance held back since ``since``, oldest first."""

    async def undelivered(self, recipient: str, since: datetime, limit: int) -> list[OutboxRecord]:
        """Everything since ``since`` that has not reached the customer (yet), oldest first."""


#: Why a message waits for the customer's next message: the allowance of the current window is used
#: (our own count, or WeChat's 45047). Such a message goes out, first, when the customer writes again.
HELD_REASONS = ("allowance_used", "wechat_45047")
#: How long a held message is still worth sending when the customer writes again.
DEFERRED_FOR = timedelta(hours=48)
#: The customer has not written for 48 hours (our own clock, or WeChat's 45015): nothing gets through.
OUT_OF_WINDOW_REASONS = ("outside_window", "wechat_45015")


class Fate(str, Enum):
    """What became of a message that has not reached the customer, as the agent needs to know it."""

    HELD = "held"  # goes out when the customer next writes
    OUT_OF_WINDOW = "out_of_window"  # WeChat refuses it: 48 hours since the customer last wrote
    REPLACED = "replaced"  # a template message went instead
    RETRYING = "retrying"  # a transient failure; the worker tries again
    FAILED = "failed"  # failed for good (a dead letter)
    NOT_SENT = "not_sent"  # deliberately not sent (unsubscribed, no template configured ...)


def fate_of(record: OutboxRecord, now: datetime) -> Fate | None:
    """None for a message delivered or on its way (recorded, being sent right now)."""
    if record.status in (OutboxStatus.SENT, OutboxStatus.PENDING):
        return None
    if record.status in (OutboxStatus.RETRYING, OutboxStatus.SENDING):
        return Fate.RETRYING
    if record.status is OutboxStatus.DEAD:
        return Fate.FAILED
    reason = record.reason or ""
    if reason in HELD_REASONS:
        return Fate.HELD if record.created_at >= now - DEFERRED_FOR else Fate.OUT_OF_WINDOW
    if reason.endswith(":template_sent"):
        return Fate.REPLACED
    if reason in OUT_OF_WINDOW_REASONS:
        return Fate.OUT_OF_WINDOW
    return Fate.NOT_SENT


def shown_text(record: OutboxRecord) -> str:
    """The message as the customer would have seen it, for a list of what they did not get."""
    body = record.payload
    if record.kind == "text":
        return str(body.get("text", {}).get("content", ""))
    if record.kind == "msgmenu":
        menu = body.get("msgmenu", {})
        options = " / ".join(str(item.get("content", "")) for item in menu.get("list", []))
        return f"{menu.get('head_content', '')}［{options}］"
    if record.kind == "image":
        return "［图片］"
    if record.kind == "template":
        return "［模板消息］"
    return f"［{record.kind}］"
