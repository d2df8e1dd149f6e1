"""Read-only case API: list and look up cases (changes come with the agent console)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from bot.api.auth import require_api_key
from bot.api.serializers import case_to_dict
from bot.cases.errors import CaseNotFound, IllegalTransition
from bot.cases.model import Status
from bot.cases.rules import normalise_case_number

bp = Blueprint("cases", url_prefix="/api/v1/cases")


def _bad(field: str, detail: str) -> HTTPResponse:
    return json({"error": "invalid request", "field": field, "detail": detail}, status=400)


@bp.get("/")
@require_api_key
async def list_cases(request: Request) -> HTTPResponse:
    status = request.args.get("status")
    try:
        status_filter = Status(status) if status else None
    except ValueError:
        return _bad("status", f"one of {[s.value for s in Status]}")
    try:
        limit = int(request.args.get("limit", 50))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        return _bad("limit", "limit and offset must be integers")
    if not 1 <= limit <= 500 or offset < 0:
        return _bad("limit", "limit must be 1-500 and offset >= 0")
    cases = await request.app.ctx.services.cases.search(status=status_filter, limit=limit, offset=offset)
    return json({"cases": [case_to_dict(c) for c in cases], "limit": limit, "offset": offset})


@bp.get("/<number>")
@require_api_key
async def get_case(request: Request, number: str) -> HTTPResponse:
    canonical = normalise_case_number(number)
    if canonical is None:
        return _bad("number", "a case number looks like C20261120-0007")
    try:
        case = await request.app.ctx.services.cases.get(canonical)
    except CaseNotFound:
        return json({"error": "not found", "number": canonical}, status=404)
    return json(case_to_dict(case, with_events=True))


@bp.post("/<number>/status")
@require_api_key
async def change_status(request: Request, number: str) -> HTTPResponse:
    """Move a case along the workflow ({"status": "resolved", "note": "..."}); resolving schedules
    a satisfaction survey."""
    canonical = normalise_case_number(number)
    body = request.json if isinstance(request.json, dict) else {}
    try:
        status = Status(body.get("status"))
    except ValueError:
        return _bad("status", f"one of {[s.value for s in Status]}")
    if canonical is None:
        return _bad("number", "a case number looks like C20261120-0007")
    actor = str(body.get("actor") or "api")[:48]
    try:
        case = await request.app.ctx.services.cases.change_status(
            canonical, status, actor=f"api:{actor}", note=body.get("note")
        )
    except CaseNotFound:
        return json({"error": "not found", "number": canonical}, status=404)
    except IllegalTransition as exc:
        return json({"error": "illegal transition", "from": exc.current, "to": exc.requested}, status=409)
    return json(case_to_dict(case))
