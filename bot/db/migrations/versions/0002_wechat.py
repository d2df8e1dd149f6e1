"""Outbox (every outbound message and its fate) and attachments (customers' photos).

Revision ID: 0002_wechat
Revises: 0001_cases
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db.types import UtcDateTime

revision = "0002_wechat"
down_revision = "0001_cases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime),
        sa.Column("sent_at", UtcDateTime),
    )
    op.create_index("ix_outbox_status_next", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_recipient", "outbox", ["recipient"])
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id")),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("media_id", sa.String(256)),
        sa.Column("source_url", sa.Text),
        sa.Column("stored_path", sa.Text),
        sa.Column("content_type", sa.String(64)),
        sa.Column("size", sa.Integer),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_attachments_sender_id", "attachments", ["sender_id"])
    op.create_index("ix_attachments_case_id", "attachments", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_attachments_case_id", table_name="attachments")
    op.drop_index("ix_attachments_sender_id", table_name="attachments")
    op.drop_table("attachments")
    op.drop_index("ix_outbox_recipient", table_name="outbox")
    op.drop_index("ix_outbox_status_next", table_name="outbox")
    op.drop_table("outbox")
