"""Alembic environment: runs migrations over the async engine the product uses."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import flowsight.adapters.readmodel.alert_tables  # noqa: F401  (registers the alert tables on the metadata)
from flowsight.adapters.readmodel.database import create_engine
from flowsight.adapters.readmodel.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _migrate() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `flowsight db upgrade`")
asyncio.run(_migrate())
