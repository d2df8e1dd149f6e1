"""How the WeChat front absorbs a burst: N callbacks arriving in the same millisecond.

Side by side, in alternating rounds, against the floor: a bare Sanic endpoint that answers "success"
and does nothing else (the same HTTP server, no signature check, no AES, no Redis). Both run as
processes of their own beside an embedded Redis server started for the run, and nothing else runs.

The load generator is meant to cost as little as WeChat's servers cost this machine (nothing): every
callback is signed and encrypted before the clock starts, the connections are opened beforehand and
kept alive, and each burst writes N ready-made HTTP requests, one per connection, in one go. A
callback's time runs from its request being written to its answer being read.

Printed per target: callback answer time p50 / p90 / p99 / max over all bursts, and the server's
CPU milliseconds per callback; then the front's p99 against the floor's.
bench/wechat_vs_rest.py measures the same front inside the whole stack (`--ramp-up 0` for a burst),
where the Rasa server, the worker and an aiohttp load generator share the CPUs with it; `--client
aiohttp` posts here as that script does, to show what its load generator alone adds.

Usage: python bench/callback_burst.py [--burst 100] [--bursts 10] [--rounds 2] [--front-workers 1]
                                      [--client raw|aiohttp]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.rawhttp import Connection, post_request  # noqa: E402
from bench.wechat_vs_rest import encrypted_callback  # noqa: E402
from bot.redis_embedded import free_port, port_open, start_background  # noqa: E402
from bot.wechat.front import WEBHOOK_PATH  # noqa: E402
from bot.wechat.standin_config import DEV_APPID, DEV_SECRET, DEV_TOKEN  # noqa: E402


@dataclass
class Target:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    answer_ms: list[float] = field(default_factory=list)
    callbacks: int = 0
    cpu_s: float = 0.0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def serve_bare(port: int) -> None:
    """The floor: Sanic answering "success" on the webhook path, nothing else."""
    from sanic import Request, Sanic
    from sanic.response import HTTPResponse, text

    app = Sanic("careloop_bare_webhook")

    @app.post(WEBHOOK_PATH)
    async def receive(request: Request) -> HTTPResponse:
        return text("success")

    app.run(host="127.0.0.1", port=port, access_log=False)


def signed_callbacks(aes_key: str, size: int) -> list[tuple[str, bytes]]:
    """(query, body) of ``size`` safe-mode text callbacks from new customers, as WeChat posts them."""
    text = "空调修完第二天又坏了，师傅电话也打不通"
    openids = [f"o_b{secrets.token_hex(6)}" for _ in range(size)]
    return [encrypted_callback(aes_key, openid, text, secrets.randbits(62)) for openid in openids]


async def answer_time(conn: Connection, request: bytes) -> float:
    started = time.perf_counter()
    status, body = await conn.request(request)
    if status != 200 or body != b"success":
        raise RuntimeError(f"callback answered {status} {body!r}")
    return (time.perf_counter() - started) * 1000


async def aiohttp_answer_time(http: aiohttp.ClientSession, url: str, query: str, body: bytes) -> float:
    started = time.perf_counter()
    async with http.post(f"{url}?{query}", data=body) as resp:
        answer = await resp.text()
    if answer != "success":
        raise RuntimeError(f"callback answered {resp.status} {answer!r}")
    return (time.perf_counter() - started) * 1000


async def bursts(target: Target, aes_key: str, size: int, count: int, client: str) -> None:
    """``count`` bursts of ``size`` callbacks, each from a new customer, a second apart."""
    server = psutil.Process(target.proc.pid)
    url = f"http://127.0.0.1:{target.port}{WEBHOOK_PATH}"
    opened = size if client == "raw" else 0
    conns = [Connection("127.0.0.1", target.port) for _ in range(opened)]
    for conn in conns:
        await conn.open()
    # As bench/wechat_vs_rest.py posts: one session, connections opened on demand and kept alive.
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=size * 2, keepalive_timeout=3))
    try:
        for _ in range(count):
            posts = signed_callbacks(aes_key, size)
            if client == "raw":
                requests = [post_request(f"{url}?{query}", body, "text/xml") for query, body in posts]
                answers = [answer_time(c, q) for c, q in zip(conns, requests, strict=True)]
            else:
                answers = [aiohttp_answer_time(http, url, query, body) for query, body in posts]
            cpu = cpu_seconds(server)
            target.answer_ms += await asyncio.gather(*answers)
            target.cpu_s += cpu_seconds(server) - cpu
            target.callbacks += size
            await asyncio.sleep(1.0)
    finally:
        await http.close()
        for conn in conns:
            conn.close()


def cpu_seconds(proc: psutil.Process) -> float:
    """The server's CPU time, its worker processes' included (Sanic with workers > 1)."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        times = p.cpu_times()
        total += times.user + times.system
    return total


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server on port {port} did not start")
        time.sleep(0.1)


def start(name: str, argv: list[str], env: dict[str, str], port: int) -> Target:
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc)
    return Target(name, port, proc)


def report(targets: list[Target], size: int) -> None:
    print()
    print(f"{'server':44} {'callbacks':>9} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}  CPU ms/callback")
    for t in targets:
        ms = t.answer_ms
        print(
            f"{t.name:44} {t.callbacks:>9} {pct(ms, 50):>7.1f} {pct(ms, 90):>7.1f} {pct(ms, 99):>7.1f} "
            f"{max(ms):>7.1f}  {1000 * t.cpu_s / t.callbacks:.2f}"
        )
    floor, *fronts = targets
    for front in fronts:
        print(
            f"\n{front.name}: p99 {pct(front.answer_ms, 99):.1f} ms for bursts of {size}, "
            f"x{pct(front.answer_ms, 99) / pct(floor.answer_ms, 99):.1f} the bare endpoint's "
            f"({pct(floor.answer_ms, 99):.1f} ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--burst", type=int, default=100, help="callbacks arriving together")
    parser.add_argument("--bursts", type=int, default=10, help="bursts per target and round, a second apart")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, the targets' order alternating")
    parser.add_argument("--front-workers", type=int, default=1, help="processes of the front (--workers)")
    parser.add_argument(
        "--client",
        choices=["raw", "aiohttp"],
        default="raw",
        help="raw: ready-made requests on open connections; aiohttp: as bench/wechat_vs_rest.py posts",
    )
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    aes_key = base64.b64encode(secrets.token_bytes(32)).decode()[:43]
    redis_port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "WECHAT_APPID": DEV_APPID,
        "WECHAT_APPSECRET": DEV_SECRET,
        "WECHAT_TOKEN": DEV_TOKEN,
        "WECHAT_ENCODING_AES_KEY": aes_key,
    }
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="careloop-burst-") as tmp:
        redis = start_background(redis_port, Path(tmp) / "redis")
        try:
            bare, front = free_port(), free_port()
            py, workers = sys.executable, str(args.front_workers)
            bare_argv = [py, __file__, "--serve-bare", str(bare)]
            front_argv = [py, "-m", "bot", "wechat", "--port", str(front), "--workers", workers]
            targets.append(start("bare Sanic endpoint (floor)", bare_argv, env, bare))
            targets.append(start(f"WeChat front, {workers} process(es)", front_argv, env, front))
            for rnd in range(args.rounds):
                for target in targets if rnd % 2 == 0 else reversed(targets):
                    asyncio.run(bursts(target, aes_key, args.burst, args.bursts, args.client))
                    print(f"round {rnd + 1}: {target.name}: p99 {pct(target.answer_ms, 99):.1f} ms")
        finally:
            for t in targets:
                t.proc.terminate()
                t.proc.wait(timeout=10)
            redis.terminate()
            redis.wait(timeout=10)
    report(targets, args.burst)


if __name__ == "__main__":
    main()
