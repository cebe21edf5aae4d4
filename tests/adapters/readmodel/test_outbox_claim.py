"""The alert deliverer asks the outbox for due deliveries every second. On SQLite, where the
worker's batches and the deliverer share one write lock, a question with nothing due must not
take that lock: the worker's writes would wait behind it, and it behind them."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flowsight.adapters.readmodel.database import create_engine
from flowsight.adapters.readmodel.outbox import Alert, claim_due, record_alert
from flowsight.adapters.readmodel.tables import metadata

NOW = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
LEASE = timedelta(seconds=90)


async def test_nothing_due_is_answered_while_another_connection_writes(tmp_path: Path) -> None:
    path = tmp_path / "read-model.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the worker's batch, mid-transaction
    try:
        async with engine.begin() as connection:
            claims = await asyncio.wait_for(
                claim_due(connection, NOW, limit=10, lease=LEASE), timeout=5
            )
        assert claims == []
    finally:
        writer.rollback()
        writer.close()
        await engine.dispose()


async def test_a_due_delivery_is_still_claimed_once(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        alert = Alert(
            id="a-1",
            scope="system",
            level_from=2,
            level_to=3,
            at=NOW,
            reason="OPEL 2 → 3",
            score=61.0,
            evidence={},
        )
        await record_alert(connection, alert, ["on-call"], NOW)
    try:
        async with engine.begin() as connection:
            first = await claim_due(connection, NOW, limit=10, lease=LEASE)
        async with engine.begin() as connection:
            again = await claim_due(connection, NOW, limit=10, lease=LEASE)
        assert [(claim.alert.id, claim.route) for claim in first] == [("a-1", "on-call")]
        assert again == []  # leased until NOW + LEASE
    finally:
        await engine.dispose()
