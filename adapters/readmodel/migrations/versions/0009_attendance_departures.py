"""An index on each service's attendances by departure: the figures read a service's
attendances still in the department or that left since a moment as index ranges, not as a
scan of its whole history (`facts.service_facts`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-16
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_attendances_service_departed", "attendances", ["service_id", "departed_at"])


def downgrade() -> None:
    op.drop_index("ix_attendances_service_departed", "attendances")
