"""Inbound messages: de-duplicated and queued per customer in Redis, handled once, in order.

WeChat retries a callback it did not get ``success`` for in time, and several Rasa servers may
take callbacks for the same customer. So a callback only records the message (``accept``) and the
work happens in ``drain``: whoever holds a customer's lock handles that customer's queue in arrival
order. A message is moved to a per-customer "processing" list while it is handled and removed after,
so a process that dies mid-message leaves it to be handled again by the next one (the sweeper takes
queues nobody is draining).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict

import redis.asyncio as aioredis

from bot.wechat.protocol import InboundMessage

logger = logging.getLogger(__name__)

Handler = Callable[[InboundMessage], Awaitable[None]]
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_REFRESH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def encode(message: InboundMessage) -> str:
    data = asdict(message)
    data.pop("raw", None)
    return json.dumps(data, ensure_ascii=False)


def decode(raw: str | bytes) -> InboundMessage:
    return InboundMessage(**json.loads(raw))


class Inbox:
    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str = "careloop:wechat",
        dedupe_seconds: int = 24 * 3600,
        lock_ms: int = 120_000,
    ) -> None:
        self._redis = redis
        self._p = prefix
        self._dedupe_seconds = dedupe_seconds
        self._lock_ms = lock_ms
        self._release = redis.register_script(_RELEASE)
        self._refresh = redis.register_script(_REFRESH)

    def _queue(self, openid: str) -> str:
        return f"{self._p}:inbox:{openid}"

    def _working(self, openid: str) -> str:
        return f"{self._p}:inbox-working:{openid}"

    def _lock(self, openid: str) -> str:
        return f"{self._p}:inbox-lock:{openid}"

    async def accept(self, message: InboundMessage) -> bool:
        """Queue a message unless it was seen before (a WeChat retry). True if queued."""
        fresh = await self._redis.set(
            f"{self._p}:seen:{message.dedupe_key}", "1", nx=True, ex=self._dedupe_seconds
        )
        if not fresh:
            return False
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(self._queue(message.openid), encode(message))
            pipe.sadd(f"{self._p}:pending", message.openid)
            await pipe.execute()
        return True

    async def drain(self, openid: str, handler: Handler) -> int:
        """Handle this customer's queued messages in order, if nobody else is; returns how many."""
        handled = 0
        while True:
            token = uuid.uuid4().hex
            if not await self._redis.set(self._lock(openid), token, nx=True, px=self._lock_ms):
                return handled
            try:
                handled += await self._drain_locked(openid, handler, token)
            finally:
                await self._release(keys=[self._lock(openid)], args=[token])
            # A message queued between our last look and the release: go round again.
            if not await self._redis.llen(self._queue(openid)):
                await self._redis.srem(f"{self._p}:pending", openid)
                if not await self._redis.llen(self._queue(openid)):
                    return handled
                await self._redis.sadd(f"{self._p}:pending", openid)

    async def _drain_locked(self, openid: str, handler: Handler, token: str) -> int:
        handled = 0
        working = self._working(openid)
        while True:
            raw = await self._redis.lindex(working, 0)  # left over by a process that died mid-message
            if raw is None:
                raw = await self._redis.lmove(self._queue(openid), working, "LEFT", "RIGHT")
            if raw is None:
                return handled
            try:
                await handler(decode(raw))
            except Exception:  # the handler reports to the customer; never lose the queue over it
                logger.exception("handling a WeChat message for %s failed", openid)
                await self._redis.rpush(f"{self._p}:inbox-failed", raw)
            await self._redis.lpop(working)
            await self._refresh(keys=[self._lock(openid)], args=[token, self._lock_ms])
            handled += 1

    async def pending(self) -> list[str]:
        members = await self._redis.smembers(f"{self._p}:pending")
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    async def failed(self, limit: int = 100) -> list[InboundMessage]:
        return [decode(r) for r in await self._redis.lrange(f"{self._p}:inbox-failed", 0, limit - 1)]


class Sweeper:
    """Drains queues nobody is draining (after a crash or a lost wake-up), every few seconds."""

    def __init__(self, inbox: Inbox, handler: Handler, interval: float = 2.0) -> None:
        self._inbox = inbox
        self._handler = handler
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                for openid in await self._inbox.pending():
                    await self._inbox.drain(openid, self._handler)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("inbox sweep failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
