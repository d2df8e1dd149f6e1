"""Conformance with published WeChat samples (shared/wechat/test-vectors.json)."""

from __future__ import annotations

import json

import pytest
import xmltodict

from bot.config import PROJECT_ROOT
from bot.wechat.protocol import (
    BadRequest,
    CallbackVerifier,
    Forbidden,
    InboundMessage,
    decrypt_wecom_echo,
    decrypt_wecom_message,
    parse_xml,
    sign,
)

VECTORS = json.loads((PROJECT_ROOT.parent / "shared/wechat/test-vectors.json").read_text(encoding="utf-8"))


def test_the_published_plain_signature() -> None:
    v = VECTORS["plain_signature"]
    assert sign(v["token"], v["timestamp"], v["nonce"]) == v["signature"]
    verifier = CallbackVerifier(v["token"], "wx-any", skew=10**10)
    query = {"signature": v["signature"], "timestamp": v["timestamp"], "nonce": v["nonce"], "echostr": "hi"}
    assert verifier.verify_url(query) == "hi"
    with pytest.raises(Forbidden):
        verifier.verify_url({**query, "signature": v["signature"][:-1] + "0"})


def test_the_published_official_account_message_decrypts() -> None:
    v = VECTORS["official_account_encrypted_text"]
    verifier = CallbackVerifier(v["token"], v["appid"], v["encoding_aes_key"], skew=10**10)
    query = {
        "signature": sign(v["token"], v["timestamp"], v["nonce"]),
        "timestamp": v["timestamp"],
        "nonce": v["nonce"],
        "encrypt_type": "aes",
        "msg_signature": v["msg_signature"],
    }
    message = verifier.open(query, v["post_body"].encode())
    d = v["decrypted"]
    assert (
        message.account,
        message.openid,
        message.created,
        message.kind,
        message.content,
        message.msg_id,
    ) == (d["ToUserName"], d["FromUserName"], int(d["CreateTime"]), d["MsgType"], d["Content"], d["MsgId"])


def test_the_sample_is_refused_when_anything_is_off() -> None:
    v = VECTORS["official_account_encrypted_text"]
    query = {
        "signature": sign(v["token"], v["timestamp"], v["nonce"]),
        "timestamp": v["timestamp"],
        "nonce": v["nonce"],
        "encrypt_type": "aes",
        "msg_signature": v["msg_signature"],
    }
    body = v["post_body"].encode()
    with pytest.raises(Forbidden):  # another account's AppID
        CallbackVerifier(v["token"], "wx0000000000000000", v["encoding_aes_key"], skew=10**10).open(
            query, body
        )
    with pytest.raises(Forbidden):  # a tampered msg_signature
        CallbackVerifier(v["token"], v["appid"], v["encoding_aes_key"], skew=10**10).open(
            {**query, "msg_signature": "0" * 40}, body
        )
    with pytest.raises(Forbidden):  # the real sample, replayed years later
        CallbackVerifier(v["token"], v["appid"], v["encoding_aes_key"]).open(query, body)


def test_the_published_wecom_samples() -> None:
    v = VECTORS["wecom_url_verification"]
    query = {
        "msg_signature": v["msg_signature"],
        "timestamp": v["timestamp"],
        "nonce": v["nonce"],
        "echostr": v["echostr"],
    }
    assert (
        decrypt_wecom_echo(v["token"], v["encoding_aes_key"], v["corp_id"], query) == v["echostr_decrypted"]
    )
    with pytest.raises(Forbidden):
        decrypt_wecom_echo(v["token"], v["encoding_aes_key"], v["corp_id"], {**query, "nonce": "1"})
    m = VECTORS["wecom_encrypted_text"]
    body = (
        f"<xml><ToUserName><![CDATA[{m['corp_id']}]]></ToUserName>"
        f"<Encrypt><![CDATA[{m['encrypt']}]]></Encrypt></xml>"
    ).encode()
    query = {"msg_signature": m["msg_signature"], "timestamp": m["timestamp"], "nonce": m["nonce"]}
    xml = decrypt_wecom_message(m["token"], m["encoding_aes_key"], m["corp_id"], query, body)
    assert {k: xml[k] for k in m["decrypted"]} == m["decrypted"]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<xml>",
        b"<notxml/>",
        b"<!DOCTYPE x [<!ENTITY a 'b'>]><xml><a>&a;</a></xml>",
        b"<xml><a>" + b"x" * 70_000 + b"</a></xml>",
    ],
)
def test_bad_xml_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_xml(body)


def test_xml_reads_as_xmltodict_reads_it() -> None:
    """WeChat's nested events (photo menus, scans) and padded or empty fields come out as they did
    when xmltodict parsed them: stripped text, None when empty, children by tag, repeats as a list."""
    body = (
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o_1]]></FromUserName>"
        "<CreateTime>1763600000</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[pic_weixin]]></Event><EventKey><![CDATA[photo]]></EventKey>"
        "<SendPicsInfo><Count>2</Count><PicList><item><PicMd5Sum><![CDATA[a1]]></PicMd5Sum></item>"
        "<item><PicMd5Sum><![CDATA[b2]]></PicMd5Sum></item></PicList></SendPicsInfo>"
        "<ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult><![CDATA[ 1 ]]></ScanResult></ScanCodeInfo>"
        "<Content><![CDATA[  师傅很专业👍  ]]></Content><MenuId></MenuId><Empty/></xml>"
    ).encode()
    expected = xmltodict.parse(body, disable_entities=True)["xml"]
    assert parse_xml(body) == expected
    assert parse_xml(body)["SendPicsInfo"]["PicList"]["item"] == [{"PicMd5Sum": "a1"}, {"PicMd5Sum": "b2"}]
    assert (parse_xml(body)["Content"], parse_xml(body)["MenuId"]) == ("师傅很专业👍", None)


def test_dedupe_keys() -> None:
    text = InboundMessage.from_xml(
        {"FromUserName": "o1", "MsgType": "text", "CreateTime": "5", "MsgId": "42"}
    )
    event = InboundMessage.from_xml(
        {"FromUserName": "o1", "MsgType": "event", "CreateTime": "5", "Event": "CLICK"}
    )
    assert (text.dedupe_key, event.dedupe_key) == ("msg:42", "evt:o1:5:click")
    with pytest.raises(BadRequest):
        InboundMessage.from_xml({"MsgType": "text"})


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("/:strong", "[强]"),
        ("/:weak/:weak 太慢了", "[弱][弱] 太慢了"),
        ("好的/::)谢谢", "好的[微笑]谢谢"),
        ("/::-O/::-|/::'(/::’(", "[哈欠][尴尬][大哭][大哭]"),  # longest code first; both apostrophes
        ("/:,@-D/:,@f/::@", "[愉快][奋斗][发怒]"),
        ("[捂脸] 已经是名字的不动", "[捂脸] 已经是名字的不动"),
        ("见 https://m.example.com/a/b?x=1 ，比例 3/4", "见 https://m.example.com/a/b?x=1 ，比例 3/4"),
    ],
)
def test_wechat_face_codes_are_read_as_their_names(sent: str, read: str) -> None:
    xml = {"FromUserName": "o1", "MsgType": "text", "Content": sent, "MsgId": "1"}
    assert InboundMessage.from_xml(xml).content == read
