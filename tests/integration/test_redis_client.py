"""Script calls batched into one pipeline per turn of the event loop, against a real Redis."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError, ResponseError

from bot.redis_client import BatchedScript, create_redis

INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


async def test_each_caller_gets_its_own_result_and_only_its_own_error(
    redis: aioredis.Redis, unique: str
) -> None:
    counter, wrong = f"careloop-test:{unique}:n", f"careloop-test:{unique}:list"
    await redis.rpush(wrong, "x")  # INCRBY on a list: WRONGTYPE, for this caller alone
    incr = BatchedScript(redis, INCR)
    try:
        results = await asyncio.gather(
            incr([counter], [1]), incr([wrong], [1]), incr([counter], [10]), return_exceptions=True
        )
        assert results[0] == 1 and results[2] == 11  # run in call order
        assert isinstance(results[1], ResponseError) and "WRONGTYPE" in str(results[1])
        assert await incr([counter], [100]) == 111  # a lone call, in a turn of its own
    finally:
        await redis.delete(counter, wrong)


async def test_a_cancelled_caller_leaves_the_rest_of_its_batch_alone(
    redis: aioredis.Redis, unique: str
) -> None:
    """Cancelling a caller does not take its call back (it was on its way: a queued WeChat message stays
    queued, and WeChat's retry finds it seen); the others of its batch get their results."""
    counter = f"careloop-test:{unique}:n"
    incr = BatchedScript(redis, INCR)
    try:
        calls = [asyncio.ensure_future(incr([counter], [1])) for _ in range(5)]
        await asyncio.sleep(0)  # every call is waiting for its batch, not yet sent
        calls[2].cancel()
        done = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 5)
        assert isinstance(done[2], asyncio.CancelledError)
        assert [done[i] for i in (0, 1, 3, 4)] == [1, 2, 4, 5]
        assert int(await redis.get(counter)) == 5
    finally:
        await redis.delete(counter)


async def test_without_redis_every_call_of_the_batch_fails() -> None:
    from bot.redis_embedded import free_port

    down = create_redis(f"redis://127.0.0.1:{free_port()}/0")
    incr = BatchedScript(down, INCR)
    try:
        results = await asyncio.gather(*(incr(["k"], [1]) for _ in range(3)), return_exceptions=True)
        assert all(isinstance(r, ConnectionError) for r in results)
    finally:
        await down.close()
