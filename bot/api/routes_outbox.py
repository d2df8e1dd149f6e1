"""The outbox as operators see it: dead letters, retries, skipped messages and why."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from bot.api.auth import require_api_key
from bot.api.serializers import iso
from bot.db.outbox_store import SqlOutboxStore
from bot.wechat.outbox import OutboxStatus

bp = Blueprint("outbox", url_prefix="/api/v1/outbox")


@bp.get("/")
@require_api_key
async def list_outbox(request: Request) -> HTTPResponse:
    raw = request.args.get("status")
    try:
        status = OutboxStatus(raw) if raw else None
    except ValueError:
        return json(
            {
                "error": "invalid request",
                "field": "status",
                "detail": f"one of {[s.value for s in OutboxStatus]}",
            },
            status=400,
        )
    try:
        limit = int(request.args.get("limit", 100))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 1000:
        return json({"error": "invalid request", "field": "limit", "detail": "1-1000"}, status=400)
    store = SqlOutboxStore(request.app.ctx.services.engine)
    records = await store.search(status=status, recipient=request.args.get("recipient"), limit=limit)
    return json(
        {
            "messages": [
                {
                    "id": r.id,
                    "channel": r.channel,
                    "recipient": r.recipient,
                    "kind": r.kind,
                    "purpose": r.purpose,
                    "status": r.status.value,
                    "reason": r.reason,
                    "attempts": r.attempts,
                    "last_error": r.last_error,
                    "payload": r.payload,
                    "created_at": iso(r.created_at),
                    "next_attempt_at": iso(r.next_attempt_at),
                    "sent_at": iso(r.sent_at),
                }
                for r in records
            ]
        }
    )
