"""The sizes task counts every read-model table's rows and every Faust table's entries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from flowsight.adapters.readmodel.tables import metadata
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.tasks.sizes import measure, state_sizes
from tests.adapters.readmodel.model import Feed, ReadModel


def gauge(metrics: WorkerMetrics, name: str, table: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"table": table})


async def test_every_table_is_measured(tmp_path: Path) -> None:
    model = await ReadModel.open(tmp_path / "read-model.db")
    feed = Feed()
    feed.publish("admission", "lth-wards", datetime.now(UTC), 0, admission_method="emergency")
    await model.fold(feed.events)
    metrics = WorkerMetrics()

    rows = await measure(model.engine, {"journeys": model.journeys, "capacity": {}}, metrics)

    assert set(rows) == set(metadata.tables), "a table is left uncounted"
    assert gauge(metrics, "flowsight_readmodel_rows", "stays") == 1
    assert gauge(metrics, "flowsight_readmodel_rows", "audit_log") == 0
    assert gauge(metrics, "flowsight_state_entries", "journeys") == 1
    assert gauge(metrics, "flowsight_state_entries", "capacity") == 0
    await model.close()


async def test_a_database_that_refuses_connections_is_measured_again_later() -> None:
    # asyncpg raises ConnectionRefusedError itself on connect: a PostgreSQL stopped for over a
    # minute ended the task, and with it the worker (exit 1).
    class Refusing:
        def connect(self) -> NoReturn:
            raise ConnectionRefusedError(111, "Connect call failed")

    rounds = 0

    def should_stop() -> bool:
        nonlocal rounds
        rounds += 1
        return rounds > 2

    task = state_sizes(Refusing(), {}, WorkerMetrics(), should_stop, every_seconds=0)  # type: ignore[arg-type]

    await task()

    assert rounds == 3, "measured twice, then stopped as asked"
