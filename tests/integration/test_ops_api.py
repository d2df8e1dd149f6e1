"""The ops server as a real process: health, authentication, the read-only case API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from bot.cases.model import CaseDraft
from bot.config import Settings
from bot.db.migrate import upgrade
from bot.redis_embedded import free_port
from bot.wiring import build_services
from tests.conftest import reset_schema
from tests.helpers import app_routes, http, start, stop, wait_until

KEY = "test-key-123"


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("ops")
    db = f"sqlite:///{tmp / 'ops.db'}"
    port = free_port()

    async def prepare() -> None:
        await reset_schema(db)
        await upgrade(db)
        services = build_services(Settings.from_env({"DATABASE_URL": db}))
        await services.cases.open_case(
            CaseDraft("wx-1", "wechat", "空调不制冷", "installation_repair", "13812345678")
        )
        await services.cases.open_case(CaseDraft("wx-2", "wechat", "快递丢了", "delivery", "13912345678"))
        await services.close()

    asyncio.run(prepare())
    proc = start(
        ["-m", "bot", "serve", "--port", str(port)],
        {
            "DATABASE_URL": db,
            "REDIS_URL": redis_url,
            "CARELOOP_API_KEYS": f"other,{KEY}",
            "CARELOOP_VAR_DIR": str(tmp),
        },
        tmp / "ops.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http("GET", f"{base}/health")[0] == 200, 60, "ops server", proc)
        yield base, db
    finally:
        stop(proc)


def test_health_reports_its_dependencies(ops: tuple[str, str]) -> None:
    status, body = http("GET", f"{ops[0]}/health")
    assert (status, body["database"], body["redis"]) == (200, "ok", "ok")


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}])
def test_the_case_api_refuses_without_a_valid_key(ops: tuple[str, str], headers: dict[str, str]) -> None:
    for path in ("/api/v1/cases", "/api/v1/cases/C20261120-0001"):
        status, body = http("GET", f"{ops[0]}{path}", headers=headers)
        assert status == 401 and "cases" not in body


def test_every_api_route_refuses_without_a_valid_key(ops: tuple[str, str]) -> None:
    routes = [(m, p) for m, p, _ in app_routes("/api/")]
    assert {p for _, p in routes} >= {"/api/v1/cases", "/api/v1/service-events", "/api/v1/outbox"}
    for method, path in routes:
        for headers in ({}, {"X-API-Key": "wrong"}):
            status, body = http(method, f"{ops[0]}{path}", {} if method == "POST" else None, headers=headers)
            assert status == 401, (method, path, status, body)


def test_cases_are_listed_newest_first(ops: tuple[str, str]) -> None:
    status, body = http("GET", f"{ops[0]}/api/v1/cases", headers={"X-API-Key": KEY})
    assert status == 200
    assert [c["description"] for c in body["cases"]] == ["快递丢了", "空调不制冷"]
    status, body = http("GET", f"{ops[0]}/api/v1/cases?status=new&limit=1", headers={"X-API-Key": KEY})
    assert len(body["cases"]) == 1


def test_one_case_comes_with_its_audit_trail(ops: tuple[str, str]) -> None:
    _, listing = http("GET", f"{ops[0]}/api/v1/cases", headers={"X-API-Key": KEY})
    number = listing["cases"][-1]["number"]
    status, body = http("GET", f"{ops[0]}/api/v1/cases/{number.lower()}", headers={"X-API-Key": KEY})
    assert status == 200 and body["number"] == number
    assert [e["kind"] for e in body["events"]] == ["created"]


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/api/v1/cases?status=done", 400, "status"),
        ("/api/v1/cases?limit=abc", 400, "limit"),
        ("/api/v1/cases?limit=100000", 400, "limit"),
        ("/api/v1/cases/not-a-number", 400, "number"),
        ("/api/v1/cases/C20991231-0001", 404, None),
    ],
)
def test_bad_requests_get_clear_errors(
    ops: tuple[str, str], path: str, status: int, field: str | None
) -> None:
    got, body = http("GET", f"{ops[0]}{path}", headers={"X-API-Key": KEY})
    assert got == status
    if field:
        assert body["field"] == field
