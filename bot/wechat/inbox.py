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
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import fields
from typing import Any, Generic, TypeVar

import redis.asyncio as aioredis

from bot.redis_client import BatchedScript
from bot.wechat.protocol import InboundMessage

logger = logging.getLogger(__name__)

T = TypeVar("T")
# Queue an item and mark its customer pending, in one step; optionally announce the customer to
# ``next_ready`` takers, and optionally only if the item's de-duplication key was not seen before
# (so a retry can never find a message "seen" but not queued). A customer already pending is not
# announced again: whoever drains them takes this item too (a drain ends only when ``_DONE_AND_NEXT``
# finds the queue empty, atomically with this script), so a second announcement would only cost a
# taker a wake-up and a failed lock; after a crash, the sweep finds the customer.
_ENQUEUE = """
if KEYS[4] and not redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[4]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[1])
local fresh = redis.call('SADD', KEYS[2], ARGV[2])
if ARGV[3] == '1' and fresh == 1 then redis.call('RPUSH', KEYS[3], ARGV[2]) end
return 1
"""
# Lock the customer and take the next item: one left on the working list by a process that died
# mid-item, else the queue's first, moved to the working list. With nothing to take, the lock is let
# go at once and the customer is no longer pending. {0}: someone else holds the lock; {1, item}; {2}.
_LOCK_AND_TAKE = """
if not redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then return {0} end
local item = redis.call('LINDEX', KEYS[2], 0) or redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
if item then return {1, item} end
redis.call('DEL', KEYS[3])
redis.call('SREM', KEYS[4], ARGV[3])
return {2}
"""
# One item done: off the working list, and the next one taken (the lock extended), or, with the queue
# empty, the lock released and the customer no longer pending in the same atomic step, so an item
# queued a moment later is announced afresh (``_ENQUEUE``) and never stranded. A drain whose lock
# lapsed stops: another one has the customer (or the sweep will).
_DONE_AND_NEXT = """
redis.call('LPOP', KEYS[2])
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return false end
local item = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
if item then
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
  return item
end
redis.call('DEL', KEYS[3])
redis.call('SREM', KEYS[4], ARGV[3])
return false
"""
# A drain interrupted mid-item (cancelled, or the handler's own failure escaped): the lock released if
# still ours; the customer stays pending while an item is queued or left on the working list.
_RELEASE_IF_IDLE = """
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
if redis.call('LLEN', KEYS[2]) > 0 or redis.call('LLEN', KEYS[1]) > 0 then return 0 end
redis.call('SREM', KEYS[4], ARGV[3])
return 1
"""


# Every field but ``raw`` (the parsed XML, kept for this process only). Read by name rather than with
# ``dataclasses.asdict``, which deep-copies ``raw`` only for it to be dropped: an eighth of the front's
# CPU per callback.
_WIRE_FIELDS = tuple(f.name for f in fields(InboundMessage) if f.name != "raw")


def encode(message: InboundMessage) -> str:
    return json.dumps({name: getattr(message, name) for name in _WIRE_FIELDS}, ensure_ascii=False)


def decode(raw: str | bytes) -> InboundMessage:
    return InboundMessage(**json.loads(raw))


class CustomerQueues(Generic[T]):
    """Per-customer FIFO queues in Redis, each drained by one process at a time, crash-safe.

    Inbound messages (``Inbox``) and outbound commands (bot/wechat/outbound.py) both need exactly
    this: arrival order per customer, customers in parallel, nothing lost when a process dies."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        name: str,
        encoder: Callable[[T], str],
        decoder: Callable[[str | bytes], T],
        lock_ms: int = 120_000,
    ) -> None:
        self._redis = redis
        self._p = f"{prefix}:{name}"
        self._encode = encoder
        self._decode = decoder
        self._lock_ms = lock_ms
        self._lock_and_take = redis.register_script(_LOCK_AND_TAKE)
        self._done_and_next = redis.register_script(_DONE_AND_NEXT)
        self._release_if_idle = redis.register_script(_RELEASE_IF_IDLE)
        self._enqueue_script = BatchedScript(redis, _ENQUEUE)  # callbacks come in bursts
        self._pending = f"{self._p}-pending"
        self._ready = f"{self._p}-ready"
        self._failed = f"{self._p}-failed"

    def _queue(self, openid: str) -> str:
        return f"{self._p}:{openid}"

    def _working(self, openid: str) -> str:
        return f"{self._p}-working:{openid}"

    def _lock(self, openid: str) -> str:
        return f"{self._p}-lock:{openid}"

    async def enqueue(
        self, openid: str, item: T, *, announce: bool, seen: str | None = None, seen_seconds: int = 0
    ) -> bool:
        """Queue ``item`` for this customer; with ``seen``, only the first time that key comes.
        True if queued."""
        keys = [self._queue(openid), self._pending, self._ready, *([seen] if seen else [])]
        args = [self._encode(item), openid, "1" if announce else "0", seen_seconds]
        return bool(await self._enqueue_script(keys, args))

    async def next_ready(self, timeout: float = 5.0) -> str | None:
        """The next customer announced as having something queued, waiting up to ``timeout``
        seconds; each announcement goes to one taker (the per-customer lock keeps the order anyway)."""
        item = await self._redis.blpop([self._ready], timeout=timeout)
        return None if item is None else item[1]

    async def drain(self, openid: str, handler: Callable[[T], Awaitable[None]]) -> int:
        """Handle this customer's queued items in order, if nobody else is; returns how many.
        Two Redis round trips for a customer with one item: lock and take, done and release."""
        keys = [self._queue(openid), self._working(openid), self._lock(openid), self._pending]
        args = [uuid.uuid4().hex, self._lock_ms, openid]
        taken = await self._lock_and_take(keys=keys, args=args)
        if int(taken[0]) != 1:
            return 0
        raw, handled = taken[1], 0
        try:
            while raw is not None:
                try:
                    await handler(self._decode(raw))
                except Exception:  # the handler reports to the customer; never lose the queue over it
                    logger.exception("handling a queued WeChat item for %s failed", openid)
                    await self._redis.rpush(self._failed, raw)
                handled += 1
                raw = await self._done_and_next(keys=keys, args=args)
        except BaseException:  # stopped mid-item: the item stays on the working list for the next drain
            await self._release_if_idle(keys=keys, args=args)
            raise
        return handled

    async def pending(self) -> list[str]:
        members = await self._redis.smembers(self._pending)
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    async def failed(self, limit: int = 100) -> list[T]:
        return [self._decode(r) for r in await self._redis.lrange(self._failed, 0, limit - 1)]


class Inbox(CustomerQueues[InboundMessage]):
    """What customers sent, de-duplicated by MsgId (events: sender + time + event)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str = "careloop:wechat",
        dedupe_seconds: int = 24 * 3600,
        lock_ms: int = 120_000,
    ) -> None:
        super().__init__(redis, prefix, "inbox", encode, decode, lock_ms)
        self._seen = f"{prefix}:seen"
        self._dedupe_seconds = dedupe_seconds

    async def accept(self, message: InboundMessage, *, announce: bool = False) -> bool:
        """Queue a message unless it was seen before (a WeChat retry). True if queued.

        ``announce`` tells the Rasa servers (``next_ready``) that a customer has something queued:
        for a callback taken by the front process, which handles nothing itself."""
        return await self.enqueue(
            message.openid,
            message,
            announce=announce,
            seen=f"{self._seen}:{message.dedupe_key}",
            seen_seconds=self._dedupe_seconds,
        )


STOP_ATTEMPTS = 20


class QueueRunner(Generic[T]):
    """Handles what ``queues`` hold: each announced customer at once, and every few seconds any
    queue nobody is draining (after a crash or a lost announcement); at most ``concurrency`` items
    at a time. A slot is per item, not per customer, so a chatty customer cannot hold one while the
    others wait; each customer's items stay in order."""

    def __init__(
        self,
        queues: CustomerQueues[T],
        handler: Callable[[T], Awaitable[None]],
        concurrency: int,
        sweep_interval: float = 2.0,
    ) -> None:
        self._queues = queues
        self._handler = handler
        self._slots = asyncio.Semaphore(concurrency)
        self._sweep_interval = sweep_interval
        self._loops: list[asyncio.Task[None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._draining: Counter[str] = Counter()  # drains under way here, by customer (the sweep skips them)
        self._waiting: list[T] = []  # items waiting for a slot, first come first

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loops = [loop.create_task(self._listen()), loop.create_task(self._sweep())]

    async def stop(self) -> None:
        """Cancel the loops, again until they end: a cancel that lands in redis-py 4.6's zero-timeout
        socket poll can be swallowed on Python 3.10 (async-timeout's race), and the sweep then ran on
        for ever (seen once, as a CI run that hung). Then give the drains under way 10 s."""
        for _ in range(STOP_ATTEMPTS):
            running = [task for task in self._loops if not task.done()]
            if not running:
                break
            for task in running:
                task.cancel()
            await asyncio.wait(running, timeout=0.5)
        else:
            logger.error("queue loops still running after %d cancels; leaving them", STOP_ATTEMPTS)
        await asyncio.gather(*(t for t in self._loops if t.done()), return_exceptions=True)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)

    def drain(self, openid: str) -> None:
        """Handle this customer's queue in the background (nothing happens if someone already is)."""
        task = asyncio.get_running_loop().create_task(self._drain(openid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, openid: str) -> int:
        self._draining[openid] += 1
        try:
            return await self._queues.drain(openid, self._in_turn)
        finally:
            self._draining[openid] -= 1
            if not self._draining[openid]:
                del self._draining[openid]

    def waiting(self) -> list[T]:
        """The items waiting for a slot, in the order they will get one: the handler may prepare
        the next few together with its own (the WeChat channel parses them in one batch)."""
        return list(self._waiting)

    async def _in_turn(self, item: T) -> None:
        self._waiting.append(item)
        try:
            await self._slots.acquire()
        finally:  # by identity: two equal items are still two messages
            del self._waiting[next(i for i, w in enumerate(self._waiting) if w is item)]
        try:
            await self._handler(item)
        finally:
            self._slots.release()

    async def _listen(self) -> None:
        while True:
            try:
                openid = await self._queues.next_ready()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away for a moment: the sweep still covers the queues
                logger.exception("waiting for announced WeChat customers failed")
                await asyncio.sleep(1)
                continue
            if openid:
                self.drain(openid)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            try:
                # A customer this process is draining needs no knock on its lock: under load (every
                # slot busy, each customer holding its lock while it waits for one) that was one
                # Redis call per waiting customer every sweep, on the Rasa server's event loop.
                for openid in await self._queues.pending():
                    if openid not in self._draining:
                        await self._drain(openid)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("queue sweep failed")
