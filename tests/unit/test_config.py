"""Settings from the environment: the WeChat process layout."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings


def test_replies_are_sent_by_the_rasa_server_unless_queued_for_the_worker() -> None:
    assert Settings.from_env({}).wechat.outbound == "direct"
    assert Settings.from_env({"WECHAT_OUTBOUND": " Queue "}).wechat.outbound == "queue"


def test_a_misspelt_outbound_mode_is_refused_with_the_variable_named() -> None:
    with pytest.raises(ConfigError, match="WECHAT_OUTBOUND must be one of direct, queue"):
        Settings.from_env({"WECHAT_OUTBOUND": "worker"})


def test_the_front_listens_where_it_is_told() -> None:
    default = Settings.from_env({})
    assert (default.wechat_front_host, default.wechat_front_port, default.wechat.concurrency) == (
        "127.0.0.1",
        5006,
        4,
    )
    moved = Settings.from_env({"CARELOOP_WECHAT_HOST": "0.0.0.0", "CARELOOP_WECHAT_PORT": "7006"})
    assert (moved.wechat_front_host, moved.wechat_front_port) == ("0.0.0.0", 7006)
