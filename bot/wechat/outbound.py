"""Where the WeChat channel's sends go: straight to the gateway, or queued for the worker.

Why queue (``WECHAT_OUTBOUND=queue``, what ``make run`` uses): the process that runs Rasa's model is
the bottleneck (bench/wechat_vs_rest.py), and every reply costs it an outbox row written and
updated, a window check and an HTTP call. Queued, a reply costs it one Redis push; the worker
(``bot.worker``) sends, per customer in order, through the same gateway: outbox, 48-hour window,
retries and dead letters are unchanged. ``direct`` needs no worker (single-process deployments, tests).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, Protocol

import redis.asyncio as aioredis

from bot.customers import CustomerService
from bot.wechat.gateway import WeChatGateway
from bot.wechat.inbox import CustomerQueues, QueueRunner

logger = logging.getLogger(__name__)

CHANNEL = "wechat"


class Outbound(Protocol):
    async def customer_wrote(self, openid: str, created: float, at: datetime) -> None: ...
    async def send_text(self, openid: str, text: str, *, purpose: str = "reply") -> None: ...
    async def send_menu(
        self, openid: str, head: str, options: list[tuple[str, str]], *, purpose: str = "reply"
    ) -> None: ...
    async def send_image_url(self, openid: str, url: str) -> None: ...
    async def send_template(self, openid: str, data: dict[str, Any], url: str | None = None) -> None: ...
    async def deliver(self, openid: str, kind: str, body: dict[str, Any]) -> None: ...


class DirectOutbound:
    """Sends now, from this process."""

    def __init__(self, gateway: WeChatGateway, customers: CustomerService) -> None:
        self.gateway = gateway
        self.customers = customers

    async def customer_wrote(self, openid: str, created: float, at: datetime) -> None:
        """The 48-hour window opens (Redis and database), and what the allowance held back goes out."""
        held_back = await self.gateway.customer_wrote(openid, created)
        await self.recorded_inbound(openid, at, held_back=held_back)

    async def recorded_inbound(self, openid: str, at: datetime, *, held_back: bool = True) -> None:
        """``held_back`` False: the window says it turned nothing away (``ServiceWindow.opened``), so
        the outbox is not searched: a database round trip saved on almost every message."""
        await self.customers.customer_wrote(openid, CHANNEL, at)
        if held_back:
            await self.gateway.flush_deferred(openid)

    async def send_text(self, openid: str, text: str, *, purpose: str = "reply") -> None:
        await self.gateway.send_text(openid, text, purpose=purpose)

    async def send_menu(
        self, openid: str, head: str, options: list[tuple[str, str]], *, purpose: str = "reply"
    ) -> None:
        await self.gateway.send_menu(openid, head, options, purpose=purpose)

    async def send_image_url(self, openid: str, url: str) -> None:
        await self.gateway.send_image_url(openid, url)

    async def send_template(self, openid: str, data: dict[str, Any], url: str | None = None) -> None:
        await self.gateway.send_template(openid, data, url=url)

    async def deliver(self, openid: str, kind: str, body: dict[str, Any]) -> None:
        await self.gateway.deliver(openid, kind, body)

    async def perform(self, command: dict[str, Any]) -> None:
        """Carry out one queued command (the worker's side of ``QueuedOutbound``)."""
        openid, op = command["openid"], command["op"]
        if op == "inbound":
            at = datetime.fromisoformat(command["at"])
            await self.recorded_inbound(openid, at, held_back=command.get("held_back", True))
        elif op == "text":
            await self.send_text(openid, command["text"], purpose=command.get("purpose", "reply"))
        elif op == "menu":
            options = [tuple(o) for o in command["options"]]
            await self.send_menu(openid, command["head"], options, purpose=command.get("purpose", "reply"))
        elif op == "image_url":
            await self.send_image_url(openid, command["url"])
        elif op == "template":
            await self.send_template(openid, command["data"], command.get("url"))
        elif op == "deliver":
            await self.deliver(openid, command["kind"], command["body"])
        else:
            raise ValueError(f"unknown outbound command {op!r}")


def _encode(command: dict[str, Any]) -> str:
    return json.dumps(command, ensure_ascii=False)


def _decode(raw: str | bytes) -> dict[str, Any]:
    return dict(json.loads(raw))


class OutboundQueue(CustomerQueues[dict[str, Any]]):
    def __init__(self, redis: aioredis.Redis, prefix: str = "careloop:wechat") -> None:
        super().__init__(redis, prefix, "outq", _encode, _decode)

    async def put(self, command: dict[str, Any]) -> None:
        """Queue and announce in one step, so a taker always finds what it was told about."""
        await self.enqueue(command["openid"], command, announce=True)


class QueuedOutbound:
    """Hands every send to the worker, in order; only the window's opening happens here, at once,
    so the replies that follow are measured against it."""

    def __init__(self, gateway: WeChatGateway, queue: OutboundQueue) -> None:
        self._gateway = gateway
        self._queue = queue

    async def customer_wrote(self, openid: str, created: float, at: datetime) -> None:
        held_back = await self._gateway.customer_wrote(openid, created)
        command = {"op": "inbound", "openid": openid, "at": at.isoformat(), "held_back": held_back}
        await self._queue.put(command)

    async def send_text(self, openid: str, text: str, *, purpose: str = "reply") -> None:
        await self._queue.put({"op": "text", "openid": openid, "text": text, "purpose": purpose})

    async def send_menu(
        self, openid: str, head: str, options: list[tuple[str, str]], *, purpose: str = "reply"
    ) -> None:
        command = {"op": "menu", "openid": openid, "head": head, "options": list(options), "purpose": purpose}
        await self._queue.put(command)

    async def send_image_url(self, openid: str, url: str) -> None:
        await self._queue.put({"op": "image_url", "openid": openid, "url": url})

    async def send_template(self, openid: str, data: dict[str, Any], url: str | None = None) -> None:
        await self._queue.put({"op": "template", "openid": openid, "data": data, "url": url})

    async def deliver(self, openid: str, kind: str, body: dict[str, Any]) -> None:
        await self._queue.put({"op": "deliver", "openid": openid, "kind": kind, "body": body})


def sender(queue: OutboundQueue, direct: DirectOutbound, concurrency: int = 8) -> QueueRunner[dict[str, Any]]:
    """The worker's part: sends what the Rasa servers queued, each customer's replies in order."""
    return QueueRunner(queue, direct.perform, concurrency)


__all__ = ["DirectOutbound", "Outbound", "OutboundQueue", "QueuedOutbound", "sender"]
