"""At most one survey per service event, so a retried or concurrent post cannot make two.

Revision ID: 0005_survey_per_event
Revises: 0004_handoffs
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0005_survey_per_event"
down_revision = "0004_handoffs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULLs (case and agent surveys) do not collide in a unique index, on SQLite or PostgreSQL.
    op.create_index("uq_surveys_service_event_id", "surveys", ["service_event_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_surveys_service_event_id", table_name="surveys")
