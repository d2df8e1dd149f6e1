"""The WeChat channel against Rasa's stock REST channel, same model, same stack, side by side.

Starts the whole stack (`python -m bot run --no-train`, SQLite + embedded Redis unless DATABASE_URL /
REDIS_URL are set, the local WeChat stand-in in safe mode) and drives the same scripted conversations
through both channels: N customers x M messages at each concurrency level. A customer sends the next
message once the bot has answered the previous one.

Printed per channel and concurrency:
  callback   time until the webhook answered (REST: the whole answer; WeChat: "success")
  reply      time until the bot's reply reached the customer (REST: the HTTP answer; WeChat: the
             customer-service message arriving at the stand-in)
  throughput messages handled per second, and the WeChat/REST ratio
  CPU        CPU milliseconds per message spent by each process (the stack's, PostgreSQL's and Redis's
             servers when local, and this load generator), to show where a channel's cost goes
WeChat callbacks go to the front process (`python -m bot wechat`, as `make run` sets WeChat up), or
with --via rasa to the webhook on the Rasa server itself.
With --retries R every WeChat callback is posted 1+R times (WeChat's retries, same MsgId): the run
then also checks that no reply was lost and none was sent twice.

The first wave of customers starts spread over --ramp-up seconds (default 2; 0 starts all of them in the
same millisecond, a burst no real account sees: it measures how the front absorbs one).
The script also prints how busy the Rasa server's event loop was (running, waiting for a CPU, idle):
it runs the model, so it bounds both channels' throughput.

The stack is pinned as `make run` pins it by default (--model-cpus auto: the Rasa server on the first
of two or more CPUs, the other CareLoop processes on the rest, the WeChat front on any); this script,
which plays WeChat and the customers, and the local PostgreSQL and Redis servers may run anywhere.
--model-cpus none runs the stack unpinned (what `make run` did before 2026-12-06's sixth session).
With a CPU list (--model-cpus 0) the stack runs as with CARELOOP_MODEL_CPUS=0 and this script also
moves itself and the local PostgreSQL and Redis servers off those CPUs for the run (restored
afterwards).

The load generator plays WeChat's servers and the customers on the same two cores as the stack, so it
is kept as cheap as it can be (bench/rawhttp.py): every request of both channels is built before the
clock starts and written on a kept-alive connection. `--client aiohttp` posts through aiohttp instead
(what this script did before 2026-12-04): about 2 ms more of this machine's CPU per WeChat message.

With --repeat K each concurrency runs K rounds, the channels' order alternating between rounds; the
table pools the rounds (throughput = all messages / all time) and the ratio of each round is printed.

Usage: python bench/wechat_vs_rest.py [--customers 200] [--concurrency 20 100] [--retries 2] [--repeat 3]
                                      [--ramp-up 2] [--via front] [--model-cpus 0] [--client raw]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wechatpy.crypto import WeChatCrypto  # noqa: E402

from bench.rawhttp import Connection, Pool, post_request  # noqa: E402
from bot.cpus import (  # noqa: E402
    AUTO,
    CpuListError,
    CpuPlan,
    available_cpus,
    format_cpu_list,
    model_cpus_for,
    model_setting,
    plan,
)
from bot.redis_embedded import free_port  # noqa: E402
from bot.wechat.standin_config import DEFAULT_ACCOUNT_ID, DEV_APPID, DEV_TOKEN, Mode  # noqa: E402
from bot.wechat.standin_xml import callback_request  # noqa: E402

SCRIPT = ["你好", "我的投诉处理得怎么样了", "你是机器人吗", "谢谢你", "再见"]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Run:
    channel: str
    concurrency: int
    callback_ms: list[float] = field(default_factory=list)
    reply_ms: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    messages: int = 0
    replies: int = 0
    lost: int = 0
    duplicated: int = 0
    cpu_s: dict[str, float] = field(default_factory=dict)
    loop_s: tuple[float, float] = (0.0, 0.0)  # Rasa's event-loop thread: (running, waiting for a CPU)

    @property
    def throughput(self) -> float:
        return self.messages / self.elapsed if self.elapsed else 0.0


# Stack processes by a word in their command line (see bot/run.py), checked in this order.
ROLES = (
    ("rasa run actions", "actions"),
    ("bot.rasa_server run", "rasa"),
    ("rasa run", "rasa"),
    ("bot serve", "ops+standin"),
    ("bot wechat", "front"),
    ("bot worker", "worker"),
    ("bot redis", "redis"),
)


def role_of(proc: psutil.Process, stack_pids: set[int]) -> str | None:
    try:
        if proc.pid == os.getpid():
            return "load generator"
        name = proc.name()
        if name.startswith("postgres"):
            return "postgres"
        if name.startswith("redis-server"):
            return "redis"
        if proc.pid in stack_pids:
            cmdline = " ".join(proc.cmdline())
            return next((role for word, role in ROLES if word in cmdline), None)
    except psutil.Error:
        return None
    return None


def cpu_by_role(stack_pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far, summed per role. Children are counted as processes of
    their own (a reaped child's time also lands in its parent's ``children_*``: not added, so never twice)."""
    try:
        stack_pids = {p.pid for p in psutil.Process(stack_pid).children(recursive=True)}
    except psutil.Error:
        stack_pids = set()
    totals: dict[str, float] = {}
    for proc in psutil.process_iter():
        role = role_of(proc, stack_pids)
        if role is None:
            continue
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        totals[role] = totals.get(role, 0.0) + times.user + times.system
    return totals


def rasa_loop_thread(stack_pid: int) -> int | None:
    """The Rasa server's main thread (its event loop): it runs the model, so it bounds throughput."""
    try:
        procs = [p for p in psutil.Process(stack_pid).children(recursive=True) if p.name() != "sh"]
        rasa = [p for p in procs if role_of(p, {p.pid}) == "rasa"]
        return max(rasa, key=lambda p: sum(p.cpu_times()[:2])).pid if rasa else None
    except (psutil.Error, ValueError):
        return None


def loop_times(pid: int | None) -> tuple[float, float]:
    """(seconds running, seconds runnable but waiting for a CPU) of a thread, from Linux's schedstat."""
    if pid is None:
        return 0.0, 0.0
    try:
        run_ns, wait_ns = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[:2]
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(run_ns) / 1e9, int(wait_ns) / 1e9


def _pin_servers(cpus: frozenset[int]) -> None:
    """Every thread of the local PostgreSQL and Redis servers (new backends inherit the postmaster's)."""
    for proc in psutil.process_iter():
        try:
            if not proc.name().startswith(("postgres", "redis-server")):
                continue
            for thread in proc.threads():
                os.sched_setaffinity(thread.id, cpus)
        except (psutil.Error, OSError):
            continue


def reserve_model_cpus(cpu_plan: CpuPlan) -> Callable[[], None]:
    """Keep this load generator and the database servers off the model's CPUs; returns the undo."""
    everything = cpu_plan.model | cpu_plan.rest
    os.sched_setaffinity(0, cpu_plan.rest)
    _pin_servers(cpu_plan.rest)
    model_list, rest_list = format_cpu_list(cpu_plan.model), format_cpu_list(cpu_plan.rest)
    print(
        f"CPU {model_list}: the Rasa server; CPU {rest_list}: the other CareLoop processes, "
        "PostgreSQL, Redis and this load generator; the WeChat front: either"
    )

    def undo() -> None:
        _pin_servers(everything)
        os.sched_setaffinity(0, everything)

    return undo


def start_stack(tmp: Path, via: str) -> tuple[subprocess.Popen, dict[str, str]]:
    ports = {name: free_port() for name in ("rasa", "actions", "ops", "redis", "front")}
    env = {
        **os.environ,
        "CARELOOP_VAR_DIR": str(tmp),
        "CARELOOP_RASA_PORT": str(ports["rasa"]),
        "CARELOOP_ACTION_PORT": str(ports["actions"]),
        "CARELOOP_OPS_PORT": str(ports["ops"]),
        "CARELOOP_EMBEDDED_REDIS_PORT": str(ports["redis"]),
        "CARELOOP_WECHAT_PORT": str(ports["front"]),
        "CARELOOP_API_KEYS": "bench",
        "RASA_TELEMETRY_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    }
    env.setdefault("DATABASE_URL", f"sqlite:///{tmp / 'careloop.db'}")
    log = open(tmp / "stack.log", "wb")  # the child keeps it open
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--no-train"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if "CareLoop is running." in (tmp / "stack.log").read_text(errors="replace"):
            break
        if proc.poll() is not None:
            raise SystemExit(f"the stack exited; see {tmp / 'stack.log'}")
        time.sleep(1)
    else:
        raise SystemExit("the stack did not start in 300 s")
    urls = {
        "rest": f"http://127.0.0.1:{ports['rasa']}/webhooks/rest/webhook",
        "wechat": f"http://127.0.0.1:{ports['front' if via == 'front' else 'rasa']}/webhooks/wechat/webhook",
        "standin": f"http://127.0.0.1:{ports['ops']}/standin",
        "redis": os.environ.get("REDIS_URL") or f"redis://127.0.0.1:{ports['redis']}/0",
        "aes": (tmp / "dev-wechat-aes-key").read_text().strip(),
    }
    return proc, urls


def stop_stack(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def rest_requests(url: str, sender: str) -> list[bytes]:
    return [
        post_request(
            url,
            json.dumps({"sender": sender, "message": text}, ensure_ascii=False).encode(),
            "application/json",
        )
        for text in SCRIPT
    ]


async def rest_customer(
    http: aiohttp.ClientSession | Connection, url: str, sender: str, run: Run, requests: list[bytes]
) -> None:
    for text, raw in zip(SCRIPT, requests, strict=True):
        started = time.perf_counter()
        if isinstance(http, Connection):
            status, answer = await http.request(raw)
            if status != 200:
                raise RuntimeError(f"REST answered {status} {answer[:200]!r}")
            body = json.loads(answer)
        else:
            async with http.post(url, json={"sender": sender, "message": text}) as resp:
                body = await resp.json()
        ms = (time.perf_counter() - started) * 1000
        run.callback_ms.append(ms)
        run.reply_ms.append(ms)
        run.messages += 1
        run.replies += len(body)
        run.lost += 0 if body else 1


class Replies:
    """Every customer-service message the stand-in receives, with the time it arrived."""

    def __init__(self, redis_url: str) -> None:
        self._redis = aioredis.from_url(redis_url, decode_responses=True)
        self._waiters: dict[str, asyncio.Queue[float]] = {}
        self.counts: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._pubsub = self._redis.pubsub()
        await self._pubsub.psubscribe("standin:events:*")
        self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        async for message in self._pubsub.listen():
            if message.get("type") != "pmessage":
                continue
            item = json.loads(message["data"])
            if item.get("direction") != "to_user":
                continue
            openid = item.get("openid") or message["channel"].rsplit(":", 1)[-1]
            self.counts[openid] = self.counts.get(openid, 0) + 1
            self._waiters.setdefault(openid, asyncio.Queue()).put_nowait(time.perf_counter())

    def queue(self, openid: str) -> asyncio.Queue[float]:
        return self._waiters.setdefault(openid, asyncio.Queue())

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
        await self._pubsub.close()
        await self._redis.close()


def encrypted_callback(aes_key: str, openid: str, text: str, msg_id: int) -> tuple[str, bytes]:
    """Signed and AES-encrypted, as WeChat posts in safe mode (the stand-in's WeChat-side code)."""
    now = int(time.time())
    fields = [
        ("ToUserName", DEFAULT_ACCOUNT_ID),
        ("FromUserName", openid),
        ("CreateTime", now),
        ("MsgType", "text"),
        ("Content", text),
        ("MsgId", msg_id),
    ]
    callback = callback_request(
        mode=Mode.SAFE,
        token=DEV_TOKEN,
        crypto=WeChatCrypto(DEV_TOKEN, aes_key, DEV_APPID),
        fields=fields,
        openid=openid,
        timestamp=str(now),
        nonce=secrets.token_hex(5),
    )
    return urllib.parse.urlencode(callback.query), callback.body.encode()


def recorded_callbacks(
    aes_key: str, openid: str, retries: int, url: str
) -> list[list[tuple[str, bytes, bytes]]]:
    """Every post of every message of one customer, signed and encrypted before the clock starts:
    that work is WeChat's, on WeChat's servers, so it should not take this machine's CPU mid-run.
    Each post is (query, body) and, last, the whole request ready to write (bench/rawhttp.py)."""
    posts = []
    for text in SCRIPT:
        msg_id = secrets.randbits(62)
        attempts = []
        for _ in range(1 + retries):
            query, body = encrypted_callback(aes_key, openid, text, msg_id)
            raw = post_request(f"{url}?{query}", body, "text/xml")
            attempts.append((query, body, raw))
        posts.append(attempts)
    return posts


async def wechat_customer(
    http: aiohttp.ClientSession | Connection,
    urls: dict[str, str],
    openid: str,
    run: Run,
    replies: Replies,
    posts: list[list[tuple[str, bytes, bytes]]],
) -> None:
    queue = replies.queue(openid)
    for attempts in posts:
        started = time.perf_counter()
        for attempt, (query, body, raw) in enumerate(attempts):
            t0 = time.perf_counter()
            if isinstance(http, Connection):
                status, answered = await http.request(raw)
                answer = answered.decode(errors="replace")
            else:
                async with http.post(f"{urls['wechat']}?{query}", data=body) as resp:
                    status, answer = resp.status, await resp.text()
            if attempt == 0:
                run.callback_ms.append((time.perf_counter() - t0) * 1000)
            if answer != "success":
                raise RuntimeError(f"callback answered {status} {answer!r}")
        try:
            arrived = await asyncio.wait_for(queue.get(), timeout=60)
        except asyncio.TimeoutError:
            run.lost += 1
            continue
        run.reply_ms.append((arrived - started) * 1000)
        run.messages += 1


async def register(http: aiohttp.ClientSession, standin: str, openids: list[str]) -> None:
    for openid in openids:
        async with http.post(
            f"{standin}/control/user", json={"openid": openid, "subscribed": True, "last_inbound_ago": 0}
        ) as resp:
            resp.raise_for_status()


async def drive(
    channel: str,
    urls: dict[str, str],
    customers: int,
    concurrency: int,
    retries: int,
    stack_pid: int = 0,
    ramp_up: float = 0.0,
    client: str = "raw",
) -> Run:
    run = Run(channel, concurrency)
    tag = uuid.uuid4().hex[:6]
    ids = [f"o_b{tag}{i:04d}" for i in range(customers)]
    limit = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    # Idle connections are dropped before the servers' own 5-second keep-alive ends, so a post never
    # goes out on a connection the server is closing (a reset that is the client's doing, not the server's).
    connector = aiohttp.TCPConnector(limit=concurrency * 2, keepalive_timeout=3)
    target = urllib.parse.urlsplit(urls[channel])
    pool = Pool(target.hostname or "127.0.0.1", target.port or 80)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        replies = None
        recorded: dict[str, list[list[tuple[str, bytes, bytes]]]] = {}
        rest_posts: dict[str, list[bytes]] = {}
        if channel == "wechat":
            await register(http, urls["standin"], ids)
            recorded = {c: recorded_callbacks(urls["aes"], c, retries, urls["wechat"]) for c in ids}
            replies = Replies(urls["redis"])
            await replies.start()
        else:
            rest_posts = {c: rest_requests(urls["rest"], c) for c in ids}

        async def one(index: int, customer: str) -> None:
            async with limit:
                if index < concurrency:  # the first wave starts spread over ramp_up seconds
                    await asyncio.sleep(ramp_up * index / concurrency)
                conn = pool.acquire() if client == "raw" else None
                poster = conn or http
                if channel == "rest":
                    await rest_customer(poster, urls["rest"], customer, run, rest_posts[customer])
                else:
                    assert replies is not None
                    await wechat_customer(poster, urls, customer, run, replies, recorded[customer])
                if conn is not None:
                    pool.release(conn)  # (a failed customer fails the run: its connection is not reused)

        cpu_before = cpu_by_role(stack_pid) if stack_pid else {}
        loop_thread = rasa_loop_thread(stack_pid) if stack_pid else None
        loop_before = loop_times(loop_thread)
        started = time.perf_counter()
        await asyncio.gather(*(one(i, c) for i, c in enumerate(ids)))
        run.elapsed = time.perf_counter() - started
        pool.close()
        if stack_pid:
            cpu_after = cpu_by_role(stack_pid)
            run.cpu_s = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_after.items()}
            loop_after = loop_times(loop_thread)
            run.loop_s = (loop_after[0] - loop_before[0], loop_after[1] - loop_before[1])
        if replies is not None:
            await asyncio.sleep(3)  # late duplicates would arrive now
            run.replies = sum(replies.counts.get(c, 0) for c in ids)
            run.duplicated = max(0, run.replies - customers * len(SCRIPT))
            await replies.close()
    return run


def report(runs: list[Run]) -> None:
    print()
    print(
        f"{'channel':8} {'conc':>5} {'msgs':>5} {'callback p50/p99 ms':>20} {'reply p50/p99 ms':>18} "
        f"{'msg/s':>7} {'lost':>5} {'dup':>4}"
    )
    for r in runs:
        print(
            f"{r.channel:8} {r.concurrency:>5} {r.messages:>5} "
            f"{pct(r.callback_ms, 50):>9.1f}/{pct(r.callback_ms, 99):<9.1f} "
            f"{pct(r.reply_ms, 50):>8.0f}/{pct(r.reply_ms, 99):<8.0f} "
            f"{r.throughput:>7.1f} {r.lost:>5} {r.duplicated:>4}"
        )
    print()
    for conc in sorted({r.concurrency for r in runs}):
        pair = {r.channel: r for r in runs if r.concurrency == conc}
        if "rest" in pair and "wechat" in pair:
            print(
                f"concurrency {conc}: WeChat/REST throughput ratio "
                f"{pair['wechat'].throughput / pair['rest'].throughput:.2f}; "
                f"WeChat callback p99 {pct(pair['wechat'].callback_ms, 99):.1f} ms "
                f"(mean {statistics.mean(pair['wechat'].callback_ms):.1f} ms)"
            )
    print()
    print("CPU ms per message by process (cores busy = CPU seconds / elapsed seconds):")
    roles = sorted({k for r in runs for k in r.cpu_s}, key=lambda k: -max(r.cpu_s.get(k, 0) for r in runs))
    header = " ".join(f"{k[:14]:>14}" for k in roles)
    print(f"{'channel':8} {'conc':>5} {header} {'total':>7} {'cores':>6}")
    for r in runs:
        if not r.cpu_s or not r.messages:
            continue
        per = [1000 * r.cpu_s.get(k, 0.0) / r.messages for k in roles]
        cores = sum(r.cpu_s.values()) / r.elapsed
        print(
            f"{r.channel:8} {r.concurrency:>5} "
            + " ".join(f"{v:>14.1f}" for v in per)
            + f" {sum(per):>7.1f} {cores:>6.2f}"
        )
    print()
    print("The Rasa server's event loop (the thread that runs the model), share of the run's time:")
    for r in runs:
        running, waiting = (t / r.elapsed if r.elapsed else 0.0 for t in r.loop_s)
        if running:
            print(
                f"{r.channel:8} {r.concurrency:>5}  running {running:6.1%}  waiting for a CPU {waiting:6.1%}"
                f"  idle or blocked {max(0.0, 1 - running - waiting):6.1%}"
            )


async def main_async(args: argparse.Namespace, urls: dict[str, str], stack_pid: int) -> list[Run]:
    # Warm up both paths (model, action server, token fetch) before measuring.
    await drive("rest", urls, 4, 4, 0, client=args.client)
    await drive("wechat", urls, 4, 4, 0, client=args.client)
    runs = []
    for conc in args.concurrency:
        rounds: list[Run] = []
        for rep in range(args.repeat):
            # Alternate the order (A B, B A, ...) so a machine that speeds up or slows down during the
            # run (a shared VM does) does not favour one channel.
            order = args.channels if rep % 2 == 0 else list(reversed(args.channels))
            for channel in order:
                retries = args.retries if channel == "wechat" else 0
                run = await drive(
                    channel, urls, args.customers, conc, retries, stack_pid, args.ramp_up, args.client
                )
                print(
                    f"{channel} at concurrency {conc} (round {rep + 1}): {run.messages} messages "
                    f"in {run.elapsed:.1f} s, {run.throughput:.1f} msg/s",
                    flush=True,
                )
                rounds.append(run)
        ratios = round_ratios(rounds)
        if ratios:
            print(f"concurrency {conc}: WeChat/REST ratio per round " + ", ".join(f"{r:.2f}" for r in ratios))
        runs += [merge([r for r in rounds if r.channel == channel]) for channel in args.channels]
    return runs


def round_ratios(rounds: list[Run]) -> list[float]:
    """WeChat/REST throughput of each round (the two runs next to each other in time)."""
    rest = [r for r in rounds if r.channel == "rest"]
    wechat = [r for r in rounds if r.channel == "wechat"]
    return [w.throughput / r.throughput for r, w in zip(rest, wechat, strict=False) if r.throughput]


def merge(rounds: list[Run]) -> Run:
    """One channel's rounds at one concurrency as one run: all samples, summed time and CPU."""
    total = Run(rounds[0].channel, rounds[0].concurrency)
    for r in rounds:
        total.callback_ms += r.callback_ms
        total.reply_ms += r.reply_ms
        total.elapsed += r.elapsed
        total.messages += r.messages
        total.replies += r.replies
        total.lost += r.lost
        total.duplicated += r.duplicated
        for k, v in r.cpu_s.items():
            total.cpu_s[k] = total.cpu_s.get(k, 0.0) + v
        total.loop_s = (total.loop_s[0] + r.loop_s[0], total.loop_s[1] + r.loop_s[1])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--channels", nargs="+", choices=["rest", "wechat"], default=["rest", "wechat"])
    parser.add_argument("--retries", type=int, default=2, help="extra posts of every WeChat callback")
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds per concurrency, channels alternating; figures pooled"
    )
    parser.add_argument(
        "--ramp-up",
        type=float,
        default=2.0,
        help="seconds over which the first wave of customers starts (0: all in the same millisecond)",
    )
    parser.add_argument(
        "--client",
        choices=["raw", "aiohttp"],
        default="raw",
        help="how the load generator posts: ready-made requests on kept-alive connections, or aiohttp",
    )
    parser.add_argument(
        "--via",
        choices=["front", "rasa"],
        default="front",
        help="post WeChat callbacks to the front process (as make run does) or to the Rasa server's webhook",
    )
    parser.add_argument(
        "--model-cpus",
        type=model_setting,
        default=None,
        help="CPUs for the Rasa server alone (CARELOOP_MODEL_CPUS): auto (make run's default), none (no "
        "pinning), or a list (this script and the database servers are then moved off it too)",
    )
    args = parser.parse_args()
    # A bad list stops here, before the stack starts.
    setting: frozenset[int] | None = args.model_cpus
    try:
        cpu_plan = plan(setting, available_cpus()) if setting else None
    except CpuListError as exc:
        parser.error(f"--model-cpus: {exc}")
    if setting is None:
        model = model_cpus_for(None, available_cpus())
        os.environ["CARELOOP_MODEL_CPUS"] = AUTO
        where = f"CPU {format_cpu_list(model)}" if model else "any CPU (one CPU here)"
        print(f"the stack pinned as make run pins it: the Rasa server on {where}")
    else:
        os.environ["CARELOOP_MODEL_CPUS"] = format_cpu_list(setting) if setting else "none"
        if not setting:
            print("the stack unpinned")
    undo = None
    where = "the front (python -m bot wechat)" if args.via == "front" else "the Rasa server's webhook"
    print(f"WeChat callbacks go to {where}")
    try:
        with tempfile.TemporaryDirectory(prefix="careloop-bench-") as tmp:
            proc, urls = start_stack(Path(tmp), args.via)
            try:
                # After the start: the stack pins its own processes from every CPU this script may use.
                undo = reserve_model_cpus(cpu_plan) if cpu_plan is not None else None
                runs = asyncio.run(main_async(args, urls, proc.pid))
            finally:
                stop_stack(proc)
    finally:
        if undo is not None:
            undo()
    report(runs)


if __name__ == "__main__":
    main()
