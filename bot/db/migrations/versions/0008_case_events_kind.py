"""Case events by kind and time: the worker's look for resolution notices held for the night.

Revision ID: 0008_case_events_kind
Revises: 0007_one_open_handoff
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0008_case_events_kind"
down_revision = "0007_one_open_handoff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_case_events_kind_at", "case_events", ["kind", "at"])


def downgrade() -> None:
    op.drop_index("ix_case_events_kind_at", table_name="case_events")
