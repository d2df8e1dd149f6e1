"""`make run`: migrate, train if stale, start every process under honcho, stop them together."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.config import PROJECT_ROOT, Settings
from bot.cpus import CpuListError, available_cpus, can_pin, format_cpu_list, model_cpus_for, plan
from bot.redis_embedded import port_open

MODEL_NAME = "careloop"
BIN = Path(sys.executable).parent


def child_env(settings: Settings) -> dict[str, str]:
    """Environment shared by every process: same database, Redis, keys; quiet third-party noise."""
    env = dict(os.environ)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["CARELOOP_VAR_DIR"] = str(settings.var_dir)
    env.setdefault("WECHAT_OUTBOUND", "queue")  # the worker sends; the Rasa server only runs the model
    return env


def _persisted_secret(settings: Settings, name: str) -> str:
    """A development secret kept in var/ so it survives restarts (production sets the variable)."""
    path = settings.var_dir / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def train_if_needed(force: bool = False) -> int:
    """`rasa train` skips work when data and config are unchanged (Rasa's fingerprinting)."""
    cmd = [str(BIN / "rasa"), "train", "--fixed-model-name", MODEL_NAME, "--out", "models"]
    if force:
        cmd.append("--force")
    env = child_env(Settings.from_env())
    return subprocess.call(cmd, cwd=PROJECT_ROOT, env=env)


def latest_model() -> Path | None:
    models = sorted((PROJECT_ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def write_endpoints(settings: Settings) -> Path:
    """endpoints.yml with this run's action server port (the checked-in file assumes 5055)."""
    import yaml

    raw = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    raw["action_endpoint"]["url"] = f"http://127.0.0.1:{settings.action_port}/webhook"
    path = settings.var_dir / "endpoints.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def processes(settings: Settings, available: frozenset[int] | None = None) -> dict[str, str]:
    """Name → command line of every long-running process, pinned as ``CARELOOP_MODEL_CPUS`` says
    (by default the model on the first of two or more CPUs); ``available``: this machine's CPUs."""
    py = str(BIN / "python")
    rasa = str(BIN / "rasa")
    model = latest_model()
    procs = {}
    if settings.uses_embedded_redis:
        procs["redis"] = f"{py} -m bot redis"
    procs["rasa"] = (
        # "--auth-token=…" in one word: a generated token may begin with "-", which argparse would
        # otherwise take for an option (Rasa then exits with "expected one argument").
        # bot.rasa_server is `rasa run` with action answers validated by a schema compiled once.
        f"{py} -m bot.rasa_server run --enable-api {shlex.quote('--auth-token=' + settings.rasa_token)} "
        "-i 127.0.0.1 "
        f"--port {settings.rasa_port} --model {model} --credentials credentials.yml "
        f"--endpoints {write_endpoints(settings)}"
    )
    procs["actions"] = f"{rasa} run actions --actions actions --port {settings.action_port}"
    procs["ops"] = f"{py} -m bot serve"
    if settings.wechat.configured:
        procs["wechat"] = f"{py} -m bot wechat"
    procs["worker"] = f"{py} -m bot worker"
    procs["ready"] = f"{py} -m bot announce"
    if settings.model_cpus and not can_pin():
        print("CARELOOP_MODEL_CPUS is ignored: this system cannot pin processes to CPUs", file=sys.stderr)
        return procs
    available = available_cpus() if available is None else available
    model_cpus = model_cpus_for(settings.model_cpus, available)
    return pin_to_cpus(procs, model_cpus, available) if model_cpus else procs


#: Processes that may run on every CPU, the model's too: the WeChat front must answer a burst of
#: callbacks within milliseconds and costs about half a millisecond of CPU per callback, so it borrows
#: the model's CPU for moments rather than queueing behind the worker and the database on the others.
FLOATING = frozenset({"wechat"})


def pin_to_cpus(procs: dict[str, str], model: frozenset[int], available: frozenset[int]) -> dict[str, str]:
    """The Rasa server on the model's CPUs, the front anywhere, every other process on the remaining
    ones (bot/cpus.py)."""
    cpu_plan = plan(model, available)
    pin = f"{BIN / 'python'} -m bot pin"

    def cpus(name: str) -> frozenset[int]:
        return cpu_plan.model if name == "rasa" else available if name in FLOATING else cpu_plan.rest

    return {name: f"{pin} {format_cpu_list(cpus(name))} -- {cmd}" for name, cmd in procs.items()}


def front_url(settings: Settings) -> str:
    """Where WeChat posts callbacks: the front process (bot/wechat/front.py)."""
    return f"http://127.0.0.1:{settings.wechat_front_port}/webhooks/wechat/webhook"


def dev_wechat_environment(settings: Settings) -> dict[str, str]:
    """Without a real official account, point everything at the local WeChat stand-in (safe mode)."""
    if os.environ.get("WECHAT_APPID"):
        return {}
    from bot.wechat.standin_config import DEV_APPID, DEV_SECRET, DEV_TOKEN

    aes_file = settings.var_dir / "dev-wechat-aes-key"
    if not aes_file.exists():
        aes_file.parent.mkdir(parents=True, exist_ok=True)
        aes_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode()[:43])
    return {
        "WECHAT_APPID": DEV_APPID,
        "WECHAT_APPSECRET": DEV_SECRET,
        "WECHAT_TOKEN": DEV_TOKEN,
        "WECHAT_ENCODING_AES_KEY": aes_file.read_text().strip(),
        "WECHAT_API_BASE_URL": f"http://127.0.0.1:{settings.ops_port}/standin/cgi-bin/",
        "CARELOOP_WECHAT_STANDIN": "1",
        "CARELOOP_WECHAT_CONNECTOR_URL": front_url(settings),
    }


def run_stack(train: bool = True) -> int:
    from honcho.manager import Manager

    settings = Settings.from_env()
    os.environ.setdefault("CARELOOP_API_KEYS", _persisted_secret(settings, "dev-api-key"))
    os.environ.setdefault("RASA_TOKEN", _persisted_secret(settings, "dev-rasa-token"))
    for key, value in dev_wechat_environment(settings).items():
        os.environ.setdefault(key, value)
    settings = Settings.from_env()
    if settings.uses_embedded_redis and port_open(settings.embedded_redis_port):
        print(f"port {settings.embedded_redis_port} is taken: is CareLoop already running?", file=sys.stderr)
        return 1
    from bot.db.migrate import upgrade

    asyncio.run(upgrade(settings.database_url))
    if train and train_if_needed() != 0:
        print("training failed; see above", file=sys.stderr)
        return 1
    if latest_model() is None:
        print("no trained model in models/: run without --no-train", file=sys.stderr)
        return 1
    try:
        commands = processes(settings)
    except CpuListError as exc:
        print(f"CARELOOP_MODEL_CPUS: {exc}", file=sys.stderr)
        return 1
    manager = Manager()
    env = child_env(settings)
    for name, cmd in commands.items():
        manager.add_process(name, cmd, env=env, cwd=str(PROJECT_ROOT))
    manager.loop()
    return manager.returncode or 0


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status < 500
    except Exception:
        return False


def announce_when_ready(timeout: float = 600) -> int:
    """Wait for every server, print where to go, then idle (honcho stops all if one process exits)."""
    settings = Settings.from_env()
    ops = f"http://{settings.ops_host}:{settings.ops_port}"
    checks = {
        "rasa": f"{settings.rasa_url}/version",
        "actions": f"http://127.0.0.1:{settings.action_port}/health",
        "ops": f"{ops}/health",
    }
    if settings.wechat.configured:
        checks["wechat"] = f"http://127.0.0.1:{settings.wechat_front_port}/health"
    deadline = time.monotonic() + timeout
    pending = dict(checks)
    while pending and time.monotonic() < deadline:
        pending = {k: v for k, v in pending.items() if not _up(v)}
        time.sleep(1)
    if pending:
        print(f"not ready after {timeout:.0f}s: {', '.join(pending)}", flush=True)
    else:
        print(
            "\n".join(
                [
                    "",
                    "CareLoop is running.",
                    f"  Chat (REST):   curl -XPOST {settings.rasa_url}/webhooks/rest/webhook "
                    '-d \'{"sender":"demo","message":"空调修完又不制冷了"}\'',
                    f"  Ops API:       {ops}/api/v1/cases  (header X-API-Key: see var/dev-api-key)",
                    f"  Agent console: {ops}/console  (accounts: python -m bot agents add NAME --role agent)",
                    f"  Health:        {ops}/health",
                    *([f"  WeChat URL:    {front_url(settings)}"] if settings.wechat.configured else []),
                    "  Stop:          Ctrl-C",
                    *(
                        ["", f"Try it as a WeChat customer (phone simulator, safe mode): {ops}/simulator"]
                        if settings.wechat_standin
                        else []
                    ),
                    "",
                ]
            ),
            flush=True,
        )
    signal.pause()
    return 0
