"""The WeChat callback front: a small server whose only job is to answer WeChat at once.

Why a process of its own: the Rasa server runs model inference on its event loop (tens of
milliseconds of CPU per message), so a callback posted there waits behind whatever is being
inferred. Here a callback costs a signature check, a decrypt and one Redis round trip; the message
goes into the per-customer inbox, the Rasa servers are told (``Inbox.next_ready``) and handle it.
The Rasa server's own webhook (channels/wechat.py) takes callbacks the same way, through the same
``CallbackDesk``, for deployments that run no front.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json, text

from bot.config import Settings
from bot.redis_client import create_redis
from bot.wechat.inbox import Inbox
from bot.wechat.protocol import CallbackVerifier, InboundMessage, ProtocolError

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/wechat/webhook"


@dataclass(frozen=True)
class Answer:
    """What to answer WeChat, and the message if it is new (not a retry)."""

    status: int
    body: str
    fresh: InboundMessage | None = None


class CallbackDesk:
    """Verify, refuse or queue: the whole of what a callback does before ``success``."""

    def __init__(self, verifier: CallbackVerifier, inbox: Inbox, *, announce: bool) -> None:
        self._verifier = verifier
        self._inbox = inbox
        self._announce = announce

    def verify_url(self, query: Mapping[str, str]) -> Answer:
        try:
            return Answer(200, self._verifier.verify_url(query))
        except ProtocolError as exc:
            logger.warning("WeChat URL verification refused: %s", exc)
            return Answer(exc.status, str(exc))

    async def receive(self, query: Mapping[str, str], body: bytes) -> Answer:
        try:
            message = self._verifier.open(query, body)
        except ProtocolError as exc:
            logger.warning("WeChat callback refused (%s): %s", exc.status, exc)
            return Answer(exc.status, str(exc))
        try:
            fresh = await self._inbox.accept(message, announce=self._announce)
        except Exception:  # Redis down: say so, and WeChat will retry the callback
            logger.exception("could not queue a WeChat message")
            return Answer(503, "temporarily unavailable")
        return Answer(200, "success", message if fresh else None)


def verifier_for(settings: Settings) -> CallbackVerifier:
    wechat = settings.wechat
    return CallbackVerifier(wechat.token, wechat.appid, wechat.encoding_aes_key, wechat.max_timestamp_skew)


def query_of(request: Request) -> dict[str, str]:
    return {k: v[0] for k, v in request.args.items() if v}


def create_front_app(settings: Settings, name: str = "careloop_wechat_front") -> Sanic:
    """``python -m bot wechat``: WeChat's callback URL is ``http://<host>:<port>/webhooks/wechat/webhook``."""
    if not settings.wechat.configured:
        raise SystemExit("WECHAT_APPID / WECHAT_APPSECRET / WECHAT_TOKEN are unset: nothing to front")
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = 1024 * 1024  # the protocol refuses over 64 KiB with a 400 itself

    async def _start(app: Sanic, _loop: Any) -> None:
        app.ctx.redis = create_redis(settings.redis_url)
        app.ctx.desk = CallbackDesk(verifier_for(settings), Inbox(app.ctx.redis), announce=True)

    async def _stop(app: Sanic, _loop: Any) -> None:
        await app.ctx.redis.close()

    app.register_listener(_start, "before_server_start")
    app.register_listener(_stop, "after_server_stop")

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        try:
            await request.app.ctx.redis.ping()
        except Exception:
            return json({"status": "redis unavailable"}, status=503)
        return json({"status": "ok"})

    @app.get(WEBHOOK_PATH)
    async def verify(request: Request) -> HTTPResponse:
        answer = request.app.ctx.desk.verify_url(query_of(request))
        return text(answer.body, status=answer.status)

    @app.post(WEBHOOK_PATH)
    async def receive(request: Request) -> HTTPResponse:
        answer = await request.app.ctx.desk.receive(query_of(request), request.body or b"")
        return text(answer.body, status=answer.status)

    return app


__all__ = ["WEBHOOK_PATH", "Answer", "CallbackDesk", "create_front_app", "query_of", "verifier_for"]
