"""Shared fixtures. Databases: SQLite always, PostgreSQL too when DATABASE_URL is set.
Redis: REDIS_URL when set, else the embedded server on a free port."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.cases.rules import SlaPolicy
from bot.cases.service import CaseService
from bot.config import PROJECT_ROOT, Settings
from bot.customers import CustomerService
from bot.feedback.service import FeedbackService
from bot.handoff.agents import AgentService
from bot.handoff.rules import HandoffPolicy
from bot.handoff.service import HandoffService
from bot.notices import ResolutionNotifier
from bot.redis_client import create_redis
from bot.surveys.rules import SurveyPolicy
from bot.surveys.service import SurveyService
from bot.wiring import Services
from tests.fakes import (
    FakeBus,
    FakeCustomerStore,
    FakeFeedbackStore,
    FakeHandoffStore,
    FakeRasa,
    FakeSurveyStore,
    FakeUowFactory,
)

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

POLICY_PATH = PROJECT_ROOT / "bot" / "cases" / "sla_policy.yml"
MODEL_PATH = PROJECT_ROOT / "models" / "careloop.tar.gz"


class Clock:
    """A clock tests can move."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 20, 2, 30, tzinfo=timezone.utc))  # 10:30 in Shanghai


@pytest.fixture(scope="session")
def policy() -> SlaPolicy:
    return SlaPolicy.load(POLICY_PATH)


@pytest.fixture
def fake_uow() -> FakeUowFactory:
    return FakeUowFactory()


@pytest.fixture
def fake_services(fake_uow: FakeUowFactory, policy: SlaPolicy, clock: Clock, tmp_path: Path) -> Services:
    """Services over in-memory fakes, for action tests."""
    settings = Settings.from_env({"CARELOOP_VAR_DIR": str(tmp_path)})
    cases = CaseService(fake_uow, policy, clock=clock)
    customers = CustomerService(FakeCustomerStore())
    surveys = SurveyService(FakeSurveyStore(), customers, cases, SurveyPolicy(), clock=clock)
    cases.on_resolved.append(surveys.schedule_for_case)
    rasa, bus, handoff_store = FakeRasa(), FakeBus(), FakeHandoffStore()
    handoffs = HandoffService(
        handoff_store, cases, HandoffPolicy(opens=None, closes=None), rasa=rasa, bus=bus, clock=clock
    )
    notices = ResolutionNotifier(cases, rasa, handoffs, customers)
    cases.on_resolved.append(notices)
    return Services(
        settings=settings,
        engine=None,  # type: ignore[arg-type]
        policy=policy,
        cases=cases,
        feedback=FeedbackService(FakeFeedbackStore(fake_uow.store), clock=clock),
        customers=customers,
        surveys=surveys,
        handoffs=handoffs,
        agents=AgentService(handoff_store, clock=clock),
        rasa=rasa,  # type: ignore[arg-type]
        bus=bus,  # type: ignore[arg-type]
        notices=notices,
    )


def database_urls(tmp: Path) -> list[str]:
    urls = [f"sqlite:///{tmp / 'careloop.db'}"]
    if os.environ.get("DATABASE_URL"):
        urls.append(os.environ["DATABASE_URL"])
    return urls


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs on SQLite and, when DATABASE_URL is set, on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'careloop.db'}"
        return
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql")):
        pytest.skip("DATABASE_URL does not point at PostgreSQL")
    yield url


@pytest.fixture
async def migrated(database_url: str) -> AsyncIterator[str]:
    """A database at the newest schema, empty of CareLoop rows, reset again afterwards."""
    from bot.db.migrate import downgrade, upgrade

    await reset_schema(database_url)
    await upgrade(database_url)
    yield database_url
    await downgrade(database_url)


async def reset_schema(database_url: str) -> None:
    """Drop what an interrupted earlier run may have left: every CareLoop table, Alembic's version
    table and Rasa's tracker events."""
    import sqlalchemy as sa

    from bot.db.engine import create_engine
    from bot.db.models import metadata

    engine = create_engine(database_url)
    cascade = " CASCADE" if engine.dialect.name == "postgresql" else ""
    try:
        async with engine.begin() as conn:
            for table in [*reversed(metadata.sorted_tables), "alembic_version", "events"]:
                name = getattr(table, "name", table)
                await conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}{cascade}"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    from bot.redis_embedded import free_port, start_background

    port = free_port()
    proc = start_background(port)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = create_redis(redis_url)
    yield client
    await client.close()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not MODEL_PATH.exists() and not os.environ.get("CARELOOP_REQUIRE_MODEL"):
        skip = pytest.mark.skip(reason="no trained model: run `make test` (it trains first)")
        for item in items:
            if "model" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def event_loop_policy() -> asyncio.AbstractEventLoopPolicy:
    return asyncio.DefaultEventLoopPolicy()
