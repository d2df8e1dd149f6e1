"""`make run`'s process table: the command lines honcho starts."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.config import PROJECT_ROOT, ConfigError, Settings
from bot.cpus import CpuListError, available_cpus, can_pin, parse_cpu_list, plan
from bot.run import pin_to_cpus, processes


@pytest.mark.parametrize("token", ["-5kQ2_pZx9", "plain_Token-42", "--looks-like-an-option"])
def test_the_rasa_server_gets_its_auth_token_whatever_the_token_starts_with(
    tmp_path: Path, token: str
) -> None:
    """A generated token starts with "-" one time in 64; Rasa must still read it as the token."""
    from rasa.__main__ import create_argument_parser

    settings = Settings.from_env({"CARELOOP_VAR_DIR": str(tmp_path), "RASA_TOKEN": token})
    argv = shlex.split(processes(settings, available=frozenset({0}))["rasa"])  # one CPU: not pinned
    assert argv[1:3] == ["-m", "bot.rasa_server"]  # `rasa run` with the action-answer fix
    args = create_argument_parser().parse_args(argv[3:])
    assert args.auth_token == token
    assert args.enable_api and args.port == settings.rasa_port


def test_a_cpu_list_reads_like_linux_cpusets() -> None:
    assert parse_cpu_list("0") == {0}
    assert parse_cpu_list("0,2-3") == {0, 2, 3}
    assert parse_cpu_list(" ") == frozenset()
    for bad in ("zero", "3-1", "-1", "0-"):
        with pytest.raises(CpuListError):
            parse_cpu_list(bad)


def _wechat_settings(tmp_path: Path, **env: str) -> Settings:
    wechat = {"WECHAT_APPID": "wx1", "WECHAT_APPSECRET": "s", "WECHAT_TOKEN": "t"}
    return Settings.from_env({"CARELOOP_VAR_DIR": str(tmp_path), "RASA_TOKEN": "t", **wechat, **env})


def _cpus_of(cmd: str) -> str | None:
    """The CPU list a command line is pinned to, or None if it is not pinned."""
    argv = shlex.split(cmd)
    return argv[4] if argv[1:4] == ["-m", "bot", "pin"] else None


@pytest.mark.skipif(not can_pin(), reason="needs Linux CPU affinity")
@pytest.mark.parametrize("setting", [None, "auto", " AUTO "])
def test_by_default_the_model_gets_the_first_of_two_or_more_cpus(tmp_path: Path, setting: str | None) -> None:
    """One CPU for the Rasa server alone: its threads stop trading the GIL across CPUs, and the WeChat
    path's other processes stop taking its CPU (README, WeChat figures)."""
    env = {} if setting is None else {"CARELOOP_MODEL_CPUS": setting}
    settings = _wechat_settings(tmp_path, **env)
    procs = processes(settings, available=frozenset({2, 3}))
    assert {name: _cpus_of(cmd) for name, cmd in procs.items()} == {
        name: {"rasa": "2", "wechat": "2,3"}.get(name, "3") for name in procs
    }
    single = processes(settings, available=frozenset({5}))
    assert all(_cpus_of(cmd) is None for cmd in single.values())  # nothing to keep the model apart on


@pytest.mark.parametrize("word", ["none", "off", "None"])
def test_pinning_can_be_turned_off(tmp_path: Path, word: str) -> None:
    procs = processes(_wechat_settings(tmp_path, CARELOOP_MODEL_CPUS=word), available=frozenset({0, 1}))
    assert procs and all(_cpus_of(cmd) is None for cmd in procs.values())


@pytest.mark.skipif(not can_pin(), reason="needs Linux CPU affinity")
def test_a_model_cpu_list_is_used_as_given(tmp_path: Path) -> None:
    procs = processes(_wechat_settings(tmp_path, CARELOOP_MODEL_CPUS="1"), available=frozenset({0, 1}))
    assert _cpus_of(procs["rasa"]) == "1" and _cpus_of(procs["worker"]) == "0"


def test_an_unusable_model_cpu_setting_stops_start_up_with_the_reason() -> None:
    with pytest.raises(ConfigError, match="CARELOOP_MODEL_CPUS"):
        Settings.from_env({"CARELOOP_MODEL_CPUS": "first"})
    with pytest.raises(CpuListError, match="not available"):
        plan(frozenset({4}), frozenset({0, 1}))
    with pytest.raises(CpuListError, match="leaves none"):
        plan(frozenset({0, 1}), frozenset({0, 1}))


def test_with_model_cpus_the_rasa_server_runs_on_them_the_front_anywhere_and_the_rest_elsewhere(
    tmp_path: Path,
) -> None:
    plain = processes(_wechat_settings(tmp_path), available=frozenset({0}))
    pinned = pin_to_cpus(plain, frozenset({0}), frozenset({0, 1, 2}))
    assert set(pinned) == set(plain) and {"rasa", "wechat", "worker"} <= set(pinned)
    for name, cmd in pinned.items():
        argv = shlex.split(cmd)
        cut = argv.index("--")
        assert argv[1:4] == ["-m", "bot", "pin"]
        assert argv[4] == {"rasa": "0", "wechat": "0,1,2"}.get(name, "1,2")
        assert argv[cut + 1 :] == shlex.split(plain[name])


@pytest.mark.skipif(not can_pin() or len(available_cpus()) < 2, reason="needs Linux CPU affinity, 2 CPUs")
def test_bot_pin_runs_the_program_on_the_given_cpu_only() -> None:
    cpu = max(available_cpus())
    show = "import os, sys; print(sorted(os.sched_getaffinity(0)), sys.argv[1:])"
    out = subprocess.run(
        [sys.executable, "-m", "bot", "pin", str(cpu), "--", sys.executable, "-c", show, "--auth-token=-x"],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
    ).stdout
    assert out.strip() == f"[{cpu}] ['--auth-token=-x']"


@pytest.mark.parametrize(
    "answer",
    [
        {"events": [{"event": "slot", "name": "phone", "value": "138"}], "responses": [{"text": "好"}]},
        {"events": [{"event": "active_loop", "name": None}, {"event": "followup", "name": "action_listen"}]},
        {},
        {"events": [{"event": "slot", "name": 3}]},  # a slot event without a proper name
        {"events": [{"event": "no_such_event"}]},
        {"events": "not a list"},
        {"responses": [["not", "an", "object"]]},
    ],
)
def test_action_answers_are_judged_as_rasa_judges_them(answer: dict[str, Any]) -> None:
    """bot.rasa_server validates action-server answers with a schema compiled once (Rasa 3.6
    compiled it, and checked it against the metaschema, on every call: 52 ms each); what passes and
    what fails, and the error's words, must be Rasa's."""
    from jsonschema import ValidationError
    from rasa.core.actions.action import RemoteAction

    from bot import rasa_server

    original = RemoteAction._validate_action_result
    assert original is not rasa_server.validate_action_result  # the tests' Rasa is not patched
    action = RemoteAction("action_x", None)

    def outcome(validate: Any) -> str:
        try:
            return str(validate(action, answer))
        except ValidationError as error:
            return error.message

    assert outcome(rasa_server.validate_action_result) == outcome(original)
