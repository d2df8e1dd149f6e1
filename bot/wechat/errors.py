"""Typed WeChat API errors: what to do about a failure is decided by its type, once, here."""

from __future__ import annotations


class WeChatError(Exception):
    """Base class. ``code`` is WeChat's errcode (or None for transport failures)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientError(WeChatError):
    """Try again later: network trouble, WeChat busy (-1), rate limited (45009), HTTP 5xx."""


class PermanentError(WeChatError):
    """Retrying cannot help: bad openid, unsubscribed user, invalid content. A dead letter."""


class TokenError(TransientError):
    """The access token was rejected (40001/40014/42001): refreshed and retried once, then later."""


class OutsideWindowError(WeChatError):
    """The customer-service window is closed (45015: over 48 h; 45047: allowance used)."""


class ConfigurationError(PermanentError):
    """Wrong appid/secret (40013/40125) or an IP not whitelisted (40164)."""


TOKEN_CODES = frozenset({40001, 40014, 42001})
WINDOW_CODES = frozenset({45015, 45047})
TRANSIENT_CODES = frozenset({-1, 45009, 45011, 45033, 48008})
CONFIG_CODES = frozenset({40013, 40125, 40164, 41002, 41004})


def classify(code: int, message: str) -> WeChatError:
    """The typed error for a WeChat errcode."""
    text = f"WeChat error {code}: {message}"
    if code in TOKEN_CODES:
        return TokenError(text, code)
    if code in WINDOW_CODES:
        return OutsideWindowError(text, code)
    if code in TRANSIENT_CODES:
        return TransientError(text, code)
    if code in CONFIG_CODES:
        return ConfigurationError(text, code)
    return PermanentError(text, code)
