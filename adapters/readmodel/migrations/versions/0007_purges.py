"""Every purge of patient-level rows: when, up to which moment, how many patients. Rows of
`service_daily` on or before the latest horizon are final (streams/daily.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "purges",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("horizon", sa.String(27), nullable=False),
        sa.Column("patients", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("purges")
