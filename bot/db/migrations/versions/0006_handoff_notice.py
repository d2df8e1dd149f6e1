"""When a waiting customer who wrote was last told where they stand in the queue.

Revision ID: 0006_handoff_notice
Revises: 0005_survey_per_event
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db.types import UtcDateTime

revision = "0006_handoff_notice"
down_revision = "0005_survey_per_event"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("noticed_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_column("noticed_at")
