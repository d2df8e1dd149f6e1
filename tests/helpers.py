"""Starting CareLoop processes for integration and end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bot.config import PROJECT_ROOT, Settings


def http(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 30
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw)
        except ValueError:
            return err.code, raw.decode(errors="replace")


def wait_until(check: Any, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.returncode}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{what} not ready after {timeout}s")


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A child in its own process group, so stopping it stops everything it started."""
    full_env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONUNBUFFERED": "1", **env}
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=PROJECT_ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 30) -> int:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


def app_routes(*prefixes: str) -> list[tuple[str, str, Any]]:
    """(method, path with sample parameters, route) for every ops-app route under the prefixes, read from
    the app's own router so a route added later is covered without touching the tests."""
    from bot.api.app import create_app

    app = create_app(
        Settings.from_env({"CARELOOP_VAR_DIR": "/nonexistent"}), name=f"probe_{uuid.uuid4().hex}"
    )
    samples = {"int": "1", "str": "C20261120-0001"}
    found = []
    for route in app.router.routes:
        path = "/" + route.path
        if not any(path == p.rstrip("/") or path.startswith(p) for p in prefixes):
            continue
        path = re.sub(r"<(\w+)(?::(\w+))?>", lambda m: samples.get(m.group(2) or "str", "x"), path)
        found += [(method, path, route) for method in sorted(route.methods)]
    return found


@contextlib.asynccontextmanager
async def serving(app: Any, port: int) -> AsyncIterator[None]:
    """Run a Sanic app on this event loop, with its listeners, for the length of the block."""
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
