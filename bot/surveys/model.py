"""Plain data for surveys and the services they ask about."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from bot.surveys.errors import SurveyNotFound


class SurveyStatus(str, Enum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    REMINDED = "reminded"
    ANSWERED = "answered"
    EXPIRED = "expired"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def awaiting_answer(self) -> bool:
        return self in (SurveyStatus.SENT, SurveyStatus.REMINDED)


#: The purpose the first survey question travels with to the channel; a channel that could not
#: deliver it says so (``SurveyService.question_lost``).
SURVEY_QUESTION = "survey"

SERVICE_TYPES = (
    "repair",
    "installation",
    "delivery",
    "maintenance",
    "cleaning",
    "telecom",
    "retail",
    "case",
    "agent",
    "other",
)
SERVICE_LABELS = {
    "repair": "维修服务",
    "installation": "安装服务",
    "delivery": "配送服务",
    "maintenance": "保养服务",
    "cleaning": "保洁服务",
    "telecom": "通信服务",
    "retail": "购物服务",
    "case": "投诉处理",
    "agent": "人工客服服务",
    "other": "服务",
}


@dataclass(frozen=True)
class ServiceEvent:
    """A completed service reported by the company's order or dispatch system."""

    external_id: str
    sender_id: str
    channel: str
    service_type: str
    completed_at: datetime
    technician: str | None = None
    order_id: str | None = None
    description: str | None = None
    received_at: datetime | None = None
    id: int | None = None


@dataclass
class SurveyChange:
    at: datetime
    from_status: str | None
    to_status: str
    reason: str | None = None


@dataclass
class Survey:
    sender_id: str
    channel: str
    subject: str  # service | case | agent
    service_type: str
    status: SurveyStatus
    due_at: datetime
    created_at: datetime
    updated_at: datetime
    technician: str | None = None
    service_event_id: int | None = None
    case_number: str | None = None
    sent_at: datetime | None = None
    sent_via: str | None = None  # customer_service | template
    reminded_at: datetime | None = None
    answered_at: datetime | None = None
    score: int | None = None
    satisfaction: str | None = None
    comment: str | None = None
    remediation_case_number: str | None = None
    reason: str | None = None
    attempts: int = 0
    id: int | None = None
    history: list[SurveyChange] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def stored_id(self) -> int:
        """The id of a survey read from storage; one never stored has nothing to refer to."""
        if self.id is None:
            raise SurveyNotFound("this survey has not been stored")
        return self.id
