"""When each scope was scored: one row per run of scores, so the time no score was made (the
worker down, a service with nothing to score yet) is known and shown as not scored, never as a
level. Nothing recorded before this revision says when the worker was scoring: time before the
first run after it reads not scored.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pressure_scored",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_pressure_scored_scope_until", "pressure_scored", ["scope", "until"])


def downgrade() -> None:
    op.drop_index("ix_pressure_scored_scope_until", "pressure_scored")
    op.drop_table("pressure_scored")
