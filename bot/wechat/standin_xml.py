"""The WeChat server's side of the callback protocol, for the stand-in: message XML, signing, encryption,
and reading a passive reply. Signing and AES come from wechatpy so both ends share one implementation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from bot.wechat.standin_config import Mode

#: Fields WeChat writes as bare numbers; everything else goes in CDATA (as in Tencent's samples).
NUMERIC_FIELDS = frozenset({"CreateTime", "MsgId", "MsgID", "Location_X", "Location_Y", "Scale"})


def cdata(value: str) -> str:
    """CDATA cannot contain ``]]>``: split it across two sections, as XML writers do."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def build_xml(fields: Sequence[tuple[str, str | int]]) -> str:
    """One flat message in WeChat's layout (no whitespace between elements)."""
    parts = []
    for name, value in fields:
        text = str(value) if name in NUMERIC_FIELDS else cdata(str(value))
        parts.append(f"<{name}>{text}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def signature(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    """sha1 over the sorted values: ``signature`` without extra, ``msg_signature`` with Encrypt."""
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce, *extra)
    return str(signer.signature)


@dataclass(frozen=True)
class Callback:
    """One POST to the connector: its query string and body."""

    query: dict[str, str]
    body: str


def callback_request(
    *,
    mode: Mode,
    token: str,
    crypto: WeChatCrypto | None,
    fields: Sequence[tuple[str, str | int]],
    openid: str,
    timestamp: str,
    nonce: str,
) -> Callback:
    """Sign and, in compatible/safe mode, encrypt a message exactly as WeChat posts it."""
    plain = build_xml(fields)
    query = {"signature": signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    query["openid"] = openid
    if not mode.encrypted:
        return Callback(query, plain)
    if crypto is None:
        raise ValueError(f"{mode.value} mode needs the AES key")
    envelope = xmltodict.parse(crypto.encrypt_message(plain, nonce, timestamp))["xml"]
    encrypt = envelope["Encrypt"]
    query["encrypt_type"] = "aes"
    query["msg_signature"] = envelope["MsgSignature"]
    to_user = dict(fields)["ToUserName"]
    if mode is Mode.SAFE:
        body = build_xml([("ToUserName", to_user), ("Encrypt", encrypt)])
    else:
        body = build_xml([*fields, ("Encrypt", encrypt)])
    return Callback(query, body)


class ReplyError(ValueError):
    """The connector answered something WeChat would not accept; the user sees an error notice."""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def reply_to_message(reply: Mapping[str, Any]) -> dict[str, Any]:
    """A passive reply in the shape of the customer-service API's JSON, so the page draws one kind."""
    kind = _text(reply.get("MsgType"))
    if kind == "text":
        return {"msgtype": "text", "text": {"content": _text(reply.get("Content"))}}
    if kind in ("image", "voice"):
        media = reply.get(kind.capitalize()) or {}
        return {"msgtype": kind, kind: {"media_id": _text(media.get("MediaId"))}}
    if kind == "video":
        video = reply.get("Video") or {}
        return {"msgtype": "video", "video": {k.lower(): _text(v) for k, v in video.items()}}
    if kind == "news":
        items = _as_list((reply.get("Articles") or {}).get("item"))
        articles = [
            {
                "title": _text(a.get("Title")),
                "description": _text(a.get("Description")),
                "url": _text(a.get("Url")),
                "picurl": _text(a.get("PicUrl")),
            }
            for a in items
        ]
        if not articles:
            raise ReplyError("news reply without articles")
        return {"msgtype": "news", "news": {"articles": articles}}
    if kind == "transfer_customer_service":
        return {"msgtype": "transfer_customer_service"}
    if kind == "music":
        music = reply.get("Music") or {}
        return {"msgtype": "music", "music": {k.lower(): _text(v) for k, v in music.items()}}
    raise ReplyError(f"unknown reply MsgType {kind!r}")


def parse_reply(
    body: str, *, mode: Mode, crypto: WeChatCrypto | None, openid: str, account_id: str
) -> dict[str, Any] | None:
    """None for "no reply" (``success`` or empty); the message for a valid passive reply."""
    body = body.strip()
    if body in ("", "success"):
        return None
    try:
        doc = xmltodict.parse(body)["xml"]
    except Exception as exc:  # any parser complaint means WeChat would reject the answer
        raise ReplyError(f"answer is neither 'success' nor reply XML: {body[:80]!r}") from exc
    if not isinstance(doc, dict):
        raise ReplyError("empty reply XML")
    if "Encrypt" in doc:
        if not mode.encrypted or crypto is None:
            raise ReplyError("encrypted reply in plaintext mode")
        try:
            plain = crypto.decrypt_message(
                doc, _text(doc.get("MsgSignature")), _text(doc.get("TimeStamp")), _text(doc.get("Nonce"))
            )
            doc = xmltodict.parse(plain)["xml"]
        except Exception as exc:
            raise ReplyError(f"reply does not decrypt or verify: {type(exc).__name__}") from exc
    elif mode is Mode.SAFE:
        raise ReplyError("plaintext reply in safe mode")
    if _text(doc.get("ToUserName")) != openid:
        raise ReplyError("reply ToUserName is not the user's openid")
    if _text(doc.get("FromUserName")) != account_id:
        raise ReplyError("reply FromUserName is not the account's id")
    return reply_to_message(doc)
