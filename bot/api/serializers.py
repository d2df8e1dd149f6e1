"""Plain data → JSON-ready dicts for the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.cases.model import Case, CaseEvent


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def case_to_dict(case: Case, *, with_events: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number": case.number,
        "status": case.status.value,
        "priority": case.priority.value,
        "priority_reasons": case.priority_reasons,
        "category": case.category,
        "description": case.description,
        "order_id": case.order_id,
        "phone": case.phone,
        "customer": {"sender_id": case.sender_id, "channel": case.channel},
        "satisfaction": case.satisfaction,
        "owner": case.owner,
        "source": case.source,
        "parent_case": case.parent_case_number,
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
        "first_response_due": iso(case.first_response_due),
        "resolution_due": iso(case.resolution_due),
        "first_responded_at": iso(case.first_responded_at),
        "resolved_at": iso(case.resolved_at),
        "closed_at": iso(case.closed_at),
    }
    if with_events:
        out["events"] = [event_to_dict(e) for e in case.events]
    return out


def event_to_dict(event: CaseEvent) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "at": iso(event.at),
        "actor": event.actor,
        "from": event.from_value,
        "to": event.to_value,
        "note": event.note,
        "data": event.data,
    }
