"""The 48-hour window's corrections (a send that failed, WeChat saying no) against a real Redis,
including the moment Redis has lost the customer's window."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from bot.wechat.window import ALLOWANCE, KEY_SECONDS, ServiceWindow, WindowVerdict

PREFIX = "careloop-test:window"


async def test_a_failed_send_gives_back_what_it_took_and_never_more(
    redis: aioredis.Redis, unique: str
) -> None:
    window, openid, now = ServiceWindow(redis, PREFIX), f"o_{unique}", time.time()
    try:
        await window.opened(openid, now)
        assert await window.consume(openid, now) is WindowVerdict.OK
        await window.give_back(openid)
        await window.give_back(openid)  # a second, stray give-back must not raise the allowance
        assert await window.remaining(openid, now) == ALLOWANCE
        for _ in range(ALLOWANCE):
            assert await window.consume(openid, now) is WindowVerdict.OK
        assert await window.consume(openid, now) is WindowVerdict.ALLOWANCE_USED
    finally:
        await redis.delete(f"{PREFIX}:{openid}")


async def test_a_give_back_after_redis_lost_the_window_leaves_nothing_behind(
    redis: aioredis.Redis, unique: str
) -> None:
    window, openid, key = ServiceWindow(redis, PREFIX), f"o_{unique}", f"{PREFIX}:o_{unique}"
    await window.opened(openid, time.time())
    await redis.delete(key)  # lost between the send and its failure
    await window.give_back(openid)
    assert await redis.exists(key) == 0  # no key without an expiry, and the next send asks the database
    assert await window.consume(openid, time.time()) is WindowVerdict.UNKNOWN


async def test_wechat_saying_no_to_a_lost_window_is_kept_only_as_long_as_a_window(
    redis: aioredis.Redis, unique: str
) -> None:
    window, now = ServiceWindow(redis, PREFIX), time.time()
    closed, used = f"o_{unique}_closed", f"o_{unique}_used"
    try:
        await window.close(closed)  # 45015, with nothing recorded
        await window.close(used, allowance_used=True)  # 45047, with nothing recorded
        for openid in (closed, used):
            assert 0 < await redis.ttl(f"{PREFIX}:{openid}") <= KEY_SECONDS
        assert await window.consume(closed, now) is WindowVerdict.OUTSIDE_WINDOW
        # the customer writes again: a fresh window and allowance, as always
        await window.opened(used, now)
        assert await window.remaining(used, now) == ALLOWANCE
    finally:
        await redis.delete(f"{PREFIX}:{closed}", f"{PREFIX}:{used}")


async def test_closing_a_known_window_keeps_its_expiry(redis: aioredis.Redis, unique: str) -> None:
    window, openid, now = ServiceWindow(redis, PREFIX), f"o_{unique}", time.time()
    key = f"{PREFIX}:{openid}"
    try:
        await window.opened(openid, now)
        await redis.expire(key, 600)  # the customer wrote long ago: ten minutes of the key are left
        await window.close(openid, allowance_used=True)
        assert 0 < await redis.ttl(key) <= 600
        assert await window.consume(openid, now) is WindowVerdict.ALLOWANCE_USED
    finally:
        await redis.delete(key)
