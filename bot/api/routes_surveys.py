"""Where surveys come from (service events), what happened to them, and what they add up to."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from bot.api.auth import require_api_key
from bot.api.serializers import iso
from bot.surveys.errors import InvalidServiceEvent, SurveyNotFound
from bot.surveys.model import ServiceEvent, Survey, SurveyStatus

events_bp = Blueprint("service_events", url_prefix="/api/v1/service-events")
surveys_bp = Blueprint("surveys", url_prefix="/api/v1/surveys")

REQUIRED = ("external_id", "openid", "service_type", "completed_at")


def _bad(field: str, detail: str) -> HTTPResponse:
    return json({"error": "invalid request", "field": field, "detail": detail}, status=400)


def parse_time(raw: Any, field: str) -> datetime:
    if not isinstance(raw, str):
        raise InvalidServiceEvent(field, "an ISO 8601 time with an offset, e.g. 2026-11-20T14:30:00+08:00")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidServiceEvent(
            field, "an ISO 8601 time with an offset, e.g. 2026-11-20T14:30:00+08:00"
        ) from None
    if moment.tzinfo is None:
        raise InvalidServiceEvent(field, "needs a time zone offset")
    return moment


def survey_to_dict(s: Survey) -> dict[str, Any]:
    return {
        "id": s.id,
        "openid": s.sender_id,
        "channel": s.channel,
        "subject": s.subject,
        "service_type": s.service_type,
        "technician": s.technician,
        "case": s.case_number,
        "status": s.status.value,
        "reason": s.reason,
        "due_at": iso(s.due_at),
        "sent_at": iso(s.sent_at),
        "sent_via": s.sent_via,
        "reminded_at": iso(s.reminded_at),
        "answered_at": iso(s.answered_at),
        "score": s.score,
        "satisfaction": s.satisfaction,
        "comment": s.comment,
        "remediation_case": s.remediation_case_number,
        "history": [
            {"at": iso(c.at), "from": c.from_status, "to": c.to_status, "reason": c.reason} for c in s.history
        ],
    }


@events_bp.post("/")
@require_api_key
async def post_service_event(request: Request) -> HTTPResponse:
    """A completed service: schedules a survey. Idempotent by external_id."""
    try:
        body = request.json
    except Exception:
        body = None
    if not isinstance(body, dict):
        return _bad("body", "a JSON object")
    for field in REQUIRED:
        if body.get(field) in (None, ""):
            return _bad(field, "required")
    for field in (
        "external_id",
        "openid",
        "service_type",
        "technician",
        "order_id",
        "description",
        "channel",
    ):
        if body.get(field) is not None and not isinstance(body.get(field), str):
            return _bad(field, "must be a string")
    try:
        event = ServiceEvent(
            external_id=body["external_id"].strip(),
            sender_id=body["openid"].strip(),
            channel=(body.get("channel") or "wechat").strip(),
            service_type=body["service_type"].strip(),
            technician=body.get("technician"),
            order_id=body.get("order_id"),
            description=body.get("description"),
            completed_at=parse_time(body["completed_at"], "completed_at"),
        )
        intake = await request.app.ctx.services.surveys.record_service_event(event)
    except InvalidServiceEvent as exc:
        return _bad(exc.field, exc.detail)
    survey = intake.survey
    return json(
        {
            "created": intake.created,
            "detail": "scheduled a survey" if intake.created else "already received; nothing changed",
            "service_event": {"id": intake.event.id, "external_id": intake.event.external_id},
            "survey": survey_to_dict(survey) if survey else None,
        },
        status=201 if intake.created else 200,
    )


@surveys_bp.get("/")
@require_api_key
async def list_surveys(request: Request) -> HTTPResponse:
    raw = request.args.get("status")
    try:
        status = SurveyStatus(raw) if raw else None
    except ValueError:
        return _bad("status", f"one of {[s.value for s in SurveyStatus]}")
    surveys = await request.app.ctx.services.surveys.search(
        status=status, sender_id=request.args.get("openid"), limit=200
    )
    return json({"surveys": [survey_to_dict(s) for s in surveys]})


@surveys_bp.get("/<survey_id:int>")
@require_api_key
async def get_survey(request: Request, survey_id: int) -> HTTPResponse:
    try:
        survey = await request.app.ctx.services.surveys.get(survey_id)
    except SurveyNotFound:
        return json({"error": "not found"}, status=404)
    return json(survey_to_dict(survey))


@surveys_bp.get("/stats")
@require_api_key
async def survey_stats(request: Request) -> HTTPResponse:
    """Response rate, average score and CSAT (share of 4–5) by week, service type or technician."""
    group_by = request.args.get("group_by", "week")
    if group_by not in ("week", "service_type", "technician"):
        return _bad("group_by", "week, service_type or technician")
    now = datetime.now(timezone.utc)
    try:
        since = (
            parse_time(request.args.get("since"), "since")
            if request.args.get("since")
            else now - timedelta(days=90)
        )
        until = (
            parse_time(request.args.get("until"), "until")
            if request.args.get("until")
            else now + timedelta(minutes=1)
        )
    except InvalidServiceEvent as exc:
        return _bad(exc.field, exc.detail)
    rows = await request.app.ctx.services.surveys.stats(group_by, since, until)
    return json({"group_by": group_by, "since": iso(since), "until": iso(until), "rows": rows})
