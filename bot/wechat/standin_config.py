"""What the local WeChat stand-in needs to know, read from the environment in one place.

The stand-in plays the WeChat server for one official account: it issues tokens for that account's
appid/secret and signs/encrypts what "the user" sends with that account's token and AES key, so it takes
them from the same ``WECHAT_*`` variables the connector and the gateway read.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from bot.config import ConfigError, Settings

logger = logging.getLogger(__name__)

#: Used when ``WECHAT_APPID``/``WECHAT_APPSECRET``/``WECHAT_TOKEN`` are unset, so ``python -m bot standin``
#: works on a fresh checkout. Processes that talk to the stand-in must then be given the same values.
DEV_APPID = "wxc4e1000000000001"
DEV_SECRET = "c4e100standin00000000000000000001"
DEV_TOKEN = "careloopstandin"
DEFAULT_ACCOUNT_ID = "gh_careloop000001"
DEFAULT_STANDIN_PORT = 8090


class Mode(str, Enum):
    """The console's "message encryption mode" (消息加解密方式)."""

    PLAINTEXT = "plaintext"  # 明文模式
    COMPATIBLE = "compatible"  # 兼容模式: plaintext fields and Encrypt side by side
    SAFE = "safe"  # 安全模式: only Encrypt

    @property
    def label(self) -> str:
        return {"plaintext": "明文", "compatible": "兼容", "safe": "安全"}[self.value]

    @property
    def encrypted(self) -> bool:
        return self is not Mode.PLAINTEXT


def parse_mode(raw: str, has_aes_key: bool) -> Mode:
    """Empty means what the account allows: safe with an AES key, plaintext without."""
    raw = raw.strip().lower()
    if not raw:
        return Mode.SAFE if has_aes_key else Mode.PLAINTEXT
    try:
        mode = Mode(raw)
    except ValueError as exc:
        raise ConfigError(
            f"CARELOOP_STANDIN_MODE must be one of {[m.value for m in Mode]}, got {raw!r}"
        ) from exc
    if mode.encrypted and not has_aes_key:
        raise ConfigError(f"CARELOOP_STANDIN_MODE={mode.value} needs WECHAT_ENCODING_AES_KEY")
    return mode


@dataclass(frozen=True)
class StandinConfig:
    """The account the stand-in emulates and where it delivers the user's messages."""

    appid: str
    secret: str
    token: str
    encoding_aes_key: str
    #: The official account's original id (原始ID), ToUserName of every message the user sends.
    account_id: str
    #: The connector's callback URL (the URL configured in the WeChat console).
    connector_url: str
    mode: Mode
    redis_url: str

    @property
    def dev_credentials(self) -> bool:
        return self.appid == DEV_APPID

    @classmethod
    def from_settings(cls, settings: Settings, env: Mapping[str, str] | None = None) -> StandinConfig:
        env = os.environ if env is None else env
        wechat = settings.wechat
        if wechat.configured:
            appid, secret, token = wechat.appid, wechat.secret, wechat.token
        else:
            logger.warning(
                "WECHAT_APPID/WECHAT_APPSECRET/WECHAT_TOKEN unset: the stand-in uses dev credentials"
            )
            appid, secret, token = DEV_APPID, DEV_SECRET, DEV_TOKEN
        connector = env.get("CARELOOP_WECHAT_CONNECTOR_URL", "").strip()
        return cls(
            appid=appid,
            secret=secret,
            token=token,
            encoding_aes_key=wechat.encoding_aes_key,
            account_id=env.get("WECHAT_ACCOUNT_ID", "").strip() or DEFAULT_ACCOUNT_ID,
            connector_url=connector or f"http://127.0.0.1:{settings.rasa_port}/webhooks/wechat/webhook",
            mode=parse_mode(env.get("CARELOOP_STANDIN_MODE", ""), bool(wechat.encoding_aes_key)),
            redis_url=settings.redis_url,
        )
