"""The local WeChat stand-in as real processes.

API side: wechatpy's own ``WeChatClient`` against ``/standin/cgi-bin/`` (tokens, the 48-hour window, the
5-message allowance, template messages, media, injected failures). Phone side: a tiny aiohttp connector
checks each push with wechatpy (``check_signature``, ``WeChatCrypto.decrypt_message``) and answers.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import xmltodict
from aiohttp import web
from wechatpy import WeChatClient
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import WeChatClientException
from wechatpy.utils import check_signature

from bot.redis_embedded import free_port
from bot.wechat.standin_config import DEFAULT_ACCOUNT_ID, DEV_APPID, DEV_SECRET, DEV_TOKEN
from tests.helpers import http, start, stop, wait_until

APPID, SECRET, TOKEN = "wx5e1f000000000042", "standin-test-secret", "standintoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) + b"\xff\xd9"


class Receiver:
    """A connector stand-in in its own thread: verifies like a connector must, records, answers."""

    def __init__(self) -> None:
        self.port = free_port()
        self.accounts: dict[str, tuple[str, str, str]] = {}  # path name -> token, AES key, appid
        self.requests: list[dict[str, Any]] = []
        self.sleep_once: set[str] = set()  # openids whose next push is answered after 6 s
        self.replies: dict[str, str] = {}  # openid -> body to answer once instead of "success"
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/cb/{name}"

    async def _push(self, request: web.Request) -> web.Response:
        token, aes_key, appid = self.accounts[request.match_info["name"]]
        query, body = request.query, await request.text()
        record: dict[str, Any] = {"query": dict(query), "body": body, "at": time.monotonic()}
        try:
            check_signature(token, query["signature"], query["timestamp"], query["nonce"])
            plain = body
            if query.get("encrypt_type") == "aes":
                crypto = WeChatCrypto(token, aes_key, appid)
                plain = crypto.decrypt_message(
                    body, query["msg_signature"], query["timestamp"], query["nonce"]
                )
            record["msg"] = xmltodict.parse(plain)["xml"]
        except Exception as exc:  # recorded, so a test fails with the reason
            record["error"] = repr(exc)
            with self._lock:
                self.requests.append(record)
            return web.Response(status=403, text="bad signature")
        openid = record["msg"]["FromUserName"]
        with self._lock:
            self.requests.append(record)
            sleep = openid in self.sleep_once
            self.sleep_once.discard(openid)
            reply = self.replies.pop(openid, None)
        if sleep:
            await asyncio.sleep(6)
        return web.Response(text="success" if reply is None else reply)

    async def _verify(self, request: web.Request) -> web.Response:
        token = self.accounts[request.match_info["name"]][0]
        query = request.query
        check_signature(token, query["signature"], query["timestamp"], query["nonce"])
        return web.Response(text=query["echostr"])

    def start(self) -> None:
        ready = threading.Event()

        async def serve() -> None:
            app = web.Application()
            app.router.add_post("/cb/{name}", self._push)
            app.router.add_get("/cb/{name}", self._verify)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        threading.Thread(target=run, daemon=True, name="wechat-receiver").start()
        assert ready.wait(10), "receiver did not start"

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:  # a handler still sleeping its 6 s
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def received(self, openid: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                r for r in self.requests if r.get("msg", {}).get("FromUserName") == openid or "error" in r
            ]


class StandinClient(WeChatClient):  # type: ignore[misc]
    """wechatpy pointed at the stand-in. Its ``fetch_access_token`` uses a hard-coded api.weixin.qq.com
    URL whatever ``API_BASE_URL`` says, so it is overridden here (the gateway must do the same)."""

    def __init__(self, base: str, appid: str = APPID, secret: str = SECRET, **kwargs: Any) -> None:
        self.API_BASE_URL = base
        super().__init__(appid, secret, timeout=10, **kwargs)

    def fetch_access_token(self) -> dict[str, Any]:
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        return dict(self._fetch_access_token(url=self.API_BASE_URL + "token", params=params))


def _other_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    rec.accounts["ops"] = (TOKEN, AES_KEY, APPID)
    rec.accounts["dev"] = (DEV_TOKEN, "", DEV_APPID)
    rec.start()
    yield rec
    rec.stop()


def _serve(args: list[str], env: dict[str, str], tmp: Path, name: str) -> tuple[Any, str]:
    port = free_port()
    base_env = {"CARELOOP_VAR_DIR": str(tmp), "CARELOOP_STANDIN_MODE": "", "WECHAT_ACCOUNT_ID": ""}
    proc = start([*args, "--port", str(port)], {**base_env, **env}, tmp / f"{name}.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http("GET", f"{base}/standin/control/stats")[0] == 200, 60, name, proc)
    except Exception:
        stop(proc)
        raise
    return proc, base


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory, redis_url: str, receiver: Receiver) -> Iterator[str]:
    """The ops server with the stand-in mounted, in safe mode (an AES key is configured)."""
    tmp = tmp_path_factory.mktemp("standin-ops")
    env = {
        "CARELOOP_WECHAT_STANDIN": "1",
        "DATABASE_URL": f"sqlite:///{tmp / 'ops.db'}",
        "REDIS_URL": redis_url,
        "WECHAT_APPID": APPID,
        "WECHAT_APPSECRET": SECRET,
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_ENCODING_AES_KEY": AES_KEY,
        "CARELOOP_WECHAT_CONNECTOR_URL": receiver.url("ops"),
    }
    proc, base = _serve(["-m", "bot", "serve"], env, tmp, "ops")
    try:
        yield base
    finally:
        stop(proc)


@pytest.fixture(autouse=True)
def clean(request: pytest.FixtureRequest) -> None:
    """Every test starts from a WeChat that knows nothing (tokens, users, clock, failures)."""
    if "ops" in request.fixturenames:
        assert http("POST", f"{request.getfixturevalue('ops')}/standin/control/reset")[0] == 200


def api(base: str) -> str:
    return f"{base}/standin/cgi-bin/"


def client(base: str, **kwargs: Any) -> StandinClient:
    return StandinClient(api(base), auto_retry=False, **kwargs)


def follower(base: str, openid: str, **fields: Any) -> dict[str, Any]:
    status, body = http("POST", f"{base}/standin/control/user", {"openid": openid, **fields})
    assert status == 200, body
    return dict(body)


def user_sends(base: str, openid: str, **action: Any) -> dict[str, Any]:
    status, body = http("POST", f"{base}/standin/sim/send", {"openid": openid, "type": "text", **action})
    assert status == 200, body
    return dict(body)


def conversation(base: str, openid: str, after: int = 0) -> list[dict[str, Any]]:
    status, body = http("GET", f"{base}/standin/sim/messages?openid={openid}&after={after}")
    assert status == 200
    return list(body["items"])


def stats(base: str) -> dict[str, Any]:
    return dict(http("GET", f"{base}/standin/control/stats")[1])


def errcode(call: Any) -> int | None:
    with pytest.raises(WeChatClientException) as info:
        call()
    return info.value.errcode  # type: ignore[no-any-return]


def get_bytes(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.headers["Content-Type"], resp.read()


# ------------------------------------------------------------------ the WeChat API


def test_the_token_is_fetched_once_and_reused(ops: str) -> None:
    follower(ops, "o_reuse", last_inbound_ago=0)
    wx = client(ops)
    wx.message.send_text("o_reuse", "第一条")
    wx.message.send_text("o_reuse", "第二条")
    counts = stats(ops)
    assert counts["token_fetches"] == 1
    assert counts["accepted"]["custom_send"] == 2
    sent = [i["message"]["text"]["content"] for i in conversation(ops, "o_reuse") if i["kind"] == "custom"]
    assert sent == ["第一条", "第二条"]


def test_wrong_appid_or_secret_is_refused(ops: str) -> None:
    assert errcode(lambda: client(ops, appid="wx0000000000000bad").fetch_access_token()) == 40013
    assert errcode(lambda: client(ops, secret="wrong").fetch_access_token()) == 40125
    assert stats(ops)["token_fetches"] == 0


def test_a_forged_token_gets_40001_and_wechatpy_recovers_by_fetching(ops: str) -> None:
    follower(ops, "o_forged", last_inbound_ago=0)
    assert errcode(lambda: client(ops, access_token="forged").message.send_text("o_forged", "x")) == 40001
    recovering = StandinClient(api(ops), access_token="forged")  # auto_retry: refetch on 40001
    assert recovering.message.send_text("o_forged", "x")["errcode"] == 0
    assert stats(ops)["token_fetches"] == 1


def test_a_new_token_leaves_the_previous_valid_for_five_minutes_only(ops: str) -> None:
    follower(ops, "o_rotate", last_inbound_ago=0)
    first = client(ops).fetch_access_token()["access_token"]
    second = client(ops).fetch_access_token()["access_token"]
    assert client(ops, access_token=first).message.send_text("o_rotate", "旧的还能用")["errcode"] == 0
    http("POST", f"{ops}/standin/control/clock", {"advance": 301})
    assert errcode(lambda: client(ops, access_token=first).message.send_text("o_rotate", "x")) == 40001
    assert client(ops, access_token=second).message.send_text("o_rotate", "新的可以")["errcode"] == 0
    third = client(ops).fetch_access_token()["access_token"]
    assert errcode(lambda: client(ops, access_token=first).message.send_text("o_rotate", "x")) == 40001
    http("POST", f"{ops}/standin/control/clock", {"advance": 7200})
    assert errcode(lambda: client(ops, access_token=third).message.send_text("o_rotate", "x")) == 42001


def test_a_msgmenu_is_recorded_as_sent(ops: str) -> None:
    follower(ops, "o_menu", last_inbound_ago=0)
    menu = {
        "head_content": "您对本次服务满意吗？",
        "list": [{"id": "101", "content": "满意"}],
        "tail_content": "",
    }
    client(ops).message.send_msg_menu("o_menu", menu)
    [item] = [i for i in conversation(ops, "o_menu") if i["kind"] == "custom"]
    assert item["direction"] == "to_user"
    assert item["message"] == {"touser": "o_menu", "msgtype": "msgmenu", "msgmenu": menu}


def test_outside_48_hours_only_a_template_message_goes_through(ops: str) -> None:
    follower(ops, "o_late", last_inbound_ago=48 * 3600 + 60)
    wx = client(ops)
    assert errcode(lambda: wx.message.send_text("o_late", "太晚了")) == 45015
    data = {"first": {"value": "您的投诉已处理"}, "keyword1": {"value": "C20261120-0007"}}
    sent = wx.message.send_template("o_late", "TPL_case_done", data, url="https://example.com/c/7")
    assert sent["errcode"] == 0 and sent["msgid"] > 0
    [template] = [i for i in conversation(ops, "o_late") if i["kind"] == "template"]
    assert template["message"]["data"] == data and template["msgid"] == str(sent["msgid"])
    user_sends(ops, "o_late", content="我又来了")  # a new message opens the window again
    assert wx.message.send_text("o_late", "欢迎回来")["errcode"] == 0


def test_five_messages_per_inbound_message(ops: str) -> None:
    follower(ops, "o_five", last_inbound_ago=3600)
    wx = client(ops)
    for n in range(5):
        wx.message.send_text("o_five", f"第{n + 1}条")
    assert errcode(lambda: wx.message.send_text("o_five", "第6条")) == 45047
    user_sends(ops, "o_five", content="还在吗")
    assert wx.message.send_text("o_five", "在的")["errcode"] == 0
    assert stats(ops)["errors"]["custom_send"] == {"45047": 1}


def test_unsubscribed_users_receive_nothing(ops: str) -> None:
    user_sends(ops, "o_gone", type="event", event="subscribe")
    user_sends(ops, "o_gone", type="event", event="unsubscribe")
    wx = client(ops)
    assert errcode(lambda: wx.message.send_text("o_gone", "别走")) == 43004
    assert errcode(lambda: wx.message.send_template("o_gone", "TPL", {"first": {"value": "x"}})) == 43004
    assert errcode(lambda: wx.message.send_text("o_never_seen", "你好")) == 40003
    status, body = http(
        "POST", f"{ops}/standin/sim/send", {"openid": "o_gone", "type": "text", "content": "hi"}
    )
    assert status == 409 and body["code"] == "not_subscribed"


def test_text_over_2048_bytes_is_refused(ops: str) -> None:
    follower(ops, "o_long", last_inbound_ago=0)
    wx = client(ops)
    assert errcode(lambda: wx.message.send_text("o_long", "好" * 683)) == 45002  # 2049 bytes
    assert wx.message.send_text("o_long", "好" * 682 + "!!")["errcode"] == 0  # 2048 bytes


def test_media_upload_download_and_image_message(ops: str) -> None:
    follower(ops, "o_pic", last_inbound_ago=0)
    wx = client(ops)
    uploaded = wx.media.upload("image", ("photo.jpg", io.BytesIO(JPEG), "image/jpeg"))
    assert uploaded["type"] == "image" and uploaded["created_at"] > 0
    download = wx.media.download(uploaded["media_id"])
    assert download.content == JPEG and download.headers["Content-Type"] == "image/jpeg"
    assert wx.message.send_image("o_pic", uploaded["media_id"])["errcode"] == 0
    assert errcode(lambda: wx.message.send_image("o_pic", "no-such-media")) == 40007
    assert errcode(lambda: wx.media.download("no-such-media")) == 40007


def test_injected_failures_play_back_then_stop(ops: str) -> None:
    follower(ops, "o_fail", last_inbound_ago=0)
    wx = client(ops)
    wx.fetch_access_token()
    control = f"{ops}/standin/control/fail"
    assert http("POST", control, {"api": "custom_send", "errcode": 45009, "times": 2})[0] == 200
    assert errcode(lambda: wx.message.send_text("o_fail", "1")) == 45009
    assert errcode(lambda: wx.message.send_text("o_fail", "2")) == 45009
    assert wx.message.send_text("o_fail", "3")["errcode"] == 0
    http("POST", control, {"api": "custom_send", "status": 503})
    with pytest.raises(WeChatClientException) as info:
        wx.message.send_text("o_fail", "4")
    assert info.value.response.status_code == 503
    http("POST", control, {"api": "token", "errcode": -1})
    assert errcode(wx.fetch_access_token) == -1
    http("POST", control, {"api": "template_send", "delay": 1.0})
    started = time.monotonic()
    assert wx.message.send_template("o_fail", "TPL", {"first": {"value": "迟到"}})["errcode"] == 0
    assert time.monotonic() - started >= 1.0
    assert stats(ops)["injected"] == {"custom_send": 3, "token": 1, "template_send": 1}


# ------------------------------------------------------------------ the customer's phone


def test_safe_mode_pushes_signed_encrypted_xml_like_wechat(ops: str, receiver: Receiver) -> None:
    sent = user_sends(ops, "o_safe", content="空调修完又坏了")
    assert sent["ok"] and sent["mode"] == "safe"
    assert [(a["status"], a["body"]) for a in sent["attempts"]] == [(200, "success")]
    [push] = receiver.received("o_safe")
    assert push["query"]["encrypt_type"] == "aes" and push["query"]["openid"] == "o_safe"
    assert set(xmltodict.parse(push["body"])["xml"]) == {"ToUserName", "Encrypt"}
    msg = push["msg"]
    assert msg["ToUserName"] == DEFAULT_ACCOUNT_ID and msg["FromUserName"] == "o_safe"
    assert (msg["MsgType"], msg["Content"], int(msg["MsgId"])) == ("text", "空调修完又坏了", sent["msgid"])
    assert abs(int(msg["CreateTime"]) - time.time()) < 30


@pytest.mark.parametrize("mode", ["compatible", "plaintext"])
def test_compatible_and_plaintext_modes(ops: str, receiver: Receiver, mode: str) -> None:
    assert http("POST", f"{ops}/standin/control/config", {"mode": mode})[1]["mode"] == mode
    openid = f"o_{mode}"
    assert user_sends(ops, openid, content="你好")["ok"]
    [push] = receiver.received(openid)
    body = xmltodict.parse(push["body"])["xml"]
    if mode == "compatible":
        assert push["query"]["encrypt_type"] == "aes"
        assert body["Content"] == "你好" and "Encrypt" in body  # plaintext fields and Encrypt side by side
    else:
        assert "encrypt_type" not in push["query"] and "Encrypt" not in body
    assert push["msg"]["Content"] == "你好"


def test_each_kind_of_user_action_has_wechats_fields(ops: str, receiver: Receiver) -> None:
    user_sends(ops, "o_kinds", type="event", event="subscribe")
    user_sends(ops, "o_kinds", type="event", event="CLICK", event_key="complain")
    user_sends(ops, "o_kinds", type="voice", recognition="我要投诉")
    picture = user_sends(ops, "o_kinds", type="image", image="/9j/4AAQSkZJRgABAQ==")
    user_sends(ops, "o_kinds", content="满意", bizmsgmenuid="101")
    user_sends(ops, "o_kinds", type="location", latitude=23.13, longitude=113.26, label="广州")
    user_sends(ops, "o_kinds", type="video", video=base64.b64encode(b"\x00\x00\x00\x18ftypmp42").decode())
    user_sends(ops, "o_kinds", type="link", title="订单详情", url="https://m.example.com/o/1")
    subscribe, click, voice, image, tap, location, video, link = [
        p["msg"] for p in receiver.received("o_kinds")
    ]
    assert (subscribe["Event"], "MsgId" in subscribe) == ("subscribe", False)
    assert (click["MsgType"], click["Event"], click["EventKey"], "MsgId" in click) == (
        "event",
        "CLICK",
        "complain",
        False,
    )
    assert (voice["MsgType"], voice["Format"], voice["Recognition"]) == ("voice", "amr", "我要投诉")
    assert voice["MediaId"] and voice["MsgId"]
    assert image["MsgType"] == "image" and int(image["MsgId"]) == picture["msgid"]
    status, kind, body = get_bytes(image["PicUrl"])
    assert (status, kind, body[:3]) == (200, "image/jpeg", b"\xff\xd8\xff")
    assert client(ops).media.download(image["MediaId"]).content == body  # the connector's way to fetch it
    assert (tap["MsgType"], tap["Content"], tap["bizmsgmenuid"]) == ("text", "满意", "101")
    assert (location["Location_X"], location["Location_Y"], location["Label"]) == ("23.13", "113.26", "广州")
    assert video["MsgType"] == "video" and video["MsgId"] and video["ThumbMediaId"]
    # As WeChat does, media/get answers a video with where to fetch it.
    fetched = client(ops).media.download(video["MediaId"])
    assert get_bytes(fetched["video_url"]) == (200, "video/mp4", b"\x00\x00\x00\x18ftypmp42")
    assert (link["MsgType"], link["Title"], link["Url"]) == ("link", "订单详情", "https://m.example.com/o/1")


def test_no_answer_in_5_seconds_is_retried_with_the_same_msgid(ops: str, receiver: Receiver) -> None:
    receiver.sleep_once.add("o_slow")
    sent = user_sends(ops, "o_slow", content="在吗")
    first, second = sent["attempts"]
    assert first["error"] == "timeout" and 4900 <= first["elapsed_ms"] < 6000
    assert (second["status"], second["body"]) == (200, "success") and sent["ok"]
    pushes = receiver.received("o_slow")
    assert len(pushes) == 2
    assert pushes[0]["msg"]["MsgId"] == pushes[1]["msg"]["MsgId"] == str(sent["msgid"])
    assert pushes[0]["query"]["nonce"] != pushes[1]["query"]["nonce"]
    [delivery] = [i for i in conversation(ops, "o_slow") if i["kind"] == "delivery"]
    assert delivery["ref"] == sent["seq"] and len(delivery["attempts"]) == 2
    assert stats(ops)["callbacks"]["retries"] == 1


def test_a_passive_reply_is_shown_and_a_bad_answer_is_an_error(ops: str, receiver: Receiver) -> None:
    reply = (
        f"<xml><ToUserName><![CDATA[o_reply]]></ToUserName><FromUserName><![CDATA[{DEFAULT_ACCOUNT_ID}]]>"
        "</FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[收到]]></Content></xml>"
    )
    receiver.replies["o_reply"] = WeChatCrypto(TOKEN, AES_KEY, APPID).encrypt_message(
        reply, "123", "1700000000"
    )
    sent = user_sends(ops, "o_reply", content="你好")
    assert sent["ok"] and sent["reply"] == {"msgtype": "text", "text": {"content": "收到"}}
    assert conversation(ops, "o_reply")[-1]["kind"] == "reply"
    receiver.replies["o_reply"] = "OK"
    sent = user_sends(ops, "o_reply", content="再问一次")
    assert not sent["ok"] and sent["notice"] == "该公众号暂时无法提供服务，请稍后再试"


def test_template_job_finish_event_reaches_the_connector(ops: str, receiver: Receiver) -> None:
    follower(ops, "o_job")
    msgid = client(ops).message.send_template("o_job", "TPL", {"first": {"value": "回访"}})["msgid"]
    wait_until(lambda: receiver.received("o_job"), 5, "TEMPLATESENDJOBFINISH")
    [event] = [p["msg"] for p in receiver.received("o_job")]
    assert (event["Event"], event["MsgID"], event["Status"]) == (
        "TEMPLATESENDJOBFINISH",
        str(msgid),
        "success",
    )


def test_the_conversation_is_listed_in_order_and_streamed(ops: str) -> None:
    first = user_sends(ops, "o_live", content="一")
    wx = client(ops)
    wx.message.send_text("o_live", "二")
    items = conversation(ops, "o_live")
    assert [i["kind"] for i in items] == ["message", "delivery", "custom"]
    assert [i["seq"] for i in items] == sorted(i["seq"] for i in items)
    assert [i["kind"] for i in conversation(ops, "o_live", after=first["seq"])] == ["delivery", "custom"]
    url = f"{ops}/standin/sim/stream?openid=o_live&after={items[-1]['seq']}"
    with urllib.request.urlopen(url, timeout=10) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        wx.message.send_text("o_live", "三，实时")
        while True:
            line = stream.readline().decode()
            assert line, "stream ended"
            if line.startswith("data: "):
                item = json.loads(line[6:])
                break
    assert (item["kind"], item["message"]["text"]["content"]) == ("custom", "三，实时")


def test_the_console_url_check_and_bad_actions(ops: str) -> None:
    assert http("POST", f"{ops}/standin/sim/verify")[1]["ok"] is True
    for bad in ({"openid": "a b", "type": "text", "content": "x"}, {"openid": "o_x", "type": "sticker"}):
        assert http("POST", f"{ops}/standin/sim/send", bad)[0] == 400
    user_sends(ops, "o_twice", type="event", event="subscribe")
    status, body = http(
        "POST", f"{ops}/standin/sim/send", {"openid": "o_twice", "type": "event", "event": "subscribe"}
    )
    assert status == 409 and body["code"] == "already_subscribed"


def test_the_simulator_page_and_its_assets(ops: str) -> None:
    status, kind, page = get_bytes(f"{ops}/simulator")
    text = page.decode()
    assert status == 200 and kind.startswith("text/html")
    assert DEFAULT_ACCOUNT_ID in text and "安全" in text and '"mode": "safe"' in text
    for asset, mime in (("simulator.js", "javascript"), ("simulator.css", "text/css")):
        status, kind, body = get_bytes(f"{ops}/simulator/{asset}")
        assert status == 200 and mime in kind and body


# ------------------------------------------------------------------ standalone


def test_standalone_standin_in_plaintext_mode_with_dev_credentials(
    tmp_path: Path, redis_url: str, receiver: Receiver
) -> None:
    """``python -m bot standin`` alone, no WeChat variables: dev credentials, plaintext pushes."""
    env = {
        "REDIS_URL": _other_db(redis_url, 9),  # its own stand-in: a different account in another DB
        "WECHAT_APPID": "",
        "WECHAT_APPSECRET": "",
        "WECHAT_TOKEN": "",
        "WECHAT_ENCODING_AES_KEY": "",
        "CARELOOP_WECHAT_CONNECTOR_URL": receiver.url("dev"),
    }
    proc, base = _serve(["-m", "bot", "standin"], env, tmp_path, "standin")
    try:
        assert http("POST", f"{base}/standin/control/reset")[0] == 200
        sent = user_sends(base, "o_dev", content="明文")
        assert sent["ok"] and sent["mode"] == "plaintext"
        [push] = receiver.received("o_dev")
        assert "encrypt_type" not in push["query"] and push["msg"]["Content"] == "明文"
        wx = StandinClient(api(base), DEV_APPID, DEV_SECRET, auto_retry=False)
        assert wx.message.send_text("o_dev", "收到")["errcode"] == 0
    finally:
        stop(proc)
