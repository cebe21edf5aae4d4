"""Queues, capacity and the audit log: the first read model.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_entries",
        sa.Column("service_id", sa.String(64), primary_key=True),
        sa.Column("pseudonym", sa.String(64), primary_key=True),
        sa.Column("referred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("referring_service", sa.String(64), nullable=False),
        sa.Column("pathway", sa.String(2)),
        sa.Column("priority", sa.String(128)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_queue_entries_pseudonym", "queue_entries", ["pseudonym"])
    op.create_table(
        "service_capacity",
        sa.Column("service_id", sa.String(64), primary_key=True),
        sa.Column("open", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer),
        sa.Column("unit", sa.String(8), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(256), nullable=False),
        sa.Column("client", sa.String(128)),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_at", "audit_log")
    op.drop_table("audit_log")
    op.drop_table("service_capacity")
    op.drop_index("ix_queue_entries_pseudonym", "queue_entries")
    op.drop_table("queue_entries")
