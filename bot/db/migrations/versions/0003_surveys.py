"""Service events, surveys and their status history; a case's phone becomes optional.

Revision ID: 0003_surveys
Revises: 0002_wechat
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db.types import UtcDateTime

revision = "0003_surveys"
down_revision = "0002_wechat"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("external_id", sa.String(128), nullable=False, unique=True),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("service_type", sa.String(32), nullable=False),
        sa.Column("technician", sa.String(64)),
        sa.Column("order_id", sa.String(64)),
        sa.Column("description", sa.Text),
        sa.Column("completed_at", UtcDateTime, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_service_events_sender_id", "service_events", ["sender_id"])
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(16), nullable=False),
        sa.Column("service_type", sa.String(32), nullable=False),
        sa.Column("technician", sa.String(64)),
        sa.Column("service_event_id", sa.Integer, sa.ForeignKey("service_events.id")),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id")),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", UtcDateTime, nullable=False),
        sa.Column("lease_until", UtcDateTime),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("sent_at", UtcDateTime),
        sa.Column("sent_via", sa.String(24)),
        sa.Column("reminded_at", UtcDateTime),
        sa.Column("answered_at", UtcDateTime),
        sa.Column("score", sa.Integer),
        sa.Column("satisfaction", sa.String(16)),
        sa.Column("comment", sa.Text),
        sa.Column("remediation_case_id", sa.Integer, sa.ForeignKey("cases.id")),
        sa.Column("reason", sa.String(128)),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_surveys_sender_id", "surveys", ["sender_id"])
    op.create_index("ix_surveys_status_due", "surveys", ["status", "due_at"])
    op.create_index("ix_surveys_status_sent", "surveys", ["status", "sent_at"])
    op.create_table(
        "survey_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("survey_id", sa.Integer, sa.ForeignKey("surveys.id"), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(128)),
    )
    op.create_index("ix_survey_events_survey_id", "survey_events", ["survey_id"])
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("phone", existing_type=sa.String(20), nullable=True)


def downgrade() -> None:
    # Remediation cases may have no phone; the older schema wants one, so they get an empty one.
    op.execute("UPDATE cases SET phone = '' WHERE phone IS NULL")
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("phone", existing_type=sa.String(20), nullable=False)
    op.drop_index("ix_survey_events_survey_id", table_name="survey_events")
    op.drop_table("survey_events")
    op.drop_index("ix_surveys_status_sent", table_name="surveys")
    op.drop_index("ix_surveys_status_due", table_name="surveys")
    op.drop_index("ix_surveys_sender_id", table_name="surveys")
    op.drop_table("surveys")
    op.drop_index("ix_service_events_sender_id", table_name="service_events")
    op.drop_table("service_events")
