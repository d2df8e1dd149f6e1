"""A local stand-in for WeChat, so tests and the demo speak the real protocol with no WeChat account.

Two faces, as Sanic 21.12 blueprints:
- the WeChat API the gateway calls (``/standin/cgi-bin/…``: token, custom and template messages, media)
  with WeChat's rules: token rotation with a 5-minute grace, the 48-hour window and 5 messages per
  inbound, size limits and errcodes; plus ``/standin/control/…`` to inject failures, move the clock, reset;
- the customer's phone (``/standin/sim/…``): a user action becomes WeChat's signed (and, in compatible or
  safe mode, encrypted) XML pushed to the connector with WeChat's 5 s timeout and retries; the
  conversation is kept for the simulator page (``/simulator``), which follows it over Server-Sent Events.

State lives in Redis (``standin:…``), so the ops server, a standalone stand-in and the tests agree.
Never enable this in production: it has no authentication.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiohttp
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, html, json, raw, text
from wechatpy.crypto import WeChatCrypto

from bot.config import Settings
from bot.redis_client import create_redis
from bot.wechat.standin_config import Mode, StandinConfig, parse_mode
from bot.wechat.standin_phone import (
    AMR_STUB,
    OPENID,
    Account,
    BadAction,
    deliver,
    image_type,
    message_fields,
    new_msgid,
    parse_action,
    system_event,
    verify_url,
)
from bot.wechat.standin_store import APIS, StandinStore, channel

logger = logging.getLogger(__name__)

API_DIR = Path(__file__).resolve().parent.parent / "api"
TEXT_LIMIT = 2048  # bytes of UTF-8 in a customer-service text message
#: Upload limits of temporary media, bytes (WeChat's documented maxima).
MEDIA_LIMITS = {"image": 10 << 20, "voice": 2 << 20, "video": 10 << 20, "thumb": 64 << 10}
CUSTOM_TYPES = (
    "text",
    "image",
    "voice",
    "video",
    "music",
    "news",
    "mpnews",
    "mpnewsarticle",
    "msgmenu",
    "wxcard",
    "miniprogrampage",
)
ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40004: "invalid media type",
    40006: "invalid meida size",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    41002: "appid missing",
    41004: "appsecret missing",
    41005: "media data missing",
    42001: "access_token expired",
    43004: "require subscribe",
    44002: "empty post data",
    45002: "content size out of limit",
    45008: "article size out of limit",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
    48001: "api unauthorized",
}


@dataclass
class Runtime:
    """Per-process resources, made in a server listener (nothing connects at import)."""

    config: StandinConfig
    store: StandinStore
    session: aiohttp.ClientSession
    crypto: WeChatCrypto | None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @classmethod
    def create(cls, config: StandinConfig) -> Runtime:
        crypto = None
        if config.encoding_aes_key:
            crypto = WeChatCrypto(config.token, config.encoding_aes_key, config.appid)
        return cls(config, StandinStore(create_redis(config.redis_url)), aiohttp.ClientSession(), crypto)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await self.session.close()
        await self.store.redis.close()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Fire and forget, but keep a reference so the task is not collected mid-flight."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def account(self) -> Account:
        """The configured account with run-time overrides (mode, connector URL) applied."""
        overrides = await self.store.overrides()
        mode = Mode(overrides["mode"]) if "mode" in overrides else self.config.mode
        if mode.encrypted and self.crypto is None:  # an override from a process that has the AES key
            mode = self.config.mode
        url = overrides.get("connector_url") or self.config.connector_url
        return Account(self.config.token, self.config.account_id, mode, url, self.crypto)


def _rt(request: Request) -> Runtime:
    return request.app.ctx.standin


def _rid() -> str:
    return f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"


async def _fail(rt: Runtime, api: str, code: int, errmsg: str | None = None) -> HTTPResponse:
    """An error the way WeChat gives it: HTTP 200 and an errcode."""
    await rt.store.count(f"errors.{api}.{code}")
    return json({"errcode": code, "errmsg": f"{errmsg or ERRMSG.get(code, 'error')} rid: {_rid()}"})


async def _start(rt: Runtime, api: str) -> HTTPResponse | None:
    """Count the call and play back an injected failure, if one is queued for this API."""
    await rt.store.count(f"calls.{api}")
    spec = await rt.store.next_failure(api)
    if spec is None:
        return None
    await rt.store.count(f"injected.{api}")
    if spec.get("delay"):
        await asyncio.sleep(float(spec["delay"]))
    if spec.get("status"):
        return text("injected failure", status=int(spec["status"]))
    if spec.get("errcode") is not None:
        return await _fail(rt, api, int(spec["errcode"]), spec.get("errmsg") or None)
    return None


async def _authorised(rt: Runtime, api: str, request: Request) -> tuple[HTTPResponse | None, float]:
    """Injected failure or token check; gives the stand-in's clock for the rest of the call."""
    early = await _start(rt, api)
    now = await rt.store.now()
    if early is not None:
        return early, now
    code = await rt.store.check_token(request.args.get("access_token", ""), now)
    return (await _fail(rt, api, code) if code else None), now


def _json_body(request: Request) -> Any:
    """wechatpy posts JSON without a content type; parse the bytes ourselves."""
    try:
        return jsonlib.loads(request.body or b"")
    except ValueError:
        return None


# ---------------------------------------------------------------- the WeChat API (cgi-bin)


async def api_token(request: Request) -> HTTPResponse:
    rt = _rt(request)
    early = await _start(rt, "token")
    if early is not None:
        return early
    args, cfg = request.args, rt.config
    appid, secret = args.get("appid", ""), args.get("secret", "")
    if args.get("grant_type") != "client_credential":
        return await _fail(rt, "token", 40002)
    if not appid:
        return await _fail(rt, "token", 41002)
    if appid != cfg.appid:
        return await _fail(rt, "token", 40013)
    if not secret:
        return await _fail(rt, "token", 41004)
    if secret != cfg.secret:
        return await _fail(rt, "token", 40125)
    token = await rt.store.issue_token(await rt.store.now())
    await rt.store.count("token.issued", "accepted.token")
    return json({"access_token": token, "expires_in": 7200})


async def _check_custom(rt: Runtime, body: dict[str, Any]) -> int:
    """WeChat's checks of a customer-service message body, before the window is consulted."""
    kind = body.get("msgtype")
    if kind not in CUSTOM_TYPES:
        return 40008
    payload = body.get(kind)
    if not isinstance(payload, dict):
        return 47001
    if kind == "text":
        content = payload.get("content")
        if not isinstance(content, str) or not content:
            return 47001
        if len(content.encode("utf-8")) > TEXT_LIMIT:
            return 45002
    elif kind in ("image", "voice"):
        media = await rt.store.media(str(payload.get("media_id") or ""))
        if media is None:
            return 40007
    elif kind == "msgmenu":
        options = payload.get("list")
        if not isinstance(options, list) or not options:
            return 47001
        if not all(isinstance(o, dict) and o.get("id") and o.get("content") for o in options):
            return 47001
    elif kind == "news":
        articles = payload.get("articles")
        if not isinstance(articles, list) or not articles:
            return 47001
        if len(articles) > 1:
            return 45008
    return 0


async def api_custom_send(request: Request) -> HTTPResponse:
    rt, api = _rt(request), "custom_send"
    early, now = await _authorised(rt, api, request)
    if early is not None:
        return early
    body = _json_body(request)
    if not request.body:
        return await _fail(rt, api, 44002)
    if not isinstance(body, dict):
        return await _fail(rt, api, 47001)
    openid = body.get("touser")
    if not isinstance(openid, str) or not OPENID.match(openid):
        return await _fail(rt, api, 40003)
    code = await _check_custom(rt, body) or await rt.store.window(openid, now, consume=True)
    if code:
        return await _fail(rt, api, code)
    await rt.store.record(openid, {"direction": "to_user", "kind": "custom", "time": now, "message": body})
    await rt.store.count(f"accepted.{api}")
    return json({"errcode": 0, "errmsg": "ok"})


async def api_typing(request: Request) -> HTTPResponse:
    """``message/custom/typing``: allowed only inside the window; consumes nothing."""
    rt, api = _rt(request), "typing"
    early, now = await _authorised(rt, api, request)
    if early is not None:
        return early
    body = _json_body(request)
    if not isinstance(body, dict) or body.get("command") not in ("Typing", "CancelTyping"):
        return await _fail(rt, api, 47001)
    code = await rt.store.window(str(body.get("touser") or ""), now, consume=False)
    if code:
        return await _fail(rt, api, code)
    await rt.store.count(f"accepted.{api}")
    return json({"errcode": 0, "errmsg": "ok"})


async def api_template_send(request: Request) -> HTTPResponse:
    rt, api = _rt(request), "template_send"
    early, now = await _authorised(rt, api, request)
    if early is not None:
        return early
    body = _json_body(request)
    if not isinstance(body, dict):
        return await _fail(rt, api, 47001 if request.body else 44002)
    openid = body.get("touser")
    if not isinstance(openid, str) or not OPENID.match(openid):
        return await _fail(rt, api, 40003)
    if not isinstance(body.get("template_id"), str) or not body["template_id"]:
        return await _fail(rt, api, 40037)
    if not isinstance(body.get("data"), dict):
        return await _fail(rt, api, 47001)
    code = await rt.store.follower(openid)
    if code:
        return await _fail(rt, api, code)
    msgid = 10**9 + secrets.randbelow(2**53 - 10**9)
    item = {"direction": "to_user", "kind": "template", "time": now, "msgid": str(msgid), "message": body}
    await rt.store.record(openid, item)
    await rt.store.count(f"accepted.{api}")
    rt.spawn(_template_finished(rt, openid, msgid))
    return json({"errcode": 0, "errmsg": "ok", "msgid": msgid})


async def _template_finished(rt: Runtime, openid: str, msgid: int) -> None:
    """WeChat reports each template message's fate to the callback URL as TEMPLATESENDJOBFINISH."""
    await asyncio.sleep(0.2)
    account = await rt.account()
    fields = system_event(account.account_id, openid, "TEMPLATESENDJOBFINISH", {"MsgID": msgid})
    fields.append(("Status", "success"))
    try:
        delivery = await deliver(rt.session, account, fields, openid)
        await rt.store.count(*["callbacks.attempts"] * len(delivery.attempts), "callbacks.system_events")
    except Exception:  # a background report must never take the stand-in down
        logger.exception("TEMPLATESENDJOBFINISH delivery failed")


async def api_media_upload(request: Request) -> HTTPResponse:
    rt, api = _rt(request), "media_upload"
    early, now = await _authorised(rt, api, request)
    if early is not None:
        return early
    kind = request.args.get("type", "")
    if kind not in MEDIA_LIMITS:
        return await _fail(rt, api, 40004)
    upload = request.files.get("media") if request.files else None
    if upload is None or not upload.body:
        return await _fail(rt, api, 41005)
    if len(upload.body) > MEDIA_LIMITS[kind]:
        return await _fail(rt, api, 40006)
    content_type = (
        image_type(upload.body) if kind in ("image", "thumb") else upload.type or "application/octet-stream"
    )
    media_id, created = await rt.store.put_media(upload.body, content_type, kind, now)
    await rt.store.count(f"accepted.{api}")
    key = "thumb_media_id" if kind == "thumb" else "media_id"
    return json({"type": kind, key: media_id, "created_at": created})


async def api_media_get(request: Request) -> HTTPResponse:
    rt, api = _rt(request), "media_get"
    early, _now = await _authorised(rt, api, request)
    if early is not None:
        return early
    media_id = request.args.get("media_id", "")
    media = await rt.store.media(media_id)
    if media is None:
        return await _fail(rt, api, 40007)
    await rt.store.count(f"accepted.{api}")
    if media.kind == "video":  # WeChat answers a video with where to fetch it, not the file
        return json({"video_url": f"{request.scheme}://{request.host}/standin/media/{media_id}"})
    suffix = {"image/png": "png", "image/gif": "gif", "audio/amr": "amr"}.get(media.content_type, "jpg")
    headers = {"Content-Disposition": f'attachment; filename="{media_id[:16]}.{suffix}"'}
    return raw(media.body, content_type=media.content_type, headers=headers)


async def api_unknown(request: Request, path: str) -> HTTPResponse:
    """Endpoints the stand-in does not emulate say so, in WeChat's format."""
    return json(
        {"errcode": 48001, "errmsg": f"api unauthorized: /cgi-bin/{path} is not emulated by the stand-in"}
    )


# ---------------------------------------------------------------- control (tests, benchmarks)


async def control_fail(request: Request) -> HTTPResponse:
    body = request.json if isinstance(request.json, dict) else {}
    api = body.get("api")
    if api not in APIS:
        return json({"error": f"api: one of {list(APIS)}"}, status=400)
    try:
        times = int(body.get("times", 1))
        spec = {
            "errcode": None if body.get("errcode") is None else int(body["errcode"]),
            "status": int(body["status"]) if body.get("status") else None,
            "delay": min(float(body.get("delay") or 0), 30.0),
            "errmsg": str(body.get("errmsg") or ""),
        }
    except (TypeError, ValueError):
        return json({"error": "errcode, status, times: integers; delay: seconds"}, status=400)
    if not 1 <= times <= 1000 or not (spec["errcode"] is not None or spec["status"] or spec["delay"]):
        return json({"error": "give errcode, status or delay, and times 1-1000"}, status=400)
    await _rt(request).store.inject(api, spec, times)
    return json({"api": api, "times": times, **spec})


async def control_stats(request: Request) -> HTTPResponse:
    return json(await _rt(request).store.stats())


async def control_reset(request: Request) -> HTTPResponse:
    return json({"deleted": await _rt(request).store.reset()})


async def control_clock(request: Request) -> HTTPResponse:
    """``{"offset": s}`` sets, ``{"advance": s}`` moves the stand-in's clock (token expiry, the window)."""
    store = _rt(request).store
    if request.method == "POST":
        body = request.json if isinstance(request.json, dict) else {}
        try:
            if "offset" in body:
                await store.set_clock_offset(float(body["offset"]))
            elif "advance" in body:
                await store.set_clock_offset(await store.clock_offset() + float(body["advance"]))
            else:
                return json({"error": "give offset or advance (seconds)"}, status=400)
        except (TypeError, ValueError):
            return json({"error": "offset/advance must be numbers"}, status=400)
    return json({"offset": await store.clock_offset(), "now": await store.now()})


async def control_user(request: Request) -> HTTPResponse:
    """Read or set a follower: subscribed, last inbound (``last_inbound_ago`` seconds), messages used."""
    store = _rt(request).store
    source = request.json if request.method == "POST" and isinstance(request.json, dict) else request.args
    openid = str(source.get("openid") or "")
    if not OPENID.match(openid):
        return json({"error": "openid"}, status=400)
    if request.method == "POST":
        body: dict[str, Any] = source
        fields: dict[str, str | int | float] = {}
        try:
            now = await store.now()
            if "subscribed" in body:
                fields["subscribed"] = int(bool(body["subscribed"]))
            if "last_inbound_ago" in body:
                fields["last_inbound"] = now - float(body["last_inbound_ago"])
            if "last_inbound" in body:
                fields["last_inbound"] = float(body["last_inbound"])
            if "sent_since_inbound" in body:
                fields["sent_since_inbound"] = int(body["sent_since_inbound"])
        except (TypeError, ValueError):
            return json({"error": "numbers expected"}, status=400)
        if not await store.user(openid):
            fields.setdefault("subscribed", 1)
            fields.setdefault("sent_since_inbound", 0)
        if fields:
            await store.update_user(openid, fields)
    return json({"openid": openid, **await store.user(openid)})


async def control_config(request: Request) -> HTTPResponse:
    """The effective account settings; POST switches the mode or connector URL at run time."""
    rt = _rt(request)
    if request.method == "POST":
        body = request.json if isinstance(request.json, dict) else {}
        changes: dict[str, str | None] = {}
        if "mode" in body:
            changes["mode"] = None  # null or "" goes back to the configured mode
            if body["mode"]:
                try:
                    changes["mode"] = parse_mode(str(body["mode"]), bool(rt.config.encoding_aes_key)).value
                except ValueError as exc:
                    return json({"error": str(exc)}, status=400)
        if "connector_url" in body:
            url = body["connector_url"]
            if url is not None and not str(url).startswith(("http://", "https://")):
                return json({"error": "connector_url must be an http(s) URL or null"}, status=400)
            changes["connector_url"] = url
        await rt.store.set_overrides(changes)
    return json(await _public_config(rt))


async def _public_config(rt: Runtime) -> dict[str, Any]:
    account = await rt.account()
    return {
        "appid": rt.config.appid,
        "account_id": account.account_id,
        "mode": account.mode.value,
        "mode_label": account.mode.label,
        "connector_url": account.connector_url,
        "aes_key_configured": bool(rt.config.encoding_aes_key),
        "dev_credentials": rt.config.dev_credentials,
    }


# ---------------------------------------------------------------- the customer's phone


async def sim_send(request: Request) -> HTTPResponse:
    """The user does something; WeChat pushes it to the connector and we report how that went."""
    rt = _rt(request)
    try:
        action = parse_action(request.json)
    except BadAction as exc:
        return json({"error": str(exc)}, status=400)
    except Exception:  # Sanic raises on a body that is not JSON
        return json({"error": "body must be JSON"}, status=400)
    store, openid = rt.store, action.openid
    state = (await store.user(openid)).get("subscribed")
    wants = action.subscription
    if wants is True and state == "1":
        return json({"error": "已关注该公众号", "code": "already_subscribed"}, status=409)
    if (wants is not True and state == "0") or (wants is False and state is None):
        return json({"error": "未关注该公众号：请先关注", "code": "not_subscribed"}, status=409)
    account = await rt.account()
    now = await store.now()
    media_id = pic_url = ""
    if action.type == "image":
        media_id, _ = await store.put_media(action.media, image_type(action.media), "image", now)
        pic_url = f"{request.scheme}://{request.host}/standin/media/{media_id}"
    elif action.type == "video":
        media_id, _ = await store.put_media(action.media, "video/mp4", "video", now)
    elif action.type == "voice":
        media_id, _ = await store.put_media(AMR_STUB, "audio/amr", "voice", now)
    msgid = None if action.type == "event" else new_msgid()
    fields = message_fields(action, account.account_id, int(time.time()), msgid, media_id, pic_url)
    subscribed = wants if wants is not None else (True if state is None else None)
    await store.inbound(openid, now, opens_window=action.opens_window, subscribed=subscribed)
    message = {name: str(value) for name, value in fields}
    item = {"direction": "from_user", "kind": "message", "time": now, "mode": account.mode.value}
    seq = await store.record(openid, {**item, "message": message})
    delivery = await deliver(rt.session, account, fields, openid)
    counters = ["callbacks.messages", *["callbacks.attempts"] * len(delivery.attempts)]
    counters += ["callbacks.retries"] * (len(delivery.attempts) - 1)
    if not delivery.ok:
        counters.append("callbacks.failed")
    await store.count(*counters)
    report = delivery.as_dict()
    done = await store.now()
    await store.record(
        openid, {"direction": "system", "kind": "delivery", "ref": seq, "time": done, **report}
    )
    if delivery.reply is not None:
        reply = {"direction": "to_user", "kind": "reply", "ref": seq, "time": done, "message": delivery.reply}
        await store.record(openid, reply)
    return json({"msgid": msgid, "seq": seq, "mode": account.mode.value, **report})


def _openid_and_after(request: Request) -> tuple[str, int] | HTTPResponse:
    openid = request.args.get("openid", "")
    if not OPENID.match(openid):
        return json({"error": "openid"}, status=400)
    try:
        # An EventSource reconnecting sends Last-Event-ID, which is newer than the URL's ``after``.
        after = int(request.headers.get("last-event-id") or request.args.get("after") or 0)
    except ValueError:
        return json({"error": "after must be a sequence number"}, status=400)
    return openid, after


async def sim_messages(request: Request) -> HTTPResponse:
    parsed = _openid_and_after(request)
    if isinstance(parsed, HTTPResponse):
        return parsed
    openid, after = parsed
    items = await _rt(request).store.conversation(openid, after)
    return json({"openid": openid, "items": items, "last_seq": items[-1]["seq"] if items else after})


def _sse(item: dict[str, Any]) -> str:
    return f"id: {item['seq']}\nevent: item\ndata: {jsonlib.dumps(item, ensure_ascii=False)}\n\n"


async def sim_stream(request: Request) -> HTTPResponse | None:
    """Server-Sent Events: the backlog after ``after`` (or Last-Event-ID), then items as they come.

    Subscribing before reading the backlog and skipping seen sequence numbers loses nothing in between.
    The stream ends after 5 minutes; EventSource reconnects with Last-Event-ID."""
    parsed = _openid_and_after(request)
    if isinstance(parsed, HTTPResponse):
        return parsed
    openid, last = parsed
    store = _rt(request).store
    pubsub = store.redis.pubsub()
    await pubsub.subscribe(channel(openid))
    try:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        response = await request.respond(content_type="text/event-stream; charset=utf-8", headers=headers)
        await response.send("retry: 2000\n\n")
        for item in await store.conversation(openid, last):
            await response.send(_sse(item))
            last = item["seq"]
        deadline = sent = time.monotonic()
        deadline += 300
        while time.monotonic() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=15)
            if message is None:  # quiet for a while (or the subscribe confirmation went by)
                if time.monotonic() - sent >= 15:
                    await response.send(": keep-alive\n\n")
                    sent = time.monotonic()
                continue
            item = jsonlib.loads(message["data"])
            if item["seq"] > last:
                await response.send(_sse(item))
                last, sent = item["seq"], time.monotonic()
        await response.eof()
        return None
    finally:
        await pubsub.unsubscribe()
        await pubsub.close()


async def sim_verify(request: Request) -> HTTPResponse:
    """Check the connector URL the way the WeChat console does when the URL is saved."""
    rt = _rt(request)
    return json(await verify_url(rt.session, await rt.account()))


async def media_public(request: Request, media_id: str) -> HTTPResponse:
    """Picture URLs (PicUrl, the page's <img>): WeChat serves these without a token."""
    media = await _rt(request).store.media(media_id)
    if media is None:
        return text("not found", status=404)
    return raw(media.body, content_type=media.content_type, headers={"Cache-Control": "max-age=86400"})


# ---------------------------------------------------------------- the simulator page


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(loader=FileSystemLoader(API_DIR / "templates"), autoescape=select_autoescape(["html"]))


async def simulator_page(request: Request) -> HTTPResponse:
    page = _templates().get_template("simulator.html")
    return html(page.render(config=await _public_config(_rt(request))))


# ---------------------------------------------------------------- wiring


def blueprints() -> list[Blueprint]:
    """Fresh blueprints per app (a blueprint object belongs to the app it was registered on)."""
    api = Blueprint("standin_api", url_prefix="/standin/cgi-bin")
    api.add_route(api_token, "/token", methods=["GET"])
    api.add_route(api_custom_send, "/message/custom/send", methods=["POST"])
    api.add_route(api_typing, "/message/custom/typing", methods=["POST"])
    api.add_route(api_template_send, "/message/template/send", methods=["POST"])
    api.add_route(api_media_upload, "/media/upload", methods=["POST"])
    api.add_route(api_media_get, "/media/get", methods=["GET"])
    api.add_route(api_unknown, "/<path:path>", methods=["GET", "POST"])

    control = Blueprint("standin_control", url_prefix="/standin/control")
    control.add_route(control_fail, "/fail", methods=["POST"])
    control.add_route(control_stats, "/stats", methods=["GET"])
    control.add_route(control_reset, "/reset", methods=["POST"])
    control.add_route(control_clock, "/clock", methods=["GET", "POST"])
    control.add_route(control_user, "/user", methods=["GET", "POST"])
    control.add_route(control_config, "/config", methods=["GET", "POST"])

    sim = Blueprint("standin_sim", url_prefix="/standin")
    sim.add_route(sim_send, "/sim/send", methods=["POST"])
    sim.add_route(sim_messages, "/sim/messages", methods=["GET"])
    sim.add_route(sim_stream, "/sim/stream", methods=["GET"])
    sim.add_route(sim_verify, "/sim/verify", methods=["POST"])
    sim.add_route(media_public, "/media/<media_id>", methods=["GET"])

    page = Blueprint("standin_simulator")
    page.add_route(simulator_page, "/simulator", methods=["GET"])
    static = API_DIR / "static"
    page.static("/simulator/simulator.css", static / "simulator.css", name="simulator_css")
    page.static("/simulator/simulator.js", static / "simulator.js", name="simulator_js")
    return [api, control, sim, page]


#: Room for WeChat's largest temporary media (10 MB) plus multipart framing.
MAX_UPLOAD = 11 << 20


def install_standin(app: Sanic, settings: Settings) -> None:
    """Mount the stand-in and the simulator page on ``app``, with their resources tied to its life."""
    config = StandinConfig.from_settings(settings)

    async def _open(app: Sanic, _loop: Any) -> None:
        app.ctx.standin = Runtime.create(config)
        logger.info(
            "WeChat stand-in: account %s (%s mode), connector %s",
            config.account_id,
            config.mode.value,
            config.connector_url,
        )

    async def _close(app: Sanic, _loop: Any) -> None:
        await app.ctx.standin.close()

    app.register_listener(_open, "before_server_start")
    app.register_listener(_close, "after_server_stop")
    app.config.REQUEST_MAX_SIZE = max(int(app.config.REQUEST_MAX_SIZE), MAX_UPLOAD)
    for bp in blueprints():
        app.blueprint(bp)


def create_standin_app(settings: Settings | None = None, name: str = "careloop_standin") -> Sanic:
    """The stand-in alone (``python -m bot standin``), for benchmarks and tests of the gateway."""
    settings = settings or Settings.from_env()
    app = Sanic(name)
    app.config.FALLBACK_ERROR_FORMAT = "json"

    async def health(request: Request) -> HTTPResponse:
        await _rt(request).store.redis.ping()
        return json({"status": "ok"})

    app.add_route(health, "/health", methods=["GET"])
    install_standin(app, settings)
    return app
