"""The sizes task counts every read-model table's rows and every Faust table's entries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flowsight.adapters.readmodel.tables import metadata
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.tasks.sizes import measure
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
