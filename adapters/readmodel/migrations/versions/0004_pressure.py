"""Pressure: each scope's latest score and escalation state, run-time threshold changes, and
the detail of audited admin changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as table:
        table.add_column(sa.Column("detail", sa.JSON))
    op.create_table(
        "pressure_state",
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("level", sa.Integer),
        sa.Column("score", sa.Float),
        sa.Column("published_level", sa.Integer, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("escalation", sa.JSON, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "threshold_overrides",
        sa.Column("service_id", sa.String(64), primary_key=True),
        sa.Column("indicator", sa.String(64), primary_key=True),
        sa.Column("level2", sa.Float, nullable=False),
        sa.Column("level3", sa.Float, nullable=False),
        sa.Column("level4", sa.Float, nullable=False),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as table:
        table.drop_column("detail")
    op.drop_table("threshold_overrides")
    op.drop_table("pressure_state")
