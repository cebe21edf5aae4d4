"""Complete daily history: capacity reports kept by time (the one in force on each past day),
a token on each dirty mark (a day marked again while being computed stays marked), and indexes
that find each service's first fact quickly.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from flowsight.services.timestamps import utc_timestamp

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIMESTAMP = sa.String(27)
#: (index, table, columns): each service's earliest fact of every kind, by index.
FIRST_FACT_INDEXES = (
    ("ix_stays_service_started", "stays", ["service_id", "started_at"]),
    ("ix_delays_service_started", "delays", ["service_id", "started_at"]),
    ("ix_referrals_service_referred", "referrals", ["to_service", "referred_at"]),
    ("ix_assessments_service_opened", "assessments", ["service_id", "opened_at"]),
)


def upgrade() -> None:
    reports = op.create_table(
        "capacity_reports",
        sa.Column("service_id", sa.String(64), primary_key=True),
        sa.Column("reported_at", TIMESTAMP, primary_key=True),
        sa.Column("open", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer),
        sa.Column("unit", sa.String(8), nullable=False),
    )
    # The latest report of each service is all that was kept so far: it starts the history.
    latest = sa.table(
        "service_capacity",
        sa.column("service_id", sa.String),
        sa.column("open", sa.Integer),
        sa.column("total", sa.Integer),
        sa.column("unit", sa.String),
        sa.column("as_of", sa.DateTime(timezone=True)),
    )
    rows = op.get_bind().execute(sa.select(latest)).mappings().all()
    if rows:
        op.bulk_insert(
            reports,
            [
                {
                    "service_id": row["service_id"],
                    "reported_at": _utc_text(row["as_of"]),
                    "open": row["open"],
                    "total": row["total"],
                    "unit": row["unit"],
                }
                for row in rows
            ],
        )
    with op.batch_alter_table("service_daily_dirty") as table:
        table.add_column(sa.Column("token", sa.String(32), nullable=False, server_default=""))
    for name, table_name, columns in FIRST_FACT_INDEXES:
        op.create_index(name, table_name, columns)


def _utc_text(moment: datetime | str) -> str:
    """A stored moment as the read model's fixed-width UTC text (as facts are kept)."""
    parsed = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    # SQLite hands back naive datetimes; every stored moment is UTC.
    return utc_timestamp(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


def downgrade() -> None:
    for name, table_name, _columns in FIRST_FACT_INDEXES:
        op.drop_index(name, table_name)
    with op.batch_alter_table("service_daily_dirty") as table:
        table.drop_column("token")
    op.drop_table("capacity_reports")
