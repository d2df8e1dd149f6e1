"""The one session with the WeChat API (aiogram-style): every call goes through ``call``.

wechatpy is synchronous (requests), so calls run in a worker thread. The access token is shared by
all processes through Redis (wechatpy's RedisStorage) and fetched under a Redis lock, because
fetching a new token invalidates the old one: one fetch per expiry, never one per message. A
rejected token is refreshed and the call retried once. WeChat errcodes become typed exceptions.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import redis
import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage
from wechatpy.session.redisstorage import RedisStorage

from bot.config import WeChatSettings
from bot.wechat.errors import (
    ConfigurationError,
    PermanentError,
    TokenError,
    TransientError,
    WeChatError,
    classify,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")
TOKEN_LOCK_SECONDS = 10
#: How long a process trusts the token it last read from Redis. wechatpy reads the token and its expiry
#: for every call (six Redis round trips per message sent); a token replaced by another process stays
#: valid at WeChat for five minutes, and a rejected one is dropped at once (``WeChatSession._invalidate``).
TOKEN_CACHE_SECONDS = 30.0
#: A customer's video is kept up to this size (WeChat's own limit for a video message is about 25 MB).
MAX_VIDEO_BYTES = 30 * 1024 * 1024


class CachedStorage(SessionStorage):
    """RedisStorage with a short in-process read cache; writes and deletes go through to Redis."""

    def __init__(self, backend: RedisStorage, ttl: float = TOKEN_CACHE_SECONDS) -> None:
        self.backend = backend
        self._ttl = ttl
        self._local: dict[str, tuple[Any, float]] = {}

    def get(self, key: str, default: Any = None) -> Any:
        hit = self._local.get(key)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        value = self.backend.get(key, None)
        if value is None:
            return default
        self._local[key] = (value, time.monotonic() + self._ttl)
        return value

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        self.backend.set(key, value, ttl)
        self._local[key] = (value, time.monotonic() + self._ttl)

    def delete(self, key: str) -> None:
        self.backend.delete(key)
        self._local.pop(key, None)

    def forget(self) -> None:
        """Read Redis again next time (another process may have replaced the token)."""
        self._local.clear()


class _Client(WeChatClient):
    """wechatpy's client with its base URL configurable and its endless auto-retry off."""

    def __init__(self, settings: WeChatSettings, storage: CachedStorage, lock: Callable[[], Any]) -> None:
        self.API_BASE_URL = settings.api_base_url
        super().__init__(settings.appid, settings.secret, session=storage, timeout=10, auto_retry=False)
        self._lock = lock

    def fetch_access_token(self) -> dict[str, Any]:
        """Fetch under a cross-process lock; a valid token already stored (by whoever held the lock
        before us) is reused, because fetching another would revoke it for everybody else."""
        with self._lock():
            self.session.forget()  # under the lock, Redis is the truth
            current = self.session.get(self.access_token_key)
            if current and (self.expires_at or 0) - time.time() > 60:
                return {"access_token": current}
            logger.info("fetching a new WeChat access token")
            # wechatpy hard-codes api.weixin.qq.com here; honour the configured base URL instead.
            return self._fetch_access_token(
                url=f"{self.API_BASE_URL}token",
                params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            )


class WeChatSession:
    def __init__(self, settings: WeChatSettings, redis_url: str, prefix: str = "careloop:wechat") -> None:
        self.settings = settings
        self._redis = redis.Redis.from_url(redis_url)
        self._prefix = prefix
        self.client = _Client(
            settings, CachedStorage(RedisStorage(self._redis, prefix=f"{prefix}:session")), self._token_lock
        )

    def _token_lock(self) -> Any:
        return self._redis.lock(f"{self._prefix}:token-lock", timeout=TOKEN_LOCK_SECONDS, blocking_timeout=15)

    def _token_in_use(self) -> str | None:
        token = self.client.session.backend.get(self.client.access_token_key)
        return str(token) if token else None

    def _invalidate(self, rejected: str | None) -> None:
        """Forget the rejected token, unless another process already replaced it."""
        with self._token_lock():
            self.client.session.forget()
            if self._token_in_use() == rejected:
                self.client.session.delete(self.client.access_token_key)
                self.client.session.delete(f"{self.client.access_token_key}_expires_at")

    def _call_sync(self, fn: Callable[[_Client], T]) -> T:
        for attempt in (1, 2):
            used: str | None = None
            try:
                used = str(self.client.access_token)  # fetched (under the lock) if missing or expiring
                return fn(self.client)
            except WeChatClientException as exc:
                if exc.errcode is None:  # an HTTP failure wechatpy wrapped
                    status = getattr(exc.response, "status_code", None)
                    if status is not None and status < 500 and status not in (408, 429):
                        raise PermanentError(f"HTTP {status} from the WeChat API") from exc
                    raise TransientError(f"HTTP {status} from the WeChat API") from exc
                error = classify(int(exc.errcode), str(exc.errmsg))
            except requests.RequestException as exc:
                raise TransientError(f"network: {type(exc).__name__}: {exc}") from exc
            except redis.RedisError as exc:
                raise TransientError(f"redis: {exc}") from exc
            if isinstance(error, TokenError) and attempt == 1:
                logger.warning("WeChat rejected the access token (%s); refreshing once", error.code)
                self._invalidate(used)
                continue
            raise error
        raise TokenError("the access token was rejected twice")

    async def call(self, fn: Callable[[_Client], T]) -> T:
        """Run one wechatpy call off the event loop; failures arrive as typed errors."""
        started = time.perf_counter()
        try:
            return await asyncio.to_thread(self._call_sync, fn)
        finally:
            logger.debug("wechat call took %.1f ms", (time.perf_counter() - started) * 1000)

    async def download_media(self, media_id: str) -> tuple[bytes, str]:
        """(bytes, content type) of a customer's image, voice or video. For a video, media/get answers
        with ``{"video_url": …}`` instead of the file (WeChat serves videos from elsewhere, over plain
        HTTP): the file is fetched from there, within MAX_VIDEO_BYTES."""

        def fetch(client: _Client) -> tuple[bytes, str]:
            resp = client.media.download(media_id)
            if isinstance(resp, dict):  # wechatpy parses any JSON answer (and raises on an errcode)
                if resp.get("video_url"):
                    return _fetch_video(str(resp["video_url"]))
                raise WeChatClientException(resp.get("errcode", -1), resp.get("errmsg", ""))
            if "json" in resp.headers.get("Content-Type", "") or resp.content[:1] == b"{":
                raise TransientError("media/get answered with JSON that does not parse")
            return resp.content, resp.headers.get("Content-Type", "application/octet-stream")

        return await self.call(fetch)

    def close(self) -> None:
        self._redis.close()


def _fetch_video(url: str) -> tuple[bytes, str]:
    with requests.get(url, timeout=30, stream=True) as resp:
        if resp.status_code >= 400:
            raise WeChatClientException(None, f"HTTP {resp.status_code} for the video", response=resp)
        body = bytearray()
        for chunk in resp.iter_content(64 * 1024):
            body += chunk
            if len(body) > MAX_VIDEO_BYTES:
                raise PermanentError(f"the video is larger than {MAX_VIDEO_BYTES} bytes")
        return bytes(body), resp.headers.get("Content-Type", "video/mp4")


def new_menu_id() -> str:
    return uuid.uuid4().hex[:12]


__all__ = ["ConfigurationError", "WeChatError", "WeChatSession", "new_menu_id"]
