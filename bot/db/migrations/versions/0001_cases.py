"""Customers, cases, case events, per-day case number sequences and volunteered feedback.

Revision ID: 0001_cases
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db.types import UtcDateTime

revision = "0001_cases"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender_id", sa.String(128), nullable=False, unique=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("phone", sa.String(20)),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("last_inbound_at", UtcDateTime),
        sa.Column("unsubscribed_at", UtcDateTime),
        sa.Column("surveys_opted_out_at", UtcDateTime),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.String(20), nullable=False, unique=True),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("order_id", sa.String(64)),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("priority", sa.String(2), nullable=False),
        sa.Column("priority_reasons", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("satisfaction", sa.String(16)),
        sa.Column("owner", sa.String(64)),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("parent_case_id", sa.Integer, sa.ForeignKey("cases.id")),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("first_response_due", UtcDateTime, nullable=False),
        sa.Column("resolution_due", UtcDateTime, nullable=False),
        sa.Column("first_responded_at", UtcDateTime),
        sa.Column("resolved_at", UtcDateTime),
        sa.Column("closed_at", UtcDateTime),
    )
    op.create_index("ix_cases_customer_status", "cases", ["customer_id", "status"])
    op.create_index("ix_cases_status_created", "cases", ["status", "created_at"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("from_value", sa.String(64)),
        sa.Column("to_value", sa.String(64)),
        sa.Column("note", sa.Text),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])
    op.create_table(
        "case_number_sequences",
        sa.Column("day", sa.String(8), primary_key=True),
        sa.Column("last_value", sa.Integer, nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("rating", sa.Integer),
        sa.Column("satisfaction", sa.String(16)),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_feedback_sender_id", "feedback", ["sender_id"])
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_feedback_created_at", table_name="feedback")
    op.drop_index("ix_feedback_sender_id", table_name="feedback")
    op.drop_table("feedback")
    op.drop_table("case_number_sequences")
    op.drop_index("ix_case_events_case_id", table_name="case_events")
    op.drop_table("case_events")
    op.drop_index("ix_cases_status_created", table_name="cases")
    op.drop_index("ix_cases_customer_status", table_name="cases")
    op.drop_table("cases")
    op.drop_table("customers")
