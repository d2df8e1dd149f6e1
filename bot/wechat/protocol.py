"""The WeChat callback protocol, as pure functions over (query, body): verify, decrypt, parse.

Every refusal is typed: ``Forbidden`` (403: forged, stale or for another account) or ``BadRequest``
(400: malformed, oversized, entity-expanding XML). Nothing here does I/O.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, fromstring

from wechatpy.crypto import InvalidAppIdException, PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import WeChatSigner

from bot.wechat.faces import readable

MAX_BODY_BYTES = 64 * 1024


class ProtocolError(Exception):
    status = 400


class Forbidden(ProtocolError):
    status = 403


class BadRequest(ProtocolError):
    status = 400


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted, concatenated parts."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def _same(a: str | None, b: str) -> bool:
    return bool(a) and hmac.compare_digest(str(a).encode(), b.encode())


def check_timestamp(timestamp: str | None, now: float, skew: int) -> None:
    try:
        sent = int(timestamp or "")
    except ValueError:
        raise Forbidden("missing or malformed timestamp") from None
    if abs(now - sent) > skew:
        raise Forbidden(f"timestamp is {int(now - sent)} s off (more than {skew} s): refused as stale")


def parse_xml(body: bytes | str) -> dict[str, Any]:
    """The ``<xml>`` element as a dict; oversized, DTD-bearing or malformed XML is refused."""
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"body of {len(raw)} bytes is over the {MAX_BODY_BYTES}-byte limit")
    head = raw[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in raw.upper():
        raise BadRequest("XML with a DTD or entity declarations is refused")
    try:
        root = fromstring(raw)
    except Exception as exc:  # expat's errors, undefined entities among them
        raise BadRequest(f"malformed XML: {exc}") from None
    xml = _value(root) if root.tag == "xml" else None
    if not isinstance(xml, dict):
        raise BadRequest("no <xml> root element")
    return xml


def _value(element: Element) -> Any:
    """As xmltodict reads WeChat's XML, at a quarter of its cost (ElementTree's parser is C): a leaf's
    stripped text (None when empty), else its children by tag, a repeated tag as a list."""
    if len(element) == 0:
        return (element.text or "").strip() or None
    children: dict[str, Any] = {}
    for child in element:
        value = _value(child)
        if child.tag not in children:
            children[child.tag] = value
        elif isinstance(children[child.tag], list):
            children[child.tag].append(value)
        else:
            children[child.tag] = [children[child.tag], value]
    return children


@dataclass(frozen=True)
class InboundMessage:
    """One message or event from a customer, as the connector needs it."""

    openid: str
    account: str
    kind: str  # text, voice, image, event, or WeChat's own name for anything else
    created: int
    msg_id: str | None = None
    content: str = ""
    recognition: str = ""
    media_id: str = ""
    pic_url: str = ""
    event: str = ""
    event_key: str = ""
    menu_id: str = ""
    latitude: str = ""  # a location message: Location_X, Location_Y and WeChat's Label (the address)
    longitude: str = ""
    label: str = ""
    thumb_media_id: str = ""  # a video's still
    title: str = ""  # a shared link: its title, description and address
    description: str = ""
    url: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def dedupe_key(self) -> str:
        """WeChat retries carry the same MsgId; events have none, so FromUserName + CreateTime."""
        if self.msg_id:
            return f"msg:{self.msg_id}"
        return f"evt:{self.openid}:{self.created}:{self.event}"

    @classmethod
    def from_xml(cls, xml: Mapping[str, Any]) -> InboundMessage:
        def text(key: str) -> str:
            value = xml.get(key)
            return "" if value is None else str(value)

        openid, kind = text("FromUserName"), text("MsgType").lower()
        if not openid or not kind:
            raise BadRequest("FromUserName and MsgType are required")
        try:
            created = int(text("CreateTime") or "0")
        except ValueError:
            raise BadRequest("CreateTime must be a number") from None
        return cls(
            openid=openid,
            account=text("ToUserName"),
            kind=kind,
            created=created,
            msg_id=text("MsgId") or None,
            content=readable(text("Content")),
            recognition=text("Recognition"),
            media_id=text("MediaId"),
            pic_url=text("PicUrl"),
            event=text("Event").lower(),
            event_key=text("EventKey"),
            menu_id=text("bizmsgmenuid"),
            latitude=text("Location_X"),
            longitude=text("Location_Y"),
            label=text("Label"),
            thumb_media_id=text("ThumbMediaId"),
            title=text("Title"),
            description=text("Description"),
            url=text("Url"),
            raw=dict(xml),
        )


class CallbackVerifier:
    """Checks and opens callbacks for one official account."""

    def __init__(self, token: str, appid: str, encoding_aes_key: str = "", skew: int = 300) -> None:
        self.token = token
        self.appid = appid
        self.skew = skew
        self._crypto = WeChatCrypto(token, encoding_aes_key, appid) if encoding_aes_key else None

    def _check_signature(self, query: Mapping[str, str], now: float | None) -> None:
        signature = query.get("signature")
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if not _same(signature, sign(self.token, timestamp, nonce)):
            raise Forbidden("missing or wrong signature")
        check_timestamp(timestamp, time.time() if now is None else now, self.skew)

    def verify_url(self, query: Mapping[str, str], now: float | None = None) -> str:
        """GET URL verification: echo ``echostr`` back when the signature is right."""
        self._check_signature(query, now)
        echostr = query.get("echostr")
        if not echostr:
            raise BadRequest("echostr is required")
        return echostr

    def open(self, query: Mapping[str, str], body: bytes, now: float | None = None) -> InboundMessage:
        """A verified, decrypted, parsed message, or a ``ProtocolError``."""
        self._check_signature(query, now)
        xml = parse_xml(body)
        encrypted = query.get("encrypt_type", "raw").lower() == "aes"
        if self._crypto is None:
            if encrypted or ("Encrypt" in xml and "MsgType" not in xml):
                raise BadRequest("an encrypted message, but no EncodingAESKey is configured")
            return InboundMessage.from_xml(xml)
        if not encrypted or "Encrypt" not in xml:
            raise BadRequest("safe mode: the message must be encrypted")
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if not _same(query.get("msg_signature"), sign(self.token, timestamp, nonce, str(xml["Encrypt"]))):
            raise Forbidden("missing or wrong msg_signature")
        try:
            plain = self._crypto.decrypt_message(xml, query["msg_signature"], timestamp, nonce)
        except InvalidAppIdException:
            raise Forbidden("the message is for another account") from None
        except InvalidSignatureException:
            raise Forbidden("missing or wrong msg_signature") from None
        except Exception as exc:  # bad base64, padding, length
            raise BadRequest(f"cannot decrypt: {type(exc).__name__}") from None
        return InboundMessage.from_xml(parse_xml(plain))


def decrypt_wecom_echo(token: str, encoding_aes_key: str, corp_id: str, query: Mapping[str, str]) -> str:
    """WeCom's URL verification: the echostr is encrypted and signed with msg_signature."""
    from wechatpy.work.crypto import WeChatCrypto as WorkCrypto

    timestamp, nonce, echostr = query.get("timestamp", ""), query.get("nonce", ""), query.get("echostr", "")
    if not _same(query.get("msg_signature"), sign(token, timestamp, nonce, echostr)):
        raise Forbidden("missing or wrong msg_signature")
    try:
        return str(
            WorkCrypto(token, encoding_aes_key, corp_id).check_signature(
                query["msg_signature"], timestamp, nonce, echostr
            )
        )
    except InvalidAppIdException:
        raise Forbidden("the message is for another corp") from None
    except Exception as exc:
        raise BadRequest(f"cannot decrypt: {type(exc).__name__}") from None


def decrypt_wecom_message(
    token: str, encoding_aes_key: str, corp_id: str, query: Mapping[str, str], body: bytes
) -> dict[str, Any]:
    """A WeCom callback body (same AES scheme, corp id instead of app id), parsed."""
    from wechatpy.work.crypto import WeChatCrypto as WorkCrypto

    xml = parse_xml(body)
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    if not _same(query.get("msg_signature"), sign(token, timestamp, nonce, str(xml.get("Encrypt", "")))):
        raise Forbidden("missing or wrong msg_signature")
    try:
        plain = WorkCrypto(token, encoding_aes_key, corp_id).decrypt_message(
            xml, query["msg_signature"], timestamp, nonce
        )
    except InvalidAppIdException:
        raise Forbidden("the message is for another corp") from None
    except Exception as exc:
        raise BadRequest(f"cannot decrypt: {type(exc).__name__}") from None
    return parse_xml(plain)


def encrypt_for_test(
    token: str, encoding_aes_key: str, appid: str, xml: str, nonce: str, timestamp: str
) -> tuple[str, str]:
    """(encrypted body, msg_signature) as WeChat would send them; for stand-ins and tests."""
    body = WeChatCrypto(token, encoding_aes_key, appid).encrypt_message(xml, nonce, timestamp)
    parsed = parse_xml(body)
    return (
        f"<xml><ToUserName><![CDATA[{appid}]]></ToUserName><Encrypt><![CDATA[{parsed['Encrypt']}]]></Encrypt></xml>",
        str(parsed["MsgSignature"]),
    )


__all__ = [
    "BadRequest",
    "CallbackVerifier",
    "Forbidden",
    "InboundMessage",
    "ProtocolError",
    "PrpCrypto",
    "check_timestamp",
    "decrypt_wecom_echo",
    "decrypt_wecom_message",
    "encrypt_for_test",
    "parse_xml",
    "sign",
]
