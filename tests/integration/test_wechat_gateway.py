"""The gateway against the WeChat stand-in as a real process, with the outbox in a real database.

What is asserted is what a customer or an operator would notice: what the stand-in (WeChat) received
and recorded, how often it was asked for a token, and what the outbox rows say. Runs on SQLite and,
when DATABASE_URL is set, on PostgreSQL (``migrated``). Each test uses openids of its own; the
stand-in is reset between tests; only keys this module creates are deleted from Redis.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.config import Settings
from bot.customers import CustomerService
from bot.db.outbox_store import SqlOutboxStore
from bot.redis_client import create_redis
from bot.redis_embedded import free_port
from bot.surveys.model import ServiceEvent, SurveyStatus
from bot.wechat.gateway import MORE_TO_COME, Delivery, WeChatGateway, split_text
from bot.wechat.outbox import BACKOFF, OutboxRecord, OutboxStatus
from bot.wechat.runtime import build_gateway
from bot.wechat.session import WeChatSession
from bot.wiring import Services, build_services
from tests.helpers import http, start, stop, wait_until

APPID = f"wxgw{uuid.uuid4().hex[:14]}"  # this module's own account: its token keys are ours alone
SECRET, TOKEN = "gateway-test-secret", "gatewaytesttoken"
TEMPLATE_ID = "TPL_outside_window"
HOURS = 3600
API_KEY = "outbox-test-key"


# ------------------------------------------------------------------ the stand-in and the gateway


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[str]:
    """``python -m bot standin`` for this module's account; its base URL."""
    tmp = tmp_path_factory.mktemp("gateway-standin")
    port = free_port()
    env = {
        "REDIS_URL": redis_url,
        "WECHAT_APPID": APPID,
        "WECHAT_APPSECRET": SECRET,
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_ENCODING_AES_KEY": "",
        "WECHAT_ACCOUNT_ID": "",
        "CARELOOP_STANDIN_MODE": "",
        "CARELOOP_VAR_DIR": str(tmp),
        # template reports (TEMPLATESENDJOBFINISH) go nowhere rather than to a real connector
        "CARELOOP_WECHAT_CONNECTOR_URL": f"http://127.0.0.1:{free_port()}/nobody",
    }
    proc = start(["-m", "bot", "standin", "--port", str(port)], env, tmp / "standin.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http("GET", f"{base}/standin/control/stats")[0] == 200, 60, "stand-in", proc)
        yield base
    finally:
        stop(proc)


@dataclass
class World:
    """One test's gateway, database and stand-in, with helpers that read what happened."""

    base: str
    settings: Settings
    services: Services
    redis: aioredis.Redis
    session: WeChatSession
    gateway: WeChatGateway
    customers: CustomerService
    tag: str
    closers: list[Any] = field(default_factory=list)

    def openid(self, name: str = "c") -> str:
        return f"o_{self.tag}_{name}"

    # --- the stand-in (what WeChat knows and received)
    def follower(self, openid: str, **fields: Any) -> dict[str, Any]:
        status, body = http("POST", f"{self.base}/standin/control/user", {"openid": openid, **fields})
        assert status == 200, body
        return dict(body)

    def inject(self, api: str, times: int = 1, **spec: Any) -> None:
        status, body = http("POST", f"{self.base}/standin/control/fail", {"api": api, "times": times, **spec})
        assert status == 200, body

    def stats(self) -> dict[str, Any]:
        return dict(http("GET", f"{self.base}/standin/control/stats")[1])

    def calls(self, api: str = "custom_send") -> int:
        return int(self.stats()["calls"].get(api, 0))

    def received(self, openid: str, kind: str = "custom") -> list[dict[str, Any]]:
        """Messages the customer's phone shows as sent to them, oldest first."""
        status, body = http("GET", f"{self.base}/standin/sim/messages?openid={openid}")
        assert status == 200, body
        return [i["message"] for i in body["items"] if i["direction"] == "to_user" and i["kind"] == kind]

    def texts(self, openid: str) -> list[str]:
        return [m["text"]["content"] for m in self.received(openid) if m["msgtype"] == "text"]

    # --- the outbox (what operators see)
    async def rows(self, openid: str) -> list[OutboxRecord]:
        found = await SqlOutboxStore(self.services.engine).search(recipient=openid, limit=1000)
        return sorted(found, key=lambda r: r.id or 0)

    async def row(self, delivery: Delivery) -> OutboxRecord:
        [row] = [r for r in await self.rows_all() if r.id == delivery.outbox_id]
        return row

    async def rows_all(self) -> list[OutboxRecord]:
        return await SqlOutboxStore(self.services.engine).search(limit=1000)

    # --- the gateway's side of the window
    async def open_window(self, openid: str, ago: float = 0) -> None:
        """The customer wrote ``ago`` seconds ago: both WeChat and the gateway know it."""
        self.follower(openid, last_inbound_ago=ago, sent_since_inbound=0)
        await self.gateway.customer_wrote(openid, time.time() - ago)

    def another_gateway(self) -> WeChatGateway:
        """A second process: its own WeChat session and Redis connection, the same database."""
        redis = create_redis(self.settings.redis_url)
        session, gateway, _ = build_gateway(self.settings, self.services, redis)
        self.closers += [session.close, redis.close]
        return gateway


def token_keys() -> list[str]:
    prefix = f"careloop:wechat:session:{APPID}"
    return [f"{prefix}_access_token", f"{prefix}_access_token_expires_at"]


@pytest.fixture
async def world(
    standin: str, migrated: str, redis_url: str, tmp_path: Path, unique: str
) -> AsyncIterator[World]:
    assert http("POST", f"{standin}/standin/control/reset")[0] == 200
    settings = Settings.from_env(
        {
            "DATABASE_URL": migrated,
            "REDIS_URL": redis_url,
            "CARELOOP_VAR_DIR": str(tmp_path),
            "WECHAT_APPID": APPID,
            "WECHAT_APPSECRET": SECRET,
            "WECHAT_TOKEN": TOKEN,
            "WECHAT_API_BASE_URL": f"{standin}/standin/cgi-bin/",
            "WECHAT_TEMPLATE_ID": TEMPLATE_ID,
        }
    )
    services = build_services(settings)
    redis = create_redis(settings.redis_url)
    await redis.delete(*token_keys())  # a token of an earlier test is unknown to the reset stand-in
    session, gateway, customers = build_gateway(settings, services, redis)
    w = World(standin, settings, services, redis, session, gateway, customers, unique)
    try:
        yield w
    finally:
        for close in w.closers:
            result = close()
            if asyncio.iscoroutine(result):
                await result
        session.close()
        mine = [k async for k in redis.scan_iter(match=f"careloop:wechat:*o_{unique}_*", count=1000)]
        await redis.delete(*token_keys(), *mine)
        await redis.close()
        await services.close()
        http("POST", f"{standin}/standin/control/reset")  # leave no stand-in state behind


def statuses(deliveries: list[Delivery]) -> list[tuple[str, str | None]]:
    return [(d.status.value, d.reason) for d in deliveries]


def prose(chars: int) -> str:
    """Customer-service prose of about ``chars`` Chinese characters, in sentences and lines."""
    sentences, n = [], 0
    while sum(map(len, sentences)) < chars:
        n += 1
        sentences.append(f"第{n}点：关于您反映的热水器维修问题，售后人员已经上门检查并更换了温控部件。")
        if n % 6 == 0:
            sentences.append("\n")
    return "".join(sentences)[:chars]


# ------------------------------------------------------------------ the access token


async def test_two_processes_sending_many_messages_fetch_the_token_once(world: World) -> None:
    """Cold start: every sender of both processes finds no token and queues for the fetch lock; the
    first fetches, the others (and everything sent later) reuse that token through Redis."""
    second = world.another_gateway()
    customers = [world.openid(f"c{n}") for n in range(8)]
    for openid in customers:
        await world.open_window(openid)
    sends = [
        gw.send_text(openid, f"{name}发给{openid}")
        for openid in customers
        for name, gw in (("甲", world.gateway), ("乙", second))
    ]
    lock = world.session._token_lock()  # the lock both processes fetch under
    assert lock.acquire()
    try:
        sending = asyncio.gather(*sends)
        await asyncio.sleep(0.5)  # the first senders have looked, found no token, and wait
        assert world.stats()["token_fetches"] == 0 and world.calls() == 0
    finally:
        lock.release()
    results = await sending
    assert {d.status for batch in results for d in batch} == {OutboxStatus.SENT}
    stats = world.stats()
    assert stats["token_fetches"] == 1
    assert stats["accepted"]["custom_send"] == 16 and stats["errors"] == {}
    for openid in customers:
        assert sorted(world.texts(openid)) == sorted([f"甲发给{openid}", f"乙发给{openid}"])


async def test_a_token_fetched_by_another_process_meanwhile_is_reused(world: World) -> None:
    openid = world.openid()
    await world.open_window(openid)
    b = world.another_gateway().session.client
    assert b.session.get(b.access_token_key) is None  # process B looks: no token, so it will fetch
    await world.gateway.send_text(openid, "甲先取到了令牌")  # meanwhile process A fetches one
    await asyncio.to_thread(b.fetch_access_token)  # B goes on with its fetch
    assert world.stats()["token_fetches"] == 1


async def test_a_token_rejected_once_is_refreshed_once_and_the_message_goes_out(world: World) -> None:
    openid = world.openid()
    await world.open_window(openid)
    assert statuses(await world.gateway.send_text(openid, "第一条")) == [("sent", None)]
    assert world.stats()["token_fetches"] == 1
    world.inject("custom_send", errcode=40001)  # e.g. another tool fetched a token and revoked ours
    [delivery] = await world.gateway.send_text(openid, "第二条")
    assert delivery.status is OutboxStatus.SENT
    stats = world.stats()
    assert stats["token_fetches"] == 2
    assert stats["errors"]["custom_send"] == {"40001": 1}
    assert world.texts(openid) == ["第一条", "第二条"]
    assert (await world.row(delivery)).status is OutboxStatus.SENT


async def test_a_token_another_process_replaced_costs_one_rejected_call_and_no_new_fetch(
    world: World,
) -> None:
    """Each process trusts the token it read for a few seconds (wechatpy would read Redis six times per
    send). When another process replaced it and WeChat's five-minute grace is over, the stale token is
    rejected once; the process takes the new token from Redis instead of fetching (and revoking) another."""
    openid = world.openid()
    await world.open_window(openid)
    await world.gateway.send_text(openid, "甲用旧令牌")  # process A fetches token 1 and keeps it
    b = world.another_gateway()
    await world.redis.delete(*token_keys())  # token 1 gone from Redis (expired there, say)
    await b.send_text(openid, "乙取新令牌")  # process B fetches token 2
    assert world.stats()["token_fetches"] == 2
    http("POST", f"{world.base}/standin/control/clock", {"advance": 301})  # token 1's grace ends
    await world.open_window(openid)
    [delivery] = await world.gateway.send_text(openid, "甲换用新令牌")
    assert delivery.status is OutboxStatus.SENT
    stats = world.stats()
    assert stats["errors"]["custom_send"] == {"40001": 1}
    assert stats["token_fetches"] == 2
    assert world.texts(openid) == ["甲用旧令牌", "乙取新令牌", "甲换用新令牌"]


async def test_a_token_rejected_every_time_leaves_the_message_retrying(world: World) -> None:
    openid = world.openid()
    await world.open_window(openid)
    world.inject("custom_send", times=20, errcode=40001)
    before = datetime.now(timezone.utc)
    [delivery] = await world.gateway.send_text(openid, "发不出去")
    row = await world.row(delivery)
    assert (row.status, row.reason) == (OutboxStatus.RETRYING, "transient")
    assert row.next_attempt_at is not None and row.next_attempt_at > before
    assert row.sent_at is None and "40001" in (row.last_error or "")
    assert world.texts(openid) == []
    # each attempt tried once more after a refresh, no more than that: no loop, no token storm
    assert world.calls() == 2 * row.attempts
    assert world.stats()["token_fetches"] <= row.attempts + 1


async def test_a_token_rejected_on_a_cold_start_is_refreshed_before_the_retry(world: World) -> None:
    openid = world.openid()
    await world.open_window(openid)  # no token cached yet: the first call fetches one
    world.inject("custom_send", errcode=40001)
    [delivery] = await world.gateway.send_text(openid, "冷启动")
    assert delivery.status is OutboxStatus.SENT
    assert world.stats()["token_fetches"] == 2  # the rejected token was replaced before the retry


# ------------------------------------------------------------------ the 48-hour window


async def test_five_messages_per_customer_message_then_skipped(world: World) -> None:
    openid = world.openid()
    await world.open_window(openid)
    sent = [await world.gateway.send_text(openid, f"第{n}条") for n in range(1, 7)]
    assert statuses([d for batch in sent for d in batch]) == [("sent", None)] * 5 + [
        ("skipped", "allowance_used")
    ]
    assert world.texts(openid) == [f"第{n}条" for n in range(1, 6)]
    assert world.calls() == 5  # the sixth never reached WeChat
    rows = await world.rows(openid)
    assert [(r.status, r.reason) for r in rows][-1] == (OutboxStatus.SKIPPED, "allowance_used")
    assert rows[-1].payload["text"]["content"] == "第6条"

    await world.open_window(openid)  # the customer writes again: a fresh allowance
    assert statuses(await world.gateway.send_text(openid, "第7条")) == [("sent", None)]
    assert world.texts(openid)[-1] == "第7条"


async def test_a_customer_who_wrote_49_hours_ago_is_outside_the_window(world: World) -> None:
    late, recent = world.openid("late"), world.openid("recent")
    await world.open_window(late, ago=49 * HOURS)
    await world.open_window(recent, ago=47 * HOURS)
    assert statuses(await world.gateway.send_text(late, "太晚了")) == [("skipped", "outside_window")]
    assert statuses(await world.gateway.send_text(recent, "还来得及")) == [("sent", None)]
    assert world.texts(late) == [] and world.texts(recent) == ["还来得及"]
    assert world.calls() == 1
    [row] = await world.rows(late)
    assert (row.status, row.reason, row.attempts) == (OutboxStatus.SKIPPED, "outside_window", 0)


async def test_outside_the_window_a_template_message_is_sent_instead(world: World) -> None:
    openid = world.openid()
    await world.open_window(openid, ago=49 * HOURS)
    body = {"msgtype": "text", "text": {"content": "请为本次服务打分"}}
    data = {"first": {"value": "请为本次服务打分"}, "keyword1": {"value": "C20261120-0007"}}
    delivery = await world.gateway.deliver(openid, "text", body, purpose="survey", template_fallback=data)
    assert delivery.status is OutboxStatus.SENT
    [template] = world.received(openid, kind="template")
    assert template["template_id"] == TEMPLATE_ID and template["data"] == data
    assert world.received(openid) == [] and world.calls() == 0
    original, sent = await world.rows(openid)
    assert (original.kind, original.status) == ("text", OutboxStatus.SKIPPED)
    assert original.reason == "outside_window:template_sent"
    assert (sent.kind, sent.status, sent.purpose, sent.id) == (
        "template",
        OutboxStatus.SENT,
        "survey",
        delivery.outbox_id,
    )


async def test_the_database_remembers_the_window_when_redis_does_not(world: World) -> None:
    """Redis was emptied (or the key expired); customers.last_inbound_at decides."""
    wrote, old, unknown = world.openid("db"), world.openid("dbold"), world.openid("none")
    now = datetime.now(timezone.utc)
    for openid, ago in ((wrote, 1), (old, 49), (unknown, 1)):
        world.follower(openid, last_inbound_ago=ago * HOURS)
    await world.customers.customer_wrote(wrote, "wechat", now - timedelta(hours=1))
    await world.customers.customer_wrote(old, "wechat", now - timedelta(hours=49))
    assert await world.redis.exists(f"careloop:wechat:window:{wrote}") == 0
    assert statuses(await world.gateway.send_text(wrote, "数据库记得您")) == [("sent", None)]
    assert statuses(await world.gateway.send_text(old, "太久了")) == [("skipped", "outside_window")]
    assert statuses(await world.gateway.send_text(unknown, "不认识")) == [("skipped", "outside_window")]
    assert world.texts(wrote) == ["数据库记得您"] and world.calls() == 1
    # the window learnt from the database is counted from now on, like any other
    for n in range(4):
        await world.gateway.send_text(wrote, f"再{n}")
    assert statuses(await world.gateway.send_text(wrote, "第六条")) == [("skipped", "allowance_used")]


async def test_wechat_saying_45015_closes_the_window_for_the_gateway_too(world: World) -> None:
    openid = world.openid()
    world.follower(openid, last_inbound_ago=49 * HOURS)  # WeChat knows better ...
    await world.gateway.customer_wrote(openid)  # ... than the gateway, which thinks it is open
    [first] = await world.gateway.send_text(openid, "窗口已关")
    assert (first.status, first.reason) == (OutboxStatus.SKIPPED, "wechat_45015")
    row = await world.row(first)
    assert "45015" in (row.last_error or "") and row.attempts == 1
    [second] = await world.gateway.send_text(openid, "还是关着")
    assert second.status is OutboxStatus.SKIPPED
    assert world.calls() == 1  # the second message did not call the API
    assert world.texts(openid) == []


async def test_a_survey_question_wechat_refuses_makes_the_survey_unreachable(world: World) -> None:
    """The survey's window check passed on our clock, WeChat said 45015: the survey stayed "sent",
    was reminded a day later into the same closed window, and expired as if ignored."""
    surveys = world.services.surveys
    openid, other = world.openid("asked"), world.openid("chatting")
    completed = datetime.now(timezone.utc) - timedelta(hours=3)
    scheduled = []
    for who in (openid, other):
        intake = await surveys.record_service_event(
            ServiceEvent(f"svc-{who}", who, "wechat", "repair", completed, technician="张师傅")
        )
        assert await surveys.mark_sent(intake.survey.id or 0, "customer_service") is not None
        scheduled.append(intake.survey.id or 0)
        world.follower(who, last_inbound_ago=49 * HOURS)  # WeChat knows better ...
        await world.gateway.customer_wrote(who)  # ... than the gateway, which thinks it is open

    options = [("5分", "/give_rating")]
    asked = await world.gateway.send_menu(openid, "请为本次维修打分", options, purpose="survey")
    [reply] = await world.gateway.send_text(other, "好的，收到")  # an ordinary reply lost the same way
    assert (asked.status, asked.reason) == (OutboxStatus.SKIPPED, "wechat_45015")
    assert (reply.status, reply.reason) == (OutboxStatus.SKIPPED, "wechat_45015")

    lost, untouched = [await surveys.get(i) for i in scheduled]
    assert lost is not None and lost.status is SurveyStatus.UNREACHABLE
    assert lost.reason == "question not delivered: wechat_45015"
    assert untouched is not None and untouched.status is SurveyStatus.SENT  # only the question counts
    assert await surveys.awaiting_answer(openid) is None
    now = datetime.now(timezone.utc)
    [week] = await surveys.stats("week", now - timedelta(days=1), now + timedelta(minutes=1))
    assert (week["sent"], week["answered"]) == (1, 0)  # the response rate counts who was asked


# ------------------------------------------------------------------ retries and dead letters


async def test_rate_limited_twice_is_still_sent_by_the_inline_retries(world: World) -> None:
    openid = world.openid()
    await world.open_window(openid)
    world.inject("custom_send", times=2, errcode=45009)
    [delivery] = await world.gateway.send_text(openid, "稍等再发")
    row = await world.row(delivery)
    assert (row.status, row.attempts, row.next_attempt_at) == (OutboxStatus.SENT, 3, None)
    assert row.sent_at is not None
    assert world.texts(openid) == ["稍等再发"]
    assert world.stats()["injected"] == {"custom_send": 2}


async def test_rate_limited_longer_is_retried_by_the_worker_with_backoff(world: World) -> None:
    from bot.worker import OutboxRetries

    openid = world.openid()
    await world.open_window(openid)
    world.inject("custom_send", times=5, errcode=45009)
    started = datetime.now(timezone.utc)
    [delivery] = await world.gateway.send_text(openid, "终于发出")
    row = await world.row(delivery)
    assert (row.status, row.attempts) == (OutboxStatus.RETRYING, 3)
    assert row.next_attempt_at is not None and row.next_attempt_at > started
    assert world.texts(openid) == []

    worker = OutboxRetries(SqlOutboxStore(world.services.engine), world.gateway)
    # after three attempts the next waits BACKOFF[2] (2 min): a worker one minute later finds nothing
    assert await worker.run_once(started + timedelta(minutes=1)) == 0
    waits = []
    for _ in range(3):  # two more 45009s, then through
        due = row.next_attempt_at
        assert due is not None
        assert await worker.run_once(due + timedelta(seconds=1)) == 1
        row = await world.row(delivery)
        if row.next_attempt_at is not None:
            waits.append(row.next_attempt_at - row.updated_at)
    assert (row.status, row.attempts, row.reason) == (OutboxStatus.SENT, 6, None)
    # waits grow with every failed attempt (the gateway reads its clock twice: allow a second)
    assert [round(w.total_seconds()) for w in waits] == [
        BACKOFF[3].total_seconds(),
        BACKOFF[4].total_seconds(),
    ]
    assert world.texts(openid) == ["终于发出"]
    assert await worker.run_once(datetime.now(timezone.utc) + timedelta(days=1)) == 0


async def test_http_503_from_wechat_is_transient(world: World) -> None:
    openid = world.openid()
    await world.open_window(openid)
    world.inject("custom_send", status=503)
    [delivery] = await world.gateway.send_text(openid, "服务器忙")
    row = await world.row(delivery)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)
    assert world.texts(openid) == ["服务器忙"]

    world.inject("custom_send", times=3, status=503)
    [delivery] = await world.gateway.send_text(openid, "一直忙")
    row = await world.row(delivery)
    assert (row.status, row.reason) == (OutboxStatus.RETRYING, "transient")
    assert "503" in (row.last_error or "")


async def test_a_permanent_error_is_a_dead_letter_listed_by_the_ops_api(world: World, tmp_path: Path) -> None:
    openid, fine = world.openid("gone"), world.openid("fine")
    await world.gateway.customer_wrote(openid)  # WeChat does not know this openid: 40003
    await world.open_window(fine)
    [dead] = await world.gateway.send_text(openid, "收不到")
    assert statuses(await world.gateway.send_text(fine, "收得到")) == [("sent", None)]
    row = await world.row(dead)
    assert (row.status, row.reason, row.attempts) == (OutboxStatus.DEAD, "permanent", 1)
    assert "40003" in (row.last_error or "") and row.next_attempt_at is None
    assert world.calls() == 2  # no retries of a permanent failure

    port = free_port()
    env = {
        "DATABASE_URL": world.settings.database_url,
        "REDIS_URL": world.settings.redis_url,
        "CARELOOP_API_KEYS": f"other,{API_KEY}",
        "CARELOOP_VAR_DIR": str(tmp_path),
        "CARELOOP_WECHAT_STANDIN": "",
    }
    proc = start(["-m", "bot", "serve", "--port", str(port)], env, tmp_path / "ops.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http("GET", f"{base}/health")[0] == 200, 60, "ops server", proc)
        status, body = http("GET", f"{base}/api/v1/outbox?status=dead", headers={"X-API-Key": API_KEY})
        assert status == 200, body
        [listed] = [m for m in body["messages"] if m["recipient"] == openid]
        assert (listed["id"], listed["status"], listed["reason"]) == (row.id, "dead", "permanent")
        assert "40003" in listed["last_error"] and listed["payload"]["text"]["content"] == "收不到"
        assert all(m["status"] == "dead" for m in body["messages"])
        assert fine not in {m["recipient"] for m in body["messages"]}

        status, body = http("GET", f"{base}/api/v1/outbox?status=dead")
        assert status == 401 and "messages" not in body
        status, body = http("GET", f"{base}/api/v1/outbox?status=dead", headers={"X-API-Key": "wrong"})
        assert status == 401 and "messages" not in body
    finally:
        stop(proc)


# ------------------------------------------------------------------ what the customer sees


async def test_a_long_text_arrives_whole_in_order(world: World) -> None:
    openid = world.openid()
    await world.open_window(openid)
    text = prose(2_500)
    deliveries = await world.gateway.send_text(openid, text)
    assert 1 < len(deliveries) <= 5
    assert {d.status for d in deliveries} == {OutboxStatus.SENT}
    received = world.texts(openid)
    assert received == split_text(text)
    assert all(len(piece.encode()) <= 2048 for piece in received)
    assert re.sub(r"\s", "", "".join(received)) == re.sub(r"\s", "", text)


async def test_a_5000_character_text_arrives_whole_in_order(world: World) -> None:
    """Five pieces go out now (the fifth says more is coming); the rest, in order, when the customer
    writes again: nothing is cut off and nothing is lost."""
    openid = world.openid()
    await world.open_window(openid)
    text = prose(5_000)
    deliveries = await world.gateway.send_text(openid, text)
    assert len(deliveries) > 5
    assert statuses(deliveries) == [("sent", None)] * 5 + [("skipped", "allowance_used")] * (
        len(deliveries) - 5
    )
    assert world.texts(openid)[-1].endswith(MORE_TO_COME)
    await world.open_window(openid)  # the customer writes again ...
    assert await world.gateway.flush_deferred(openid) == len(deliveries) - 5  # ... and gets the rest first
    received = "".join(world.texts(openid)).replace(MORE_TO_COME, "")
    assert re.sub(r"\s", "", received) == re.sub(r"\s", "", text)
    assert await world.gateway.flush_deferred(openid) == 0  # each piece once


async def test_a_new_message_looks_in_the_outbox_only_when_something_may_be_held_back(world: World) -> None:
    """``customer_wrote`` says whether ``flush_deferred`` is worth its database query: only after the
    allowance turned a message away, or when Redis knows nothing (a new customer, Redis emptied)."""
    openid = world.openid()

    async def writes() -> bool:
        world.follower(openid, last_inbound_ago=0, sent_since_inbound=0)
        return await world.gateway.customer_wrote(openid)

    await world.customers.customer_wrote(openid, "wechat", datetime.now(timezone.utc))
    assert await writes() is True  # first contact: only the database knows
    assert await writes() is False
    for n in range(1, 7):
        await world.gateway.send_text(openid, f"第{n}条")  # the sixth is held back
    assert await writes() is True
    assert await world.gateway.flush_deferred(openid) == 1 and world.texts(openid)[-1] == "第6条"
    assert await writes() is False

    world.inject("custom_send", errcode=45047)  # WeChat counted more than the gateway did
    assert statuses(await world.gateway.send_text(openid, "被拦下")) == [("skipped", "wechat_45047")]
    assert await writes() is True
    assert await world.gateway.flush_deferred(openid) == 1 and world.texts(openid)[-1] == "被拦下"

    for n in range(4):  # with the one flushed, the allowance is used up
        await world.gateway.send_text(openid, f"再{n}")
    assert statuses(await world.gateway.send_text(openid, "又被拦下")) == [("skipped", "allowance_used")]
    await world.redis.delete(f"careloop:wechat:window:{openid}")  # Redis forgets ...
    world.follower(openid, last_inbound_ago=0, sent_since_inbound=0)
    assert statuses(await world.gateway.send_text(openid, "从数据库")) == [("sent", None)]  # ... rebuilt
    assert await writes() is True  # what the lost window held back is unknown
    assert await world.gateway.flush_deferred(openid) == 1 and world.texts(openid)[-1] == "又被拦下"


async def test_a_menu_is_sent_and_each_option_maps_back_to_its_payload(world: World) -> None:
    openid = world.openid()
    await world.open_window(openid)
    options = [
        ("满意", '/survey_answer{"score": "5"}'),
        ("一般", '/survey_answer{"score": "3"}'),
        ("不满意", '/survey_answer{"score": "1"}'),
    ]
    delivery = await world.gateway.send_menu(openid, "您对本次服务满意吗？", options, tail="欢迎反馈")
    assert delivery.status is OutboxStatus.SENT
    [message] = world.received(openid)
    assert message["msgtype"] == "msgmenu"
    menu = message["msgmenu"]
    assert (menu["head_content"], menu["tail_content"]) == ("您对本次服务满意吗？", "欢迎反馈")
    assert [item["content"] for item in menu["list"]] == ["满意", "一般", "不满意"]
    ids = [item["id"] for item in menu["list"]]
    assert len(set(ids)) == 3
    for menu_id, (_title, payload) in zip(ids, options, strict=True):
        assert await world.gateway.menu_payload(openid, menu_id) == payload
    assert await world.gateway.menu_payload(world.openid("someone_else"), ids[0]) is None
    assert await world.gateway.menu_payload(openid, "no-such-id") is None
    assert await world.gateway.menu_payload(openid, "") is None
