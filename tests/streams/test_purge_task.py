"""The purge task: a patient whose next event lands while their rows are being deleted keeps
their journey and their rows; rounds wait for the tables to be restored."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from flowsight.services.journey import ServiceMap
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.tasks import purge as purge_task
from flowsight.streams.tasks.purge import PatientPurge
from tests.adapters.readmodel.model import CATALOGUE, Feed, ReadModel

NOW = datetime.now(UTC).replace(microsecond=0)


async def test_a_patient_back_while_their_rows_are_deleted_keeps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = await ReadModel.open(tmp_path / "read-model.db")
    feed = Feed()
    feed.publish("admission", "lth-wards", NOW - timedelta(days=60), 0, admission_method="elective")
    feed.publish(
        "discharge", "lth-wards", NOW - timedelta(days=50), 0, destination="usual_residence"
    )
    await model.fold(feed.events)
    (pseudonym,) = model.journeys
    readmission = feed.publish("admission", "lth-wards", NOW, 0, admission_method="emergency")
    delete_rows = purge_task.purge_patients

    async def tracker_meanwhile(
        connection: AsyncConnection, pseudonyms: Sequence[str], horizon: str, now: datetime
    ) -> None:
        await delete_rows(connection, pseudonyms, horizon, now)
        # The tracker folds the readmission into a fresh journey while the purge awaits.
        model.journeys[pseudonym] = [readmission]

    monkeypatch.setattr(purge_task, "purge_patients", tracker_meanwhile)
    purge = PatientPurge(
        model.journeys, model.sink, ServiceMap.of(CATALOGUE), WorkerMetrics(), timedelta(days=30)
    )

    assert await purge.once(NOW) == [pseudonym]

    stays: list[Any] = (await model.patient_rows())["stays"]
    assert [(row[0], row[4]) for row in stays] == [(pseudonym, None)], "the new stay is shown"
    await model.close()


async def test_no_round_runs_while_the_tables_are_not_ready(tmp_path: Path) -> None:
    model = await ReadModel.open(tmp_path / "read-model.db")
    feed = Feed()
    feed.publish("admission", "lth-wards", NOW - timedelta(days=60), 0, admission_method="elective")
    feed.publish(
        "discharge", "lth-wards", NOW - timedelta(days=50), 0, destination="usual_residence"
    )
    await model.fold(feed.events)
    metrics = WorkerMetrics()
    purge = PatientPurge(
        model.journeys, model.sink, ServiceMap.of(CATALOGUE), metrics, timedelta(days=30)
    )
    stop = asyncio.Event()
    task = asyncio.create_task(purge.task(lambda: False, stop.is_set, 0.01)())
    await asyncio.sleep(0.2)
    stop.set()
    await task

    assert len(model.journeys) == 1
    assert metrics.registry.get_sample_value("flowsight_purge_rounds_total") == 0
    await model.close()
