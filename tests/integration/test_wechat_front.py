"""The WeChat callback front (bot/wechat/front.py) against WeChat's side of the protocol and a real Redis.

The front handles nothing itself: what it must show is the right answer to WeChat, and exactly one
queued, announced message per MsgId however often WeChat retries. (That the channel in the Rasa
server then handles it is in test_wechat_connector.py.)
"""

from __future__ import annotations

import base64
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
import redis.asyncio as aioredis
from sanic import Sanic

from bot.config import Settings
from bot.redis_client import create_redis
from bot.redis_embedded import free_port
from bot.wechat.front import create_front_app
from bot.wechat.inbox import decode
from tests.helpers import serving
from tests.wechat_side import WeChatSide, sha1_sign, text_message

APPID, SECRET, TOKEN = "wxfront0000000001", "secret-for-front-01", "fronttoken"
AES_KEY = base64.b64encode(b"f" * 32).decode()[:43]
READY = "careloop:wechat:inbox-ready"


def settings_for(redis_url: str) -> Settings:
    return Settings.from_env(
        {
            "REDIS_URL": redis_url,
            "WECHAT_APPID": APPID,
            "WECHAT_APPSECRET": SECRET,
            "WECHAT_TOKEN": TOKEN,
            "WECHAT_ENCODING_AES_KEY": AES_KEY,
        }
    )


@dataclass
class Front:
    url: str
    side: WeChatSide
    redis: aioredis.Redis
    users: list[str] = field(default_factory=list)

    async def call(self, method: str, query: dict[str, str], body: bytes = b"") -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, f"{self.url}?{urllib.parse.urlencode(query)}", data=body) as resp,
        ):
            return resp.status, await resp.text()

    async def queued(self, openid: str) -> list[str]:
        raw = await self.redis.lrange(f"careloop:wechat:inbox:{openid}", 0, -1)
        return [decode(r).content for r in raw]

    async def announced(self, openid: str) -> int:
        return sum(1 for item in await self.redis.lrange(READY, 0, -1) if item == openid)


def app_name() -> str:
    Sanic.test_mode = True
    return f"front_{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def front(redis_url: str) -> AsyncIterator[Front]:
    port = free_port()
    redis = create_redis(redis_url)
    side = WeChatSide(TOKEN, APPID, AES_KEY, "safe")
    f = Front(f"http://127.0.0.1:{port}/webhooks/wechat/webhook", side, redis)
    async with serving(create_front_app(settings_for(redis_url), name=app_name()), port):
        yield f
    for user in f.users:  # leave nothing for a Rasa server sharing this Redis to pick up
        await redis.lrem(READY, 0, user)
        await redis.delete(f"careloop:wechat:inbox:{user}")
        await redis.srem("careloop:wechat:inbox-pending", user)
    await redis.close()


def new_user(front: Front) -> str:
    user = f"o_front{uuid.uuid4().hex[:10]}"
    front.users.append(user)
    return user


async def test_an_encrypted_message_retried_three_times_is_queued_and_announced_once(front: Front) -> None:
    user = new_user(front)
    fields = text_message(user, "快递三天了还没到")
    for _ in range(3):  # WeChat's retries carry the same MsgId, with a new nonce and signature
        assert await front.call("POST", *front.side.post(fields)) == (200, "success")
    assert await front.queued(user) == ["快递三天了还没到"]
    assert await front.announced(user) == 1
    second = text_message(user, "单号是SF1234567890")
    assert await front.call("POST", *front.side.post(second)) == (200, "success")
    assert await front.queued(user) == ["快递三天了还没到", "单号是SF1234567890"]  # in arrival order
    assert await front.announced(user) == 1  # still waiting to be drained: whoever drains takes both


async def test_url_verification_echoes_only_for_the_right_signature(front: Front) -> None:
    ts, nonce = str(int(time.time())), "n0nce"
    good = {"signature": sha1_sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "echostr": "e123"}
    assert await front.call("GET", good) == (200, "e123")
    assert (await front.call("GET", {**good, "signature": "0" * 40}))[0] == 403


@pytest.mark.parametrize("tamper", ["wrong_signature", "stale", "malformed", "doctype", "plaintext"])
async def test_doubtful_callbacks_are_refused_and_nothing_is_queued(front: Front, tamper: str) -> None:
    user = new_user(front)
    fields = text_message(user, "退款")
    if tamper == "stale":
        query, body = front.side.post(fields, timestamp=int(time.time()) - 3600)
    elif tamper == "plaintext":  # safe mode: an unencrypted body is not from WeChat
        query, body = WeChatSide(TOKEN, APPID).post(fields)
    else:
        query, body = front.side.post(fields)
    if tamper == "wrong_signature":
        query["msg_signature"] = "0" * 40
    elif tamper == "malformed":
        body = b"<xml><Encrypt>"
    elif tamper == "doctype":
        body = b'<!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>'
    status, _ = await front.call("POST", query, body)
    assert status == {"wrong_signature": 403, "stale": 403}.get(tamper, 400)
    assert await front.queued(user) == [] and await front.announced(user) == 0


async def test_without_redis_the_callback_gets_503_so_wechat_retries(redis_url: str) -> None:
    port, dead = free_port(), free_port()
    side = WeChatSide(TOKEN, APPID, AES_KEY, "safe")
    url = f"http://127.0.0.1:{port}"
    async with (
        serving(create_front_app(settings_for(f"redis://127.0.0.1:{dead}/0"), name=app_name()), port),
        aiohttp.ClientSession() as http,
    ):
        query, body = side.post(text_message("o_front_noredis", "在吗"))
        webhook = f"{url}/webhooks/wechat/webhook?{urllib.parse.urlencode(query)}"
        async with http.post(webhook, data=body) as r:
            assert (r.status, await r.text()) == (503, "temporarily unavailable")
        async with http.get(f"{url}/health") as r:
            assert r.status == 503


def test_the_front_will_not_start_without_an_account() -> None:
    with pytest.raises(SystemExit, match="WECHAT_APPID"):
        create_front_app(Settings.from_env({}), name=app_name())
