"""Dirty marks kept per batch (one row per service and batch token), not merged into one span
per service: a batch that marked a service while a refresh computed its figures widened the
mark that refresh then could not clear, so under steady load the mark never shrank and every
refresh recomputed the service's days from the earliest ever marked.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-17
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

DIRTY = "service_daily_dirty"
REPLACEMENT = "service_daily_dirty_new"


def upgrade() -> None:
    _replace("service_daily_dirty_batch_pkey", ["service_id", "token"])
    op.execute(
        "INSERT INTO service_daily_dirty_new (service_id, day, through, token) "
        "SELECT service_id, day, through, token FROM service_daily_dirty"
    )
    _swap()


def downgrade() -> None:
    _replace("service_daily_dirty_span_pkey", ["service_id"])
    op.execute(
        "INSERT INTO service_daily_dirty_new (service_id, day, through, token) "
        "SELECT service_id, MIN(day), MAX(through), MAX(token) FROM service_daily_dirty "
        "GROUP BY service_id"
    )
    _swap()


def _replace(key_name: str, key: list[str]) -> None:
    # The table is renamed once filled; PostgreSQL keeps its key's name, which must be free.
    op.create_table(
        REPLACEMENT,
        sa.Column("service_id", sa.String(64)),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("through", sa.Date, nullable=False),
        sa.Column("token", sa.String(32), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint(*key, name=key_name),
    )


def _swap() -> None:
    op.drop_table(DIRTY)
    op.rename_table(REPLACEMENT, DIRTY)
