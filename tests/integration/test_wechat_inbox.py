"""The per-customer inbox against a real Redis: de-duplication, order, exactly-once, crash recovery.

Every test works under its own key prefix, so a shared Redis is never flushed and other users'
queues are never touched (the sweeper only sees this test's customers).
"""

from __future__ import annotations

import asyncio
import json
import random
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from bot.redis_client import create_redis
from bot.wechat.inbox import Inbox, QueueRunner, decode, encode
from bot.wechat.protocol import InboundMessage

ACCOUNT = "gh_careloop000001"


@pytest.fixture
async def prefix(redis: aioredis.Redis, unique: str) -> AsyncIterator[str]:
    """A key space of this test's own; its keys are deleted afterwards."""
    name = f"careloop-test:{unique}"
    yield name
    keys = [k async for k in redis.scan_iter(match=f"{name}:*", count=500)]
    if keys:
        await redis.delete(*keys)


def text(openid: str, n: int, created: int = 1_763_600_000) -> InboundMessage:
    return InboundMessage(
        openid=openid,
        account=ACCOUNT,
        kind="text",
        created=created + n,
        msg_id=f"{zlib.crc32(openid.encode())}{n:05d}",
        content=f"第{n}条",
    )


def event(openid: str, created: int, name: str = "subscribe") -> InboundMessage:
    return InboundMessage(openid=openid, account=ACCOUNT, kind="event", created=created, event=name)


class Recorder:
    """A handler that records what it handled, optionally slowly, optionally failing."""

    def __init__(self, delay: float = 0.0, fail_on: set[str] | None = None) -> None:
        self.handled: list[str] = []
        self.seen: list[tuple[str, str]] = []
        self.delay = delay
        self.fail_on = fail_on or set()
        self.busy = 0
        self.overlap = False

    async def __call__(self, message: InboundMessage) -> None:
        self.busy += 1
        self.overlap |= self.busy > 1
        try:
            if self.delay:
                await asyncio.sleep(random.uniform(0, self.delay))
            self.handled.append(message.content or message.event)
            self.seen.append((message.openid, message.content or message.event))
            if message.content in self.fail_on:
                raise RuntimeError(f"the handler broke on {message.content}")
        finally:
            self.busy -= 1


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def test_every_field_but_the_parsed_xml_survives_the_queue() -> None:
    """What the Rasa server handles is what the front accepted: nothing lost on the way through Redis."""
    message = InboundMessage(
        openid="o_all",
        account=ACCOUNT,
        kind="event",
        created=1_763_600_000,
        msg_id="7001",
        content="空调不制冷",
        recognition="空调不制冷。",
        media_id="m1",
        pic_url="http://pic/1",
        event="click",
        event_key="complain",
        menu_id="101",
        raw={"xml": {"nested": ["kept in this process only"]}},
    )
    wire = json.loads(encode(message))
    assert "raw" not in wire
    back = decode(encode(message))
    assert back == message and back.raw == {}
    assert {k: getattr(back, k) for k in wire} == {k: getattr(message, k) for k in wire}


async def test_a_message_accepted_twice_is_queued_once(redis: aioredis.Redis, prefix: str) -> None:
    """WeChat retries a callback with the same MsgId: handled once."""
    inbox, handler = Inbox(redis, prefix=prefix), Recorder()
    first = text("o_dup", 1)
    assert await inbox.accept(first) is True
    assert await inbox.accept(text("o_dup", 1)) is False  # the retry
    assert await inbox.accept(text("o_dup", 2)) is True
    assert await inbox.drain("o_dup", handler) == 2
    assert handler.handled == ["第1条", "第2条"]
    assert await inbox.accept(first) is False  # still remembered after handling


async def test_a_burst_of_callbacks_is_queued_whole_in_order_over_one_redis_connection(
    redis_url: str, prefix: str, unique: str
) -> None:
    """A hundred callbacks at once, retries among them: every message queued once, each customer's in
    order, and the front's Redis client needed one connection for the burst, not one per callback."""
    name = f"careloop-burst-{unique}"
    client = aioredis.from_url(redis_url, decode_responses=True, client_name=name)
    inbox, handler = Inbox(client, prefix=prefix), Recorder()
    customers = [f"o_burst{i:02d}" for i in range(40)]
    messages = [text(c, n) for n in (1, 2) for c in customers] + [text(c, 1) for c in customers[:20]]
    try:
        fresh = await asyncio.gather(*(inbox.accept(m, announce=True) for m in messages))
        connections = [c for c in await client.client_list() if c.get("name") == name]
        assert fresh == [True] * 80 + [False] * 20
        assert len(connections) == 1
        assert sorted(await inbox.pending()) == sorted(customers)
        for customer in customers:
            assert await inbox.drain(customer, handler) == 2
        assert handler.handled == ["第1条", "第2条"] * 40
    finally:
        await client.close()


async def test_events_are_deduplicated_by_sender_time_and_event(redis: aioredis.Redis, prefix: str) -> None:
    inbox, handler = Inbox(redis, prefix=prefix), Recorder()
    assert await inbox.accept(event("o_evt", 1_763_600_000)) is True
    assert await inbox.accept(event("o_evt", 1_763_600_000)) is False  # WeChat's retry
    assert await inbox.accept(event("o_evt", 1_763_600_001)) is True  # a later subscribe
    assert await inbox.accept(event("o_evt", 1_763_600_000, "unsubscribe")) is True  # another event
    assert await inbox.accept(event("o_evt_other", 1_763_600_000)) is True  # another follower
    assert await inbox.drain("o_evt", handler) == 3
    assert handler.handled == ["subscribe", "subscribe", "unsubscribe"]
    assert await inbox.drain("o_evt_other", handler) == 1


async def test_two_drainers_handle_fifty_messages_once_and_in_order(
    redis_url: str, redis: aioredis.Redis, prefix: str
) -> None:
    """Two servers (separate connections) drain the same customer at the same time."""
    other = create_redis(redis_url)
    try:
        a, b = Inbox(redis, prefix=prefix), Inbox(other, prefix=prefix)
        for n in range(50):
            assert await (a if n % 2 else b).accept(text("o_busy", n))
        handler = Recorder(delay=0.004)
        counts = await asyncio.gather(*(inbox.drain("o_busy", handler) for inbox in (a, b, a, b)))
        assert sum(counts) == 50
        assert handler.handled == [f"第{n}条" for n in range(50)]
        assert not handler.overlap, "two messages of one customer were handled at the same time"
        assert await a.pending() == []
    finally:
        await other.close()


async def test_messages_arriving_while_others_drain_are_not_stranded(
    redis_url: str, redis: aioredis.Redis, prefix: str
) -> None:
    """Like the connector: every callback accepts, then drains in the background, on either server."""
    other = create_redis(redis_url)
    try:
        servers = (Inbox(redis, prefix=prefix), Inbox(other, prefix=prefix))
        handler = Recorder(delay=0.006)
        drains = []
        for n in range(50):
            server = servers[random.randrange(2)]
            assert await server.accept(text("o_live", n))
            drains.append(asyncio.create_task(server.drain("o_live", handler)))
            await asyncio.sleep(random.uniform(0, 0.004))
        counts = await asyncio.gather(*drains)
        assert sum(counts) == 50
        assert handler.handled == [f"第{n}条" for n in range(50)]
        assert await redis.llen(f"{prefix}:inbox:o_live") == 0
    finally:
        await other.close()


async def test_a_failing_message_does_not_stop_the_queue(redis: aioredis.Redis, prefix: str) -> None:
    inbox, handler = Inbox(redis, prefix=prefix), Recorder(fail_on={"第2条"})
    for n in range(1, 5):
        await inbox.accept(text("o_fail", n))
    assert await inbox.drain("o_fail", handler) == 4
    assert handler.handled == ["第1条", "第2条", "第3条", "第4条"]
    failed = await inbox.failed()
    assert [(m.openid, m.content, m.msg_id) for m in failed] == [
        ("o_fail", "第2条", text("o_fail", 2).msg_id)
    ]
    assert await inbox.drain("o_fail", handler) == 0  # nothing is handled twice


async def test_a_message_left_by_a_dead_process_is_handled_first(redis: aioredis.Redis, prefix: str) -> None:
    """A process took message 1 into its working list and died before finishing it."""
    inbox, handler = Inbox(redis, prefix=prefix), Recorder()
    for n in range(1, 4):
        await inbox.accept(text("o_crash", n))
    moved = await redis.lmove(f"{prefix}:inbox:o_crash", f"{prefix}:inbox-working:o_crash", "LEFT", "RIGHT")
    assert moved == encode(text("o_crash", 1))
    await inbox.accept(text("o_crash", 4))
    assert await inbox.drain("o_crash", handler) == 4
    assert handler.handled == ["第1条", "第2条", "第3条", "第4条"]
    assert await redis.llen(f"{prefix}:inbox-working:o_crash") == 0
    assert await inbox.drain("o_crash", handler) == 0


async def test_a_drain_stopped_mid_message_leaves_the_customer_pending_and_the_message_kept(
    redis: aioredis.Redis, prefix: str
) -> None:
    """A process shutting down cancels the message it is handling: the message stays on the working
    list, the lock is released and the customer stays pending, so the sweeper (or the next drain)
    handles it again."""
    inbox = Inbox(redis, prefix=prefix)
    await inbox.accept(text("o_stop", 1))
    started = asyncio.Event()

    async def stuck(message: InboundMessage) -> None:
        started.set()
        await asyncio.sleep(60)

    task = asyncio.create_task(inbox.drain("o_stop", stuck))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await inbox.pending() == ["o_stop"]
    assert await redis.lrange(f"{prefix}:inbox-working:o_stop", 0, -1) == [encode(text("o_stop", 1))]
    assert not await redis.exists(f"{prefix}:inbox-lock:o_stop")
    handler = Recorder()
    assert await inbox.drain("o_stop", handler) == 1
    assert handler.handled == ["第1条"]
    assert await inbox.pending() == []


async def test_the_sweeper_drains_a_queue_nobody_drained(redis: aioredis.Redis, prefix: str) -> None:
    inbox, handler = Inbox(redis, prefix=prefix), Recorder()
    for openid in ("o_lost_a", "o_lost_b"):
        for n in range(3):
            await inbox.accept(text(openid, n))
    assert await inbox.pending() == ["o_lost_a", "o_lost_b"]
    sweeper = QueueRunner(inbox, handler, concurrency=1, sweep_interval=0.05)
    sweeper.start()

    async def swept() -> bool:
        return len(handler.seen) >= 6 and not await inbox.pending()

    try:
        await eventually(swept)
    finally:
        await sweeper.stop()
    assert handler.seen == [(o, f"第{n}条") for o in ("o_lost_a", "o_lost_b") for n in range(3)]
    for openid in ("o_lost_a", "o_lost_b"):
        assert await redis.llen(f"{prefix}:inbox:{openid}") == 0


class KnockCountingInbox(Inbox):
    """Counts the drains tried per customer: each one is a Redis call for the customer's lock."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        super().__init__(redis, prefix=prefix)
        self.knocks: dict[str, int] = {}

    async def drain(self, openid: str, handler: Callable[[InboundMessage], Awaitable[None]]) -> int:
        self.knocks[openid] = self.knocks.get(openid, 0) + 1
        return await super().drain(openid, handler)


async def test_the_sweep_leaves_alone_the_customers_this_process_is_draining(
    redis: aioredis.Redis, prefix: str
) -> None:
    """Every slot busy and the customers waiting for one, each holding its lock: the sweep must not try
    each lock again every round (a Redis call per waiting customer per sweep, on the model's loop)."""
    inbox = KnockCountingInbox(redis, prefix)
    gate, handled = asyncio.Event(), []

    async def slow(message: InboundMessage) -> None:
        await gate.wait()
        handled.append((message.openid, message.content))

    runner = QueueRunner(inbox, slow, concurrency=1, sweep_interval=0.02)
    customers = ["o_wait_a", "o_wait_b", "o_wait_c"]
    for openid in customers:
        for n in range(2):
            await inbox.accept(text(openid, n), announce=True)
    runner.start()
    try:
        await eventually(lambda: _all_knocked(inbox, customers))
        await asyncio.sleep(0.3)  # about fifteen sweeps, every customer still waiting
        assert inbox.knocks == {openid: 1 for openid in customers}
        gate.set()
        await eventually(lambda: _count_at_least(handled, 6))
    finally:
        await runner.stop()
    assert sorted(handled) == [(o, f"第{n}条") for o in customers for n in range(2)]
    assert await inbox.pending() == []


async def _all_knocked(inbox: KnockCountingInbox, customers: list[str]) -> bool:
    return all(inbox.knocks.get(openid) for openid in customers)


async def _count_at_least(items: list[object], count: int) -> bool:
    return len(items) >= count


async def test_a_customer_is_announced_once_until_drained_and_later_messages_still_go_at_once(
    redis: aioredis.Redis, prefix: str
) -> None:
    """One wake-up per customer with something waiting, not one per message; a message that arrives
    while its customer is being drained is handled by that drain, without waiting for the sweep."""
    inbox = Inbox(redis, prefix=prefix)
    ready = f"{prefix}:inbox-ready"
    for n in range(3):
        assert await inbox.accept(text("o_chatty", n), announce=True)
    assert await redis.lrange(ready, 0, -1) == ["o_chatty"]
    handler = Recorder(delay=0.02)
    runner = QueueRunner(inbox, handler, concurrency=4, sweep_interval=60)

    def handled(count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return len(handler.handled) >= count

        return check

    async def idle() -> bool:
        return await inbox.pending() == []

    runner.start()
    try:
        await eventually(handled(1))
        for n in range(3, 6):  # while the drain is under way: no announcement needed
            assert await inbox.accept(text("o_chatty", n), announce=True)
        await eventually(handled(6), timeout=3)
        await eventually(idle, timeout=3)
        assert await inbox.accept(text("o_chatty", 6), announce=True)  # idle again: announced again
        await eventually(handled(7), timeout=3)
    finally:
        await runner.stop()
    assert handler.handled == [f"第{n}条" for n in range(7)]
    assert await redis.llen(ready) == 0


async def test_a_drain_whose_lock_lapsed_stops_and_leaves_the_rest_to_the_new_holder(
    redis: aioredis.Redis, prefix: str
) -> None:
    """A message handled for longer than the lock lasts: another process took the customer over, so
    this drain must not go on to the next message (two drains would handle one customer at once)."""
    inbox = Inbox(redis, prefix=prefix)
    for n in range(3):
        await inbox.accept(text("o_slow", n))
    handled: list[str] = []

    async def outlived_its_lock(message: InboundMessage) -> None:
        handled.append(message.content)
        await redis.set(f"{prefix}:inbox-lock:o_slow", "another-process", px=60_000)

    assert await inbox.drain("o_slow", outlived_its_lock) == 1
    assert handled == ["第0条"]
    assert await redis.llen(f"{prefix}:inbox:o_slow") == 2 and await inbox.pending() == ["o_slow"]
    assert await redis.llen(f"{prefix}:inbox-working:o_slow") == 0  # the handled one is not redone
    await redis.delete(f"{prefix}:inbox-lock:o_slow")  # the other process finished (or died)
    rest = Recorder()
    assert await inbox.drain("o_slow", rest) == 2 and rest.handled == ["第1条", "第2条"]
    assert await inbox.pending() == []


class SwallowsOneCancel:
    """Queues whose poll loses the first cancel, as redis-py 4.6 can on Python 3.10."""

    def __init__(self) -> None:
        self.swallowed = 0

    async def pending(self) -> list[str]:
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed += 1
        return []

    async def next_ready(self) -> str | None:
        await self.pending()
        return None

    async def drain(self, openid: str, handler: Callable[[InboundMessage], Awaitable[None]]) -> int:
        return 0


async def test_stopping_ends_the_loops_even_when_a_cancel_is_swallowed() -> None:
    queues = SwallowsOneCancel()
    runner = QueueRunner(queues, Recorder(), concurrency=1, sweep_interval=0.001)  # type: ignore[arg-type]
    runner.start()
    await asyncio.sleep(0.05)
    await asyncio.wait_for(runner.stop(), timeout=5)  # the old stop() waited for ever here
    assert queues.swallowed == 1
