"""Agents, handoffs and their audit trail.

Revision ID: 0004_handoffs
Revises: 0003_surveys
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db.types import UtcDateTime

revision = "0004_handoffs"
down_revision = "0003_surveys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("last_seen_at", UtcDateTime),
    )
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("priority", sa.String(2), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("agent", sa.String(64)),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id")),
        sa.Column("queued_at", UtcDateTime, nullable=False),
        sa.Column("accepted_at", UtcDateTime),
        sa.Column("closed_at", UtcDateTime),
        sa.Column("last_customer_at", UtcDateTime),
        sa.Column("last_agent_at", UtcDateTime),
        sa.Column("outcome", sa.String(32)),
        sa.Column("note", sa.Text),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_handoffs_sender_id", "handoffs", ["sender_id"])
    op.create_index("ix_handoffs_status_queued", "handoffs", ["status", "queued_at"])
    op.create_table(
        "handoff_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id"), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_handoff_events_handoff_id", "handoff_events", ["handoff_id"])


def downgrade() -> None:
    op.drop_index("ix_handoff_events_handoff_id", table_name="handoff_events")
    op.drop_table("handoff_events")
    op.drop_index("ix_handoffs_status_queued", table_name="handoffs")
    op.drop_index("ix_handoffs_sender_id", table_name="handoffs")
    op.drop_table("handoffs")
    op.drop_table("agents")
