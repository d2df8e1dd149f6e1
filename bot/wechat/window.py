"""WeChat's customer-service window, shared by all processes through Redis.

After a customer's last message the account may send customer-service messages for 48 hours, at
most 5 of them (each new message from the customer opens a fresh window). Checked and counted in one
Lua script, so concurrent senders can never exceed the allowance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum

import redis.asyncio as aioredis

WINDOW_SECONDS = 48 * 3600
KEY_SECONDS = WINDOW_SECONDS + 3600  # how long Redis keeps a customer's window after their last message
ALLOWANCE = 5

_CONSUME = """
local inbound = tonumber(redis.call('HGET', KEYS[1], 'inbound') or '-1')
if inbound < 0 then return 'unknown' end
if tonumber(ARGV[1]) - inbound > tonumber(ARGV[2]) then return 'outside_window' end
local sent = tonumber(redis.call('HGET', KEYS[1], 'sent') or '0')
if sent >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'held', 1)
  return 'allowance_used'
end
redis.call('HINCRBY', KEYS[1], 'sent', 1)
return 'ok'
"""

# A fresh window. Answers whether messages may have been held back for the customer's next message:
# the allowance turned one away (``held``; a used-up allowance counts too, as windows recorded before
# ``held`` existed say no more), or nothing was recorded (a new customer, or Redis was emptied) and
# only the database knows. ARGV[3] = 1 keeps ``held`` set: a window rebuilt from the database cannot
# know what the lost one held back.
_OPEN = """
local known = redis.call('EXISTS', KEYS[1]) == 1
local held = redis.call('HGET', KEYS[1], 'held')
local sent = tonumber(redis.call('HGET', KEYS[1], 'sent') or '0')
redis.call('HSET', KEYS[1], 'inbound', ARGV[1], 'sent', 0)
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'held', 1) else redis.call('HDEL', KEYS[1], 'held') end
redis.call('EXPIRE', KEYS[1], ARGV[2])
if held or not known or sent >= tonumber(ARGV[4]) then return 1 end
return 0
"""

# A message not delivered after all is handed back to the allowance, never below zero, and only to a
# window that still exists: one Redis lost in the meantime is not recreated as a key without expiry.
_GIVE_BACK = """
if tonumber(redis.call('HGET', KEYS[1], 'sent') or '0') > 0 then
  redis.call('HINCRBY', KEYS[1], 'sent', -1)
end
"""

# WeChat said the window is closed (ARGV[1] = 'closed') or the allowance used ('used'). A window Redis
# lost is recreated with the usual expiry, so it cannot outlive the customer's silence forever.
_CLOSE = """
if ARGV[1] == 'used' then
  redis.call('HSET', KEYS[1], 'sent', ARGV[3], 'held', 1)
else
  redis.call('HSET', KEYS[1], 'inbound', 0)
end
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
"""


class WindowVerdict(str, Enum):
    OK = "ok"
    OUTSIDE_WINDOW = "outside_window"
    ALLOWANCE_USED = "allowance_used"
    UNKNOWN = "unknown"  # nothing recorded (e.g. Redis was emptied): ask the database


@dataclass(frozen=True)
class WindowState:
    last_inbound: float  # epoch seconds; 0 once WeChat said the window is closed
    sent: int

    @property
    def last_inbound_at(self) -> datetime | None:
        return datetime.fromtimestamp(self.last_inbound, timezone.utc) if self.last_inbound else None

    def is_open(self, now: float) -> bool:
        return now - self.last_inbound <= WINDOW_SECONDS

    def remaining(self, now: float) -> int:
        return max(0, ALLOWANCE - self.sent) if self.is_open(now) else 0


class ServiceWindow:
    def __init__(self, redis: aioredis.Redis, prefix: str = "careloop:wechat:window") -> None:
        self._redis = redis
        self._prefix = prefix
        self._consume = redis.register_script(_CONSUME)
        self._open = redis.register_script(_OPEN)
        self._give_back = redis.register_script(_GIVE_BACK)
        self._close = redis.register_script(_CLOSE)

    def _key(self, openid: str) -> str:
        return f"{self._prefix}:{openid}"

    async def opened(self, openid: str, at: float) -> bool:
        """The customer wrote at ``at`` (epoch seconds): a fresh window and allowance. True when
        messages may have been held back before it (then, and only then, the outbox is worth a look)."""
        return await self._reopen(openid, at, keep_held=False)

    async def restored(self, openid: str, at: float) -> None:
        """The window rebuilt from the customer's last message in the database (Redis lost it); what
        the lost window held back is unknown, so the customer's next message looks in the outbox."""
        await self._reopen(openid, at, keep_held=True)

    async def _reopen(self, openid: str, at: float, *, keep_held: bool) -> bool:
        args = [int(at), KEY_SECONDS, int(keep_held), ALLOWANCE]
        return bool(await self._open(keys=[self._key(openid)], args=args))

    async def consume(self, openid: str, now: float) -> WindowVerdict:
        """Take one message from the allowance if the window allows it."""
        result = await self._consume(keys=[self._key(openid)], args=[int(now), WINDOW_SECONDS, ALLOWANCE])
        return WindowVerdict(result.decode() if isinstance(result, bytes) else result)

    async def give_back(self, openid: str) -> None:
        """A message that was not delivered does not count."""
        await self._give_back(keys=[self._key(openid)])

    async def close(self, openid: str, *, allowance_used: bool = False) -> None:
        """WeChat said the window is closed (45015) or the allowance used (45047): believe it until
        the customer writes again."""
        how = "used" if allowance_used else "closed"
        await self._close(keys=[self._key(openid)], args=[how, KEY_SECONDS, ALLOWANCE])

    async def remaining(self, openid: str, now: float) -> int:
        """Messages still allowed now (-1: nothing recorded)."""
        state = await self.state(openid)
        return -1 if state is None else state.remaining(now)

    async def state(self, openid: str) -> WindowState | None:
        """None when nothing is recorded (a new customer, or Redis lost it)."""
        state = await self._redis.hgetall(self._key(openid))
        if not state or "inbound" not in state:
            return None
        return WindowState(float(state["inbound"]), int(state.get("sent", 0)))

    async def last_inbound(self, openid: str) -> float | None:
        value = await self._redis.hget(self._key(openid), "inbound")
        return float(value) if value is not None else None
