"""The running stack for end-to-end tests: `python -m bot run --no-train` on free ports.

Module-scoped, so each e2e module gets its own stack (and may stop it, as the Ctrl-C test does)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.redis_embedded import free_port
from tests.conftest import reset_schema
from tests.helpers import start, stop, wait_until


@dataclass
class Stack:
    rasa: str
    ops: str
    wechat: str  # the callback front (python -m bot wechat), where make run points WeChat
    database_url: str
    api_key: str
    proc: object
    log: Path
    ports: list[int]
    var_dir: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'careloop.db'}"
    asyncio.run(reset_schema(database_url))
    rasa_port, action_port, ops_port, redis_port, front_port = (free_port() for _ in range(5))
    env = {
        "CARELOOP_VAR_DIR": str(tmp),
        "DATABASE_URL": database_url,
        "CARELOOP_RASA_PORT": str(rasa_port),
        "CARELOOP_ACTION_PORT": str(action_port),
        "CARELOOP_OPS_PORT": str(ops_port),
        "CARELOOP_EMBEDDED_REDIS_PORT": str(redis_port),
        "CARELOOP_WECHAT_PORT": str(front_port),
        "CARELOOP_API_KEYS": "e2e-key",
        "SURVEY_DELAY_MINUTES": "0",  # surveys are due at once, whatever the hour
        "SURVEY_QUIET_HOURS": "",
        "HANDOFF_HOURS": "",  # agents are on duty whatever the hour the suite runs
    }
    log = tmp / "stack.log"
    proc = start(["-m", "bot", "run", "--no-train"], env, log)
    s = Stack(
        f"http://127.0.0.1:{rasa_port}",
        f"http://127.0.0.1:{ops_port}",
        f"http://127.0.0.1:{front_port}",
        database_url,
        "e2e-key",
        proc,
        log,
        [rasa_port, action_port, ops_port, front_port]
        + ([] if os.environ.get("REDIS_URL") else [redis_port]),
        tmp,
    )
    try:
        wait_until(lambda: "CareLoop is running." in log.read_text(errors="replace"), 300, "the stack", proc)
        yield s
    finally:
        stop(proc)
