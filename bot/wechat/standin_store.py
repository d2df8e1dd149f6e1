"""The stand-in's state in Redis (prefix ``standin:``), so every process and the tests see one WeChat.

What must not race across processes (token rotation, the 5-message allowance, sequence numbers) runs as
one Lua script each. Records are bounded: 500 items per conversation, media and users expire.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

PREFIX = "standin:"
TOKEN_TTL = 7200
#: After a new token is issued the previous one keeps working this long (WeChat's rule).
TOKEN_GRACE = 300
WINDOW_SECONDS = 48 * 3600
MESSAGES_PER_INBOUND = 5
CONVERSATION_LIMIT = 500
MEDIA_TTL = 3 * 24 * 3600  # temporary media live three days on WeChat
USER_TTL = 30 * 24 * 3600
APIS = ("token", "custom_send", "template_send", "media_upload", "media_get")

# KEYS: tokens hash, current, previous. ARGV: new token, now, ttl, grace.
# A token's value is "expires_at|revoked_at" (revoked_at empty while it is the newest).
_ISSUE_TOKEN = """
local now = tonumber(ARGV[2])
local prev = redis.call('GET', KEYS[3])
if prev then redis.call('HDEL', KEYS[1], prev) end
local cur = redis.call('GET', KEYS[2])
if cur then
  local v = redis.call('HGET', KEYS[1], cur)
  if v then
    local exp = tonumber(string.match(v, '^([^|]*)'))
    local revoke = math.min(exp, now + tonumber(ARGV[4]))
    redis.call('HSET', KEYS[1], cur, exp .. '|' .. revoke)
    redis.call('SET', KEYS[3], cur)
  end
end
redis.call('HSET', KEYS[1], ARGV[1], (now + tonumber(ARGV[3])) .. '|')
redis.call('SET', KEYS[2], ARGV[1])
return 1
"""

# KEYS: user hash. ARGV: now, window seconds, allowance, consume (1/0). Returns a WeChat errcode.
_WINDOW = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 40003 end
if redis.call('HGET', KEYS[1], 'subscribed') ~= '1' then return 43004 end
local last = tonumber(redis.call('HGET', KEYS[1], 'last_inbound') or '')
if last == nil or tonumber(ARGV[1]) - last > tonumber(ARGV[2]) then return 45015 end
local used = tonumber(redis.call('HGET', KEYS[1], 'sent_since_inbound') or '0')
if used >= tonumber(ARGV[3]) then return 45047 end
if ARGV[4] == '1' then redis.call('HINCRBY', KEYS[1], 'sent_since_inbound', 1) end
return 0
"""

# KEYS: sequence counter, conversation list. ARGV: item JSON without "seq", limit, pub/sub channel.
# Numbering and appending in one step keeps every list in sequence order for ``after=`` readers.
_RECORD = """
local seq = redis.call('INCR', KEYS[1])
local item = '{"seq":' .. seq .. ',' .. string.sub(ARGV[1], 2)
redis.call('RPUSH', KEYS[2], item)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
redis.call('PUBLISH', ARGV[3], item)
return seq
"""


@dataclass(frozen=True)
class Media:
    body: bytes
    content_type: str
    kind: str
    created_at: int


def _k(*parts: str) -> str:
    return PREFIX + ":".join(parts)


def channel(openid: str) -> str:
    """Pub/sub channel of one user's conversation (the page's live stream)."""
    return _k("events", openid)


class StandinStore:
    """All stand-in state; a thin layer of named operations over one Redis connection pool."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._issue = redis.register_script(_ISSUE_TOKEN)
        self._window = redis.register_script(_WINDOW)
        self._record = redis.register_script(_RECORD)

    # -- the stand-in's clock: tests move it to expire tokens and close the 48-hour window --
    async def now(self) -> float:
        offset = await self.redis.get(_k("clock_offset"))
        return time.time() + float(offset or 0)

    async def set_clock_offset(self, seconds: float) -> None:
        await self.redis.set(_k("clock_offset"), repr(float(seconds)))

    async def clock_offset(self) -> float:
        return float(await self.redis.get(_k("clock_offset")) or 0)

    # -- access tokens --
    async def issue_token(self, now: float) -> str:
        token = secrets.token_urlsafe(96)[:128]
        keys = [_k("tokens"), _k("token", "current"), _k("token", "previous")]
        await self._issue(keys=keys, args=[token, int(now), TOKEN_TTL, TOKEN_GRACE])
        return token

    async def check_token(self, token: str, now: float) -> int:
        """0, or 40001 (unknown, superseded) / 42001 (expired), as WeChat answers."""
        if not token:
            return 40001
        value = await self.redis.hget(_k("tokens"), token)
        if value is None:
            return 40001
        expires, _, revoked = value.partition("|")
        if now >= float(expires):
            return 42001
        if revoked and now >= float(revoked):
            return 40001
        return 0

    # -- users (followers of the account) --
    async def user(self, openid: str) -> dict[str, str]:
        return dict(await self.redis.hgetall(_k("user", openid)))

    async def update_user(self, openid: str, fields: Mapping[str, str | int | float]) -> None:
        key = _k("user", openid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={k: str(v) for k, v in fields.items()})
            pipe.expire(key, USER_TTL)
            await pipe.execute()

    async def inbound(self, openid: str, now: float, *, opens_window: bool, subscribed: bool | None) -> None:
        """What a user's action changes: subscription, and (for most actions) the 48-hour window."""
        fields: dict[str, str | int | float] = {"last_seen": now}
        if subscribed is not None:
            fields["subscribed"] = int(subscribed)
        if opens_window:
            fields["last_inbound"] = now
            fields["sent_since_inbound"] = 0
        await self.update_user(openid, fields)

    async def window(self, openid: str, now: float, *, consume: bool) -> int:
        """0 when a customer-service message may go out now (and, with consume, count it)."""
        args = [now, WINDOW_SECONDS, MESSAGES_PER_INBOUND, "1" if consume else "0"]
        return int(await self._window(keys=[_k("user", openid)], args=args))

    async def follower(self, openid: str) -> int:
        """0 for a subscribed user, 40003 unknown, 43004 unsubscribed (template messages)."""
        state = await self.redis.hget(_k("user", openid), "subscribed")
        return 40003 if state is None else 0 if state == "1" else 43004

    # -- the conversation as the user's phone shows it --
    async def record(self, openid: str, item: Mapping[str, Any]) -> int:
        payload = json.dumps({"openid": openid, **item}, ensure_ascii=False, separators=(",", ":"))
        keys = [_k("seq"), _k("conv", openid)]
        return int(
            await self._record(keys=keys, args=[payload, CONVERSATION_LIMIT, channel(openid), USER_TTL])
        )

    async def conversation(self, openid: str, after: int = 0) -> list[dict[str, Any]]:
        items = [json.loads(raw) for raw in await self.redis.lrange(_k("conv", openid), 0, -1)]
        return [item for item in items if item["seq"] > after]

    # -- media (temporary material) --
    async def put_media(self, body: bytes, content_type: str, kind: str, now: float) -> tuple[str, int]:
        media_id = secrets.token_urlsafe(48)
        created = int(now)
        value = {"b": base64.b64encode(body).decode(), "t": content_type, "k": kind, "c": created}
        await self.redis.set(_k("media", media_id), json.dumps(value), ex=MEDIA_TTL)
        return media_id, created

    async def media(self, media_id: str) -> Media | None:
        raw = await self.redis.get(_k("media", media_id)) if media_id else None
        if raw is None:
            return None
        value = json.loads(raw)
        return Media(base64.b64decode(value["b"]), value["t"], value["k"], int(value["c"]))

    # -- failure injection --
    async def inject(self, api: str, spec: Mapping[str, Any], times: int) -> None:
        key = _k("fail", api)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, *[json.dumps(spec)] * times)
            pipe.expire(key, 24 * 3600)
            await pipe.execute()

    async def next_failure(self, api: str) -> dict[str, Any] | None:
        raw = await self.redis.lpop(_k("fail", api))
        return None if raw is None else dict(json.loads(raw))

    # -- counters --
    async def count(self, *fields: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in fields:
                pipe.hincrby(_k("stats"), name, 1)
            await pipe.execute()

    async def stats(self) -> dict[str, Any]:
        """Flat counters ("calls.custom_send", "errors.custom_send.45015") grouped for reading."""
        flat = {k: int(v) for k, v in (await self.redis.hgetall(_k("stats"))).items()}
        out: dict[str, Any] = {"token_fetches": flat.get("token.issued", 0)}
        for group in ("calls", "accepted", "injected", "callbacks"):
            out[group] = {k.split(".", 1)[1]: v for k, v in flat.items() if k.startswith(group + ".")}
        errors: dict[str, dict[str, int]] = {}
        for name, value in flat.items():
            if name.startswith("errors."):
                _, api, code = name.split(".", 2)
                errors.setdefault(api, {})[code] = value
        out["errors"] = errors
        return out

    # -- settings changed at run time (like switching modes in the WeChat console) --
    async def overrides(self) -> dict[str, str]:
        return dict(await self.redis.hgetall(_k("config")))

    async def set_overrides(self, values: Mapping[str, str | None]) -> None:
        for name, value in values.items():
            if value is None:
                await self.redis.hdel(_k("config"), name)
            else:
                await self.redis.hset(_k("config"), name, value)

    async def reset(self) -> int:
        """Forget everything the stand-in knows (tests start from a clean WeChat)."""
        deleted = 0
        batch: list[str] = []
        async for key in self.redis.scan_iter(match=PREFIX + "*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                deleted += await self.redis.delete(*batch)
                batch = []
        if batch:
            deleted += await self.redis.delete(*batch)
        return int(deleted)
