"""Console sign-in state in Redis: sessions with a sliding expiry, CSRF tokens, flash messages and a
per-username-and-address limit on failed sign-ins.

Only a SHA-256 of the session id is used as the Redis key, so whoever can read Redis (a dump, a replica)
still cannot take over a live session.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

import redis.asyncio as aioredis

PREFIX = "careloop:console"
SESSION_TTL = 12 * 3600  # seconds; every authenticated request starts the 12 hours again
MAX_FAILURES = 5
FAILURE_WINDOW = 600  # seconds


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def tokens_match(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison that treats a missing token on either side as a mismatch."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


@dataclass(frozen=True)
class ConsoleSession:
    sid: str
    username: str
    csrf: str
    created_at: float


class SessionStore:
    """Server-side sessions: the cookie carries nothing but a random 32-byte id."""

    def __init__(self, redis: aioredis.Redis, ttl: int = SESSION_TTL) -> None:
        self._redis = redis
        self.ttl = ttl

    @staticmethod
    def _key(sid: str) -> str:
        return f"{PREFIX}:session:{_digest(sid)}"

    async def create(self, username: str) -> ConsoleSession:
        session = ConsoleSession(secrets.token_urlsafe(32), username, secrets.token_urlsafe(32), time.time())
        key = self._key(session.sid)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={"username": username, "csrf": session.csrf, "created_at": str(session.created_at)},
            )
            pipe.expire(key, self.ttl)
            await pipe.execute()
        return session

    async def load(self, sid: str | None, *, slide: bool = True) -> ConsoleSession | None:
        """The live session for a cookie value (its expiry moved on), or None."""
        if not sid or len(sid) > 128:
            return None
        key = self._key(sid)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(key)
            if slide:
                pipe.expire(key, self.ttl)
            found, *_ = await pipe.execute()
        if not found or "username" not in found or "csrf" not in found:
            return None
        return ConsoleSession(sid, found["username"], found["csrf"], float(found.get("created_at") or 0))

    async def destroy(self, sid: str) -> None:
        await self._redis.delete(self._key(sid))

    async def flash(self, sid: str, message: str, level: str = "info") -> None:
        """A message for the next page this session loads (after a redirect)."""
        key = self._key(sid)
        raw = await self._redis.hget(key, "flashes")
        flashes = json.loads(raw) if raw else []
        flashes.append({"level": level, "text": message})
        await self._redis.hset(key, "flashes", json.dumps(flashes[-5:], ensure_ascii=False))

    async def pop_flashes(self, sid: str) -> list[dict[str, str]]:
        key = self._key(sid)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(key, "flashes")
            pipe.hdel(key, "flashes")
            raw, _ = await pipe.execute()
        return json.loads(raw) if raw else []


class LoginThrottle:
    """At most ``MAX_FAILURES`` wrong passwords per username and address in ``FAILURE_WINDOW`` seconds."""

    def __init__(
        self, redis: aioredis.Redis, limit: int = MAX_FAILURES, window: int = FAILURE_WINDOW
    ) -> None:
        self._redis = redis
        self.limit = limit
        self.window = window

    @staticmethod
    def _key(username: str, address: str) -> str:
        return f"{PREFIX}:login-failures:{_digest(username.strip().lower() + '|' + address)}"

    async def blocked(self, username: str, address: str) -> bool:
        count = await self._redis.get(self._key(username, address))
        return int(count or 0) >= self.limit

    async def failed(self, username: str, address: str) -> int:
        """Count a failure; the window starts at the first one (a fixed window, no extension)."""
        key = self._key(username, address)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=self.window, nx=True)
            pipe.incr(key)
            _, count = await pipe.execute()
        return int(count)

    async def succeeded(self, username: str, address: str) -> None:
        await self._redis.delete(self._key(username, address))
