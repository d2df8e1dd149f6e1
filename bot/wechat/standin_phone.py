"""The customer's phone and WeChat's push to the connector: what a user action becomes on the wire,
and delivery with WeChat's timing (5 s per attempt, 3 attempts in all, same message each time)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from wechatpy.crypto import WeChatCrypto

from bot.wechat.standin_config import Mode
from bot.wechat.standin_xml import ReplyError, callback_request, parse_reply

logger = logging.getLogger(__name__)

CALLBACK_TIMEOUT = 5.0
#: WeChat's documentation says "总共重试三次"; what connectors observe is three requests in all.
CALLBACK_ATTEMPTS = 3
#: What the WeChat app shows when the account's server failed to answer.
SERVICE_UNAVAILABLE = "该公众号暂时无法提供服务，请稍后再试"
MESSAGE_TYPES = ("text", "voice", "image", "video", "link", "event", "location")
EVENTS = ("subscribe", "unsubscribe", "CLICK", "VIEW")
#: User actions that open the 48-hour customer-service window (VIEW and unsubscribe do not).
WINDOW_OPENERS = ("text", "voice", "image", "video", "link", "location", "subscribe", "CLICK")
OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
AMR_STUB = b"#!AMR\n"


class BadAction(ValueError):
    """The simulated user action is malformed; the caller gets HTTP 400."""


@dataclass
class Action:
    """One thing the user does on the phone, validated."""

    openid: str
    type: str
    content: str = ""
    recognition: str = ""
    media: bytes = b""  # a picture's or a video's bytes
    title: str = ""  # a shared link
    description: str = ""
    url: str = ""
    event: str = ""
    event_key: str = ""
    bizmsgmenuid: str = ""
    location: dict[str, Any] = field(default_factory=dict)

    @property
    def opens_window(self) -> bool:
        return (self.event if self.type == "event" else self.type) in WINDOW_OPENERS

    @property
    def subscription(self) -> bool | None:
        return {"subscribe": True, "unsubscribe": False}.get(self.event) if self.type == "event" else None


def parse_action(body: Any) -> Action:
    """Validate the JSON of ``/standin/sim/send``."""
    if not isinstance(body, dict):
        raise BadAction("body must be a JSON object")
    openid = str(body.get("openid") or "")
    if not OPENID.match(openid):
        raise BadAction("openid: 1-64 letters, digits, _ or -")
    kind = body.get("type")
    if kind not in MESSAGE_TYPES:
        raise BadAction(f"type: one of {list(MESSAGE_TYPES)}")
    action = Action(openid=openid, type=kind)
    if kind == "text":
        action.content = str(body.get("content") or "")
        action.bizmsgmenuid = str(body.get("bizmsgmenuid") or "")
        if not action.content:
            raise BadAction("content: a text message needs text")
    elif kind == "voice":
        action.recognition = str(body.get("recognition") or body.get("content") or "")
    elif kind in ("image", "video"):
        field_name = "image" if kind == "image" else "video"
        try:
            action.media = base64.b64decode(str(body.get(field_name) or ""), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadAction(f"{field_name}: base64 of the file") from exc
        if not action.media:
            raise BadAction(f"{field_name}: base64 of the file")
    elif kind == "link":
        action.title, action.url = str(body.get("title") or ""), str(body.get("url") or "")
        action.description = str(body.get("description") or "")
        if not action.url.startswith(("http://", "https://")):
            raise BadAction("url: the link's http(s) address")
    elif kind == "event":
        action.event = str(body.get("event") or "")
        action.event_key = str(body.get("event_key") or "")
        if action.event not in EVENTS:
            raise BadAction(f"event: one of {list(EVENTS)}")
        if action.event in ("CLICK", "VIEW") and not action.event_key:
            raise BadAction("event_key: the menu key (CLICK) or URL (VIEW)")
    else:
        try:
            action.location = {
                "x": float(body.get("latitude", 31.2304)),
                "y": float(body.get("longitude", 121.4737)),
                "scale": int(body.get("scale", 15)),
                "label": str(body.get("label") or ""),
            }
        except (TypeError, ValueError) as exc:
            raise BadAction("latitude/longitude/scale must be numbers") from exc
    return action


def new_msgid() -> int:
    """64-bit like WeChat's; above 2**53 so a JavaScript consumer that rounds ids is caught."""
    return 2**53 + secrets.randbelow(2**63 - 2**53)


def image_type(body: bytes) -> str:
    if body.startswith(b"\x89PNG"):
        return "image/png"
    if body.startswith(b"GIF8"):
        return "image/gif"
    return "image/jpeg"


def message_fields(
    action: Action,
    account_id: str,
    create_time: int,
    msgid: int | None,
    media_id: str = "",
    pic_url: str = "",
) -> list[tuple[str, str | int]]:
    """The message XML's fields in WeChat's order (events carry no MsgId)."""
    fields: list[tuple[str, str | int]] = [
        ("ToUserName", account_id),
        ("FromUserName", action.openid),
        ("CreateTime", create_time),
        ("MsgType", action.type),
    ]
    if action.type == "text":
        fields.append(("Content", action.content))
    elif action.type == "voice":
        fields += [("MediaId", media_id), ("Format", "amr"), ("Recognition", action.recognition)]
    elif action.type == "image":
        fields += [("PicUrl", pic_url), ("MediaId", media_id)]
    elif action.type == "video":
        fields += [("MediaId", media_id), ("ThumbMediaId", media_id)]
    elif action.type == "link":
        fields += [("Title", action.title), ("Description", action.description), ("Url", action.url)]
    elif action.type == "location":
        loc = action.location
        fields += [("Location_X", loc["x"]), ("Location_Y", loc["y"]), ("Scale", loc["scale"])]
        fields.append(("Label", loc["label"]))
    elif action.type == "event":
        fields.append(("Event", action.event))
        if action.event_key or action.event in ("CLICK", "VIEW"):
            fields.append(("EventKey", action.event_key))
    if msgid is not None:
        fields.append(("MsgId", msgid))
    if action.bizmsgmenuid:
        fields.append(("bizmsgmenuid", action.bizmsgmenuid))
    return fields


@dataclass
class Delivery:
    """How WeChat's push went: every attempt, and what the user ends up seeing."""

    attempts: list[dict[str, Any]]
    ok: bool
    reply: dict[str, Any] | None = None
    notice: str = ""
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"attempts": self.attempts, "ok": self.ok}
        if self.reply is not None:
            out["reply"] = self.reply
        if self.notice:
            out["notice"] = self.notice
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class Account:
    """What delivery needs: the account's keys, its mode, and the connector's URL."""

    token: str
    account_id: str
    mode: Mode
    connector_url: str
    crypto: WeChatCrypto | None


async def deliver(
    session: aiohttp.ClientSession,
    account: Account,
    fields: list[tuple[str, str | int]],
    openid: str,
    *,
    attempts: int = CALLBACK_ATTEMPTS,
    timeout: float = CALLBACK_TIMEOUT,
) -> Delivery:
    """POST the message like WeChat: a fresh timestamp and nonce per attempt, retry on no answer."""
    tried: list[dict[str, Any]] = []
    for _ in range(attempts):
        timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
        request = callback_request(
            mode=account.mode,
            token=account.token,
            crypto=account.crypto,
            fields=fields,
            openid=openid,
            timestamp=timestamp,
            nonce=nonce,
        )
        started = time.perf_counter()
        record: dict[str, Any] = {"status": None, "body": ""}
        try:
            async with session.post(
                account.connector_url,
                params=request.query,
                data=request.body.encode(),
                headers={"Content-Type": "text/xml"},
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                body = await resp.text(errors="replace")
                record.update(status=resp.status, body=body[:2000])
        except asyncio.TimeoutError:
            record["error"] = "timeout"
        except aiohttp.ClientError as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"[:300]
        record["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
        tried.append(record)
        if record["status"] is not None and record["status"] < 500:
            break
    last = tried[-1]
    if last["status"] != 200:
        why = last.get("error") or f"HTTP {last['status']}"
        return Delivery(tried, ok=False, notice=SERVICE_UNAVAILABLE, error=why)
    try:
        reply = parse_reply(
            last["body"],
            mode=account.mode,
            crypto=account.crypto,
            openid=openid,
            account_id=account.account_id,
        )
    except ReplyError as exc:
        return Delivery(tried, ok=False, notice=SERVICE_UNAVAILABLE, error=str(exc))
    return Delivery(tried, ok=True, reply=reply)


async def verify_url(session: aiohttp.ClientSession, account: Account) -> dict[str, Any]:
    """The console's "submit server URL" check: a signed GET whose echostr must come back verbatim."""
    from bot.wechat.standin_xml import signature

    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
    echostr = str(secrets.randbelow(10**19))
    query = {
        "signature": signature(account.token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "echostr": echostr,
    }
    try:
        async with session.get(
            account.connector_url, params=query, timeout=aiohttp.ClientTimeout(total=CALLBACK_TIMEOUT)
        ) as resp:
            body = await resp.text(errors="replace")
            return {"ok": resp.status == 200 and body == echostr, "status": resp.status, "body": body[:300]}
    except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
        return {"ok": False, "status": None, "error": type(exc).__name__}


def system_event(
    account_id: str, openid: str, event: str, extra: Mapping[str, str | int]
) -> list[tuple[str, str | int]]:
    """Events WeChat itself sends (TEMPLATESENDJOBFINISH): no user action, no window."""
    fields: list[tuple[str, str | int]] = [
        ("ToUserName", account_id),
        ("FromUserName", openid),
        ("CreateTime", int(time.time())),
        ("MsgType", "event"),
        ("Event", event),
    ]
    return fields + list(extra.items())
