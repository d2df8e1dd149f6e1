"""The gateway: how CareLoop sends to WeChat customers, with the rules WeChat imposes.

Every message is recorded in the outbox before it is sent. The 48-hour window and the 5-message
allowance are checked before calling the API; outside them the configured template message is used
where the caller allows it, or the message is recorded as skipped with the reason. Transient failures
are retried (twice inline, then by the worker with backoff); permanent ones become dead letters.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import redis.asyncio as aioredis

from bot.wechat.errors import OutsideWindowError, PermanentError, TransientError, WeChatError
from bot.wechat.outbox import (
    DEFERRED_FOR,
    Fate,
    OutboxRecord,
    OutboxStatus,
    OutboxStore,
    fate_of,
    next_attempt,
)
from bot.wechat.session import WeChatSession, new_menu_id
from bot.wechat.window import ServiceWindow, WindowVerdict

logger = logging.getLogger(__name__)

TEXT_LIMIT_BYTES = 2000  # WeChat refuses customer-service text over 2048 bytes
INLINE_RETRIES = (0.3, 1.0)
MENU_TTL = 48 * 3600
MORE_TO_COME = "\n（内容较长，回复任意消息查看余下部分）"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def split_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> list[str]:
    """Pieces of at most ``limit`` UTF-8 bytes, cut at line ends, then sentence ends, then anywhere."""
    text = text.strip()
    if len(text.encode()) <= limit:
        return [text] if text else []
    pieces: list[str] = []
    current = ""
    for unit in _units(text):
        if len((current + unit).encode()) <= limit:
            current += unit
            continue
        if current.strip():
            pieces.append(current.strip())
        while len(unit.encode()) > limit:  # one unit longer than the limit: cut by characters
            cut = len(unit)
            while len(unit[:cut].encode()) > limit:
                cut = int(cut * 0.9)
            pieces.append(unit[:cut])
            unit = unit[cut:]
        current = unit
    if current.strip():
        pieces.append(current.strip())
    return pieces


def _units(text: str) -> list[str]:
    units, start = [], 0
    for i, ch in enumerate(text):
        if ch in "\n。！？!?；;":
            units.append(text[start : i + 1])
            start = i + 1
    if start < len(text):
        units.append(text[start:])
    return units


@dataclass(frozen=True)
class Delivery:
    status: OutboxStatus
    outbox_id: int | None
    reason: str | None = None


LastInbound = Callable[[str], Awaitable[datetime | None]]
#: Told of a message that will never reach the customer, so what waits for it can stop waiting
#: (a survey whose question WeChat refused is unreachable, not "sent").
OnLost = Callable[[OutboxRecord], Awaitable[None]]
LOST = (Fate.OUT_OF_WINDOW, Fate.FAILED, Fate.NOT_SENT)


class WeChatGateway:
    def __init__(
        self,
        session: WeChatSession,
        redis: aioredis.Redis,
        outbox: OutboxStore,
        *,
        template_id: str = "",
        last_inbound_from_db: LastInbound | None = None,
        on_lost: OnLost | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session = session
        self.window = ServiceWindow(redis)
        self._redis = redis
        self._outbox = outbox
        self._template_id = template_id
        self._last_inbound_from_db = last_inbound_from_db
        self._on_lost = on_lost
        self._clock = clock

    # --- inbound bookkeeping ------------------------------------------------------------------

    async def customer_wrote(self, openid: str, at: float | None = None) -> bool:
        """Opens a fresh window; True when ``flush_deferred`` may find something to send."""
        return await self.window.opened(openid, time.time() if at is None else at)

    async def flush_deferred(self, openid: str) -> int:
        """Send, in order, what the allowance held back; called when the customer writes again."""
        sent = 0
        for record in await self._outbox.deferred(openid, self._clock() - DEFERRED_FOR):
            if (await self.retry(record)).status is OutboxStatus.SENT:
                sent += 1
        return sent

    async def menu_payload(self, openid: str, menu_id: str) -> str | None:
        """What a tapped msgmenu option stands for (the button's payload)."""
        if not menu_id:
            return None
        return await self._redis.get(f"careloop:wechat:menu:{openid}:{menu_id}")

    # --- sending ------------------------------------------------------------------------------

    async def send_text(self, openid: str, text: str, *, purpose: str = "reply") -> list[Delivery]:
        """Send a text in as many pieces as WeChat needs. Pieces beyond the allowance wait (the
        outbox keeps them) and go out first when the customer next writes; the last piece sent
        now says so."""
        pieces = split_text(text)
        if len(pieces) > 1:  # (one piece needs no notice: skip the Redis round trip)
            remaining = await self.window.remaining(openid, time.time())
            if 0 < remaining < len(pieces):
                pieces[remaining - 1] += MORE_TO_COME
        return [
            await self.deliver(
                openid, "text", {"msgtype": "text", "text": {"content": piece}}, purpose=purpose
            )
            for piece in pieces
        ]

    async def send_menu(
        self,
        openid: str,
        head: str,
        options: list[tuple[str, str]],
        *,
        tail: str = "",
        purpose: str = "reply",
    ) -> Delivery:
        """A msgmenu: tappable options; a tap comes back as text with its id, mapped to the payload."""
        items = []
        for title, payload in options[:10]:
            menu_id = new_menu_id()
            await self._redis.set(f"careloop:wechat:menu:{openid}:{menu_id}", payload, ex=MENU_TTL)
            items.append({"id": menu_id, "content": title[:60]})
        body = {
            "msgtype": "msgmenu",
            "msgmenu": {"head_content": head[:900], "list": items, "tail_content": tail},
        }
        return await self.deliver(openid, "msgmenu", body, purpose=purpose)

    async def send_image_url(self, openid: str, url: str, *, purpose: str = "reply") -> Delivery:
        """Upload the picture as temporary media and send it; if that fails, send the link."""
        try:
            media_id = await self.session.call(lambda c: _upload_from_url(c, url))
        except WeChatError as exc:
            logger.warning("could not upload image %s: %s; sending the link instead", url, exc)
            return (await self.send_text(openid, url, purpose=purpose))[0]
        return await self.deliver(
            openid, "image", {"msgtype": "image", "image": {"media_id": media_id}}, purpose=purpose
        )

    async def send_template(
        self, openid: str, data: dict[str, Any], *, url: str | None = None, purpose: str = "notice"
    ) -> Delivery:
        if not self._template_id:
            return await self._record_skip(
                openid, "template", {"data": data}, purpose, "no_template_configured"
            )
        body = {"template_id": self._template_id, "data": data, **({"url": url} if url else {})}
        return await self.deliver(openid, "template", body, purpose=purpose)

    async def deliver(
        self,
        openid: str,
        kind: str,
        body: dict[str, Any],
        *,
        purpose: str = "reply",
        template_fallback: dict[str, Any] | None = None,
    ) -> Delivery:
        """Record, check the window, send; the outbox row tells what happened."""
        now = self._clock()
        record = await self._outbox.add(
            OutboxRecord("wechat", openid, kind, body, purpose, OutboxStatus.PENDING, now, now)
        )
        if kind != "template":
            verdict = await self._window_verdict(openid)
            if verdict is not WindowVerdict.OK:
                if template_fallback is not None and self._template_id:
                    record.status, record.reason = OutboxStatus.SKIPPED, f"{verdict.value}:template_sent"
                    record.updated_at = self._clock()
                    await self._outbox.update(record)
                    return await self.send_template(openid, template_fallback, purpose=purpose)
                return await self._finish(record, OutboxStatus.SKIPPED, reason=verdict.value)
        return await self._attempt(record, inline=True)

    async def retry(self, record: OutboxRecord) -> Delivery:
        """The worker's second (third ...) try at a message that failed transiently."""
        if record.kind != "template":
            verdict = await self._window_verdict(record.recipient)
            if verdict is not WindowVerdict.OK:
                return await self._finish(record, OutboxStatus.SKIPPED, reason=verdict.value)
        return await self._attempt(record, inline=False)

    # --- internals ----------------------------------------------------------------------------

    async def _window_verdict(self, openid: str) -> WindowVerdict:
        verdict = await self.window.consume(openid, time.time())
        if verdict is WindowVerdict.UNKNOWN and self._last_inbound_from_db is not None:
            last = await self._last_inbound_from_db(openid)
            if last is not None:
                await self.window.restored(openid, last.timestamp())
                verdict = await self.window.consume(openid, time.time())
        return WindowVerdict.OUTSIDE_WINDOW if verdict is WindowVerdict.UNKNOWN else verdict

    async def _attempt(self, record: OutboxRecord, *, inline: bool) -> Delivery:
        delays = INLINE_RETRIES if inline else ()
        for i in range(len(delays) + 1):
            record.attempts += 1
            try:
                await self.session.call(lambda c: _send(c, record))
                return await self._finish(record, OutboxStatus.SENT)
            except OutsideWindowError as exc:
                await self.window.close(record.recipient, allowance_used=exc.code == 45047)
                return await self._finish(
                    record, OutboxStatus.SKIPPED, reason=f"wechat_{exc.code}", error=str(exc)
                )
            except TransientError as exc:
                record.last_error = str(exc)
                if i < len(delays):
                    await asyncio.sleep(delays[i])
                    continue
            except (PermanentError, WeChatError) as exc:
                if record.kind != "template":
                    await self.window.give_back(record.recipient)
                return await self._finish(record, OutboxStatus.DEAD, reason="permanent", error=str(exc))
        if record.kind != "template":
            await self.window.give_back(record.recipient)
        retry_at = next_attempt(record.attempts, self._clock())
        if retry_at is None:
            return await self._finish(record, OutboxStatus.DEAD, reason="gave_up", error=record.last_error)
        record.next_attempt_at = retry_at
        return await self._finish(record, OutboxStatus.RETRYING, reason="transient", error=record.last_error)

    async def _finish(
        self,
        record: OutboxRecord,
        status: OutboxStatus,
        *,
        reason: str | None = None,
        error: str | None = None,
    ) -> Delivery:
        now = self._clock()
        record.status, record.reason, record.updated_at = status, reason, now
        if error:
            record.last_error = error[:2000]
        if status is OutboxStatus.SENT:
            record.sent_at, record.next_attempt_at, record.reason = now, None, None
        elif status is not OutboxStatus.RETRYING:
            record.next_attempt_at = None
        await self._outbox.update(record)
        if status in (OutboxStatus.DEAD, OutboxStatus.SKIPPED):
            logger.warning(
                "wechat %s to %s %s: %s %s", record.kind, record.recipient, status.value, reason, error or ""
            )
            if self._on_lost is not None and fate_of(record, now) in LOST:
                try:
                    await self._on_lost(record)
                except Exception:  # the message's own record is written; this is bookkeeping
                    logger.exception("wechat: could not report lost message %s", record.id)
        return Delivery(status, record.id, reason)

    async def _record_skip(
        self, openid: str, kind: str, body: dict[str, Any], purpose: str, reason: str
    ) -> Delivery:
        now = self._clock()
        record = await self._outbox.add(
            OutboxRecord("wechat", openid, kind, body, purpose, OutboxStatus.PENDING, now, now)
        )
        return await self._finish(record, OutboxStatus.SKIPPED, reason=reason)


def _send(client: Any, record: OutboxRecord) -> Any:
    if record.kind == "template":
        return client.post("message/template/send", data={"touser": record.recipient, **record.payload})
    return client.post("message/custom/send", data={"touser": record.recipient, **record.payload})


def _upload_from_url(client: Any, url: str) -> str:
    import io

    import requests

    resp = requests.get(url, timeout=10)
    resp.raise_for_status()
    name = url.rsplit("/", 1)[-1] or "image.jpg"
    result = client.media.upload("image", (name, io.BytesIO(resp.content)))
    return str(result["media_id"])


__all__ = ["Delivery", "WeChatGateway", "split_text", "timedelta"]
