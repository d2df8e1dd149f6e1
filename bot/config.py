"""Settings from the environment, in one place, with documented defaults.

Every process (Rasa server, action server, ops server, worker) builds its settings from the same
variables, so they agree on where the database and Redis are without passing flags around.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.cpus import CpuListError, model_setting

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting is present but unusable; raised at start-up, never mid-conversation."""


def async_database_url(url: str) -> str:
    """Map the URLs people paste (postgres://, sqlite:///) to the async drivers we use."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite:///") or url.startswith("sqlite+pysqlite:///"):
        return "sqlite+aiosqlite:///" + url.split(":///", 1)[1]
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        return url
    raise ConfigError(f"unsupported DATABASE_URL scheme: {url.split('://', 1)[0]!r}")


def sync_database_url(url: str) -> str:
    """The same database for code that only speaks synchronous drivers (Rasa's tracker store)."""
    url = async_database_url(url)
    if url.startswith("postgresql+asyncpg://"):
        return "postgresql+psycopg2://" + url[len("postgresql+asyncpg://") :]
    return "sqlite:///" + url.split(":///", 1)[1]


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _model_cpus(env: Mapping[str, str], name: str) -> frozenset[int] | None:
    try:
        return model_setting(env.get(name, ""))
    except CpuListError as exc:
        raise ConfigError(f"{name}: {exc}") from exc


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """The variable's value, or the first choice when unset; anything else is a ConfigError."""
    value = env.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


WECHAT_API = "https://api.weixin.qq.com/cgi-bin/"


@dataclass(frozen=True)
class WeChatSettings:
    """The official account. Without an AES key the account runs in plaintext mode."""

    appid: str = ""
    secret: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    api_base_url: str = WECHAT_API
    #: Template for messages outside the 48-hour window (optional; see the README).
    template_id: str = ""
    #: Menu CLICK keys → intents (``WECHAT_MENU_KEYS=complain:complain,status:ask_case_status``).
    menu_intents: tuple[tuple[str, str], ...] = (
        ("complain", "complain"),
        ("case_status", "ask_case_status"),
        ("human", "request_human"),
    )
    max_timestamp_skew: int = 300
    #: Messages handled at once per Rasa process. Enough to keep the model busy while some wait on the
    #: action server or the database; more only reorders and delays replies (bench/wechat_vs_rest.py).
    concurrency: int = 4
    #: ``direct``: the Rasa server sends replies itself; ``queue``: the worker does (bot/wechat/outbound.py).
    outbound: str = "direct"

    @property
    def configured(self) -> bool:
        return bool(self.appid and self.secret and self.token)

    @property
    def encrypted(self) -> bool:
        return bool(self.encoding_aes_key)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WeChatSettings:
        keys = env.get("WECHAT_MENU_KEYS", "").strip()
        menu = cls.menu_intents
        if keys:
            try:
                menu = tuple((k.strip(), v.strip()) for k, v in (p.split(":", 1) for p in keys.split(",")))
            except ValueError as exc:
                raise ConfigError("WECHAT_MENU_KEYS looks like key:intent,key:intent") from exc
        aes = env.get("WECHAT_ENCODING_AES_KEY", "").strip()
        if aes and len(aes) != 43:
            raise ConfigError("WECHAT_ENCODING_AES_KEY must be the 43-character key from the WeChat console")
        base = env.get("WECHAT_API_BASE_URL", "").strip() or WECHAT_API
        return cls(
            appid=env.get("WECHAT_APPID", "").strip(),
            secret=env.get("WECHAT_APPSECRET", "").strip(),
            token=env.get("WECHAT_TOKEN", "").strip(),
            encoding_aes_key=aes,
            api_base_url=base if base.endswith("/") else base + "/",
            template_id=env.get("WECHAT_TEMPLATE_ID", "").strip(),
            menu_intents=menu,
            max_timestamp_skew=_int(env, "WECHAT_MAX_TIMESTAMP_SKEW", 300),
            concurrency=max(1, _int(env, "WECHAT_CONCURRENCY", 4)),
            outbound=_choice(env, "WECHAT_OUTBOUND", ("direct", "queue")),
        )


@dataclass(frozen=True)
class Settings:
    """What every CareLoop process needs to know about its surroundings."""

    var_dir: Path
    database_url: str
    #: None means "use the embedded Redis server on ``embedded_redis_port``".
    redis_url_override: str | None
    embedded_redis_port: int = 6479
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""
    rasa_port: int = 5005
    action_port: int = 5055
    ops_host: str = "127.0.0.1"
    ops_port: int = 8080
    #: The WeChat callback front (``python -m bot wechat``): WeChat's callback URL points here.
    wechat_front_host: str = "127.0.0.1"
    wechat_front_port: int = 5006
    timezone: str = "Asia/Shanghai"
    #: The service hotline the bot gives to "客服电话是多少" (``CARELOOP_HOTLINE``, free text such as
    #: "400-800-1234（每天 9:00-21:00）"); empty: the customer is told to write here or ask for a person.
    hotline: str = ""
    sla_policy_path: Path = field(default=PROJECT_ROOT / "bot" / "cases" / "sla_policy.yml")
    #: Keys accepted in ``X-API-Key`` by the ops API (``CARELOOP_API_KEYS``, comma-separated).
    api_keys: tuple[str, ...] = ()
    wechat: WeChatSettings = field(default_factory=lambda: WeChatSettings())
    #: Serve the WeChat stand-in and the phone simulator on the ops server (``CARELOOP_WECHAT_STANDIN=1``).
    wechat_standin: bool = False
    #: CPUs reserved for the Rasa server (``CARELOOP_MODEL_CPUS=0``); the other processes get the rest
    #: (the WeChat front any CPU: bot/run.py's ``FLOATING``).
    #: None (``auto``, the default): the first CPU of two or more; empty (``none``): no pinning (bot/cpus.py).
    model_cpus: frozenset[int] | None = None

    @property
    def redis_url(self) -> str:
        return self.redis_url_override or f"redis://127.0.0.1:{self.embedded_redis_port}/0"

    @property
    def uses_embedded_redis(self) -> bool:
        return self.redis_url_override is None

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        var_dir = Path(env.get("CARELOOP_VAR_DIR") or PROJECT_ROOT / "var").resolve()
        db = env.get("DATABASE_URL", "").strip() or f"sqlite:///{var_dir / 'careloop.db'}"
        return cls(
            var_dir=var_dir,
            database_url=async_database_url(db),
            redis_url_override=env.get("REDIS_URL", "").strip() or None,
            embedded_redis_port=_int(env, "CARELOOP_EMBEDDED_REDIS_PORT", 6479),
            rasa_url=env.get("CARELOOP_RASA_URL", "").strip()
            or f"http://127.0.0.1:{_int(env, 'CARELOOP_RASA_PORT', 5005)}",
            rasa_port=_int(env, "CARELOOP_RASA_PORT", 5005),
            rasa_token=env.get("RASA_TOKEN", "").strip(),
            action_port=_int(env, "CARELOOP_ACTION_PORT", 5055),
            ops_host=env.get("CARELOOP_OPS_HOST", "").strip() or "127.0.0.1",
            ops_port=_int(env, "CARELOOP_OPS_PORT", 8080),
            wechat_front_host=env.get("CARELOOP_WECHAT_HOST", "").strip() or "127.0.0.1",
            wechat_front_port=_int(env, "CARELOOP_WECHAT_PORT", 5006),
            timezone=env.get("CARELOOP_TIMEZONE", "").strip() or "Asia/Shanghai",
            hotline=env.get("CARELOOP_HOTLINE", "").strip(),
            sla_policy_path=Path(
                env.get("CARELOOP_SLA_POLICY") or PROJECT_ROOT / "bot" / "cases" / "sla_policy.yml"
            ),
            api_keys=tuple(k.strip() for k in env.get("CARELOOP_API_KEYS", "").split(",") if k.strip()),
            wechat=WeChatSettings.from_env(env),
            wechat_standin=env.get("CARELOOP_WECHAT_STANDIN", "").strip() == "1",
            model_cpus=_model_cpus(env, "CARELOOP_MODEL_CPUS"),
        )
