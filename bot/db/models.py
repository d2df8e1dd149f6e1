"""ORM tables. Domain code never sees these; repositories translate rows to plain data."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeMeta, declarative_base

from bot.db.types import UtcDateTime

Base: DeclarativeMeta = declarative_base()  # annotated so that type checkers accept it as a base
metadata = Base.metadata


class CustomerRow(Base):
    __tablename__ = "customers"

    id = sa.Column(sa.Integer, primary_key=True)
    sender_id = sa.Column(sa.String(128), nullable=False, unique=True)
    channel = sa.Column(sa.String(32), nullable=False)
    phone = sa.Column(sa.String(20))
    created_at = sa.Column(UtcDateTime, nullable=False)
    last_inbound_at = sa.Column(UtcDateTime)
    unsubscribed_at = sa.Column(UtcDateTime)
    surveys_opted_out_at = sa.Column(UtcDateTime)


class CaseRow(Base):
    __tablename__ = "cases"
    __table_args__ = (
        sa.Index("ix_cases_customer_status", "customer_id", "status"),
        sa.Index("ix_cases_status_created", "status", "created_at"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    number = sa.Column(sa.String(20), nullable=False, unique=True)
    customer_id = sa.Column(sa.Integer, sa.ForeignKey("customers.id"), nullable=False)
    category = sa.Column(sa.String(32), nullable=False)
    description = sa.Column(sa.Text, nullable=False)
    order_id = sa.Column(sa.String(64))
    phone = sa.Column(sa.String(20))  # a survey's remediation case may have none
    priority = sa.Column(sa.String(2), nullable=False)
    priority_reasons = sa.Column(sa.JSON, nullable=False, default=list)
    status = sa.Column(sa.String(16), nullable=False)
    satisfaction = sa.Column(sa.String(16))
    owner = sa.Column(sa.String(64))
    source = sa.Column(sa.String(16), nullable=False, default="chat")
    parent_case_id = sa.Column(sa.Integer, sa.ForeignKey("cases.id"))
    created_at = sa.Column(UtcDateTime, nullable=False)
    updated_at = sa.Column(UtcDateTime, nullable=False)
    first_response_due = sa.Column(UtcDateTime, nullable=False)
    resolution_due = sa.Column(UtcDateTime, nullable=False)
    first_responded_at = sa.Column(UtcDateTime)
    resolved_at = sa.Column(UtcDateTime)
    closed_at = sa.Column(UtcDateTime)


class CaseEventRow(Base):
    __tablename__ = "case_events"
    # The worker looks for notices held for the night by kind and time (CaseService.awaiting).
    __table_args__ = (sa.Index("ix_case_events_kind_at", "kind", "at"),)

    id = sa.Column(sa.Integer, primary_key=True)
    case_id = sa.Column(sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True)
    at = sa.Column(UtcDateTime, nullable=False)
    kind = sa.Column(sa.String(32), nullable=False)
    actor = sa.Column(sa.String(64), nullable=False)
    from_value = sa.Column(sa.String(64))
    to_value = sa.Column(sa.String(64))
    note = sa.Column(sa.Text)
    data = sa.Column(sa.JSON, nullable=False, default=dict)


class CaseSequenceRow(Base):
    """One row per day; bumped atomically to number that day's cases."""

    __tablename__ = "case_number_sequences"

    day = sa.Column(sa.String(8), primary_key=True)
    last_value = sa.Column(sa.Integer, nullable=False)


class FeedbackRow(Base):
    __tablename__ = "feedback"

    id = sa.Column(sa.Integer, primary_key=True)
    sender_id = sa.Column(sa.String(128), nullable=False, index=True)
    channel = sa.Column(sa.String(32), nullable=False)
    kind = sa.Column(sa.String(16), nullable=False)
    text = sa.Column(sa.Text, nullable=False)
    rating = sa.Column(sa.Integer)
    satisfaction = sa.Column(sa.String(16))
    created_at = sa.Column(UtcDateTime, nullable=False, index=True)


class OutboxRow(Base):
    """Every message CareLoop sends (or decides not to send), with its fate."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id = sa.Column(sa.Integer, primary_key=True)
    channel = sa.Column(sa.String(16), nullable=False)
    recipient = sa.Column(sa.String(128), nullable=False, index=True)
    kind = sa.Column(sa.String(16), nullable=False)
    payload = sa.Column(sa.JSON, nullable=False)
    purpose = sa.Column(sa.String(32), nullable=False)
    status = sa.Column(sa.String(16), nullable=False)
    reason = sa.Column(sa.String(64))
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    last_error = sa.Column(sa.Text)
    created_at = sa.Column(UtcDateTime, nullable=False)
    updated_at = sa.Column(UtcDateTime, nullable=False)
    next_attempt_at = sa.Column(UtcDateTime)
    sent_at = sa.Column(UtcDateTime)


class AttachmentRow(Base):
    """A file a customer sent (a photo of the damage), kept with their open case."""

    __tablename__ = "attachments"

    id = sa.Column(sa.Integer, primary_key=True)
    sender_id = sa.Column(sa.String(128), nullable=False, index=True)
    case_id = sa.Column(sa.Integer, sa.ForeignKey("cases.id"), index=True)
    channel = sa.Column(sa.String(16), nullable=False)
    kind = sa.Column(sa.String(16), nullable=False)
    media_id = sa.Column(sa.String(256))
    source_url = sa.Column(sa.Text)
    stored_path = sa.Column(sa.Text)
    content_type = sa.Column(sa.String(64))
    size = sa.Column(sa.Integer)
    created_at = sa.Column(UtcDateTime, nullable=False)


class ServiceEventRow(Base):
    """A completed service reported by the order/dispatch system; one row per external id."""

    __tablename__ = "service_events"

    id = sa.Column(sa.Integer, primary_key=True)
    external_id = sa.Column(sa.String(128), nullable=False, unique=True)
    sender_id = sa.Column(sa.String(128), nullable=False, index=True)
    channel = sa.Column(sa.String(32), nullable=False)
    service_type = sa.Column(sa.String(32), nullable=False)
    technician = sa.Column(sa.String(64))
    order_id = sa.Column(sa.String(64))
    description = sa.Column(sa.Text)
    completed_at = sa.Column(UtcDateTime, nullable=False)
    received_at = sa.Column(UtcDateTime, nullable=False)


class SurveyRow(Base):
    __tablename__ = "surveys"
    __table_args__ = (
        sa.Index("ix_surveys_status_due", "status", "due_at"),
        sa.Index("ix_surveys_status_sent", "status", "sent_at"),
        sa.Index("uq_surveys_service_event_id", "service_event_id", unique=True),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    sender_id = sa.Column(sa.String(128), nullable=False, index=True)
    channel = sa.Column(sa.String(32), nullable=False)
    subject = sa.Column(sa.String(16), nullable=False)
    service_type = sa.Column(sa.String(32), nullable=False)
    technician = sa.Column(sa.String(64))
    service_event_id = sa.Column(sa.Integer, sa.ForeignKey("service_events.id"))
    case_id = sa.Column(sa.Integer, sa.ForeignKey("cases.id"))
    status = sa.Column(sa.String(16), nullable=False)
    due_at = sa.Column(UtcDateTime, nullable=False)
    lease_until = sa.Column(UtcDateTime)
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    sent_at = sa.Column(UtcDateTime)
    sent_via = sa.Column(sa.String(24))
    reminded_at = sa.Column(UtcDateTime)
    answered_at = sa.Column(UtcDateTime)
    score = sa.Column(sa.Integer)
    satisfaction = sa.Column(sa.String(16))
    comment = sa.Column(sa.Text)
    remediation_case_id = sa.Column(sa.Integer, sa.ForeignKey("cases.id"))
    reason = sa.Column(sa.String(128))
    created_at = sa.Column(UtcDateTime, nullable=False)
    updated_at = sa.Column(UtcDateTime, nullable=False)


class SurveyEventRow(Base):
    """Every change of a survey's status, with its time and reason."""

    __tablename__ = "survey_events"

    id = sa.Column(sa.Integer, primary_key=True)
    survey_id = sa.Column(sa.Integer, sa.ForeignKey("surveys.id"), nullable=False, index=True)
    at = sa.Column(UtcDateTime, nullable=False)
    from_status = sa.Column(sa.String(16))
    to_status = sa.Column(sa.String(16), nullable=False)
    reason = sa.Column(sa.String(128))


class AgentRow(Base):
    """A person who answers customers from the console."""

    __tablename__ = "agents"

    id = sa.Column(sa.Integer, primary_key=True)
    username = sa.Column(sa.String(64), nullable=False, unique=True)
    display_name = sa.Column(sa.String(64), nullable=False)
    role = sa.Column(sa.String(16), nullable=False)
    password_hash = sa.Column(sa.String(255), nullable=False)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    created_at = sa.Column(UtcDateTime, nullable=False)
    last_seen_at = sa.Column(UtcDateTime)


OPEN_HANDOFF = "status IN ('waiting', 'active')"


class HandoffRow(Base):
    __tablename__ = "handoffs"
    __table_args__ = (
        sa.Index("ix_handoffs_status_queued", "status", "queued_at"),
        # One open conversation with people per customer, even when an agent reaches out in the same
        # moment as the customer asks for a person (two processes, both seeing none open).
        sa.Index(
            "uq_handoffs_open_sender",
            "sender_id",
            unique=True,
            postgresql_where=sa.text(OPEN_HANDOFF),
            sqlite_where=sa.text(OPEN_HANDOFF),
        ),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    sender_id = sa.Column(sa.String(128), nullable=False, index=True)
    channel = sa.Column(sa.String(32), nullable=False)
    reason = sa.Column(sa.String(32), nullable=False)
    priority = sa.Column(sa.String(2), nullable=False)
    status = sa.Column(sa.String(16), nullable=False)
    agent = sa.Column(sa.String(64))
    case_id = sa.Column(sa.Integer, sa.ForeignKey("cases.id"))
    queued_at = sa.Column(UtcDateTime, nullable=False)
    accepted_at = sa.Column(UtcDateTime)
    closed_at = sa.Column(UtcDateTime)
    last_customer_at = sa.Column(UtcDateTime)
    last_agent_at = sa.Column(UtcDateTime)
    noticed_at = sa.Column(UtcDateTime)
    outcome = sa.Column(sa.String(32))
    note = sa.Column(sa.Text)
    updated_at = sa.Column(UtcDateTime, nullable=False)


class HandoffEventRow(Base):
    """Who accepted, transferred, handed back: the handoff's audit trail."""

    __tablename__ = "handoff_events"

    id = sa.Column(sa.Integer, primary_key=True)
    handoff_id = sa.Column(sa.Integer, sa.ForeignKey("handoffs.id"), nullable=False, index=True)
    at = sa.Column(UtcDateTime, nullable=False)
    kind = sa.Column(sa.String(32), nullable=False)
    actor = sa.Column(sa.String(64), nullable=False)
    detail = sa.Column(sa.Text)
