"""The WeChat connector (channels/wechat.py) against WeChat's side of the protocol.

The connector runs in-process on a Sanic server as Rasa mounts it; Rasa itself is replaced by a
recorder of the UserMessages it would have received. Replies go to the local WeChat stand-in.
"""

from __future__ import annotations

import asyncio
import base64
import io
import re
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.shared.core.events import ActiveLoop, SlotSet
from rasa.shared.core.slots import TextSlot
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic

from bot.cases.model import CaseDraft
from bot.config import Settings
from bot.db.engine import create_engine
from bot.db.migrate import upgrade
from bot.db.outbox_store import SqlOutboxStore
from bot.handoff.model import Role
from bot.handoff.rules import HandoffPolicy
from bot.redis_embedded import free_port
from bot.wechat.front import create_front_app
from bot.wechat.gateway import MORE_TO_COME
from bot.wechat.outbound import DirectOutbound, OutboundQueue, QueuedOutbound, sender
from channels.wechat import WeChatInput
from tests.fakes import FakeRasa
from tests.helpers import http, serving, start, stop, wait_until
from tests.wechat_side import WeChatSide, event_message, new_msg_id, sha1_sign, text_message

APPID, SECRET, TOKEN = "wxtest00000000001", "secret-for-tests-0001", "tokenfortests"
AES_KEY = base64.b64encode(b"k" * 32).decode()[:43]


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("standin")
    port = free_port()
    proc = start(
        ["-m", "bot", "standin", "--port", str(port)],
        {
            "WECHAT_APPID": APPID,
            "WECHAT_APPSECRET": SECRET,
            "WECHAT_TOKEN": TOKEN,
            "REDIS_URL": redis_url,
            "CARELOOP_VAR_DIR": str(tmp),
        },
        tmp / "standin.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http("GET", f"{base}/standin/control/stats")[0] == 200, 30, "stand-in", proc)
        yield base
    finally:
        stop(proc)


@dataclass
class Harness:
    url: str
    side: WeChatSide
    channel: WeChatInput
    settings: Settings
    received: list[UserMessage] = field(default_factory=list)
    handler_delay: float = 0.0
    standin: str = ""
    in_flight: int = 0
    most_in_flight: int = 0

    async def post(self, query: dict[str, str], body: bytes, url: str = "") -> tuple[int, str, float]:
        started = time.perf_counter()
        async with (
            aiohttp.ClientSession() as http_session,
            http_session.post(f"{url or self.url}?{urllib.parse.urlencode(query)}", data=body) as resp,
        ):
            return resp.status, await resp.text(), (time.perf_counter() - started) * 1000

    async def send(self, fields: dict[str, str | int], url: str = "") -> tuple[int, str, float]:
        """Post as WeChat does; the stand-in (WeChat's API side) learns the customer just wrote."""
        http(
            "POST",
            f"{self.standin}/standin/control/user",
            {
                "openid": fields["FromUserName"],
                "subscribed": True,
                "last_inbound_ago": 0,
                "sent_since_inbound": 0,
            },
        )
        return await self.post(*self.side.post(fields), url=url)

    async def settle(self, count: int, timeout: float = 10) -> None:
        """Wait for ``count`` messages to reach "Rasa", then a little longer for any extra ones."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)

    def at_standin(self, openid: str) -> list[dict[str, Any]]:
        _, body = http("GET", f"{self.standin}/standin/sim/messages?openid={openid}")
        return [i["message"] for i in body["items"] if i["direction"] == "to_user"]


@pytest.fixture(params=["plaintext", "safe", "compatible", "safe+worker-sends"])
async def harness(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str, standin: str
) -> AsyncIterator[Harness]:
    """The last variant is make run's set-up: replies are queued and the worker's sender() sends them."""
    mode, _, sends = request.param.partition("+")
    db = f"sqlite:///{tmp_path / 'careloop.db'}"
    await upgrade(db)
    env = {
        "DATABASE_URL": db,
        "REDIS_URL": redis_url,
        "CARELOOP_VAR_DIR": str(tmp_path),
        "WECHAT_APPID": APPID,
        "WECHAT_APPSECRET": SECRET,
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_API_BASE_URL": f"{standin}/standin/cgi-bin/",
    }
    if mode != "plaintext":
        env["WECHAT_ENCODING_AES_KEY"] = AES_KEY
    if sends == "worker-sends":
        env["WECHAT_OUTBOUND"] = "queue"
    settings = Settings.from_env(env)
    channel = WeChatInput(settings)
    channel.sweep_interval = 30.0  # so a message handled at once was announced, not swept up
    port = free_port()
    h = Harness(
        f"http://127.0.0.1:{port}/webhooks/wechat/webhook",
        WeChatSide(TOKEN, APPID, AES_KEY if mode != "plaintext" else "", mode),
        channel,
        settings,
        standin=standin,
    )

    async def on_new_message(message: UserMessage) -> None:
        h.in_flight += 1
        h.most_in_flight = max(h.most_in_flight, h.in_flight)
        try:
            if h.handler_delay:
                await asyncio.sleep(h.handler_delay)
        finally:
            h.in_flight -= 1
        h.received.append(message)
        if message.text == "/wants_buttons":
            await message.output_channel.send_text_with_buttons(
                message.sender_id,
                "满意吗？",
                [{"title": "满意", "payload": "/affirm"}, {"title": "不满意", "payload": "/deny"}],
            )
        elif message.text == "/wants_survey":  # as Rasa passes an action's extra keys along
            await message.output_channel.send_text_with_buttons(
                message.sender_id, "请打分", [{"title": "5分", "payload": "/give_rating"}], purpose="survey"
            )
        elif message.text == "/wants_long":
            await message.output_channel.send_text_message(message.sender_id, LONG_REPLY)
        elif not message.text.startswith("/"):
            await message.output_channel.send_text_message(message.sender_id, f"收到：{message.text}")

    Sanic.test_mode = True
    app = Sanic(f"wechat_{uuid.uuid4().hex[:8]}")
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/wechat")  # as Rasa mounts it
    async with serving(app, port):
        if sends != "worker-sends":
            yield h
            return
        runtime = channel.runtime
        assert runtime is not None and isinstance(runtime.outbound, QueuedOutbound)
        replies = sender(OutboundQueue(runtime.redis), DirectOutbound(runtime.gateway, runtime.customers))
        replies.start()
        try:
            yield h
        finally:
            await replies.stop()


#: About 15 KB: eight pieces of WeChat's 2 KB, three more than one customer message allows.
LONG_REPLY = "\n".join(f"第{n}段：" + "请按说明书第三步检查电源和水管。" * 40 for n in range(1, 9))


def openid() -> str:
    return f"o_{uuid.uuid4().hex[:12]}"


async def test_a_message_is_answered_success_at_once_and_reaches_rasa(harness: Harness) -> None:
    user = openid()
    status, body, _ = await harness.send(text_message(user, "空调不制冷了"))
    assert (status, body) == (200, "success")
    await harness.settle(1)
    (message,) = harness.received
    assert (message.text, message.sender_id, message.input_channel) == ("空调不制冷了", user, "wechat")
    await asyncio.sleep(0.5)
    assert {"msgtype": "text", "text": {"content": "收到：空调不制冷了"}}.items() <= harness.at_standin(user)[
        0
    ].items()


async def test_wechat_face_codes_reach_rasa_as_the_faces_names(harness: Harness) -> None:
    """A thumbs-up picked from WeChat's panel arrives as "/:strong"; the bot and the agents read "[强]"."""
    user = openid()
    await harness.send(text_message(user, "师傅很准时/:strong/:strong"))
    await harness.settle(1)
    assert [m.text for m in harness.received] == ["师傅很准时[强][强]"]


async def test_the_callback_does_not_wait_for_the_bot(harness: Harness) -> None:
    harness.handler_delay = 2.0  # a slow model or action server
    status, body, ms = await harness.send(text_message(openid(), "在吗"))
    assert (status, body) == (200, "success") and ms < 500
    await harness.settle(1)
    assert len(harness.received) == 1


async def test_a_burst_is_answered_at_once_and_handled_a_few_at_a_time(harness: Harness) -> None:
    harness.handler_delay = 0.3
    answers = await asyncio.gather(*(harness.send(text_message(openid(), f"第{i}条")) for i in range(8)))
    assert all((status, body) == (200, "success") and ms < 1000 for status, body, ms in answers)
    await harness.settle(8)
    assert sorted(m.text for m in harness.received) == sorted(f"第{i}条" for i in range(8))
    assert harness.most_in_flight == harness.settings.wechat.concurrency == 4  # WECHAT_CONCURRENCY


async def test_a_retried_callback_is_handled_once(harness: Harness) -> None:
    user = openid()
    fields = text_message(user, "快递丢了")
    answers = [await harness.send(fields) for _ in range(3)]  # WeChat's retries: same MsgId
    assert [a[:2] for a in answers] == [(200, "success")] * 3
    await harness.settle(1)
    assert [m.text for m in harness.received] == ["快递丢了"]
    await asyncio.sleep(0.5)
    assert len(harness.at_standin(user)) == 1


async def test_a_callback_taken_by_the_front_is_handled_here_at_once_and_once(harness: Harness) -> None:
    """make run points WeChat at the front process; the channel hears of each new message from it."""
    Sanic.test_mode = True
    front = create_front_app(harness.settings, name=f"front_{uuid.uuid4().hex[:8]}")
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/wechat/webhook"
    user = openid()
    fields = text_message(user, "燃气灶打不着火")
    async with serving(front, port):
        started = time.monotonic()
        answers = [await harness.send(fields, url=url) for _ in range(3)]  # and WeChat's two retries
        assert [a[:2] for a in answers] == [(200, "success")] * 3
        await harness.settle(1, timeout=5)
    assert [m.text for m in harness.received] == ["燃气灶打不着火"]
    assert time.monotonic() - started < 3  # announced: the next sweep is 30 s away
    assert (harness.received[0].sender_id, harness.received[0].input_channel) == (user, "wechat")
    await asyncio.sleep(0.5)
    assert [m["text"]["content"] for m in harness.at_standin(user)] == ["收到：燃气灶打不着火"]


async def test_events_are_deduplicated_by_sender_and_time(harness: Harness) -> None:
    user = openid()
    created = int(time.time())
    for _ in range(2):
        await harness.send(event_message(user, "CLICK", "case_status", created=created))
    await harness.send(event_message(user, "CLICK", "human", created=created + 1))
    await harness.settle(2)
    assert [m.text for m in harness.received] == ["/ask_case_status", "/request_human"]


async def test_one_customers_messages_are_handled_in_arrival_order(harness: Harness) -> None:
    user = openid()
    harness.handler_delay = 0.05
    for i in range(12):
        await harness.send(text_message(user, f"第{i}条"))
    await harness.settle(12)
    assert [m.text for m in harness.received] == [f"第{i}条" for i in range(12)]


async def test_a_reply_beyond_the_allowance_arrives_first_when_the_customer_writes_again(
    harness: Harness,
) -> None:
    """Five messages per customer message: the rest of a long reply waits in the outbox, and goes out
    (before the new reply) only when the customer writes again, once, in every mode."""
    user = openid()
    await harness.send(text_message(user, "/wants_long"))
    await harness.settle(1)
    await asyncio.sleep(0.5)
    first = [m["text"]["content"] for m in harness.at_standin(user)]
    assert len(first) == 5 and first[0].startswith("第1段") and first[-1].endswith(MORE_TO_COME)
    for text in ("还有呢", "谢谢"):
        await harness.send(text_message(user, text))
    await harness.settle(3)
    await asyncio.sleep(0.5)
    texts = [m["text"]["content"] for m in harness.at_standin(user)]
    assert len(texts) == 5 + 3 + 2 and texts[-2:] == ["收到：还有呢", "收到：谢谢"]
    received = "".join(texts[:-2]).replace(MORE_TO_COME, "")
    assert re.sub(r"\s", "", received) == re.sub(r"\s", "", LONG_REPLY)  # all of it, once, in order


@pytest.mark.parametrize(
    "tamper",
    ["no_signature", "wrong_signature", "stale", "future", "wrong_token"],
)
async def test_forged_and_replayed_requests_get_403_and_never_reach_rasa(
    harness: Harness, tamper: str
) -> None:
    fields = text_message(openid(), "我是伪造的")
    if tamper == "stale":
        query, body = harness.side.post(fields, timestamp=int(time.time()) - 3600)  # a replay an hour later
    elif tamper == "future":
        query, body = harness.side.post(fields, timestamp=int(time.time()) + 3600)
    elif tamper == "wrong_token":
        query, body = WeChatSide("not-the-token", APPID, harness.side.aes_key, harness.side.mode).post(fields)
    else:
        query, body = harness.side.post(fields)
        if tamper == "no_signature":
            query.pop("signature")
        else:
            query["signature"] = "0" * 40
    status, _, _ = await harness.post(query, body)
    assert status == 403
    await asyncio.sleep(0.3)
    assert harness.received == []


async def test_encrypted_messages_need_the_right_msg_signature_and_account(harness: Harness) -> None:
    if harness.side.mode == "plaintext":
        pytest.skip("safe and compatible modes only")
    query, body = harness.side.post(text_message(openid(), "加密消息"))
    status, _, _ = await harness.post({**query, "msg_signature": "f" * 40}, body)
    assert status == 403
    other_account = WeChatSide(TOKEN, "wxsomebodyelse0001", AES_KEY, harness.side.mode)
    status, _, _ = await harness.post(*other_account.post(text_message(openid(), "别人的消息")))
    assert status == 403
    plain_query, plain_body = WeChatSide(TOKEN, APPID).post(text_message(openid(), "未加密"))
    status, _, _ = await harness.post(plain_query, plain_body)
    assert status == 400  # safe mode takes encrypted messages only
    await asyncio.sleep(0.3)
    assert harness.received == []


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">\n'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]>\n'
    "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>\n"
    "<MsgType>text</MsgType><Content>&lol3;</Content><MsgId>1</MsgId></xml>"
)


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><ToUserName>",
        b"not xml at all",
        b"<xml></xml>",
        BILLION_LAUGHS.encode(),
        b"<xml><Content>" + "投".encode() * 30_000 + b"</Content></xml>",
        b"",
    ],
    ids=["truncated", "not_xml", "empty_xml", "entity_expansion", "oversized", "no_body"],
)
async def test_malformed_or_hostile_xml_gets_400(harness: Harness, body: bytes) -> None:
    ts, nonce = str(int(time.time())), "n0nce"
    query = {"signature": sha1_sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
    if harness.side.mode != "plaintext":
        query.update(encrypt_type="aes", msg_signature=sha1_sign(TOKEN, ts, nonce, ""))
    status, _, _ = await harness.post(query, body)
    assert status in (400, 403) if harness.side.mode != "plaintext" else status == 400
    await asyncio.sleep(0.2)
    assert harness.received == []


async def test_url_verification(harness: Harness) -> None:
    ts, nonce = str(int(time.time())), "123456"
    good = {"signature": sha1_sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "echostr": "echo-4711"}
    async with aiohttp.ClientSession() as s:
        async with s.get(harness.url, params=good) as resp:
            assert (resp.status, await resp.text()) == (200, "echo-4711")
        async with s.get(harness.url, params={**good, "signature": "bad"}) as resp:
            assert resp.status == 403
        async with s.get(
            harness.url,
            params={
                **good,
                "timestamp": str(int(ts) - 86400),
                "signature": sha1_sign(TOKEN, str(int(ts) - 86400), nonce),
            },
        ) as resp:
            assert resp.status == 403


async def test_voice_with_recognition_is_text_and_without_it_a_polite_request(harness: Harness) -> None:
    user = openid()
    voice = {
        "ToUserName": "gh_careloop000001",
        "FromUserName": user,
        "CreateTime": int(time.time()),
        "MsgType": "voice",
        "MediaId": "m1",
        "Format": "amr",
        "MsgId": new_msg_id(),
    }
    await harness.send({**voice, "Recognition": "我要投诉"})
    await harness.send({**voice, "MsgId": int(voice["MsgId"]) + 1})
    await harness.settle(1)
    assert [m.text for m in harness.received] == ["我要投诉"]
    await asyncio.sleep(0.5)
    assert "打字" in harness.at_standin(user)[-1]["text"]["content"]


async def test_subscribe_greets_unsubscribe_marks_the_customer_and_menu_keys_map_to_intents(
    harness: Harness,
) -> None:
    user = openid()
    await harness.send(event_message(user, "subscribe"))
    for key in ("complain", "case_status", "human"):
        await harness.send(event_message(user, "CLICK", key, created=int(time.time()) + len(key)))
    await harness.send(event_message(user, "VIEW", "https://example.com", created=int(time.time()) + 30))
    await harness.send(event_message(user, "unsubscribe", created=int(time.time()) + 60))
    await harness.settle(4)
    assert [m.text for m in harness.received] == ["/greet", "/complain", "/ask_case_status", "/request_human"]
    engine = create_engine(harness.settings.database_url)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.text(
                        "SELECT unsubscribed_at IS NOT NULL, last_inbound_at IS NOT NULL "
                        "FROM customers WHERE sender_id=:s"
                    ),
                    {"s": user},
                )
            ).one()
    finally:
        await engine.dispose()
    assert tuple(row) == (True, True)


async def test_while_queued_for_a_person_messages_and_menu_taps_reach_the_agent_and_get_one_notice(
    harness: Harness,
) -> None:
    user = openid()
    runtime = harness.channel.runtime
    assert runtime is not None
    handoffs = runtime.services.handoffs
    handoffs._rasa = rasa = FakeRasa()  # where the notice would go (Rasa's API) is not running here
    handoffs.policy = HandoffPolicy(opens=None, closes=None)  # agents on duty whatever the hour
    agents = runtime.services.agents
    if await agents.get("duty") is None:
        await agents.add("duty", "duty-password", Role.AGENT)
    await agents.seen("duty")  # ... and one has the console open
    await handoffs.request(user, "wechat", "customer_request")

    def said() -> list[str]:
        return [e["text"] for c in rasa.calls if c[0] == "events" for e in c[2] if e["event"] == "bot"]

    await harness.send(event_message(user, "CLICK", "human"))  # an impatient tap on 人工
    await harness.settle(1)
    assert said() == ["您的留言客服会看到🙋 马上为您接通，请稍候。回复“算了”可返回机器人服务。"]
    await harness.send(text_message(user, "人呢？"))
    await harness.settle(2)
    assert [m.text for m in harness.received] == ["/request_human", "人呢？"]  # recorded, Rasa paused
    assert len(said()) == 1  # one notice, not one per message
    waiting = await handoffs.open_for(user)
    assert waiting is not None and waiting.noticed_at is not None
    assert waiting.last_customer_at is not None and waiting.last_customer_at > waiting.queued_at


async def test_buttons_become_a_msgmenu_and_a_tap_comes_back_as_the_payload(harness: Harness) -> None:
    user = openid()
    await harness.send(text_message(user, "/wants_buttons"))
    await harness.settle(1)
    await asyncio.sleep(0.5)
    menu = harness.at_standin(user)[-1]
    assert menu["msgtype"] == "msgmenu" and [o["content"] for o in menu["msgmenu"]["list"]] == [
        "满意",
        "不满意",
    ]
    tapped = menu["msgmenu"]["list"][1]
    await harness.send(text_message(user, tapped["content"], bizmsgmenuid=tapped["id"]))
    await harness.settle(2)
    assert harness.received[-1].text == "/deny"


async def test_what_a_message_is_for_reaches_the_outbox_sent_now_or_by_the_worker(harness: Harness) -> None:
    """The survey question's purpose is how a question WeChat refuses finds its survey again."""
    user = openid()
    await harness.send(text_message(user, "/wants_survey"))
    await harness.send(text_message(user, "/wants_buttons"))
    await harness.settle(2)
    await asyncio.sleep(0.5)
    assert harness.channel.runtime is not None
    rows = await SqlOutboxStore(harness.channel.runtime.services.engine).search(recipient=user, limit=10)
    in_order = sorted(rows, key=lambda r: r.id or 0)
    assert [(r.kind, r.purpose) for r in in_order] == [("msgmenu", "survey"), ("msgmenu", "reply")]


async def test_an_image_is_acknowledged_and_kept(harness: Harness) -> None:
    user = openid()
    jpeg = b"\xff\xd8\xff\xe0" + b"careloop-test-image" * 50
    runtime = harness.channel.runtime
    assert runtime is not None
    # The customer's photo, as WeChat holds it: temporary media fetched with media/get.
    uploaded = await runtime.session.call(lambda c: c.media.upload("image", ("damage.jpg", io.BytesIO(jpeg))))
    await harness.send(
        {
            "ToUserName": "gh_careloop000001",
            "FromUserName": user,
            "CreateTime": int(time.time()),
            "MsgType": "image",
            "PicUrl": "http://example.invalid/p.jpg",
            "MediaId": uploaded["media_id"],
            "MsgId": new_msg_id(),
        }
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not harness.at_standin(user):  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    assert "图片收到了" in harness.at_standin(user)[-1]["text"]["content"]
    stored = list((harness.settings.var_dir / "media" / user).glob("*"))
    assert [p.read_bytes() for p in stored] == [jpeg]
    assert harness.received == []  # a photo is not a message for the NLU


async def test_a_video_is_fetched_from_where_wechat_points_and_kept_with_the_case(harness: Harness) -> None:
    """ "你看这漏水" as a 小视频 got "这类消息我暂时处理不了"; WeChat's media/get answers a video with a
    video_url to fetch it from, which the gateway follows."""
    user = openid()
    mp4 = b"\x00\x00\x00\x18ftypmp42" + b"careloop-test-video" * 400
    runtime = harness.channel.runtime
    assert runtime is not None
    case = await runtime.services.cases.open_case(
        CaseDraft(user, "wechat", "热水器漏水", "installation_repair", "13812345678")
    )
    uploaded = await runtime.session.call(
        lambda c: c.media.upload("video", ("leak.mp4", io.BytesIO(mp4), "video/mp4"))
    )
    for kind in ("shortvideo", "video"):
        media_id = uploaded["media_id"]
        await harness.send(customer_message(user, kind, MediaId=media_id, ThumbMediaId=media_id))
    await wait_for(lambda: len(harness.at_standin(user)) >= 2)
    answers = [m["text"]["content"] for m in harness.at_standin(user)]
    assert answers == [f"视频收到了，已附在您的投诉 {case.number} 中，处理人员会一并查看。"] * 2
    stored = sorted((harness.settings.var_dir / "media" / user).glob("*"))
    assert [(p.suffix, p.read_bytes()) for p in stored] == [(".mp4", mp4)] * 2
    attachments = await runtime.services.cases.attachments(case.number)
    assert [(a.kind, a.content_type, a.size) for a in attachments] == [("video", "video/mp4", len(mp4))] * 2
    assert harness.received == []  # not a message for the NLU


async def test_a_shared_link_is_kept_with_the_case(harness: Harness) -> None:
    user = openid()
    runtime = harness.channel.runtime
    assert runtime is not None
    link = "https://m.example.com/order/JD2026120512345"
    await harness.send(customer_message(user, "link", Title="订单详情", Description="JD…", Url=link))
    await wait_for(lambda: len(harness.at_standin(user)) >= 1)
    assert harness.at_standin(user)[0]["text"]["content"].startswith("链接收到了🔗 请再用文字简单描述一下")
    case = await runtime.services.cases.open_case(
        CaseDraft(user, "wechat", "订单一直没发货", "delivery", None)
    )
    (attachment,) = await runtime.services.cases.attachments(case.number)  # joined the case opened next
    assert (attachment.kind, attachment.source_url) == ("link", link)


def customer_message(user: str, kind: str, **fields: str) -> dict[str, str | int]:
    return {
        "ToUserName": "gh_careloop000001",
        "FromUserName": user,
        "CreateTime": int(time.time()),
        "MsgType": kind,
        "MsgId": new_msg_id(),
        **fields,
    }


async def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.1)


def image_message(user: str, media_id: str) -> dict[str, str | int]:
    return {
        "ToUserName": "gh_careloop000001",
        "FromUserName": user,
        "CreateTime": int(time.time()),
        "MsgType": "image",
        "PicUrl": "http://example.invalid/p.jpg",
        "MediaId": media_id,
        "MsgId": new_msg_id(),
    }


async def test_a_photo_sent_while_waiting_for_a_person_joins_the_case(harness: Harness) -> None:
    user = openid()
    runtime = harness.channel.runtime
    assert runtime is not None
    handoffs = runtime.services.handoffs
    handoffs._rasa = FakeRasa()
    handoffs.policy = HandoffPolicy(opens=None, closes=None)
    case = await runtime.services.cases.open_case(
        CaseDraft(user, "wechat", "热水器不出热水", "installation_repair", "13812345678")
    )
    await handoffs.request(user, "wechat", "customer_request", case_number=case.number)
    uploaded = await runtime.session.call(
        lambda c: c.media.upload("image", ("heater.jpg", io.BytesIO(b"\xff\xd8\xff\xe0heater")))
    )
    await harness.send(image_message(user, uploaded["media_id"]))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not await runtime.services.cases.attachments(case.number):  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    assert [a.kind for a in await runtime.services.cases.attachments(case.number)] == ["image"]


class _RasaProcessor:
    """Rasa's message processor as the connector uses it for a direct answer: a lock and a tracker."""

    def __init__(self, tracker: DialogueStateTracker) -> None:
        self.lock_store = InMemoryLockStore()
        self.tracker = tracker

    async def fetch_tracker_with_initial_session(self, sender_id: str, **_: Any) -> DialogueStateTracker:
        return self.tracker

    async def save_tracker(self, tracker: DialogueStateTracker) -> None:
        self.tracker = tracker


class _NluProcessor:
    """Rasa's processor as parse-ahead uses it: the NLU graph, which records each batch it is given."""

    http_interpreter = None
    model_metadata = SimpleNamespace(nlu_target="nlu")

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.graph_runner = self

    def run(self, inputs: dict[str, Any], targets: list[str]) -> dict[str, Any]:
        texts = [m.text for m in inputs["__message__"]]
        self.batches.append(texts)
        parsed = [{"text": t, "intent": {"name": f"heard:{t}", "confidence": 1.0}} for t in texts]
        return {"nlu": [SimpleNamespace(as_dict=lambda only_output_properties, p=p: p) for p in parsed]}

    def _update_full_retrieval_intent(self, parse_data: dict[str, Any]) -> None:
        pass


async def test_messages_waiting_for_their_turn_are_parsed_together(harness: Harness) -> None:
    """Rasa's model runs on the channel's event loop; messages waiting for a slot are parsed in
    batches of up to four, each reaching Rasa with its own parse, once."""
    assert harness.channel._app is not None
    processor = _NluProcessor()
    harness.channel._app.ctx.agent = SimpleNamespace(processor=processor)
    harness.handler_delay = 0.3
    texts = [f"第{i}条：冰箱不制冷" for i in range(12)]
    await asyncio.gather(*(harness.send(text_message(openid(), t)) for t in texts))
    await harness.settle(12)
    assert sorted(m.text for m in harness.received) == sorted(texts)
    parsed = [m for m in harness.received if m.parse_data]
    assert all(m.parse_data["intent"]["name"] == f"heard:{m.text}" for m in parsed)
    batched = [t for batch in processor.batches for t in batch]
    assert sorted(batched) == sorted(m.text for m in parsed)  # each parsed once, none lost
    assert len(parsed) >= 8 and len(processor.batches) < len(parsed)
    assert max(len(b) for b in processor.batches) <= 4


async def test_a_photo_sent_while_a_complaint_is_described_waits_for_that_case(harness: Harness) -> None:
    """The bot had the problem and was asking for the order number: a photo got "请再用文字简单描述一下
    遇到的问题", or, with an older case open, was filed with that one."""
    user = openid()
    runtime = harness.channel.runtime
    assert runtime is not None and harness.channel._app is not None
    older = await runtime.services.cases.open_case(
        CaseDraft(user, "wechat", "上个月的快递丢了", "delivery", "13812345678")
    )
    tracker = DialogueStateTracker.from_events(
        user,
        [ActiveLoop("complaint_form"), SlotSet("complaint_description", "冰箱修完又不制冷了")],
        slots=[TextSlot("complaint_description", mappings=[])],
    )
    processor = _RasaProcessor(tracker)
    harness.channel._app.ctx.agent = SimpleNamespace(processor=processor)
    uploaded = await runtime.session.call(
        lambda c: c.media.upload("image", ("fridge.jpg", io.BytesIO(b"\xff\xd8\xff\xe0fridge")))
    )
    await harness.send(image_message(user, uploaded["media_id"]))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not harness.at_standin(user):  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    answer = harness.at_standin(user)[-1]["text"]["content"]
    assert "登记投诉时会一起附上" in answer and "描述" not in answer and older.number not in answer
    said = [e for e in processor.tracker.events if e.type_name in ("user", "bot")]
    assert [getattr(e, "text", None) for e in said] == ["[图片]", answer]  # in the transcript too
    assert await runtime.services.cases.attachments(older.number) == []
    new = await runtime.services.cases.open_case(
        CaseDraft(user, "wechat", "冰箱修完又不制冷了", "installation_repair", "13812345678")
    )
    assert [a.kind for a in await runtime.services.cases.attachments(new.number)] == ["image"]


async def test_a_location_is_kept_with_the_case(harness: Harness) -> None:
    """Where the repair is: before the case exists it waits for it, after it joins it at once."""
    user = openid()
    runtime = harness.channel.runtime
    assert runtime is not None

    def location(label: str) -> dict[str, str | int]:
        return {
            "ToUserName": "gh_careloop000001",
            "FromUserName": user,
            "CreateTime": int(time.time()),
            "MsgType": "location",
            "Location_X": "31.2304",
            "Location_Y": "121.4737",
            "Scale": "15",
            "Label": label,
            "MsgId": new_msg_id(),
        }

    async def reply(count: int) -> str:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(harness.at_standin(user)) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        return str(harness.at_standin(user)[-1]["text"]["content"])

    await harness.send(location("上海市浦东新区世纪大道100号"))
    assert "请再用文字简单描述一下遇到的问题" in await reply(1)
    case = await runtime.services.cases.open_case(
        CaseDraft(user, "wechat", "热水器不出热水", "installation_repair", "13812345678")
    )
    await harness.send(location("上海市浦东新区世纪大道100号 3号楼"))
    assert case.number in await reply(2)
    notes = [e.note for e in (await runtime.services.cases.get(case.number)).events if e.kind == "attachment"]
    assert notes == [
        "位置 geo:31.2304,121.4737?q=上海市浦东新区世纪大道100号",
        "位置 geo:31.2304,121.4737?q=上海市浦东新区世纪大道100号 3号楼",
    ]
    assert harness.received == []  # not a message for the NLU
