"""WeChat's side of a callback, built with wechatpy only (not with CareLoop's protocol code)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner


def new_msg_id() -> int:
    """Unique across runs: WeChat de-duplication remembers MsgIds in Redis for days, and a library
    that seeds the global ``random`` (the Rasa model does) would replay the same ids run after run."""
    return 2**60 + secrets.randbelow(2**62)


ACCOUNT = "gh_careloop000001"


def sha1_sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def message_xml(fields: dict[str, str | int]) -> str:
    parts = []
    for key, value in fields.items():
        parts.append(
            f"<{key}>{value}</{key}>" if isinstance(value, int) else f"<{key}><![CDATA[{value}]]></{key}>"
        )
    return "<xml>" + "".join(parts) + "</xml>"


def text_message(openid: str, content: str, msg_id: int | None = None, **extra: str) -> dict[str, str | int]:
    return {
        "ToUserName": ACCOUNT,
        "FromUserName": openid,
        "CreateTime": int(time.time()),
        "MsgType": "text",
        "Content": content,
        "MsgId": msg_id or new_msg_id(),
        **extra,
    }


def event_message(openid: str, event: str, key: str = "", created: int | None = None) -> dict[str, str | int]:
    fields: dict[str, str | int] = {
        "ToUserName": ACCOUNT,
        "FromUserName": openid,
        "CreateTime": created or int(time.time()),
        "MsgType": "event",
        "Event": event,
    }
    if key:
        fields["EventKey"] = key
    return fields


@dataclass
class WeChatSide:
    token: str
    appid: str
    aes_key: str = ""
    mode: str = "plaintext"  # plaintext | compatible | safe

    def post(
        self, fields: dict[str, str | int], timestamp: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        """(query, body) of one callback as WeChat sends it."""
        ts, nonce = str(timestamp or int(time.time())), secrets.token_hex(5)
        query = {
            "signature": sha1_sign(self.token, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "openid": str(fields["FromUserName"]),
        }
        plain = message_xml(fields)
        if self.mode == "plaintext":
            return query, plain.encode()
        reply = xmltodict.parse(
            WeChatCrypto(self.token, self.aes_key, self.appid).encrypt_message(plain, nonce, ts)
        )
        encrypt = reply["xml"]["Encrypt"]
        query.update(encrypt_type="aes", msg_signature=sha1_sign(self.token, ts, nonce, encrypt))
        if self.mode == "safe":
            body = (
                f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
            )
        else:  # compatible: plaintext fields and Encrypt side by side
            body = plain[: -len("</xml>")] + f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        return query, body.encode()
