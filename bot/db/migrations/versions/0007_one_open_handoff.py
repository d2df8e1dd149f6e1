"""At most one open (waiting or active) handoff per customer, guarded by the database.

Revision ID: 0007_one_open_handoff
Revises: 0006_handoff_notice
Create Date: 2026-12-05
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0007_one_open_handoff"
down_revision = "0006_handoff_notice"
branch_labels = None
depends_on = None

OPEN = "status IN ('waiting', 'active')"


def upgrade() -> None:
    # A customer left with two open handoffs by the race this index closes keeps the newest; the
    # older one is closed with an event saying why, so the index can be built.
    duplicates = (
        f"SELECT id FROM handoffs WHERE {OPEN} AND id NOT IN "
        f"(SELECT MAX(id) FROM handoffs WHERE {OPEN} GROUP BY sender_id)"
    )
    now = datetime.now(timezone.utc).replace(tzinfo=None)  # the columns keep naive UTC
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "INSERT INTO handoff_events (handoff_id, at, kind, actor, detail) "
            f"SELECT id, :now, 'closed', 'system', 'duplicate' FROM handoffs WHERE id IN ({duplicates})"
        ),
        {"now": now},
    )
    bind.execute(
        sa.text(f"UPDATE handoffs SET status = 'closed', closed_at = :now WHERE id IN ({duplicates})"),
        {"now": now},
    )
    op.create_index(
        "uq_handoffs_open_sender",
        "handoffs",
        ["sender_id"],
        unique=True,
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("uq_handoffs_open_sender", table_name="handoffs")
