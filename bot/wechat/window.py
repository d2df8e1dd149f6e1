"""WeChat's customer-service window, shared by all processes through Redis.

After a customer's last message the account may send customer-service messages for 48 hours, at
most 5 of them (each new message from the customer opens a fresh window). Checked and counted in one
Lua script, so concurrent senders can never exceed the allowance.
"""

from __future__ import annotations

from enum import Enum

import redis.asyncio as aioredis

WINDOW_SECONDS = 48 * 3600
ALLOWANCE = 5

_CONSUME = """
local inbound = tonumber(redis.call('HGET', KEYS[1], 'inbound') or '-1')
if inbound < 0 then return 'unknown' end
if tonumber(ARGV[1]) - inbound > tonumber(ARGV[2]) then return 'outside_window' end
local sent = tonumber(redis.call('HGET', KEYS[1], 'sent') or '0')
if sent >= tonumber(ARGV[3]) then return 'allowance_used' end
redis.call('HINCRBY', KEYS[1], 'sent', 1)
return 'ok'
"""


class WindowVerdict(str, Enum):
    OK = "ok"
    OUTSIDE_WINDOW = "outside_window"
    ALLOWANCE_USED = "allowance_used"
    UNKNOWN = "unknown"  # nothing recorded (e.g. Redis was emptied): ask the database


class ServiceWindow:
    def __init__(self, redis: aioredis.Redis, prefix: str = "careloop:wechat:window") -> None:
        self._redis = redis
        self._prefix = prefix
        self._consume = redis.register_script(_CONSUME)

    def _key(self, openid: str) -> str:
        return f"{self._prefix}:{openid}"

    async def opened(self, openid: str, at: float) -> None:
        """The customer wrote at ``at`` (epoch seconds): a fresh window and allowance."""
        key = self._key(openid)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"inbound": int(at), "sent": 0})
            pipe.expire(key, WINDOW_SECONDS + 3600)
            await pipe.execute()

    async def consume(self, openid: str, now: float) -> WindowVerdict:
        """Take one message from the allowance if the window allows it."""
        result = await self._consume(keys=[self._key(openid)], args=[int(now), WINDOW_SECONDS, ALLOWANCE])
        return WindowVerdict(result.decode() if isinstance(result, bytes) else result)

    async def give_back(self, openid: str) -> None:
        """A message that was not delivered does not count."""
        await self._redis.hincrby(self._key(openid), "sent", -1)

    async def close(self, openid: str, *, allowance_used: bool = False) -> None:
        """WeChat said the window is closed (45015) or the allowance used (45047): believe it until
        the customer writes again."""
        if allowance_used:
            await self._redis.hset(self._key(openid), "sent", ALLOWANCE)
        else:
            await self._redis.hset(self._key(openid), "inbound", 0)

    async def remaining(self, openid: str, now: float) -> int:
        """Messages still allowed now (-1: nothing recorded)."""
        state = await self._redis.hgetall(self._key(openid))
        if not state or "inbound" not in state:
            return -1
        if now - float(state["inbound"]) > WINDOW_SECONDS:
            return 0
        return max(0, ALLOWANCE - int(state.get("sent", 0)))

    async def last_inbound(self, openid: str) -> float | None:
        value = await self._redis.hget(self._key(openid), "inbound")
        return float(value) if value is not None else None
