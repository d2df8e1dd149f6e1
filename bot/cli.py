"""Command line: ``python -m bot <command>`` (also installed as ``careloop``)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.config import Settings

if TYPE_CHECKING:
    from bot.wiring import Services


def _cmd_db(args: argparse.Namespace) -> int:
    from bot.db.migrate import downgrade, upgrade

    settings = Settings.from_env()
    if args.action == "upgrade":
        asyncio.run(upgrade(settings.database_url, args.revision or "head"))
    else:
        asyncio.run(downgrade(settings.database_url, args.revision or "base"))
    print(f"database {args.action}d: {settings.database_url.split('@')[-1]}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from bot.api.app import create_app

    settings = Settings.from_env()
    app = create_app(settings)
    app.run(host=args.host or settings.ops_host, port=args.port or settings.ops_port, access_log=False)
    return 0


def _cmd_standin(args: argparse.Namespace) -> int:
    from bot.wechat.standin import create_standin_app
    from bot.wechat.standin_config import DEFAULT_STANDIN_PORT

    app = create_standin_app(Settings.from_env())
    app.run(host=args.host, port=args.port or DEFAULT_STANDIN_PORT, workers=args.workers, access_log=False)
    return 0


def _cmd_wechat(args: argparse.Namespace) -> int:
    from bot.wechat.front import create_front_app

    settings = Settings.from_env()
    app = create_front_app(settings)
    app.run(
        host=args.host or settings.wechat_front_host,
        port=args.port or settings.wechat_front_port,
        workers=args.workers,
        access_log=False,
    )
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    from bot.worker import main as worker_main

    asyncio.run(worker_main())
    return 0


def _cmd_redis(args: argparse.Namespace) -> int:
    from bot.redis_embedded import exec_server

    settings = Settings.from_env()
    exec_server(settings.embedded_redis_port, None if args.ephemeral else settings.var_dir / "redis")
    return 0


def _cmd_pin(args: argparse.Namespace) -> int:
    """Set this process's CPUs, then become the program: its children inherit them (bot/cpus.py)."""
    import os

    from bot.cpus import CpuListError, can_pin, parse_cpu_list

    program = args.program[1:] if args.program[:1] == ["--"] else args.program
    if not program:
        print("pin: no program to run (python -m bot pin CPUS -- PROGRAM ARGS...)", file=sys.stderr)
        return 2
    try:
        cpus = parse_cpu_list(args.cpus)
    except CpuListError as exc:
        print(f"pin: {exc}", file=sys.stderr)
        return 2
    if cpus and can_pin():
        try:
            os.sched_setaffinity(0, cpus)
        except OSError as exc:
            print(f"pin: cannot use CPU {args.cpus}: {exc}", file=sys.stderr)
            return 2
    os.execvp(program[0], program)
    return 0  # not reached: execvp replaces this process


def _cmd_train(args: argparse.Namespace) -> int:
    from bot.run import train_if_needed

    return train_if_needed(force=args.force)


def _cmd_run(args: argparse.Namespace) -> int:
    from bot.run import run_stack

    return run_stack(train=not args.no_train)


def _cmd_announce(args: argparse.Namespace) -> int:
    from bot.run import announce_when_ready

    return announce_when_ready()


def _read_password(args: argparse.Namespace) -> tuple[str, bool] | None:
    """(password, generated). From stdin, from a prompt asked twice, or made up when nobody can type."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    if sys.stdin.isatty():
        first = getpass.getpass(f"password for {args.name}: ")
        if first != getpass.getpass("again: "):
            print("the two passwords differ; nothing was changed", file=sys.stderr)
            return None
        return first, False
    return secrets.token_urlsafe(18), True


async def _with_services(work: Callable[[Services], Awaitable[int]]) -> int:
    """Run ``work`` against DATABASE_URL, migrating first so a fresh database works too."""
    from bot.db.migrate import upgrade
    from bot.handoff.agents import AgentError
    from bot.wiring import build_services

    settings = Settings.from_env()
    await upgrade(settings.database_url)
    services = build_services(settings)
    try:
        return await work(services)
    except AgentError as exc:
        print(f"nothing changed: {exc}", file=sys.stderr)
        return 1
    finally:
        await services.close()


async def _list_agents(services: Services) -> int:
    agents = await services.agents.all()
    if not agents:
        print("no agents yet: python -m bot agents add NAME --role agent|supervisor")
        return 0
    width = max(len(a.username) for a in agents)
    for a in agents:
        state = "" if a.active else "  (inactive)"
        print(f"{a.username:<{width}}  {a.role.value:<10}  {a.display_name}{state}")
    return 0


def _cmd_agents(args: argparse.Namespace) -> int:
    from bot.handoff.model import Role

    if args.action == "list":
        return asyncio.run(_with_services(_list_agents))
    if args.action in ("deactivate", "activate"):
        active = args.action == "activate"

        async def switch(services: Services) -> int:
            await services.agents.set_active(args.name, active)
            print(f"{args.name} {'can' if active else 'can no longer'} sign in")
            return 0

        return asyncio.run(_with_services(switch))
    read = _read_password(args)  # before the event loop: getpass blocks
    if read is None:
        return 1
    password, generated = read

    async def add(services: Services) -> int:
        agent = await services.agents.add(args.name, password, Role(args.role), args.display_name)
        print(f"added {agent.role.value} {agent.username} ({agent.display_name})")
        return 0

    async def change(services: Services) -> int:
        await services.agents.set_password(args.name, password)
        print(f"new password set for {args.name}")
        return 0

    code = asyncio.run(_with_services(add if args.action == "add" else change))
    if code == 0 and generated:
        print(f"generated password (shown only this once): {password}")
    return code


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(prog="careloop", description="CareLoop customer-feedback bot")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="migrate, train if needed, and start every process (Ctrl-C stops all)")
    p.add_argument("--no-train", action="store_true", help="use the newest model as it is")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("db", help="database migrations")
    p.add_argument("action", choices=["upgrade", "downgrade"])
    p.add_argument("revision", nargs="?")
    p.set_defaults(func=_cmd_db)

    p = sub.add_parser("serve", help="the ops server (REST API, console, simulator)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("standin", help="the local WeChat stand-in and phone simulator alone (no database)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, help="default 8090")
    p.add_argument("--workers", type=int, default=1, help="state is in Redis, so several may share it")
    p.set_defaults(func=_cmd_standin)

    p = sub.add_parser("wechat", help="the WeChat callback front: answers WeChat at once, queues for Rasa")
    p.add_argument("--host")
    p.add_argument("--port", type=int, help="default 5006 (CARELOOP_WECHAT_PORT)")
    p.add_argument("--workers", type=int, default=1, help="it keeps no state, so several may run")
    p.set_defaults(func=_cmd_wechat)

    p = sub.add_parser("worker", help="scheduled jobs: outbox retries (and surveys)")
    p.set_defaults(func=_cmd_worker)

    p = sub.add_parser("agents", help="console accounts for customer-service agents")
    agents = p.add_subparsers(dest="action", required=True)
    a = agents.add_parser("add", help="create an agent (prompts for the password, or generates one)")
    a.add_argument("name", help="the sign-in name: 2-64 letters, digits, '.', '_' or '-'")
    a.add_argument("--role", choices=["agent", "supervisor"], required=True)
    a.add_argument("--display-name", help="the name customers and colleagues see (default: NAME)")
    a.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    agents.add_parser("list", help="every agent with role and display name")
    a = agents.add_parser("password", help="set a new password (prompts, or generates one)")
    a.add_argument("name")
    a.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    for action, text in (("deactivate", "stop an agent signing in"), ("activate", "let them sign in again")):
        agents.add_parser(action, help=text).add_argument("name")
    p.set_defaults(func=_cmd_agents)

    p = sub.add_parser("redis", help="run the embedded Redis server in the foreground")
    p.add_argument("--ephemeral", action="store_true", help="keep nothing on disk")
    p.set_defaults(func=_cmd_redis)

    p = sub.add_parser("train", help="train the Rasa model unless data and config are unchanged")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "pin", help="run a program on the given CPUs (make run uses it for CARELOOP_MODEL_CPUS)"
    )
    p.add_argument("cpus", help="a CPU list: 0, 0,2 or 0-1")
    p.add_argument("program", nargs=argparse.REMAINDER, help="-- then the program and its arguments")
    p.set_defaults(func=_cmd_pin)

    p = sub.add_parser("announce", help=argparse.SUPPRESS)
    p.set_defaults(func=_cmd_announce)

    args = parser.parse_args(argv)
    sys.exit(args.func(args))
