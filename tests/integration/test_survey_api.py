"""The ops server as a real process: service-event intake, the survey API, a resolved case's survey.

The server keeps the default quiet hours (21:00-09:00) and delay (2 h) but runs in a time zone where
it is now the evening, so a service completed just now is surveyed the next morning at 09:00.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.cases.model import CaseDraft
from bot.config import Settings
from bot.db.migrate import upgrade
from bot.redis_embedded import free_port
from bot.surveys.model import ServiceEvent
from bot.wiring import build_services
from tests.conftest import reset_schema
from tests.helpers import http, start, stop, wait_until

KEY = "survey-key-456"
AUTH = {"X-API-Key": KEY}


def evening_zone() -> str:
    """An Etc/GMT zone where the hour is now 20:00-20:59 (Etc/GMT-8 is UTC+8)."""
    offset = (20 - datetime.now(timezone.utc).hour) % 24
    if offset > 14:
        offset -= 24
    return f"Etc/GMT{-offset:+d}"


@dataclass(frozen=True)
class Ops:
    base: str
    tz: ZoneInfo
    cases: list[str]  # new cases of the customers wx-case-0, wx-case-1, ...


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Ops]:
    tmp = tmp_path_factory.mktemp("survey_ops")
    zone = evening_zone()
    env = {
        "DATABASE_URL": f"sqlite:///{tmp / 'ops.db'}",
        "REDIS_URL": redis_url,
        "CARELOOP_API_KEYS": f"other,{KEY}",
        "CARELOOP_VAR_DIR": str(tmp),
        "CARELOOP_TIMEZONE": zone,
        "SURVEY_DELAY_MINUTES": "120",
        "SURVEY_QUIET_HOURS": "21:00-09:00",
    }
    numbers: list[str] = []

    async def prepare() -> None:
        await reset_schema(env["DATABASE_URL"])
        await upgrade(env["DATABASE_URL"])
        services = build_services(Settings.from_env(env))
        try:
            for n in range(3):
                case = await services.cases.open_case(
                    CaseDraft(f"wx-case-{n}", "wechat", "宽带经常掉线", "other", "13812345678")
                )
                numbers.append(case.number)
            for n, score in enumerate([5, None]):  # two surveys went out, one came back
                intake = await services.surveys.record_service_event(
                    ServiceEvent(
                        external_id=f"WO-stats-{n}",
                        sender_id=f"wx-stats-{n}",
                        channel="wechat",
                        service_type="repair",
                        technician="赵师傅",
                        completed_at=datetime.now(timezone.utc) - timedelta(hours=3),
                    )
                )
                assert intake.survey is not None and intake.survey.id is not None
                assert await services.surveys.mark_sent(intake.survey.id, "customer_service") is not None
                if score is not None:
                    await services.surveys.answer(
                        f"wx-stats-{n}",
                        survey_id=intake.survey.id,
                        rating=score,
                        label=None,
                        confidence=None,
                        comment=None,
                    )
        finally:
            await services.close()

    asyncio.run(prepare())
    port = free_port()
    proc = start(["-m", "bot", "serve", "--port", str(port)], env, tmp / "ops.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http("GET", f"{base}/health")[0] == 200, 60, "ops server", proc)
        yield Ops(base, ZoneInfo(zone), numbers)
    finally:
        stop(proc)


def body(openid: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """A valid service event; ``changes`` overrides fields or (with None) removes them."""
    event = {
        "external_id": f"WO-{uuid.uuid4().hex[:10]}",
        "openid": openid,
        "service_type": "repair",
        "technician": "王师傅",
        "order_id": "JD2026112012345",
        "completed_at": (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat(),
    }
    event.update(changes or {})
    return {k: v for k, v in event.items() if v is not None}


def surveys_of(ops: Ops, openid: str) -> list[dict[str, Any]]:
    status, listing = http("GET", f"{ops.base}/api/v1/surveys?openid={openid}", headers=AUTH)
    assert status == 200
    return listing["surveys"]


def next_nine(moment: datetime, tz: ZoneInfo) -> datetime:
    """The end of the quiet hours ``moment`` (local time 21:00-09:00) falls in."""
    local = moment.astimezone(tz)
    nine = local.replace(hour=9, minute=0, second=0, microsecond=0)
    return nine if nine > local else nine + timedelta(days=1)


def test_a_service_event_schedules_one_survey_out_of_the_quiet_hours(ops: Ops) -> None:
    """201 with a survey due at completed_at + 2 h, moved to 09:00; a repeat is 200 and changes nothing."""
    openid = f"wx-{uuid.uuid4().hex[:8]}"
    event = body(openid)
    completed = datetime.fromisoformat(event["completed_at"])
    assert completed.astimezone(ops.tz).hour in (19, 20), "the zone should make it evening now"

    status, created = http("POST", f"{ops.base}/api/v1/service-events", event, AUTH)
    assert status == 201, created
    assert (created["created"], created["detail"]) == (True, "scheduled a survey")
    survey = created["survey"]
    assert (survey["status"], survey["openid"], survey["technician"]) == ("scheduled", openid, "王师傅")
    due = datetime.fromisoformat(survey["due_at"])
    assert due == next_nine(completed + timedelta(hours=2), ops.tz)
    assert due.astimezone(ops.tz).hour == 9 and due - completed > timedelta(hours=2)

    status, again = http("POST", f"{ops.base}/api/v1/service-events", {**event, "technician": "李师傅"}, AUTH)
    assert status == 200, again
    assert (again["created"], again["detail"]) == (False, "already received; nothing changed")
    assert again["service_event"] == created["service_event"]
    assert again["survey"]["id"] == survey["id"] and again["survey"]["technician"] == "王师傅"
    (listed,) = surveys_of(ops, openid)
    assert (listed["id"], listed["due_at"], listed["status"]) == (survey["id"], survey["due_at"], "scheduled")

    status, one = http("GET", f"{ops.base}/api/v1/surveys/{survey['id']}", headers=AUTH)
    assert status == 200 and [(h["from"], h["to"]) for h in one["history"]] == [(None, "scheduled")]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"external_id": None}, "external_id"),
        ({"service_type": "haircut"}, "service_type"),
        ({"completed_at": "2026-11-20T14:30:00"}, "completed_at"),
        ({"completed_at": "yesterday"}, "completed_at"),
        ({"completed_at": (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()}, "completed_at"),
        ({"openid": 12345}, "openid"),
        ({"openid": ["wx-1"]}, "openid"),
        ({"openid": None}, "openid"),
    ],
    ids=[
        "no-external-id",
        "unknown-service-type",
        "no-offset",
        "not-a-time",
        "in-the-future",
        "openid-number",
        "openid-list",
        "no-openid",
    ],
)
def test_a_bad_service_event_is_refused_naming_the_field(
    ops: Ops, change: dict[str, Any], field: str
) -> None:
    event = body("wx-bad-event", change)
    status, answer = http("POST", f"{ops.base}/api/v1/service-events", event, AUTH)
    assert (status, answer.get("field")) == (400, field), answer
    assert surveys_of(ops, "wx-bad-event") == []


@pytest.mark.parametrize(
    "payload",
    [["not", "an", "object"], "a string", 42, b"{not json"],
    ids=["list", "string", "number", "not-json"],
)
def test_a_body_that_is_not_an_object_is_refused(ops: Ops, payload: Any) -> None:
    if isinstance(payload, bytes):  # not JSON at all: sent as is
        request = urllib.request.Request(
            f"{ops.base}/api/v1/service-events",
            data=payload,
            method="POST",
            headers={"Content-Type": "application/json", **AUTH},
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=30)
        status, answer = err.value.code, json.loads(err.value.read())
    else:
        status, answer = http("POST", f"{ops.base}/api/v1/service-events", payload, AUTH)
    assert (status, answer.get("field")) == (400, "body"), answer


ROUTES = [
    ("POST", "/api/v1/service-events", body("wx-intruder", {"external_id": "WO-intruder"})),
    ("GET", "/api/v1/surveys", None),
    ("GET", "/api/v1/surveys?openid=wx-stats-0", None),
    ("GET", "/api/v1/surveys/1", None),
    ("GET", "/api/v1/surveys/stats?group_by=technician", None),
    ("POST", "/api/v1/cases/{case}/status", {"status": "acknowledged"}),
]


@pytest.mark.parametrize(
    "headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}], ids=["none", "wrong", "empty"]
)
def test_every_survey_route_refuses_without_a_valid_key(ops: Ops, headers: dict[str, str]) -> None:
    """401 and nothing disclosed or changed."""
    for method, path, payload in ROUTES:
        url = ops.base + path.format(case=ops.cases[2])
        status, answer = http(method, url, payload, headers)
        assert status == 401, (method, path, status)
        assert set(answer) == {"error", "detail"}, (method, path, answer)
    assert surveys_of(ops, "wx-intruder") == []
    status, case = http("GET", f"{ops.base}/api/v1/cases/{ops.cases[2]}", headers=AUTH)
    assert (status, case["status"]) == (200, "new")


def test_resolving_a_case_through_the_api_schedules_its_survey(ops: Ops) -> None:
    """new → acknowledged → in_progress → resolved: a case survey; an illegal move is a 409."""
    number, openid = ops.cases[0], "wx-case-0"
    url = f"{ops.base}/api/v1/cases/{number}/status"
    for status_name in ("acknowledged", "in_progress"):
        status, case = http("POST", url, {"status": status_name, "note": "处理中"}, AUTH)
        assert (status, case["status"]) == (200, status_name)
        assert surveys_of(ops, openid) == []
    status, case = http("POST", url, {"status": "resolved", "actor": "li"}, AUTH)
    assert (status, case["status"]) == (200, "resolved")
    (survey,) = surveys_of(ops, openid)
    assert (survey["subject"], survey["service_type"], survey["case"], survey["status"]) == (
        "case",
        "case",
        number,
        "scheduled",
    )
    resolved = datetime.fromisoformat(case["resolved_at"])
    assert datetime.fromisoformat(survey["due_at"]) == next_nine(resolved + timedelta(hours=2), ops.tz)

    status, refused = http("POST", url, {"status": "acknowledged"}, AUTH)
    assert status == 409 and (refused["from"], refused["to"]) == ("resolved", "acknowledged")
    assert len(surveys_of(ops, openid)) == 1


def test_an_illegal_transition_is_409_and_schedules_nothing(ops: Ops) -> None:
    number, openid = ops.cases[1], "wx-case-1"
    status, refused = http("POST", f"{ops.base}/api/v1/cases/{number}/status", {"status": "resolved"}, AUTH)
    assert status == 409 and (refused["error"], refused["from"], refused["to"]) == (
        "illegal transition",
        "new",
        "resolved",
    )
    status, case = http("GET", f"{ops.base}/api/v1/cases/{number}", headers=AUTH)
    assert (status, case["status"]) == (200, "new")
    assert surveys_of(ops, openid) == []


def test_figures_by_technician(ops: Ops) -> None:
    status, figures = http("GET", f"{ops.base}/api/v1/surveys/stats?group_by=technician", headers=AUTH)
    assert status == 200 and figures["group_by"] == "technician"
    rows = {r["technician"]: r for r in figures["rows"]}
    assert rows["赵师傅"] == {
        "technician": "赵师傅",
        "sent": 2,
        "answered": 1,
        "response_rate": 0.5,
        "average_score": 5.0,
        "csat": 1.0,
        "remediation_cases": 0,
    }
    status, refused = http("GET", f"{ops.base}/api/v1/surveys/stats?group_by=color", headers=AUTH)
    assert (status, refused["field"]) == (400, "group_by")
