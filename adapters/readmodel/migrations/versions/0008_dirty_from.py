"""One dirty mark per service, the span of days its figures wait to be computed for (from the
earliest day a change touched to the day it was marked or the latest day touched), instead of
one mark per service per day: a batch marks each service it touched once, whatever the span.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-15
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

DIRTY = "service_daily_dirty"
REPLACEMENT = "service_daily_dirty_new"


def upgrade() -> None:
    _replace(
        "service_daily_dirty_span_pkey",
        ["service_id"],
        sa.Column("service_id", sa.String(64)),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("through", sa.Date, nullable=False),
    )
    # The span of each service's marked days: every day in it is computed.
    op.execute(
        "INSERT INTO service_daily_dirty_new (service_id, day, through, token) "
        "SELECT service_id, MIN(day), MAX(day), MAX(token) FROM service_daily_dirty "
        "GROUP BY service_id"
    )
    _swap()


def downgrade() -> None:
    query = sa.text("SELECT service_id, day, through, token FROM service_daily_dirty")
    marks = op.get_bind().execute(query).all()
    _replace(
        "service_daily_dirty_pkey",
        ["service_id", "day"],
        sa.Column("service_id", sa.String(64)),
        sa.Column("day", sa.Date),
    )
    rows = []
    for service_id, first, through, token in marks:
        day, last = _date(first), _date(through)
        while day <= last:
            rows.append({"service_id": service_id, "day": day, "token": token})
            day += timedelta(days=1)
    if rows:
        table = sa.table(
            REPLACEMENT,
            sa.column("service_id", sa.String),
            sa.column("day", sa.Date),
            sa.column("token", sa.String),
        )
        op.bulk_insert(table, rows)
    _swap()


def _date(value: date | str) -> date:
    # SQLite hands back dates as text in a raw query.
    return value if isinstance(value, date) else date.fromisoformat(value)


def _replace(key_name: str, key: list[str], *columns: sa.Column[object]) -> None:
    # The table is renamed once filled; PostgreSQL keeps its key's name, which must be free.
    op.create_table(
        REPLACEMENT,
        *columns,
        sa.Column("token", sa.String(32), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint(*key, name=key_name),
    )


def _swap() -> None:
    op.drop_table(DIRTY)
    op.rename_table(REPLACEMENT, DIRTY)
