"""The agent console at ``/console``: sign-in, the queue, conversations with customers, the case panel.

Server-rendered Chinese pages (Jinja2, autoescaped) with a little vanilla JS from a static file, so the
Content-Security-Policy can forbid inline scripts. Security is decided in one blueprint middleware, not
per handler: every route declares a kind (``ctx_kind``), and anything but ``public``/``asset`` needs a
session; every POST needs the session's CSRF token. A route that forgets its kind is treated as
``action`` (session and CSRF required), so forgetting fails closed.

Conversation state changes go straight to :class:`HandoffService`, whose conditional updates decide
races (who accepts, who may act); the console never decides those from an earlier read of its own.
"""

from __future__ import annotations

import json as jsonlib
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, file, html, json, redirect

from bot.api.console.delivery import FATE_LABELS, DeliveryView, delivery_view
from bot.api.console.sessions import ConsoleSession, LoginThrottle, SessionStore, tokens_match
from bot.api.console.transcript import Turn, live_turn, local, names_of, turn_to_dict, turns_from_tracker
from bot.cases.model import CATEGORY_LABELS, PRIORITY_LABELS, STATUS_LABELS, Case, Priority
from bot.cases.rules import next_statuses, normalise_case_number
from bot.db.outbox_store import SqlOutboxStore
from bot.handoff.errors import AlreadyTaken, HandoffNotFound, NotYourConversation
from bot.handoff.live import QUEUE, conversation_channel
from bot.handoff.model import REASONS, Agent, Handoff, HandoffStatus
from bot.rasa_api import RasaError
from bot.surveys.model import SERVICE_LABELS, Survey, SurveyStatus
from bot.wechat.window import ALLOWANCE
from bot.wiring import Services

logger = logging.getLogger(__name__)

API_DIR = Path(__file__).resolve().parent.parent
STATIC = {
    "console.js": (API_DIR / "static" / "console.js", "application/javascript; charset=utf-8"),
    "console.css": (API_DIR / "static" / "console.css", "text/css; charset=utf-8"),
}
COOKIE = "careloop_console"
LOGIN_COOKIE = "careloop_console_login"
LOGIN_TOKEN_TTL = 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Route kinds. Unauthenticated: page → redirect to sign-in; action → redirect for a browser form,
#: 401 for XHR; fragment/stream → 401. public/asset need no session.
KINDS = ("page", "fragment", "stream", "action", "public", "asset")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
CASE_LIST_LIMIT = 300  # open cases on the case page; more than that is a backlog, not a list
STREAM_PING = 15.0  # seconds between keep-alives (also the last-seen beat); Sanic times out at 60
STREAM_LIFETIME = 600.0  # then the browser reconnects, and the session is checked afresh
MAX_REPLY = 2000
MAX_NOTE = 2000
MAX_DB_ID = 2**31 - 1
HANDOFF_STATUS_LABELS = {
    HandoffStatus.WAITING: "排队中",
    HandoffStatus.ACTIVE: "人工接待中",
    HandoffStatus.CLOSED: "已结束",
    HandoffStatus.CANCELLED: "客户已取消",
}
HANDOFF_EVENT_LABELS = {
    "queued": "进入排队",
    "accepted": "客服接入",
    "transferred": "转接",
    "handed_back": "交还机器人",
    "cancelled": "客户取消",
    "requeued": "重新排队",
    "closed": "结束",
    "reached_out": "客服主动联系",
}
CASE_EVENT_LABELS = {
    "created": "创建",
    "status_changed": "状态变更",
    "priority_changed": "优先级变更",
    "note": "备注",
    "attachment": "附件",
    "urged": "客户催办",
    "withdrawal_requested": "客户要求撤销",
    "details_corrected": "客户更正信息",
    "customer_notified": "已告知客户",
    "customer_notice_failed": "未能告知客户",
    "customer_notice_held": "夜间暂缓告知客户",
    "customer_notice_sending": "正在告知客户",
}
ROLE_LABELS = {"agent": "客服", "supervisor": "主管"}
MESSAGES = {
    "bad_login": "用户名或密码错误。",
    "throttled": "登录失败次数过多，请 10 分钟后再试。",
    "login_expired": "登录页面已过期，请刷新页面后重试。",
    "csrf": "请求校验失败（页面可能已过期），请刷新页面后重试。",
    "not_yours": "这段对话不在你名下（或已经结束），只有接待的客服或主管可以操作。",
    "taken": "手慢了：这位客户已被其他同事接入，或已不在队列中。",
    "rasa_down": "机器人服务器暂时无响应，消息未能送达，请稍后重试。",
    "no_handoff": "没有找到这段对话。",
    "no_case": "没有找到这个案件。",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- rendering


def duration(delta: timedelta) -> str:
    """How long, the way an agent says it: 刚刚, 12 分钟, 1 小时 5 分钟, 2 天 3 小时."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 1:
        return "不到 1 分钟"
    if minutes < 60:
        return f"{minutes} 分钟"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} 小时 {minutes} 分钟" if minutes else f"{hours} 小时"
    days, hours = divmod(hours, 24)
    return f"{days} 天 {hours} 小时" if hours else f"{days} 天"


@lru_cache(maxsize=1)
def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(API_DIR / "templates"),
        autoescape=True,  # everything, whatever the file name
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        REASONS=REASONS,
        PRIORITY_LABELS=PRIORITY_LABELS,
        STATUS_LABELS={s.value: label for s, label in STATUS_LABELS.items()},
        CATEGORY_LABELS=CATEGORY_LABELS,
        HANDOFF_STATUS_LABELS={s.value: label for s, label in HANDOFF_STATUS_LABELS.items()},
        HANDOFF_EVENT_LABELS=HANDOFF_EVENT_LABELS,
        CASE_EVENT_LABELS=CASE_EVENT_LABELS,
        ROLE_LABELS=ROLE_LABELS,
        FATE_LABELS=FATE_LABELS,
        ALLOWANCE=ALLOWANCE,
        SERVICE_LABELS=SERVICE_LABELS,
        PRIORITIES=[p.value for p in Priority],
        DEADLINE_LABELS={"first_response": "首次响应期限", "resolution": "解决期限"},
    )
    env.filters["duration"] = duration
    return env


def _tz(request: Request) -> ZoneInfo:
    return ZoneInfo(_services(request).settings.timezone)


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTTPResponse:
    tz = _tz(request)
    session: ConsoleSession | None = getattr(request.ctx, "session", None)
    csrf = context.pop("csrf", None) or (session.csrf if session else "")
    body = (
        templates()
        .get_template(name)
        .render(
            me=getattr(request.ctx, "agent", None),
            csrf=csrf,
            when=lambda moment, fmt="%m-%d %H:%M": local(moment, tz, fmt),
            **context,
        )
    )
    return html(body, status=status)


# --------------------------------------------------------------------------- request helpers


def _services(request: Request) -> Services:
    return request.app.ctx.services


def _sessions(request: Request) -> SessionStore:
    return SessionStore(request.app.ctx.redis)


def _kind(request: Request) -> str:
    """The route's declared kind; anything undeclared or unknown is the strictest, ``action``."""
    route = request.route
    kind = getattr(route.ctx, "kind", "action") if route is not None else "action"
    return kind if kind in KINDS else "action"


def _is_xhr(request: Request) -> bool:
    """The console's own fetch() calls say so; a browser form post does not."""
    if request.headers.get("x-requested-with"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _fields(request: Request) -> dict[str, str]:
    """A JSON object or a form, as strings (the console's forms and its JS send either)."""
    if "json" in (request.content_type or ""):
        try:
            body = request.json
        except Exception:  # Sanic raises on malformed JSON
            return {}
        return {str(k): str(v) for k, v in body.items() if v is not None} if isinstance(body, dict) else {}
    return {k: v[0] for k, v in request.form.items() if v}


def _address(request: Request) -> str:
    return request.remote_addr or request.ip or "?"


def _agent(request: Request) -> Agent:
    return request.ctx.agent


def _session(request: Request) -> ConsoleSession:
    return request.ctx.session


def _set_cookie(request: Request, response: HTTPResponse, name: str, value: str, path: str, age: int) -> None:
    """HttpOnly, SameSite=Strict, Secure over https; ``age`` 0 deletes."""
    response.cookies[name] = value
    cookie = response.cookies[name]
    cookie["path"] = path
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["max-age"] = age
    if request.scheme == "https":
        cookie["secure"] = True


def _refuse(request: Request, status: int, message: str, back: str = "/console") -> HTTPResponse:
    """An error the caller can read: JSON for the console's JS, a small page for a browser form."""
    if _is_xhr(request) or _kind(request) in ("fragment", "stream"):
        return json({"error": message}, status=status)
    return _render(request, "console/error.html", status=status, message=message, back=back)


async def _done(
    request: Request, to: str, message: str | None = None, level: str = "ok", **data: Any
) -> HTTPResponse:
    """Success: JSON for XHR, otherwise a flash message and a redirect (post/redirect/get)."""
    if _is_xhr(request):
        return json({"ok": True, "redirect": to, "message": message, **data})
    if message:
        await _sessions(request).flash(_session(request).sid, message, level)
    return redirect(to, status=303)


def _conversation_url(handoff_id: int) -> str:
    return f"/console/conversations/{handoff_id}"


def _back(fields: dict[str, str]) -> str:
    """Where a case form returns to: its conversation page or the case's own page (only those, so
    no open redirect)."""
    raw = fields.get("handoff", "")
    if re.fullmatch(r"[0-9]{1,10}", raw) and 0 < int(raw) <= MAX_DB_ID:
        return _conversation_url(int(raw))
    number = normalise_case_number(fields.get("case", ""))
    if number is not None:
        return f"/console/cases/{number}"
    return "/console"


# --------------------------------------------------------------------------- middleware


async def guard(request: Request) -> HTTPResponse | None:
    """Sessions for everything but sign-in and assets; the CSRF token for every state change."""
    kind = _kind(request)
    if kind in ("public", "asset"):
        return None
    services = _services(request)
    store = _sessions(request)
    session = await store.load(request.cookies.get(COOKIE))
    agent = await services.agents.get(session.username) if session else None
    if session is not None and (agent is None or not agent.active):
        await store.destroy(session.sid)  # a deactivated account loses its sessions at once
        session = None
    if session is None or agent is None:
        if kind == "page" or (kind == "action" and not _is_xhr(request)):
            return redirect("/console/login", status=303)
        return json({"error": "unauthorized", "detail": "请先登录客服工作台"}, status=401)
    request.ctx.session = session
    request.ctx.agent = agent
    if request.method not in SAFE_METHODS:
        given = request.headers.get("x-csrf-token") or _fields(request).get("csrf_token")
        if not tokens_match(given, session.csrf):
            return _refuse(request, 403, MESSAGES["csrf"])
    if kind in ("page", "fragment"):  # fragments: the pages' polling when the live stream fails
        await services.agents.seen(agent.username)
    return None


async def security_headers(request: Request, response: HTTPResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    kind = _kind(request)
    response.headers["Cache-Control"] = "no-cache" if kind == "asset" else "no-store"
    session = getattr(request.ctx, "session", None)
    if kind == "page" and session is not None and response.status == 200:
        # The cookie slides with the server-side expiry.
        _set_cookie(request, response, COOKIE, session.sid, "/console", _sessions(request).ttl)


# --------------------------------------------------------------------------- sign-in


async def login_page(request: Request) -> HTTPResponse:
    if await _sessions(request).load(request.cookies.get(COOKIE), slide=False):
        return redirect("/console", status=303)
    return _login_form(request)


def _login_form(
    request: Request, status: int = 200, error: str | None = None, username: str = ""
) -> HTTPResponse:
    """The form carries a token that must match an HttpOnly cookie (no session exists yet)."""
    token = request.cookies.get(LOGIN_COOKIE) or ""
    if not re.fullmatch(r"[A-Za-z0-9_-]{43}", token):
        token = secrets.token_urlsafe(32)
    response = _render(
        request, "console/login.html", status=status, csrf=token, error=error, username=username
    )
    _set_cookie(request, response, LOGIN_COOKIE, token, "/console/login", LOGIN_TOKEN_TTL)
    return response


async def login(request: Request) -> HTTPResponse:
    fields = _fields(request)
    if not tokens_match(fields.get("csrf_token"), request.cookies.get(LOGIN_COOKIE)):
        return _login_form(request, 403, MESSAGES["login_expired"])
    username = fields.get("username", "").strip()[:64]
    password = fields.get("password", "")
    throttle = LoginThrottle(request.app.ctx.redis)
    address = _address(request)
    if await throttle.blocked(username, address):
        return _login_form(request, 429, MESSAGES["throttled"], username)
    services = _services(request)
    agent = None
    if username and password and len(password) <= 1024:
        agent = await services.agents.authenticate(username, password)
    if agent is None:
        await throttle.failed(username, address)
        return _login_form(request, 401, MESSAGES["bad_login"], username)
    await throttle.succeeded(username, address)
    store = _sessions(request)
    old = request.cookies.get(COOKIE)
    if old:
        await store.destroy(old)  # a fresh id on every sign-in: no session fixation
    session = await store.create(agent.username)
    await services.agents.seen(agent.username)
    logger.info("console: %s signed in from %s", agent.username, address)
    response = redirect("/console", status=303)
    _set_cookie(request, response, COOKIE, session.sid, "/console", store.ttl)
    _set_cookie(request, response, LOGIN_COOKIE, "", "/console/login", 0)
    return response


async def logout(request: Request) -> HTTPResponse:
    await _sessions(request).destroy(_session(request).sid)
    response = (
        json({"ok": True, "redirect": "/console/login"})
        if _is_xhr(request)
        else redirect("/console/login", status=303)
    )
    _set_cookie(request, response, COOKIE, "", "/console", 0)
    return response


# --------------------------------------------------------------------------- the queue


@dataclass
class QueueRow:
    handoff: Handoff
    place: int
    reason: str
    waited: timedelta
    cases: list[Case] = field(default_factory=list)
    scores: list[Survey] = field(default_factory=list)


async def _queue_context(request: Request) -> dict[str, Any]:
    services = _services(request)
    me = _agent(request)
    now = utcnow()
    rows = []
    for handoff, place in await services.handoffs.queue():
        open_cases = await services.cases.open_cases_for(handoff.sender_id)
        answered = await services.surveys.search(
            sender_id=handoff.sender_id, status=SurveyStatus.ANSWERED, limit=10
        )
        rows.append(
            QueueRow(
                handoff,
                place,
                REASONS.get(handoff.reason, handoff.reason),
                now - handoff.queued_at,
                open_cases,
                [s for s in answered if s.score is not None],
            )
        )
    active = await services.handoffs.active(me)
    agents = await services.agents.all()
    return {
        "waiting": rows,
        "mine": [h for h in active if h.agent == me.username],
        "everyone": active if me.supervisor else [],
        "names": names_of(agents),
        "targets": [a for a in agents if a.active],
        "now": now,
    }


async def queue_page(request: Request) -> HTTPResponse:
    context = await _queue_context(request)
    flashes = await _sessions(request).pop_flashes(_session(request).sid)
    return _render(request, "console/queue.html", flashes=flashes, **context)


async def queue_panel(request: Request) -> HTTPResponse:
    """The queue without the page around it, for the live refresh."""
    return _render(request, "console/_queue_panel.html", **await _queue_context(request))


async def accept(request: Request, handoff_id: int) -> HTTPResponse:
    """No look first: the service's conditional update decides who wins."""
    services = _services(request)
    me = _agent(request)
    if handoff_id > MAX_DB_ID:
        return _refuse(request, 404, MESSAGES["no_handoff"])
    try:
        await services.handoffs.accept(handoff_id, me)
    except AlreadyTaken:
        if _is_xhr(request):
            return json({"error": MESSAGES["taken"]}, status=409)
        await _sessions(request).flash(_session(request).sid, MESSAGES["taken"], "warn")
        return redirect("/console", status=303)
    except RasaError:
        # The conversation is ours (the update happened) but the greeting did not go out, and the
        # service stopped before telling the other consoles.
        logger.exception("console: greeting for handoff %s failed", handoff_id)
        await services.bus.queue_changed({"event": "accepted", "handoff": handoff_id})
        return await _done(
            request,
            _conversation_url(handoff_id),
            "已接入，但问候语未能发送（机器人服务器无响应），请直接回复客户。",
            "warn",
        )
    return await _done(request, _conversation_url(handoff_id))


# --------------------------------------------------------------------------- a conversation


async def _handoff(request: Request, handoff_id: int) -> Handoff | None:
    if handoff_id > MAX_DB_ID:
        return None
    try:
        return await _services(request).handoffs.get(handoff_id)
    except HandoffNotFound:
        return None


def _may_act(agent: Agent, handoff: Handoff) -> bool:
    """What the page offers; the service checks again (and decides) when the agent acts."""
    return handoff.status is HandoffStatus.ACTIVE and (handoff.agent == agent.username or agent.supervisor)


async def _transcript(request: Request, handoff: Handoff, names: dict[str, str]) -> tuple[list[Turn], bool]:
    """(turns, whether Rasa answered)."""
    try:
        tracker = await _services(request).rasa.tracker(handoff.sender_id, include_events="ALL")
    except RasaError:
        logger.exception("console: no tracker for %s", handoff.sender_id)
        return [], False
    return turns_from_tracker(tracker or {}, names), True


async def _case_panel(request: Request, sender_id: str) -> list[dict[str, Any]]:
    cases = _services(request).cases
    panel = []
    for case in (await cases.cases_for(sender_id))[:10]:
        full = await cases.get(case.number)  # with its audit trail
        panel.append({"case": full, "next": [s.value for s in next_statuses(full.status)]})
    return panel


async def _delivery(request: Request, handoff: Handoff) -> DeliveryView | None:
    services = _services(request)
    return await delivery_view(SqlOutboxStore(services.engine), request.app.ctx.redis, handoff, utcnow())


async def delivery_fragment(request: Request, handoff_id: int) -> HTTPResponse:
    """Refreshed by the page after each reply and each customer message (which sends what was held)."""
    handoff = await _handoff(request, handoff_id)
    if handoff is None:
        return _refuse(request, 404, MESSAGES["no_handoff"])
    return _render(
        request,
        "console/_delivery.html",
        delivery=await _delivery(request, handoff),
        live=handoff.status.open,
    )


async def conversation_page(request: Request, handoff_id: int) -> HTTPResponse:
    handoff = await _handoff(request, handoff_id)
    if handoff is None:
        return _refuse(request, 404, MESSAGES["no_handoff"])
    services = _services(request)
    me = _agent(request)
    agents = await services.agents.all()
    names = names_of(agents)
    turns, rasa_ok = await _transcript(request, handoff, names)
    flashes = await _sessions(request).pop_flashes(_session(request).sid)
    return _render(
        request,
        "console/conversation.html",
        handoff=handoff,
        reason=REASONS.get(handoff.reason, handoff.reason),
        turns=turns,
        rasa_ok=rasa_ok,
        may_act=_may_act(me, handoff),
        may_edit_cases=_may_edit_cases(me, handoff),
        cases=await _case_panel(request, handoff.sender_id),
        delivery=await _delivery(request, handoff),
        live=handoff.status.open,
        history=await services.handoffs.history(handoff_id),
        names=names,
        targets=[a for a in agents if a.active and a.username != handoff.agent],
        flashes=flashes,
    )


def _may_edit_cases(me: Agent, handoff: Handoff | None) -> bool:
    """A supervisor, or the agent holding the customer's conversation (``handoff``, if any)."""
    return me.supervisor or (
        handoff is not None and handoff.status is HandoffStatus.ACTIVE and handoff.agent == me.username
    )


async def cases_fragment(request: Request, handoff_id: int) -> HTTPResponse:
    """The case panel alone: refreshed after the agent's first answer acknowledged new cases."""
    handoff = await _handoff(request, handoff_id)
    if handoff is None:
        return _refuse(request, 404, MESSAGES["no_handoff"])
    return _render(
        request,
        "console/_cases_panel.html",
        handoff=handoff,
        cases=await _case_panel(request, handoff.sender_id),
        may_edit_cases=_may_edit_cases(_agent(request), handoff),
    )


async def transcript_fragment(request: Request, handoff_id: int) -> HTTPResponse:
    """The transcript alone: the page's fallback when live updates are unavailable."""
    handoff = await _handoff(request, handoff_id)
    if handoff is None:
        return _refuse(request, 404, MESSAGES["no_handoff"])
    names = names_of(await _services(request).agents.all())
    turns, rasa_ok = await _transcript(request, handoff, names)
    return _render(request, "console/_transcript.html", turns=turns, rasa_ok=rasa_ok)


async def reply(request: Request, handoff_id: int) -> HTTPResponse:
    fields = _fields(request)
    text = fields.get("text", "").strip()
    if not text:
        return _refuse(request, 400, "回复内容不能为空。", _conversation_url(handoff_id))
    if len(text) > MAX_REPLY:
        return _refuse(request, 400, f"回复太长了（最多 {MAX_REPLY} 字）。", _conversation_url(handoff_id))
    try:
        acknowledged = await _services(request).handoffs.reply(handoff_id, _agent(request), text)
    except HandoffNotFound:
        return _refuse(request, 404, MESSAGES["no_handoff"])
    except NotYourConversation:
        return _refuse(request, 403, MESSAGES["not_yours"], _conversation_url(handoff_id))
    except RasaError:
        logger.exception("console: reply in handoff %s not delivered", handoff_id)
        return _refuse(request, 502, MESSAGES["rasa_down"], _conversation_url(handoff_id))
    # The first answer acknowledged the customer's new cases: the page refreshes its case panel.
    return await _done(request, _conversation_url(handoff_id), acknowledged=acknowledged)


async def hand_back(request: Request, handoff_id: int) -> HTTPResponse:
    note = _fields(request).get("note", "").strip()[:MAX_NOTE] or None
    try:
        await _services(request).handoffs.hand_back(handoff_id, _agent(request), note)
    except HandoffNotFound:
        return _refuse(request, 404, MESSAGES["no_handoff"])
    except NotYourConversation:
        return _refuse(request, 403, MESSAGES["not_yours"], _conversation_url(handoff_id))
    except RasaError:
        # Recorded as handed back, but Rasa may still be paused for this customer.
        logger.exception("console: hand-back of handoff %s did not reach Rasa", handoff_id)
        return _refuse(
            request,
            502,
            "已结束人工接待，但机器人服务器没有响应，客户的对话可能仍处于暂停状态：请联系管理员。",
        )
    return await _done(request, "/console", "已交还机器人。")


async def transfer(request: Request, handoff_id: int) -> HTTPResponse:
    services = _services(request)
    username = _fields(request).get("username", "").strip()
    target = await services.agents.get(username) if username else None
    if target is None or not target.active:
        return _refuse(request, 400, "没有这位客服，或账号已停用。", _conversation_url(handoff_id))
    handoff = await _handoff(request, handoff_id)
    if handoff is None:
        return _refuse(request, 404, MESSAGES["no_handoff"])
    if handoff.agent == target.username:
        return _refuse(request, 400, "对话已经在这位客服名下。", _conversation_url(handoff_id))
    try:
        await services.handoffs.transfer(handoff_id, _agent(request), target)
    except HandoffNotFound:
        return _refuse(request, 404, MESSAGES["no_handoff"])
    except NotYourConversation:
        return _refuse(request, 403, MESSAGES["not_yours"], _conversation_url(handoff_id))
    except RasaError:
        logger.exception("console: transfer notice for handoff %s not delivered", handoff_id)
        await services.bus.queue_changed({"event": "transferred", "handoff": handoff_id})
        return await _done(request, "/console", f"已转接给{target.display_name}，但未能通知客户。", "warn")
    return await _done(request, "/console", f"已转接给{target.display_name}。")


# --------------------------------------------------------------------------- live updates


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {jsonlib.dumps(data, ensure_ascii=False)}\n\n"


async def _stream(request: Request, channel: str, event_name: str, convert: Any) -> None:
    """Server-Sent Events from a LiveBus channel, with keep-alives that also mark the agent as present.

    This subscribes on the app's Redis connection rather than iterating ``LiveBus.listen``: the stream
    must know it is subscribed before telling the browser it is ready (or an event published in between
    is lost), and it must wake up for keep-alives when nothing happens."""
    services = _services(request)
    store = _sessions(request)
    session = _session(request)
    pubsub = request.app.ctx.redis.pubsub()
    await pubsub.subscribe(channel)
    try:
        response = await request.respond(
            content_type="text/event-stream; charset=utf-8", headers={"X-Accel-Buffering": "no"}
        )
        await response.send("retry: 3000\n: ready\n\n")
        started = last_ping = time.monotonic()
        while time.monotonic() - started < STREAM_LIFETIME:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=STREAM_PING)
            if message is not None and message.get("type") == "message":
                try:
                    data = convert(jsonlib.loads(message["data"]))
                except ValueError:
                    continue
                if data is not None:
                    await response.send(_sse(event_name, data))
            if time.monotonic() - last_ping >= STREAM_PING:
                if await store.load(session.sid) is None:
                    break  # signed out elsewhere: the browser reconnects and gets its 401
                await services.agents.seen(session.username)
                await response.send(": ping\n\n")
                last_ping = time.monotonic()
        await response.eof()
    finally:
        await pubsub.unsubscribe(channel)
        await pubsub.close()


async def queue_stream(request: Request) -> None:
    await _stream(request, QUEUE, "queue", lambda event: event if isinstance(event, dict) else None)


async def conversation_stream(request: Request, handoff_id: int) -> HTTPResponse | None:
    handoff = await _handoff(request, handoff_id)
    if handoff is None:
        return _refuse(request, 404, MESSAGES["no_handoff"])
    names = names_of(await _services(request).agents.all())
    tz = _tz(request)

    def convert(event: Any) -> dict[str, Any] | None:
        turn = live_turn(event, names) if isinstance(event, dict) else None
        return None if turn is None else {"type": event.get("type"), **turn_to_dict(turn, tz)}

    await _stream(request, conversation_channel(handoff.sender_id), "turn", convert)
    return None


# --------------------------------------------------------------------------- assets and wiring


async def asset(request: Request, name: str) -> HTTPResponse:
    found = STATIC.get(name)
    if found is None:
        return json({"error": "not found"}, status=404)
    path, mime = found
    return await file(path, mime_type=mime)


def blueprint() -> Blueprint:
    """A fresh blueprint per app (a blueprint object belongs to the app it is registered on)."""
    from bot.api.console.cases import (  # here: that module builds on this one's helpers
        case_contact,
        case_note,
        case_page,
        case_priority,
        case_status,
        cases_page,
    )

    bp = Blueprint("console", url_prefix="/console")
    bp.add_route(login_page, "/login", methods=["GET"], ctx_kind="public")
    bp.add_route(login, "/login", methods=["POST"], ctx_kind="public", name="login_submit")
    bp.add_route(logout, "/logout", methods=["POST"], ctx_kind="action")
    bp.add_route(asset, "/static/<name>", methods=["GET"], ctx_kind="asset")
    bp.add_route(queue_page, "", methods=["GET"], ctx_kind="page", strict_slashes=False)
    bp.add_route(queue_panel, "/queue/panel", methods=["GET"], ctx_kind="fragment")
    bp.add_route(queue_stream, "/queue/stream", methods=["GET"], ctx_kind="stream")
    bp.add_route(accept, "/handoffs/<handoff_id:int>/accept", methods=["POST"], ctx_kind="action")
    base = "/conversations/<handoff_id:int>"
    bp.add_route(conversation_page, base, methods=["GET"], ctx_kind="page")
    bp.add_route(transcript_fragment, f"{base}/transcript", methods=["GET"], ctx_kind="fragment")
    bp.add_route(cases_fragment, f"{base}/cases", methods=["GET"], ctx_kind="fragment")
    bp.add_route(delivery_fragment, f"{base}/delivery", methods=["GET"], ctx_kind="fragment")
    bp.add_route(conversation_stream, f"{base}/stream", methods=["GET"], ctx_kind="stream")
    bp.add_route(reply, f"{base}/reply", methods=["POST"], ctx_kind="action")
    bp.add_route(hand_back, f"{base}/handback", methods=["POST"], ctx_kind="action")
    bp.add_route(transfer, f"{base}/transfer", methods=["POST"], ctx_kind="action")
    bp.add_route(cases_page, "/cases", methods=["GET"], ctx_kind="page")
    bp.add_route(case_page, "/cases/<number>", methods=["GET"], ctx_kind="page")
    bp.add_route(case_status, "/cases/<number>/status", methods=["POST"], ctx_kind="action")
    bp.add_route(case_priority, "/cases/<number>/priority", methods=["POST"], ctx_kind="action")
    bp.add_route(case_note, "/cases/<number>/note", methods=["POST"], ctx_kind="action")
    bp.add_route(case_contact, "/cases/<number>/contact", methods=["POST"], ctx_kind="action")
    bp.middleware(guard, "request")
    bp.middleware(security_headers, "response")
    return bp
