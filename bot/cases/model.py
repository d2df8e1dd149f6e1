"""Plain data for cases; no framework imports so the rules can be tested on their own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


class Status(str, Enum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"

    @property
    def is_open(self) -> bool:
        return self not in (Status.RESOLVED, Status.CLOSED)


PRIORITY_LABELS = {"P1": "P1 特急", "P2": "P2 紧急", "P3": "P3 普通", "P4": "P4 一般"}


class Priority(str, Enum):
    """P1 is the most urgent; the enum order is the order of urgency."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def rank(self) -> int:
        return int(self.value[1])

    @property
    def label(self) -> str:
        """One wording for customers and agents alike, so "紧急" means the same to both."""
        return PRIORITY_LABELS[self.value]

    def raised(self, steps: int = 1) -> Priority:
        return Priority(f"P{max(1, self.rank - steps)}")


#: Channels where CareLoop (and a person, from the console) can write to a customer first; Rasa's
#: REST channel only answers requests.
PUSH_CHANNELS = frozenset({"wechat"})
CATEGORIES: tuple[str, ...] = (
    "product_quality",
    "delivery",
    "service_attitude",
    "installation_repair",
    "billing",
    "other",
)

#: What the customer sees for a category (the bot speaks Chinese to customers).
CATEGORY_LABELS: dict[str, str] = {
    "product_quality": "产品质量",
    "delivery": "物流配送",
    "service_attitude": "服务态度",
    "installation_repair": "安装维修",
    "billing": "费用账单",
    "other": "其他问题",
}

STATUS_LABELS: dict[Status, str] = {
    Status.NEW: "已登记，等待受理",
    Status.ACKNOWLEDGED: "已受理",
    Status.IN_PROGRESS: "处理中",
    Status.RESOLVED: "已解决",
    Status.CLOSED: "已关闭",
    Status.REOPENED: "已重新打开，处理中",
}


@dataclass(frozen=True)
class CaseDraft:
    """What intake collected; everything a case needs before it has a number."""

    sender_id: str
    channel: str
    description: str
    category: str
    phone: str | None
    order_id: str | None = None
    satisfaction: str | None = None
    satisfaction_confidence: float | None = None
    source: str = "chat"
    parent_case_number: str | None = None
    #: Raise the assessed priority one step (a remediation case after a bad survey answer).
    escalate: bool = False


@dataclass
class CaseEvent:
    kind: str
    at: datetime
    actor: str
    from_value: str | None = None
    to_value: str | None = None
    note: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Case:
    number: str
    sender_id: str
    channel: str
    category: str
    description: str
    phone: str | None
    order_id: str | None
    priority: Priority
    status: Status
    created_at: datetime
    first_response_due: datetime
    resolution_due: datetime
    priority_reasons: list[str] = field(default_factory=list)
    satisfaction: str | None = None
    owner: str | None = None
    source: str = "chat"
    parent_case_number: str | None = None
    first_responded_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime | None = None
    events: list[CaseEvent] = field(default_factory=list)
    id: int | None = None

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def finished_at(self) -> datetime | None:
        """When it was resolved, or closed without a resolution; None while it is open."""
        return self.resolved_at or self.closed_at


@dataclass
class Attachment:
    """A file the customer sent (a photo of the damage): kept with their open case."""

    sender_id: str
    channel: str
    kind: str
    created_at: datetime
    media_id: str | None = None
    source_url: str | None = None
    stored_path: str | None = None
    content_type: str | None = None
    size: int | None = None
    case_number: str | None = None
    id: int | None = None

    @property
    def summary(self) -> str:
        """What the case history says of it: the kind, or for a location where it is."""
        return attachment_summary(self.kind, self.source_url)


def attachment_summary(kind: str, source_url: str | None) -> str:
    """ "image", or "位置 geo:31.2304,121.4737?q=上海市浦东新区" for a location the customer sent, or
    "链接 https://…" for a link."""
    if kind == "location" and source_url:
        return f"位置 {source_url}"
    return f"链接 {source_url}" if kind == "link" and source_url else kind
