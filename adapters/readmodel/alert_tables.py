"""Tables of alerts and their delivery outbox, on the read model's metadata so Alembic sees them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from flowsight.adapters.readmodel.tables import metadata

#: One row per change of a scope's OPEL level (SPEC section 6), with the evidence behind it.
alerts = Table(
    "alerts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("scope", String(64), nullable=False),
    Column("level_from", Integer, nullable=False),
    Column("level_to", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("reason", String(512), nullable=False),
    Column("score", Float),
    Column("indicators", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("acknowledged_by", String(128)),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("acknowledged_note", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_alerts_scope_at", "scope", "at"),
)

#: One row per alert per route: what is still to deliver, and what became of each delivery.
alert_outbox = Table(
    "alert_outbox",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("alert_id", String(36), ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("route", String(64), nullable=False),
    Column("dedupe_key", String(128), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    # When a pending row is due; while a row is being delivered, when its claim lapses.
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_alert_outbox_due", "state", "next_attempt_at"),
    Index("ix_alert_outbox_alert", "alert_id"),
)
