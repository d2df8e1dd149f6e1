"""What WeChat did not let through to a customer, and whether it lets us write to them now.

WeChat allows an account 5 messages after each customer message and none 48 hours after the last
one. The console shows this beside the reply box and on the case page, so an agent does not take a
held or refused message for one the customer read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import redis.asyncio as aioredis

from bot.handoff.model import Handoff
from bot.wechat.outbox import Fate, OutboxStore, fate_of, shown_text
from bot.wechat.window import WINDOW_SECONDS, ServiceWindow

FATE_LABELS = {
    Fate.HELD: "暂存：本轮可发的消息已用完，客户下次发消息时自动补发",
    Fate.OUT_OF_WINDOW: "未送达：客户超过 48 小时没有发消息，微信不允许再发",
    Fate.REPLACED: "未送达：已改发模板消息",
    Fate.RETRYING: "发送失败，正在重试",
    Fate.FAILED: "发送失败，已放弃",
    Fate.NOT_SENT: "未发送",
}
UNDELIVERED_SHOWN = 20
WINDOW = timedelta(seconds=WINDOW_SECONDS)


class LastInbound(Protocol):
    async def last_inbound(self, sender_id: str) -> datetime | None: ...


@dataclass(frozen=True)
class Undelivered:
    text: str
    at: datetime
    fate: Fate
    error: str | None


@dataclass(frozen=True)
class DeliveryView:
    """Which messages since the customer queued have not reached them, and what the customer's
    window still allows."""

    undelivered: list[Undelivered]
    #: None when nothing is known (a new customer, Redis emptied): then nothing is said.
    remaining: int | None
    window_open: bool | None
    last_inbound: datetime | None


async def delivery_view(
    outbox: OutboxStore, redis: aioredis.Redis, handoff: Handoff, now: datetime
) -> DeliveryView | None:
    if handoff.channel != "wechat":
        return None
    records = await outbox.undelivered(handoff.sender_id, handoff.queued_at, UNDELIVERED_SHOWN)
    undelivered = [
        Undelivered(shown_text(r), r.created_at, fate, r.last_error)
        for r in records
        if (fate := fate_of(r, now)) is not None
    ]
    state = await ServiceWindow(redis).state(handoff.sender_id)
    if state is None:
        return DeliveryView(undelivered, None, None, None)
    at = now.timestamp()
    return DeliveryView(undelivered, state.remaining(at), state.is_open(at), state.last_inbound_at)


async def reachable(
    redis: aioredis.Redis, customers: LastInbound, sender_id: str, now: datetime
) -> tuple[bool, datetime | None]:
    """Whether WeChat lets us write to the customer first, and when they last wrote (Redis, or the
    database when Redis lost it)."""
    state = await ServiceWindow(redis).state(sender_id)
    if state is not None:
        return state.is_open(now.timestamp()), state.last_inbound_at
    last = await customers.last_inbound(sender_id)
    return last is not None and now - last <= WINDOW, last
