"""How fast the survey worker claims and dispatches due surveys, from 1,000 to 100,000, in PostgreSQL.

For each size N it creates a scratch PostgreSQL database (on the server of DATABASE_URL), inserts N due
surveys for N customers inside WeChat's 48-hour window, starts the local WeChat stand-in, and runs
`bot.worker.SurveyDispatch` (W concurrent workers) until nothing is due. Each dispatch does what the
survey start does in production after Rasa's trigger_intent: the survey is marked sent exactly once
(`SurveyService.mark_sent`) and the question goes out through the real gateway (outbox row, window
check in Redis, wechatpy → the stand-in). Rasa's own NLU/dialogue time per message is measured by
bench/wechat_vs_rest.py and left out here, so what is timed is the worker's part.

Printed per N: total seconds, surveys/s, ms per survey, claim ms per batch at the start and the end of
the run, the per-survey cost relative to N=1,000 (flat is ~1.0), and the wall-clock ms per survey in
each tenth of the run. Checks: every survey sent once,
exactly one message per survey at the stand-in.

Usage: DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \
       python bench/survey_worker.py [--sizes 1000 10000 100000] [--workers 2] [--vacuum-every 60]

A server with autovacuum switched off (as this project's development machines have it) never clears
the dead row versions every claim and send leaves behind, and the cost per survey then grows along a
long run; `--vacuum-every 60` runs what autovacuum would.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.redis_embedded import free_port, port_open, start_background  # noqa: E402
from bot.surveys.model import SurveyStatus  # noqa: E402
from bot.wechat.standin_config import DEV_APPID, DEV_SECRET, DEV_TOKEN  # noqa: E402
from bot.wechat.standin_store import StandinStore  # noqa: E402
from bot.wiring import build_services  # noqa: E402
from bot.worker import SurveyDispatch  # noqa: E402


class Dispatcher:
    """Stands in for Rasa's trigger_intent → action_start_survey → the WeChat output channel."""

    def __init__(self, surveys: Any, gateway: Any) -> None:
        self.surveys, self.gateway = surveys, gateway
        self.sent: list[int] = []

    async def tracker(self, sender_id: str) -> dict[str, Any]:
        return {"active_loop": {}, "paused": False}

    async def trigger_intent(
        self, conversation_id: str, intent: str, entities: dict[str, Any], output_channel: str
    ) -> None:
        survey = await self.surveys.mark_sent(int(entities["survey_id"]), entities["survey_delivery"])
        if survey is None:
            return
        await self.gateway.send_menu(
            conversation_id,
            "您好！您的维修服务已经完成，想请您打个分（1-5分）",
            [(f"{n}分", f'/give_rating{{"rating": {n}}}') for n in range(5, 0, -1)],
            purpose="survey",
        )
        self.sent.append(survey.id)


def plain_url(url: str) -> str:
    """DATABASE_URL as asyncpg takes it (without SQLAlchemy's driver name)."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def scratch_database(base_url: str) -> tuple[str, str]:
    name = f"careloop_bench_{uuid.uuid4().hex[:8]}"
    admin = plain_url(base_url)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return admin.rsplit("/", 1)[0] + f"/{name}", name


async def drop_database(base_url: str, name: str) -> None:
    conn = await asyncpg.connect(plain_url(base_url))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


async def seed(db_url: str, n: int, now: datetime) -> list[str]:
    """N customers (inside the window) and N due surveys, inserted with COPY."""
    openids = [f"o_bench{i:06d}" for i in range(n)]
    conn = await asyncpg.connect(db_url)
    try:
        await conn.copy_records_to_table(
            "customers",
            columns=["sender_id", "channel", "created_at", "last_inbound_at"],
            records=[(o, "wechat", now.replace(tzinfo=None), now.replace(tzinfo=None)) for o in openids],
        )
        naive = now.replace(tzinfo=None)
        await conn.copy_records_to_table(
            "surveys",
            columns=[
                "sender_id",
                "channel",
                "subject",
                "service_type",
                "technician",
                "status",
                "due_at",
                "attempts",
                "created_at",
                "updated_at",
            ],
            records=[
                (
                    o,
                    "wechat",
                    "service",
                    "repair",
                    "王师傅",
                    "scheduled",
                    naive - timedelta(seconds=i % 600),
                    0,
                    naive,
                    naive,
                )
                for i, o in enumerate(openids)
            ],
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return openids


async def run_size(
    n: int, workers: int, base_url: str, redis_url: str, standin_url: str, vacuum_every: float
) -> dict[str, Any]:
    db_url, name = await scratch_database(base_url)
    try:
        await upgrade(db_url)
        now = datetime.now(timezone.utc).replace(hour=3)  # 11:00 in Shanghai: not quiet hours
        openids = await seed(db_url, n, now)
        env = {
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "WECHAT_APPID": DEV_APPID,
            "WECHAT_APPSECRET": DEV_SECRET,
            "WECHAT_TOKEN": DEV_TOKEN,
            "WECHAT_API_BASE_URL": f"{standin_url}/standin/cgi-bin/",
            "SURVEY_QUIET_HOURS": "",
        }
        os.environ.update(env)
        settings = Settings.from_env(env)
        from bot.redis_client import create_redis
        from bot.wechat.runtime import build_gateway

        redis = create_redis(redis_url)
        store = StandinStore(redis)
        await store.reset()
        async with redis.pipeline(transaction=False) as pipe:
            for i, openid in enumerate(openids):
                pipe.hset(
                    f"careloop:wechat:window:{openid}", mapping={"inbound": int(time.time()), "sent": 0}
                )
                if i % 5000 == 4999:
                    await pipe.execute()
            await pipe.execute()
        for openid in openids:  # the stand-in's own record of who wrote when (its 48-hour rule)
            await store.update_user(
                openid, {"subscribed": 1, "last_inbound": await store.now(), "sent_since_inbound": 0}
            )
        stacks = []
        for _ in range(workers):
            services = build_services(settings)
            services.surveys._clock = lambda: now + timedelta(minutes=1)  # a fixed clock for the bench
            session, gateway, _ = build_gateway(settings, services, redis)
            dispatcher = Dispatcher(services.surveys, gateway)
            stacks.append(
                (services, session, dispatcher, SurveyDispatch(services.surveys, dispatcher, batch=100))
            )
        claim_ms: list[float] = []
        done_at: list[tuple[float, int]] = []  # (when a batch ended, surveys in it), both workers

        async def work(job: SurveyDispatch) -> None:
            while True:
                t0 = time.perf_counter()
                handled = await job.run_once(now)
                claim_ms.append((time.perf_counter() - t0) * 1000 / max(handled, 1))
                done_at.append((time.perf_counter(), handled))
                if not handled:
                    return

        vacuums = 0

        async def vacuum() -> None:
            """What autovacuum does for a busy table, for a server that has it switched off."""
            nonlocal vacuums
            conn = await asyncpg.connect(db_url)
            try:
                while True:
                    await asyncio.sleep(vacuum_every)
                    await conn.execute("VACUUM (ANALYZE) surveys, survey_events, outbox")
                    vacuums += 1
            finally:
                await conn.close()

        vacuuming = asyncio.create_task(vacuum()) if vacuum_every > 0 else None
        started = time.perf_counter()
        await asyncio.gather(*(work(job) for *_, job in stacks))
        elapsed = time.perf_counter() - started
        if vacuuming:
            vacuuming.cancel()
            await asyncio.gather(vacuuming, return_exceptions=True)
        sent_ids = [i for *_, d, _ in stacks for i in d.sent]
        statuses = await stacks[0][0].surveys.search(status=SurveyStatus.SCHEDULED, limit=10)
        stats = await store.stats()
        for services, session, *_ in stacks:
            session.close()
            await services.close()
        await forget_bench_customers(redis, openids)
        await redis.close()
        per = [m for m in claim_ms if m > 0]
        return {
            "n": n,
            "seconds": elapsed,
            "per_second": n / elapsed,
            "ms_per_survey": elapsed * 1000 / n,
            "sent": len(sent_ids),
            "duplicates": len(sent_ids) - len(set(sent_ids)),
            "left": len(statuses),
            "at_standin": (stats.get("accepted") or {}).get("custom_send"),
            "first_batches_ms": sum(per[:10]) / max(len(per[:10]), 1),
            "last_batches_ms": sum(per[-10:]) / max(len(per[-10:]), 1),
            "tenths_ms": by_tenths(started, done_at, n),
            "vacuums": vacuums,
        }
    finally:
        await drop_database(base_url, name)


async def server_setting(base_url: str, name: str) -> str:
    conn = await asyncpg.connect(plain_url(base_url))
    try:
        return str(await conn.fetchval(f"SHOW {name}"))
    finally:
        await conn.close()


def by_tenths(started: float, done_at: list[tuple[float, int]], n: int) -> list[float]:
    """Wall-clock ms per survey in each tenth of the run (by surveys done): a cost that grew with
    the tables would rise from the first tenth to the last."""
    tenths, done, last_t, mark = [], 0, started, 1
    for t, handled in sorted(done_at):
        done += handled
        while mark <= 10 and done >= n * mark / 10:
            tenths.append((t - last_t) * 1000 / (n / 10))
            last_t, mark = t, mark + 1
    return tenths


async def forget_bench_customers(redis: Any, openids: list[str]) -> None:
    """The scratch database is dropped; leave the (possibly shared) Redis as tidy: no window or menu
    keys for the bench's made-up customers."""
    async with redis.pipeline(transaction=False) as pipe:
        for i, openid in enumerate(openids):
            pipe.delete(f"careloop:wechat:window:{openid}")
            if i % 5000 == 4999:
                await pipe.execute()
        await pipe.execute()
    async for key in redis.scan_iter(match="careloop:wechat:menu:o_bench*", count=1000):
        await redis.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--vacuum-every",
        type=float,
        default=0,
        help="seconds between VACUUMs of the busy tables, as autovacuum would do (for servers without it)",
    )
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres", "postgresql")):
        raise SystemExit("set DATABASE_URL to a PostgreSQL server (the benchmark creates a scratch database)")
    with tempfile.TemporaryDirectory(prefix="careloop-survey-bench-") as tmp:
        redis_proc = None
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            port = free_port()
            redis_proc = start_background(port)
            redis_url = f"redis://127.0.0.1:{port}/0"
        standin_port = free_port()
        standin = subprocess.Popen(
            [sys.executable, "-m", "bot", "standin", "--port", str(standin_port)],
            cwd=ROOT,
            env={
                **os.environ,
                "REDIS_URL": redis_url,
                "WECHAT_APPID": DEV_APPID,
                "WECHAT_APPSECRET": DEV_SECRET,
                "WECHAT_TOKEN": DEV_TOKEN,
                "CARELOOP_VAR_DIR": tmp,
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while not port_open(standin_port) and time.monotonic() < deadline:
                time.sleep(0.2)
            autovacuum = asyncio.run(server_setting(base, "autovacuum"))
            results = [
                asyncio.run(
                    run_size(
                        n,
                        args.workers,
                        base,
                        redis_url,
                        f"http://127.0.0.1:{standin_port}",
                        args.vacuum_every,
                    )
                )
                for n in args.sizes
            ]
        finally:
            standin.terminate()
            standin.wait(timeout=10)
            if redis_proc:
                redis_proc.terminate()
    base_cost = results[0]["ms_per_survey"]
    print(
        f"\n{'surveys':>8} {'seconds':>8} {'per s':>7} {'ms/survey':>10} {'vs first':>9} "
        f"{'claim+send ms (first/last batches)':>36} {'sent':>7} {'dup':>4} {'left':>5} {'at stand-in':>12}"
    )
    for r in results:
        print(
            f"{r['n']:>8} {r['seconds']:>8.1f} {r['per_second']:>7.0f} {r['ms_per_survey']:>10.2f} "
            f"{r['ms_per_survey'] / base_cost:>9.2f} "
            f"{r['first_batches_ms']:>17.2f} / {r['last_batches_ms']:<17.2f}"
            f"{r['sent']:>7} {r['duplicates']:>4} {r['left']:>5} {r['at_standin']!s:>12}"
        )
    print(
        f"\nautovacuum on this server: {autovacuum}; VACUUMs run by the bench: "
        + ", ".join(f"{r['vacuums']} at {r['n']}" for r in results)
        + (
            " (--vacuum-every to do what autovacuum would)"
            if autovacuum == "off" and not args.vacuum_every
            else ""
        )
    )
    print("\nms per survey in each tenth of the run (flat if the cost does not grow with the tables):")
    for r in results:
        if r["n"] >= 10_000:  # smaller runs have too few batches per tenth to say anything
            print(f"{r['n']:>8}  " + " ".join(f"{t:6.2f}" for t in r["tenths_ms"]))


if __name__ == "__main__":
    main()
