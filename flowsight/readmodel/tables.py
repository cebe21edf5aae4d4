"""Tables of the read model. Only Alembic migrations create or change them."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table

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
)
