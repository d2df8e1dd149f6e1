"""The agent console on the ops server as a real process, with agents made by the CLI and a fake Rasa
that serves a canned tracker and records what the console sends it.

Runs on SQLite and, when DATABASE_URL points at PostgreSQL, again on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, unquote, urlsplit

import aiohttp
import pytest

from bot.cases.model import CaseDraft, Status
from bot.config import PROJECT_ROOT, Settings
from bot.db.migrate import upgrade
from bot.handoff.model import Handoff, HandoffStatus, Role
from bot.handoff.rules import HandoffPolicy
from bot.redis_embedded import free_port
from bot.surveys.model import ServiceEvent
from bot.wiring import Services, build_services
from tests.helpers import app_routes, http, start, stop, wait_until

KEY = "console-key-789"
PASSWORD = "correct-horse-42"
RACERS = 20
T0 = 1763605800.0  # 2025-11-20 02:30 UTC, 10:30 in Shanghai
XHR = {"X-Requested-With": "fetch", "Accept": "application/json"}


# --------------------------------------------------------------------------- a fake Rasa


def canned_tracker(sender: str) -> dict[str, Any]:
    return {
        "sender_id": sender,
        "events": [
            {"event": "action", "name": "action_session_start", "timestamp": T0 - 1},
            {"event": "user", "text": "热水器漏水了<script>alert(1)</script>", "timestamp": T0},
            {
                "event": "bot",
                "text": "请问您的手机号是？",
                "timestamp": T0 + 5,
                "data": {"buttons": [{"title": "转人工", "payload": "/request_human"}]},
                "metadata": {},
            },
            {"event": "pause", "timestamp": T0 + 10},
            {
                "event": "bot",
                "text": "您好，我是客服小王",
                "timestamp": T0 + 60,
                "metadata": {"agent": "wang"},
            },
        ],
    }


class FakeRasa:
    """Rasa's HTTP API as far as the console uses it; every POST is recorded."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                found = re.fullmatch(r"/conversations/([^/]+)/tracker", parts.path)
                if not found:
                    self.send_error(404)
                    return
                self._answer(canned_tracker(unquote(found.group(1))))

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                found = re.fullmatch(r"/conversations/([^/]+)/(tracker/events|trigger_intent)", parts.path)
                if not found:
                    self.send_error(404)
                    return
                with fake._lock:
                    fake.calls.append(
                        {
                            "sender": unquote(found.group(1)),
                            "what": found.group(2),
                            "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                            "body": body,
                        }
                    )
                self._answer({"sender_id": unquote(found.group(1)), "events": []})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeRasa:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls_for(self, sender: str, what: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [c for c in self.calls if c["sender"] == sender and (what is None or c["what"] == what)]

    def bot_events(self, sender: str) -> list[dict[str, Any]]:
        """(query, event) of every bot event appended to the sender's tracker."""
        return [
            {"query": c["query"], **e}
            for c in self.calls_for(sender, "tracker/events")
            for e in c["body"]
            if e.get("event") == "bot"
        ]


# --------------------------------------------------------------------------- the server


@dataclass
class Console:
    base: str
    env: dict[str, str]
    rasa: FakeRasa
    passwords: dict[str, str]
    racers: list[str] = field(default_factory=list)


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "agents", *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def console(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp(f"console_{request.param}")
    if request.param == "sqlite":
        db = f"sqlite:///{tmp / 'ops.db'}"
    else:
        server = os.environ.get("DATABASE_URL", "")
        if not server.startswith(("postgres://", "postgresql")):
            pytest.skip("DATABASE_URL does not point at PostgreSQL")
        db = asyncio.run(own_database(server))
    rasa = FakeRasa().start()
    env = {
        "DATABASE_URL": db,
        "REDIS_URL": redis_url,
        "CARELOOP_API_KEYS": KEY,
        "CARELOOP_VAR_DIR": str(tmp),
        "CARELOOP_RASA_URL": rasa.url,
        "HANDOFF_HOURS": "",
    }
    # Through the CLI: one password from stdin, one generated (no TTY here) and printed once.
    added = cli(
        env, "add", "wang", "--role", "agent", "--display-name", "小王", "--password-stdin", stdin=PASSWORD
    )
    assert added.returncode == 0, added.stderr
    added = cli(env, "add", "boss", "--role", "supervisor", "--display-name", "张主管")
    assert added.returncode == 0, added.stderr
    generated = re.search(r"password \(shown only this once\): (\S+)", added.stdout)
    assert generated, added.stdout
    passwords = {"wang": PASSWORD, "boss": generated.group(1)}
    unique = uuid.uuid4().hex[:6]
    victim = f"victim{unique}"  # unique: failed sign-ins are counted in a Redis that outlives the run
    racers = [f"racer{i:02d}" for i in range(RACERS)]

    async def more_agents() -> None:
        async with services_for(env) as s:
            await upgrade(db)
            for name in ["li", victim, *racers]:
                await s.agents.add(name, PASSWORD, Role.AGENT, "小李" if name == "li" else None)
                passwords[name] = PASSWORD

    asyncio.run(more_agents())
    passwords["victim"] = victim
    port = free_port()
    proc = start(["-m", "bot", "serve", "--port", str(port)], env, tmp / "ops.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http("GET", f"{base}/health")[0] == 200, 60, "ops server", proc)
        yield Console(base, env, rasa, passwords, racers)
    finally:
        stop(proc)
        rasa.stop()
        if request.param == "postgresql":
            asyncio.run(drop_database(server, db))


def _plain(url: str) -> str:
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


async def own_database(server_url: str) -> str:
    """A fresh database of our own on DATABASE_URL's server: other test runs may share that database
    and reset its schema while this module's server is using it."""
    import asyncpg

    name = f"careloop_console_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(_plain(server_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    parts = urlsplit(server_url)
    return parts._replace(path=f"/{name}").geturl()


async def drop_database(server_url: str, url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_plain(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def services_for(env: dict[str, str]) -> AsyncIterator[Services]:
    # No quiet hours: a case resolved here tells its customer at once, whatever the hour the test runs.
    with mock.patch.dict(os.environ, {"SURVEY_QUIET_HOURS": ""}):
        services = build_services(Settings.from_env(env))
    services.handoffs.policy = HandoffPolicy(opens=None, closes=None)  # agents are always in
    try:
        yield services
    finally:
        await services.close()


async def queued(
    console: Console, reason: str = "customer_request", *, case: bool = False, sender: str | None = None
) -> Handoff:
    sender = sender or f"wx-{uuid.uuid4().hex[:10]}"
    async with services_for(console.env) as s:
        number = None
        if case:
            draft = CaseDraft(sender, "wechat", "热水器不出热水", "installation_repair", "13812345678")
            number = (await s.cases.open_case(draft)).number
        ticket = await s.handoffs.request(sender, "wechat", reason, case_number=number)
    return ticket.handoff


async def handoff_now(console: Console, handoff_id: int) -> tuple[Handoff, list[str]]:
    async with services_for(console.env) as s:
        return await s.handoffs.get(handoff_id), [
            kind for _, kind, _, _ in await s.handoffs.history(handoff_id)
        ]


# --------------------------------------------------------------------------- a browser


@dataclass
class Page:
    status: int
    headers: Any
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class Browser:
    """Cookies by hand (so tests can forge and replay them), no redirects followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies: dict[str, str] = {}
        self.csrf = ""
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())

    async def close(self) -> None:
        await self.http.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Page:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        async with self.http.request(
            method, self.base + path, data=form, json=body, headers=sent, allow_redirects=False
        ) as resp:
            for raw in resp.headers.getall("Set-Cookie", []):
                name, _, rest = raw.partition("=")
                value = rest.split(";", 1)[0].strip('"')
                if "Max-Age=0" in raw or not value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
            return Page(resp.status, resp.headers, await resp.text())

    async def get(self, path: str, **kw: Any) -> Page:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, form: dict[str, str] | None = None, *, xhr: bool = True) -> Page:
        """As the console's JS does (header token, XHR) or as a plain browser form (token in the form)."""
        if xhr:
            return await self.request(
                "POST", path, form=form or {}, headers={**XHR, "X-CSRF-Token": self.csrf}
            )
        return await self.request("POST", path, form={**(form or {}), "csrf_token": self.csrf})

    async def login_form(self) -> str:
        page = await self.get("/console/login")
        assert page.status == 200
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found
        return found.group(1)

    async def try_login(self, username: str, password: str) -> Page:
        token = await self.login_form()
        return await self.request(
            "POST", "/console/login", form={"username": username, "password": password, "csrf_token": token}
        )

    async def login(self, username: str, password: str) -> Browser:
        page = await self.try_login(username, password)
        assert (page.status, page.headers.get("Location")) == (303, "/console"), page.text
        queue = await self.get("/console")
        assert queue.status == 200
        found = re.search(r'<meta name="csrf-token" content="([^"]+)"', queue.text)
        assert found
        self.csrf = found.group(1)
        return self


@asynccontextmanager
async def signed_in(console: Console, *names: str) -> AsyncIterator[list[Browser]]:
    browsers = [Browser(console.base) for _ in names]
    try:
        await asyncio.gather(
            *(b.login(n, console.passwords[n]) for b, n in zip(browsers, names, strict=True))
        )
        yield browsers
    finally:
        for b in browsers:
            await b.close()


# --------------------------------------------------------------------------- the routes


def console_routes() -> list[tuple[str, str, str]]:
    """(method, path with sample parameters, kind) of every /console route the app has."""
    return [(m, p, getattr(r.ctx, "kind", "MISSING")) for m, p, r in app_routes("/console/")]


def test_every_console_route_declares_its_kind() -> None:
    routes = console_routes()
    assert len(routes) >= 17
    assert {k for _, _, k in routes} <= {"page", "fragment", "stream", "action", "public", "asset"}
    assert {(m, p) for m, p, k in routes if k == "public"} == {
        ("GET", "/console/login"),
        ("POST", "/console/login"),
    }
    assert {(m, p) for m, p, k in routes if k == "asset"} == {("GET", "/console/static/C20261120-0001")}
    assert all(m == "POST" for m, _, k in routes if k == "action")
    assert all(m == "GET" for m, _, k in routes if k in ("page", "fragment", "stream"))


@pytest.mark.parametrize("cookie", [None, "forged-session-id-0000000000000000000000000"])
async def test_every_console_route_refuses_without_a_session(console: Console, cookie: str | None) -> None:
    browser = Browser(console.base)
    if cookie:
        browser.cookies["careloop_console"] = cookie
    try:
        for method, path, kind in console_routes():
            if kind in ("public", "asset"):
                continue
            if kind == "page":
                page = await browser.request(method, path)
                assert (page.status, page.headers.get("Location")) == (303, "/console/login"), path
            elif kind == "action":
                page = await browser.request(method, path, form={"text": "x"}, headers=XHR)
                assert page.status == 401, path
                page = await browser.request(method, path, form={"text": "x", "csrf_token": "x"})
                assert (page.status, page.headers.get("Location")) == (303, "/console/login"), path
            else:
                page = await browser.request(method, path)
                assert page.status == 401, path
                assert page.json()["error"] == "unauthorized"
        asset = await browser.get("/console/static/console.js")
        assert asset.status == 200 and "EventSource" in asset.text
    finally:
        await browser.close()


async def test_every_post_needs_the_sessions_csrf_token(console: Console) -> None:
    handoff = await queued(console, case=True)
    async with services_for(console.env) as s:
        number = (await s.cases.open_cases_for(handoff.sender_id))[0].number
    async with signed_in(console, "boss", "wang") as (boss, wang):
        posts = [(m, p) for m, p, k in console_routes() if m == "POST" and k != "public"]
        assert len(posts) >= 8
        for _, path in posts:
            path = path.replace("/1/", f"/{handoff.id}/").replace("C20261120-0001", number)
            form = {"text": "你好", "username": "li", "status": "acknowledged", "priority": "P1", "note": "x"}
            for token in (None, "forged-token", wang.csrf):
                headers = {**XHR, **({"X-CSRF-Token": token} if token else {})}
                page = await boss.request("POST", path, form=form, headers=headers)
                assert page.status == 403, (path, token)
            page = await boss.request("POST", path, form={**form, "csrf_token": "forged-token"})
            assert page.status == 403, path
        # Nothing happened: still waiting, the case untouched, boss still signed in.
        now, kinds = await handoff_now(console, handoff.id)
        assert now.status is HandoffStatus.WAITING and kinds == ["queued"]
        async with services_for(console.env) as s:
            case = await s.cases.get(number)
        assert case.status.value == "new" and [e.kind for e in case.events] == ["created"]
        assert (await boss.get("/console")).status == 200
        assert console.rasa.calls_for(handoff.sender_id) == []


async def test_sign_in_needs_the_forms_token(console: Console) -> None:
    browser = Browser(console.base)
    try:
        token = await browser.login_form()
        form = {"username": "wang", "password": PASSWORD}
        for sent in ({**form}, {**form, "csrf_token": "forged"}):
            page = await browser.request("POST", "/console/login", form=sent)
            assert page.status == 403 and "careloop_console" not in browser.cookies
        browser.cookies.pop("careloop_console_login")  # a token without its cookie
        page = await browser.request("POST", "/console/login", form={**form, "csrf_token": token})
        assert page.status == 403 and "careloop_console" not in browser.cookies
    finally:
        await browser.close()


# --------------------------------------------------------------------------- signing in and out


def login_error(page: Page) -> str:
    found = re.search(r'id="login-error"[^>]*>([^<]+)<', page.text)
    return found.group(1) if found else ""


async def test_a_wrong_password_looks_like_an_unknown_user(console: Console) -> None:
    browser = Browser(console.base)
    try:
        wrong = await browser.try_login("wang", "not-the-password")
        assert wrong.status == 401 and "careloop_console" not in browser.cookies
        unknown = await browser.try_login("nobody-" + uuid.uuid4().hex[:6], "not-the-password")
        assert unknown.status == 401 and "careloop_console" not in browser.cookies
        assert login_error(wrong) == login_error(unknown) == "用户名或密码错误。"
        assert (await browser.get("/console")).status == 303
    finally:
        await browser.close()


async def test_repeated_failures_lock_the_name_for_a_while(console: Console) -> None:
    victim = console.passwords["victim"]
    browser = Browser(console.base)
    try:
        for _ in range(5):
            assert (await browser.try_login(victim, "guess-guess")).status == 401
        locked = await browser.try_login(victim, PASSWORD)  # even the right password now
        assert locked.status == 429 and "10 分钟" in locked.text
        assert "careloop_console" not in browser.cookies
        await browser.login("wang", PASSWORD)  # others are not affected
    finally:
        await browser.close()


async def test_a_session_cookie_is_httponly_strict_and_logout_ends_it(console: Console) -> None:
    browser = Browser(console.base)
    try:
        token = await browser.login_form()
        form = {"username": "wang", "password": PASSWORD, "csrf_token": token}
        async with browser.http.post(
            console.base + "/console/login",
            data=form,
            headers={"Cookie": f"careloop_console_login={token}"},
            allow_redirects=False,
        ) as resp:
            cookie = next(c for c in resp.headers.getall("Set-Cookie") if c.startswith("careloop_console="))
        for attribute in ("HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=43200"):
            assert attribute in cookie
        assert "Secure" not in cookie  # plain http here
        sid = cookie.split(";", 1)[0].split("=", 1)[1]
        assert len(sid) >= 43  # 32 random bytes

        await browser.login("wang", PASSWORD)
        old = dict(browser.cookies)
        out = await browser.post("/console/logout", xhr=False)
        assert (out.status, out.headers.get("Location")) == (303, "/console/login")
        assert "careloop_console" not in browser.cookies
        browser.cookies = old  # replaying the old cookie does not bring the session back
        assert (await browser.get("/console")).status == 303
        assert (await browser.get("/console/queue/panel", headers=XHR)).status == 401
    finally:
        await browser.close()


# --------------------------------------------------------------------------- the queue


async def test_the_queue_lists_waiting_customers_by_priority_then_time(console: Console) -> None:
    first = await queued(console, "customer_request")  # P3
    urgent = await queued(console, "p1_case", case=True)  # P1, later
    second = await queued(console, "misunderstood")  # P3, later still
    angry = await queued(console, "angry")  # P2
    async with services_for(console.env) as s:
        intake = await s.surveys.record_service_event(
            ServiceEvent(
                external_id=f"WO-{uuid.uuid4().hex[:8]}",
                sender_id=first.sender_id,
                channel="wechat",
                service_type="repair",
                completed_at=datetime.now(timezone.utc) - timedelta(hours=3),
            )
        )
        assert intake.survey is not None and intake.survey.id is not None
        await s.surveys.mark_sent(intake.survey.id, "customer_service")
        await s.surveys.answer(
            first.sender_id, survey_id=intake.survey.id, rating=2, label=None, confidence=None, comment=None
        )
        case_number = (await s.cases.open_cases_for(urgent.sender_id))[0].number
    ours = {h.sender_id for h in (first, urgent, second, angry)}
    async with signed_in(console, "wang") as (wang,):
        for path in ("/console", "/console/queue/panel"):
            page = await wang.get(path, headers=XHR if "panel" in path else None)
            assert page.status == 200
            rows = re.findall(
                r'<tr class="waiting-row[^"]*" data-handoff="(\d+)" data-sender="([^"]+)">(.*?)</tr>',
                page.text,
                re.S,
            )
            mine = [(sender, body) for _, sender, body in rows if sender in ours]
            assert [s for s, _ in mine] == [
                urgent.sender_id,
                angry.sender_id,
                first.sender_id,
                second.sender_id,
            ]
            reasons = [re.search(r'class="reason">([^<]+)<', body).group(1) for _, body in mine]
            assert reasons == ["P1 特急投诉", "客户情绪强烈不满", "客户要求人工", "机器人连续两次没听懂"]
            assert case_number in mine[0][1] and case_number not in mine[1][1]
            assert re.search(r'class="score score-2"[^>]*>2 分<', mine[2][1])
            assert f'action="/console/handoffs/{urgent.id}/accept"' in mine[0][1]
        assert page.headers["X-Frame-Options"] == "DENY"


async def test_the_queue_stream_announces_changes(console: Console) -> None:
    async with signed_in(console, "wang") as (wang,):
        events = await open_stream(wang, "/console/queue/stream")
        try:
            handoff = await queued(console)
            name, data = await next_event(events)
            while data.get("handoff") != handoff.id:
                name, data = await next_event(events)
            assert (name, data["event"], data["sender"]) == ("queue", "queued", handoff.sender_id)
        finally:
            events.close()


# --------------------------------------------------------------------------- accepting


async def test_twenty_agents_accept_at_once_and_exactly_one_wins(console: Console) -> None:
    handoff = await queued(console)
    async with signed_in(console, *console.racers) as racers:
        pages = await asyncio.gather(*(r.post(f"/console/handoffs/{handoff.id}/accept") for r in racers))
    statuses = sorted(p.status for p in pages)
    assert statuses == [200] + [409] * (RACERS - 1), statuses
    winner = console.racers[[p.status for p in pages].index(200)]
    assert (
        pages[[p.status for p in pages].index(200)].json()["redirect"]
        == f"/console/conversations/{handoff.id}"
    )
    now, kinds = await handoff_now(console, handoff.id)
    assert (now.status, now.agent) == (HandoffStatus.ACTIVE, winner)
    assert kinds.count("accepted") == 1
    greetings = console.rasa.bot_events(handoff.sender_id)
    assert [g["metadata"]["agent"] for g in greetings] == [winner]


async def test_a_waiting_customer_writing_through_two_servers_at_once_hears_back_once(
    console: Console,
) -> None:
    handoff = await queued(console)
    async with services_for(console.env) as one, services_for(console.env) as two:
        await asyncio.gather(
            *(s.handoffs.customer_wrote(handoff, f"第{i}句") for i in range(5) for s in (one, two))
        )
    (notice,) = console.rasa.bot_events(handoff.sender_id)
    assert notice["text"].startswith("您的留言客服会看到") and notice["metadata"] == {"careloop": "handoff"}
    now, _ = await handoff_now(console, handoff.id)
    assert now.noticed_at is not None and now.last_customer_at is not None


async def test_a_late_accept_goes_back_to_the_queue_with_a_message(console: Console) -> None:
    handoff = await queued(console)
    async with signed_in(console, "wang", "li") as (wang, li):
        won = await wang.post(f"/console/handoffs/{handoff.id}/accept", xhr=False)
        assert (won.status, won.headers["Location"]) == (303, f"/console/conversations/{handoff.id}")
        lost = await li.post(f"/console/handoffs/{handoff.id}/accept", xhr=False)
        assert (lost.status, lost.headers["Location"]) == (303, "/console")
        queue = await li.get("/console")
        assert "手慢了" in queue.text
        assert "手慢了" not in (await li.get("/console")).text  # a flash is shown once


# --------------------------------------------------------------------------- a conversation


async def test_the_conversation_page_shows_the_transcript_escaped(console: Console) -> None:
    handoff = await queued(console)
    async with signed_in(console, "wang", "li") as (wang, li):
        assert (await wang.post(f"/console/handoffs/{handoff.id}/accept")).status == 200
        page = await li.get(f"/console/conversations/{handoff.id}")  # anyone signed in may read
        assert page.status == 200
        assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert page.headers["X-Frame-Options"] == "DENY"
        assert "热水器漏水了&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "<script>alert" not in page.text and "<script>" not in page.text.replace(
            '<script src="/console/static/console.js" defer></script>', ""
        )
        turns = re.findall(
            r'<li class="turn (\w+)"[^>]*>\s*<div class="meta">\s*(.*?)\s*<time>([^<]*)</time>',
            page.text,
            re.S,
        )
        assert turns == [
            ("customer", "客户", "11-20 10:30:00"),
            ("bot", "机器人", "11-20 10:30:05"),
            ("system", "系统", "11-20 10:30:10"),
            ("agent", "客服 小王", "11-20 10:31:00"),
        ]
        assert '<span class="chip">转人工</span>' in page.text
        assert 'id="reply-form"' not in page.text  # li only reads
        assert 'id="reply-form"' in (await wang.get(f"/console/conversations/{handoff.id}")).text
        fragment = await li.get(f"/console/conversations/{handoff.id}/transcript", headers=XHR)
        assert fragment.status == 200 and fragment.text.count('class="turn ') == 4
        assert (await li.get("/console/conversations/999999")).status == 404


async def test_a_reply_reaches_rasa_as_the_agents_bot_turn(console: Console) -> None:
    handoff = await queued(console, case=True)
    async with signed_in(console, "wang") as (wang,):
        assert (await wang.post(f"/console/handoffs/{handoff.id}/accept")).status == 200
        page = await wang.request(
            "POST",
            f"/console/conversations/{handoff.id}/reply",
            body={"text": "您好，我马上帮您联系师傅"},
            headers={**XHR, "X-CSRF-Token": wang.csrf},
        )
        assert page.status == 200 and page.json()["ok"] is True
        # The first answer is the case's first response (the page reloads to show it); later ones are not.
        assert page.json()["acknowledged"] == [handoff.case_number]
        panel = await wang.get(f"/console/conversations/{handoff.id}/cases", headers=XHR)
        assert panel.status == 200 and 'data-status="acknowledged"' in panel.text  # what the page swaps in
        again = await wang.post(f"/console/conversations/{handoff.id}/reply", {"text": "师傅姓张"})
        assert again.json()["acknowledged"] == []
        form = await wang.post(f"/console/conversations/{handoff.id}/reply", {"text": "请稍等"}, xhr=False)
        assert (form.status, form.headers["Location"]) == (303, f"/console/conversations/{handoff.id}")
        assert (await wang.post(f"/console/conversations/{handoff.id}/reply", {"text": "  "})).status == 400
    status, body = http(
        "GET", f"{console.base}/api/v1/cases/{handoff.case_number}", headers={"X-API-Key": KEY}
    )
    assert (status, body["status"], body["events"][-1]["actor"]) == (200, "acknowledged", "agent:wang")
    sent = [
        e
        for e in console.rasa.bot_events(handoff.sender_id)
        if e["text"] in ("您好，我马上帮您联系师傅", "请稍等")
    ]
    assert [e["text"] for e in sent] == ["您好，我马上帮您联系师傅", "请稍等"]
    for event in sent:
        assert event["metadata"] == {"agent": "wang"}
        assert event["query"]["execute_side_effects"] == "true"
        assert event["query"]["output_channel"] == "wechat"


async def outbox_row(console: Console, sender: str, text: str, status: str, reason: str | None) -> None:
    from bot.db.outbox_store import SqlOutboxStore
    from bot.wechat.outbox import OutboxRecord, OutboxStatus

    now = datetime.now(timezone.utc)
    body = {"msgtype": "text", "text": {"content": text}}
    record = OutboxRecord("wechat", sender, "text", body, "reply", OutboxStatus(status), now, now)
    record.reason, record.last_error = reason, "errcode 40003: invalid openid" if status == "dead" else None
    async with services_for(console.env) as s:
        await SqlOutboxStore(s.engine).add(record)


async def window_of(console: Console, sender: str, wrote_hours_ago: float, sent: int) -> None:
    from bot.redis_client import create_redis
    from bot.wechat.window import ServiceWindow

    redis = create_redis(console.env["REDIS_URL"])
    try:
        window = ServiceWindow(redis)
        await window.opened(sender, datetime.now(timezone.utc).timestamp() - wrote_hours_ago * 3600)
        for _ in range(sent):
            await window.consume(sender, datetime.now(timezone.utc).timestamp())
    finally:
        await redis.close()


async def test_the_agent_sees_what_wechat_did_not_deliver(console: Console) -> None:
    """WeChat lets an account send 5 messages per customer message, and none 48 hours after it. An
    agent's sixth reply waited for the customer's next message while the page showed it as said."""
    handoff = await queued(console)
    sender, path = handoff.sender_id, f"/console/conversations/{handoff.id}"
    async with signed_in(console, "wang") as (wang,):
        assert (await wang.post(f"/console/handoffs/{handoff.id}/accept")).status == 200
        await window_of(console, sender, wrote_hours_ago=0.1, sent=3)
        page = await wang.get(path)
        assert "客户回复前还可发送 2 条消息" in page.text and "还没收到" not in page.text

        await window_of(console, sender, wrote_hours_ago=0.1, sent=5)
        await outbox_row(console, sender, "您好，请问是什么问题？", "sent", None)
        await outbox_row(console, sender, "师傅明天上午到", "skipped", "allowance_used")
        await outbox_row(console, sender, "维修费用全免", "dead", "permanent")
        await outbox_row(console, "someone-else", "别人的消息", "skipped", "allowance_used")
        page = await wang.get(path)
        assert "本轮可发的 5 条消息已用完" in page.text
        listed = re.findall(r'<li class="fate-(\w+)">.*?<q>(.*?)</q>', page.text, re.S)
        assert listed == [("held", "师傅明天上午到"), ("failed", "维修费用全免")]
        assert "客户下次发消息时自动补发" in page.text and "errcode 40003" in page.text

        await window_of(console, sender, wrote_hours_ago=49, sent=0)
        fragment = await wang.get(f"{path}/delivery", headers=XHR)  # what the page swaps in
        assert fragment.status == 200 and "<html" not in fragment.text
        assert "客户已超过 48 小时没有发消息" in fragment.text and "不会送达" in fragment.text
        assert (await wang.get("/console/conversations/999999/delivery", headers=XHR)).status == 404


async def test_a_case_without_a_phone_says_to_write_in_wechat(console: Console) -> None:
    """A WeChat customer may file without a phone ("微信联系我"); the page showed no contact at all."""
    sender = f"wx-{uuid.uuid4().hex[:10]}"
    async with services_for(console.env) as s:
        await s.customers.customer_wrote(sender, "wechat", datetime.now(timezone.utc) - timedelta(hours=1))
        case = await s.cases.open_case(CaseDraft(sender, "wechat", "洗衣机脱水时响声很大", "other", None))
    async with signed_in(console, "li") as (li,):
        page = await li.get(f"/console/cases/{case.number}")
        assert "未留电话，请在微信上联系" in page.text and 'id="contact-form"' in page.text


async def test_an_agent_writes_to_a_customer_from_the_case_page(console: Console) -> None:
    """A complaint the bot filed at night: no conversation to answer it in, so the case page starts one."""
    sender, silent = f"wx-{uuid.uuid4().hex[:10]}", f"wx-{uuid.uuid4().hex[:10]}"
    async with services_for(console.env) as s:
        case = await s.cases.open_case(CaseDraft(sender, "wechat", "宽带断了两天", "other", "13812345678"))
        old = await s.cases.open_case(CaseDraft(silent, "wechat", "发票没开", "billing", "13912345678"))
        done = await s.cases.open_case(CaseDraft(sender, "wechat", "快递丢了", "delivery", "13812345678"))
        await s.customers.customer_wrote(sender, "wechat", datetime.now(timezone.utc) - timedelta(hours=3))
        for status in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
            await s.cases.change_status(done.number, status, actor="agent:wang")
    await window_of(console, sender, wrote_hours_ago=3, sent=0)
    await window_of(console, silent, wrote_hours_ago=49, sent=0)
    path = f"/console/cases/{case.number}"
    async with signed_in(console, "li", "wang") as (li, wang):
        page = await li.get(path)
        assert 'id="contact-form"' in page.text and "只读" in page.text  # any agent may write first
        assert (await li.post(f"{path}/contact", {"text": "  "})).status == 400
        closed = await li.get(f"/console/cases/{old.number}")
        assert 'id="contact-form"' not in closed.text and "请电话联系客户（13912345678）" in closed.text
        refused = await li.post(f"/console/cases/{old.number}/contact", {"text": "您好"})
        assert refused.status == 409 and "超过 48 小时" in refused.json()["error"]
        assert "13912345678" in refused.json()["error"]  # what to do instead
        assert (await li.post("/console/cases/C20200101-0001/contact", {"text": "您好"})).status == 404
        resolved = await li.post(f"/console/cases/{done.number}/contact", {"text": "您好"})  # a stale page
        assert resolved.status == 409 and "重新打开" in resolved.json()["error"]

        sent = await li.post(
            f"{path}/contact", {"text": "您好，关于您的宽带问题，师傅明天上午上门"}, xhr=False
        )
        assert sent.status == 303
        conversation = sent.headers["Location"]
        assert re.fullmatch(r"/console/conversations/\d+", conversation)
        calls = console.rasa.calls_for(sender, "tracker/events")
        notice = calls[0]["body"][0]  # when the other case was resolved, the customer was told
        assert done.number in notice["text"] and "已处理完毕" in notice["text"]
        events = [e for c in calls[1:] for e in c["body"]]
        assert events[0] == {"event": "pause"}  # the bot is quiet before the agent speaks
        assert (events[1]["text"], events[1]["metadata"]) == (
            "您好，关于您的宽带问题，师傅明天上午上门",
            {"agent": "li"},
        )
        page = await li.get(conversation)
        assert 'id="reply-form"' in page.text and "客服主动联系" in page.text
        page = await li.get(path)
        assert 'id="contact-form"' not in page.text and "只读" not in page.text  # li holds it now

        again = await wang.post(f"{path}/contact", {"text": "我也来问问"})
        assert again.status == 409 and "已经在人工对话中" in again.json()["error"]
    status, body = http("GET", f"{console.base}/api/v1/cases/{case.number}", headers={"X-API-Key": KEY})
    assert (status, body["status"], body["events"][-1]["actor"]) == (200, "acknowledged", "agent:li")


async def test_the_conversation_stream_brings_new_turns(console: Console) -> None:
    handoff = await queued(console)
    async with signed_in(console, "wang") as (wang,):
        assert (await wang.post(f"/console/handoffs/{handoff.id}/accept")).status == 200
        events = await open_stream(wang, f"/console/conversations/{handoff.id}/stream")
        try:
            async with services_for(console.env) as s:
                await s.handoffs.customer_wrote(handoff, "师傅什么时候到？<b>急</b>")
            name, turn = await next_event(events)
            assert (name, turn["who"], turn["text"]) == ("turn", "customer", "师傅什么时候到？<b>急</b>")
            assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d:\d\d", turn["time"])
            assert (
                await wang.post(f"/console/conversations/{handoff.id}/reply", {"text": "半小时内"})
            ).status == 200
            name, turn = await next_event(events)
            assert (turn["who"], turn["agent"], turn["agent_name"], turn["text"]) == (
                "agent",
                "wang",
                "小王",
                "半小时内",
            )
        finally:
            events.close()


async def test_only_the_holder_or_a_supervisor_may_act(console: Console) -> None:
    handoff = await queued(console)
    base = f"/console/conversations/{handoff.id}"
    async with signed_in(console, "wang", "li", "boss") as (wang, li, boss):
        assert (await wang.post(f"/console/handoffs/{handoff.id}/accept")).status == 200
        assert (await li.post(f"{base}/reply", {"text": "我来插一句"})).status == 403
        assert (await li.post(f"{base}/transfer", {"username": "li"})).status == 403
        assert (await li.post(f"{base}/handback", {"note": "结束"})).status == 403
        refused = await li.post(f"{base}/reply", {"text": "我来插一句"}, xhr=False)
        assert refused.status == 403 and "只有接待的客服或主管" in refused.text
        now, kinds = await handoff_now(console, handoff.id)
        assert (now.status, now.agent, kinds) == (HandoffStatus.ACTIVE, "wang", ["queued", "accepted"])
        assert all(e["metadata"].get("agent") != "li" for e in console.rasa.bot_events(handoff.sender_id))

        assert (await boss.post(f"{base}/reply", {"text": "主管来看看"})).status == 200
        assert console.rasa.bot_events(handoff.sender_id)[-1]["metadata"] == {"agent": "boss"}
        assert (await boss.post(f"{base}/transfer", {"username": "nobody"})).status == 400
        assert (await boss.post(f"{base}/transfer", {"username": "li"})).status == 200
        now, _ = await handoff_now(console, handoff.id)
        assert now.agent == "li"
        assert (await wang.post(f"{base}/reply", {"text": "还是我"})).status == 403  # not any more

        back = await li.post(f"{base}/handback", {"note": "已解决"}, xhr=False)
        assert (back.status, back.headers["Location"]) == (303, "/console")
        now, kinds = await handoff_now(console, handoff.id)
        assert now.status is HandoffStatus.CLOSED and kinds[-1] == "handed_back"
        assert (await li.post(f"{base}/reply", {"text": "再见"})).status == 403  # closed

    resumed = [c["body"] for c in console.rasa.calls_for(handoff.sender_id, "tracker/events")]
    assert [{"event": "resume"}, {"event": "action", "name": "action_listen"}] in resumed
    triggers = console.rasa.calls_for(handoff.sender_id, "trigger_intent")
    assert [(t["body"]["name"], t["query"]["output_channel"]) for t in triggers] == [
        ("EXTERNAL_handback", "wechat")
    ]


async def test_a_supervisor_reassigns_from_the_queue_page(console: Console) -> None:
    handoff = await queued(console)
    async with signed_in(console, "wang", "boss") as (wang, boss):
        assert (await wang.post(f"/console/handoffs/{handoff.id}/accept")).status == 200
        overview = await boss.get("/console")
        assert f'action="/console/conversations/{handoff.id}/transfer"' in overview.text
        assert 'id="everyone"' in overview.text and 'id="everyone"' not in (await wang.get("/console")).text
        moved = await boss.post(
            f"/console/conversations/{handoff.id}/transfer", {"username": "li"}, xhr=False
        )
        assert (moved.status, moved.headers["Location"]) == (303, "/console")
        assert "已转接给小李" in (await boss.get("/console")).text
    now, _ = await handoff_now(console, handoff.id)
    assert now.agent == "li"


# --------------------------------------------------------------------------- the case panel


async def test_the_case_panel_changes_status_priority_and_notes(console: Console) -> None:
    handoff = await queued(console, case=True)
    async with services_for(console.env) as s:
        number = (await s.cases.open_cases_for(handoff.sender_id))[0].number
    base = f"/console/cases/{number}"
    async with signed_in(console, "wang", "li") as (wang, li):
        assert (await wang.post(f"/console/handoffs/{handoff.id}/accept")).status == 200
        page = await wang.get(f"/console/conversations/{handoff.id}")
        options = re.search(rf'action="{base}/status".*?</select>', page.text, re.S).group(0)
        assert re.findall(r'<option value="(\w+)"', options) == ["acknowledged"]  # only where it may go

        assert (
            await wang.post(f"{base}/status", {"status": "acknowledged", "handoff": str(handoff.id)})
        ).status == 200
        illegal = await wang.post(f"{base}/status", {"status": "closed"})
        assert illegal.status == 409 and "不能改为「已关闭」" in illegal.json()["error"]
        form = await wang.post(f"{base}/status", {"status": "closed"}, xhr=False)
        assert form.status == 409 and "不能改为「已关闭」" in form.text
        assert (await wang.post(f"{base}/priority", {"priority": "P9"})).status == 400
        ok = await wang.post(f"{base}/priority", {"priority": "P1", "handoff": str(handoff.id)}, xhr=False)
        assert (ok.status, ok.headers["Location"]) == (303, f"/console/conversations/{handoff.id}")
        assert (await wang.post(f"{base}/note", {"note": "已联系师傅今天下午上门"})).status == 200
        assert (await li.post(f"{base}/note", {"note": "路过"})).status == 403  # not li's customer
        assert (await wang.post("/console/cases/C20991231-0001/note", {"note": "x"})).status == 404

        page = await wang.get(f"/console/conversations/{handoff.id}")
        assert "已联系师傅今天下午上门" in page.text and 'data-priority="P1"' in page.text

    status, body = http("GET", f"{console.base}/api/v1/cases/{number}", headers={"X-API-Key": KEY})
    assert status == 200
    assert (body["status"], body["priority"]) == ("acknowledged", "P1")
    before = body["events"][0]["data"]["priority"]
    assert before != "P1"
    changes = [(e["kind"], e["actor"], e["from"], e["to"], e["note"]) for e in body["events"][1:]]
    assert changes == [
        ("status_changed", "agent:wang", "new", "acknowledged", None),
        ("priority_changed", "agent:wang", before, "P1", None),
        ("note", "agent:wang", None, None, "已联系师傅今天下午上门"),
    ]


async def test_the_case_list_puts_late_cases_first_and_a_supervisor_works_them(console: Console) -> None:
    """Cases the bot filed with nobody asking for a person are worked from /console/cases."""
    sender = f"wx-{uuid.uuid4().hex[:10]}"
    async with services_for(console.env) as s:
        real_clock = s.cases._clock
        s.cases._clock = lambda: real_clock() - timedelta(days=3)  # filed three days ago
        late = await s.cases.open_case(CaseDraft(sender, "wechat", "发票一直没开", "billing", "13812345678"))
        s.cases._clock = real_clock
        fresh = await s.cases.open_case(CaseDraft(sender, "wechat", "宽带又断了", "other", "13812345678"))
        await s.cases.add_customer_words(
            fresh.number, "不用处理了", actor=f"customer:{sender}", withdrawal=True
        )
    async with signed_in(console, "boss", "li") as (boss, li):
        listing = await boss.get("/console/cases")
        assert listing.status == 200
        rows = re.findall(r'<tr class="case-row[^"]*" data-case="([^"]+)"', listing.text)
        assert rows.index(late.number) < rows.index(fresh.number)  # the nearest deadline first
        late_row = re.search(rf'data-case="{late.number}".*?</tr>', listing.text, re.S).group(0)
        assert "首次响应期限" in late_row and re.search(r"已超时 \d 天", late_row)
        fresh_row = re.search(rf'data-case="{fresh.number}".*?</tr>', listing.text, re.S).group(0)
        assert "已超时" not in fresh_row
        assert "客户要求撤销" in fresh_row and "客户要求撤销" not in late_row  # before anyone calls about it

        page = await boss.get(f"/console/cases/{late.number.lower()}")  # as a customer might type it
        assert page.status == 200 and f'<input type="hidden" name="case" value="{late.number}">' in page.text
        status_form = re.search(rf'action="/console/cases/{late.number}/status".*?</form>', page.text, re.S)
        assert 'name="note"' in status_form.group(0)  # what was done goes with the change
        done = await boss.post(
            f"/console/cases/{late.number}/status",
            {"status": "acknowledged", "case": late.number, "note": "已电话联系客户"},
            xhr=False,
        )
        assert (done.status, done.headers["Location"]) == (303, f"/console/cases/{late.number}")
        after = (await boss.get("/console/cases")).text
        late_row = re.search(rf'data-case="{late.number}".*?</tr>', after, re.S).group(0)
        assert "已受理" in late_row and "首次响应期限" not in late_row  # what it owes now is its resolution

        read_only = await li.get(f"/console/cases/{fresh.number}")
        assert read_only.status == 200 and "只读" in read_only.text and "/status" not in read_only.text
        assert (
            await li.post(f"/console/cases/{fresh.number}/status", {"status": "acknowledged"})
        ).status == 403
        assert (await li.get("/console/cases/C20991231-0001")).status == 404
    _, body = http("GET", f"{console.base}/api/v1/cases/{late.number}", headers={"X-API-Key": KEY})
    last = body["events"][-1]
    assert (body["status"], last["actor"], last["note"]) == ("acknowledged", "agent:boss", "已电话联系客户")


# --------------------------------------------------------------------------- the CLI


def test_the_cli_lists_agents_and_refuses_duplicates(console: Console) -> None:
    listing = cli(console.env, "list")
    assert listing.returncode == 0, listing.stderr
    lines = {line.split()[0]: line.split()[1:] for line in listing.stdout.splitlines()}
    assert lines["boss"][:2] == ["supervisor", "张主管"] and lines["wang"][:2] == ["agent", "小王"]
    again = cli(console.env, "add", "wang", "--role", "agent", "--password-stdin", stdin="another-password")
    assert again.returncode == 1 and "already exists" in again.stderr


# --------------------------------------------------------------------------- SSE helpers


class Events:
    """Server-Sent Events read off an open response."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp

    def close(self) -> None:
        self.resp.close()


async def open_stream(browser: Browser, path: str) -> Events:
    resp = await browser.http.get(
        browser.base + path,
        headers={"Cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items())},
        timeout=aiohttp.ClientTimeout(total=30),
    )
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    while (await asyncio.wait_for(resp.content.readline(), 10)).strip() != b": ready":
        pass  # subscribed: nothing published from now on is missed
    return Events(resp)


async def next_event(events: Events) -> tuple[str, dict[str, Any]]:
    name, data = "", ""
    while True:
        line = (await asyncio.wait_for(events.resp.content.readline(), 10)).decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif not line and data:
            return name, json.loads(data)
