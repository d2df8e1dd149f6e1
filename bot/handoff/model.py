"""Plain data for handoffs and agents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

#: How a menu tap reads to the agent (the account's menu: 投诉 / 查进度 / 人工), live and in the transcript.
MENU_SHOWN = {"complain": "投诉", "ask_case_status": "查进度", "request_human": "人工"}


class HandoffStatus(str, Enum):
    WAITING = "waiting"  # in the queue, the bot silent
    ACTIVE = "active"  # an agent holds the conversation
    CLOSED = "closed"  # handed back (or the customer left)
    CANCELLED = "cancelled"  # the customer went back to the bot before anyone took it

    @property
    def open(self) -> bool:
        return self in (HandoffStatus.WAITING, HandoffStatus.ACTIVE)


REASONS = {
    "customer_request": "客户要求人工",
    "misunderstood": "机器人连续两次没听懂",
    "p1_case": "P1 特急投诉",
    "angry": "客户情绪强烈不满",
    "survey_bad": "回访差评，客户接受人工",
    "agent_timeout": "客服超时未回复，重新排队",
    "agent_outreach": "客服主动联系",
}


class Role(str, Enum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"


@dataclass
class Agent:
    username: str
    display_name: str
    role: Role
    active: bool = True
    id: int | None = None

    @property
    def supervisor(self) -> bool:
        return self.role is Role.SUPERVISOR


@dataclass
class Handoff:
    sender_id: str
    channel: str
    reason: str
    priority: str  # P1..P4, as cases: the queue's first key
    status: HandoffStatus
    queued_at: datetime
    updated_at: datetime
    agent: str | None = None
    accepted_at: datetime | None = None
    closed_at: datetime | None = None
    last_customer_at: datetime | None = None
    last_agent_at: datetime | None = None
    #: When a waiting customer who wrote was last told where they stand (``waiting_notice_due``).
    noticed_at: datetime | None = None
    case_number: str | None = None
    outcome: str | None = None
    note: str | None = None
    id: int | None = None
