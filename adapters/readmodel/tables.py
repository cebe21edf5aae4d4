"""Tables of the read model. Only Alembic migrations create or change them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

metadata = MetaData()

queue_entries = Table(
    "queue_entries",
    metadata,
    Column("service_id", String(64), primary_key=True),
    Column("pseudonym", String(64), primary_key=True),
    Column("referred_at", DateTime(timezone=True), nullable=False),
    Column("referring_service", String(64), nullable=False),
    Column("pathway", String(2)),
    Column("priority", String(128)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

service_capacity = Table(
    "service_capacity",
    metadata,
    Column("service_id", String(64), primary_key=True),
    Column("open", Integer, nullable=False),
    Column("total", Integer),
    Column("unit", String(8), nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
)

#: Every capacity report by service and time: the one in force on a past day gives its occupancy.
capacity_reports = Table(
    "capacity_reports",
    metadata,
    Column("service_id", String(64), primary_key=True),
    Column("reported_at", String(27), primary_key=True),  # fixed-width UTC text, as facts
    Column("open", Integer, nullable=False),
    Column("total", Integer),
    Column("unit", String(8), nullable=False),
)

#: Append-only: every patient-level read and every admin change (SPEC section 9).
audit_log = Table(
    "audit_log",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("principal", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("resource", String(256), nullable=False),
    Column("client", String(128)),
    Column("detail", JSON),  # what changed, for admin changes: before and after
)

# Journey facts, replaced per patient whenever the journey changes; `seq` numbers a patient's
# facts of one kind. Timestamps are the fixed-width UTC strings of services.timestamps: they
# compare in time order as text.
TIMESTAMP = String(27)


def _patient_facts(name: str, *columns: Column[Any]) -> Table:
    """A table of one kind of fact, numbered per patient."""
    return Table(
        name,
        metadata,
        Column("pseudonym", String(64), primary_key=True),
        Column("seq", Integer, primary_key=True),
        *columns,
    )


stays = _patient_facts(
    "stays",
    Column("service_id", String(64), nullable=False),
    Column("started_at", TIMESTAMP, nullable=False),
    Column("ended_at", TIMESTAMP),
    Column("ended_by", String(16)),
    Column("admission_method", String(32)),
    Column("start_care_hours", Float),
    Column("end_care_hours", Float),
    Column("destination", String(32)),
    Column("pathway", String(2)),
    Column("independent", Boolean),
    Column("care_type", String(16)),
    Column("readmitted_at", TIMESTAMP),
    Column("nctr_days", Integer),
    Column("next_step", String(500)),
    Column("reviewed_at", TIMESTAMP),
)

delays = _patient_facts(
    "delays",
    Column("service_id", String(64), nullable=False),
    Column("started_at", TIMESTAMP, nullable=False),
    Column("ended_at", TIMESTAMP),
    Column("reason", String(64)),
    Column("pathway", String(2)),
)

referrals = _patient_facts(
    "referrals",
    Column("to_service", String(64), nullable=False),
    Column("referred_at", TIMESTAMP, nullable=False),
    Column("from_service", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("pathway", String(2)),
    Column("priority", String(128)),
    Column("decided_at", TIMESTAMP),
    Column("started_at", TIMESTAMP),
    Column("next_step", String(500)),
    Column("accepted_at", TIMESTAMP),
)

attendances = _patient_facts(
    "attendances",
    Column("service_id", String(64), nullable=False),
    Column("episode_id", String(128), nullable=False),
    Column("arrived_at", TIMESTAMP, nullable=False),
    Column("departed_at", TIMESTAMP),
    Column("outcome", String(16)),
)

assessments = _patient_facts(
    "assessments",
    Column("service_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("opened_at", TIMESTAMP, nullable=False),
    Column("completed_at", TIMESTAMP),
    Column("next_step", String(500)),
)

anomalies = _patient_facts(
    "anomalies",
    Column("source", String(80), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("service_id", String(64), nullable=False),
    Column("occurred_at", TIMESTAMP, nullable=False),
)

#: One row per service per day: that day's figures, for trends and the weekly report.
service_daily = Table(
    "service_daily",
    metadata,
    Column("service_id", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("figures", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: Services whose figures changed since they were last computed (written with the facts): the
#: days from `day` to `through` (the day the mark was set, or the latest day a change touched).
#: Each batch marks a service under its own token, in a row of its own: the refresh clears or
#: moves only the marks it read, so a service marked again while its figures were being
#: computed is computed again, over the days the later batch touched and no more.
service_daily_dirty = Table(
    "service_daily_dirty",
    metadata,
    Column("service_id", String(64), primary_key=True),
    Column("day", Date, nullable=False),
    Column("through", Date, nullable=False),
    # The batch that marked it: each batch's mark is cleared only by a refresh that read it.
    Column("token", String(32), primary_key=True, server_default=""),
)

#: Each scope's (a service's, or "system") latest score and escalation state.
#: `published_level` is its escalation's level, 1 before the scope's first reading: whether it
#: is published is the escalation's (`last_at`), as `adapters.readmodel.pressure.states` reads.
pressure_state = Table(
    "pressure_state",
    metadata,
    Column("scope", String(64), primary_key=True),
    Column("level", Integer),
    Column("score", Float),
    Column("published_level", Integer, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("escalation", JSON, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
)

#: Each run of a scope's scores (`services/level_time.py`): its level was known from `since`
#: until `until`, three minutes after its latest score; any time outside a run was not scored.
pressure_scored = Table(
    "pressure_scored",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("scope", String(64), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
    Index("ix_pressure_scored_scope_until", "scope", "until"),
)

#: Thresholds changed at run time by an admin, over the catalogue's (every change is audited).
threshold_overrides = Table(
    "threshold_overrides",
    metadata,
    Column("service_id", String(64), primary_key=True),
    Column("indicator", String(64), primary_key=True),
    Column("level2", Float, nullable=False),
    Column("level3", Float, nullable=False),
    Column("level4", Float, nullable=False),
    Column("weight", Float, nullable=False),
    Column("updated_by", String(128), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
