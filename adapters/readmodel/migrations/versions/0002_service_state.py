"""Service state: journey facts (stays, delays, referrals, attendances, assessments, anomalies)
and one row of figures per service per day.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.String(27)


def _patient_key(*columns: sa.Column[object]) -> list[sa.Column[object]]:
    # A patient's facts of one kind are numbered: two may share every other value.
    return [
        sa.Column("pseudonym", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        *columns,
    ]


def upgrade() -> None:
    op.create_table(
        "stays",
        *_patient_key(
            sa.Column("service_id", sa.String(64), nullable=False),
            sa.Column("started_at", TIMESTAMP, nullable=False),
        ),
        sa.Column("ended_at", TIMESTAMP),
        sa.Column("ended_by", sa.String(16)),
        sa.Column("admission_method", sa.String(32)),
        sa.Column("start_care_hours", sa.Float),
        sa.Column("end_care_hours", sa.Float),
        sa.Column("destination", sa.String(32)),
        sa.Column("pathway", sa.String(2)),
        sa.Column("independent", sa.Boolean),
        sa.Column("care_type", sa.String(16)),
        sa.Column("readmitted_at", TIMESTAMP),
        sa.Column("nctr_days", sa.Integer),
    )
    op.create_index("ix_stays_service_ended", "stays", ["service_id", "ended_at"])
    op.create_table(
        "delays",
        *_patient_key(
            sa.Column("service_id", sa.String(64), nullable=False),
            sa.Column("started_at", TIMESTAMP, nullable=False),
        ),
        sa.Column("ended_at", TIMESTAMP),
        sa.Column("reason", sa.String(64)),
        sa.Column("pathway", sa.String(2)),
    )
    op.create_index("ix_delays_service_ended", "delays", ["service_id", "ended_at"])
    op.create_table(
        "referrals",
        *_patient_key(
            sa.Column("to_service", sa.String(64), nullable=False),
            sa.Column("referred_at", TIMESTAMP, nullable=False),
        ),
        sa.Column("from_service", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pathway", sa.String(2)),
        sa.Column("priority", sa.String(128)),
        sa.Column("decided_at", TIMESTAMP),
        sa.Column("started_at", TIMESTAMP),
    )
    op.create_index("ix_referrals_service_status", "referrals", ["to_service", "status"])
    op.create_table(
        "attendances",
        *_patient_key(
            sa.Column("service_id", sa.String(64), nullable=False),
            sa.Column("episode_id", sa.String(128), nullable=False),
        ),
        sa.Column("arrived_at", TIMESTAMP, nullable=False),
        sa.Column("departed_at", TIMESTAMP),
        sa.Column("outcome", sa.String(16)),
    )
    op.create_index("ix_attendances_service_arrived", "attendances", ["service_id", "arrived_at"])
    op.create_table(
        "assessments",
        *_patient_key(
            sa.Column("service_id", sa.String(64), nullable=False),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("opened_at", TIMESTAMP, nullable=False),
        ),
        sa.Column("completed_at", TIMESTAMP),
    )
    op.create_table(
        "anomalies",
        *_patient_key(),
        sa.Column("source", sa.String(80), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("occurred_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "service_daily",
        sa.Column("service_id", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("figures", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "service_daily_dirty",
        sa.Column("service_id", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
    )


def downgrade() -> None:
    for table in ("service_daily_dirty", "service_daily", "anomalies", "assessments"):
        op.drop_table(table)
    op.drop_index("ix_attendances_service_arrived", "attendances")
    op.drop_table("attendances")
    op.drop_index("ix_referrals_service_status", "referrals")
    op.drop_table("referrals")
    op.drop_index("ix_delays_service_ended", "delays")
    op.drop_table("delays")
    op.drop_index("ix_stays_service_ended", "stays")
    op.drop_table("stays")
