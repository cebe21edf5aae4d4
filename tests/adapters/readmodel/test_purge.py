"""Purging patients past their retention from the read model: every patient-level row goes, no
day's figures change, and later refreshes leave the days the purge made final alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flowsight.adapters.readmodel import facts
from flowsight.adapters.readmodel.purge import final_through
from flowsight.services.facts import LONDON
from flowsight.services.journey import ServiceMap
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.tasks.purge import PatientPurge
from tests.adapters.readmodel.model import CATALOGUE, Feed, ReadModel

NOW = datetime.now(UTC).replace(microsecond=0)
RETENTION = timedelta(days=30)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def stay(feed: Feed, service: str, patient: int, admitted: float, left: float | None) -> None:
    feed.publish("admission", service, ago(admitted), patient, admission_method="emergency")
    if left is not None:
        feed.publish("discharge", service, ago(left), patient, destination="usual_residence")


def finished(rows: dict[tuple[str, Any], Any]) -> dict[tuple[str, Any], Any]:
    today = NOW.astimezone(LONDON).date()
    return {key: figures for key, figures in rows.items() if key[1] < today}


async def test_a_purged_patient_leaves_every_table_and_no_days_figures_change(
    tmp_path: Path,
) -> None:
    model = await ReadModel.open(tmp_path / "read-model.db")
    feed = Feed()
    # Patient 0 is the only one ever in the community beds: their stay is its first fact.
    stay(feed, "lch-community-beds", 0, admitted=60, left=45)
    stay(feed, "lth-wards", 1, admitted=20, left=10)  # within the retention
    stay(feed, "lth-wards", 2, admitted=50, left=None)  # still in a bed, silent
    await model.fold(feed.events)
    await model.refresh(NOW, whole_history=True)
    days_before = finished(await model.rows())
    rows_before = await model.patient_rows()
    purged_patient = next(
        p for p, e in model.journeys.items() if e[0]["service"] == "lch-community-beds"
    )
    metrics = WorkerMetrics()
    purge = PatientPurge(model.journeys, model.sink, ServiceMap.of(CATALOGUE), metrics, RETENTION)

    assert await purge.once(NOW) == [purged_patient]

    assert purged_patient not in model.journeys and len(model.journeys) == 2
    rows_after = await model.patient_rows()
    for table, rows in rows_before.items():
        assert rows_after[table] == [row for row in rows if row[0] != purged_patient], table
    assert metrics.silent_open_journeys._value.get() == 1
    # A restart's whole-history refresh, a plain one, and a new patient whose history starts
    # before the horizon (it marks every day since): the finished days stay as they were.
    await model.refresh(NOW, whole_history=True)
    await model.refresh(NOW)
    assert finished(await model.rows()) == days_before
    feed.events.clear()
    stay(feed, "lch-community-beds", 3, admitted=40, left=35)
    await model.fold(feed.events)
    await model.refresh(NOW)
    after = finished(await model.rows())
    final = await _final(model)
    assert {k: v for k, v in after.items() if k[1] <= final} == {
        k: v for k, v in days_before.items() if k[1] <= final
    }
    await model.close()


@pytest.mark.parametrize("before", ["first_fact_days", "services_facts"])
async def test_a_purge_while_a_refresh_reads_leaves_the_days_it_made_final_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, before: str
) -> None:
    # The worker's purge and refresh are separate tasks: the purge may commit between two of
    # the refresh's reads. The refresh must not take the service, whose only
    # patient went, for one without history (dropping its rows), nor recompute final days
    # without the purged patient.
    model = await ReadModel.open(tmp_path / "read-model.db")
    feed = Feed()
    stay(feed, "lch-community-beds", 0, admitted=60, left=45)
    stay(feed, "lth-wards", 1, admitted=20, left=10)
    await model.fold(feed.events)
    await model.refresh(NOW, whole_history=True)
    days_before = finished(await model.rows())
    purge = PatientPurge(
        model.journeys, model.sink, ServiceMap.of(CATALOGUE), WorkerMetrics(), RETENTION
    )
    read = getattr(facts, before)
    purged: list[str] = []

    async def purge_first(connection: Any, *args: Any, **kwargs: Any) -> Any:
        if not purged:
            purged.extend(await purge.once(NOW))
        return await read(connection, *args, **kwargs)

    monkeypatch.setattr(facts, before, purge_first)
    await model.refresh(NOW)
    monkeypatch.undo()

    assert len(purged) == 1
    await model.refresh(NOW, whole_history=True)  # and a restart after it
    assert finished(await model.rows()) == days_before
    await model.close()


async def _final(model: ReadModel) -> Any:
    async with model.engine.connect() as connection:
        return await final_through(connection)


async def test_nothing_within_the_retention_or_open_is_purged(tmp_path: Path) -> None:
    model = await ReadModel.open(tmp_path / "read-model.db")
    feed = Feed()
    stay(feed, "lth-wards", 1, admitted=20, left=10)
    stay(feed, "lth-wards", 2, admitted=400, left=None)
    await model.fold(feed.events)
    rows_before = await model.patient_rows()
    purge = PatientPurge(
        model.journeys, model.sink, ServiceMap.of(CATALOGUE), WorkerMetrics(), RETENTION
    )

    assert await purge.once(NOW) == []

    assert await model.patient_rows() == rows_before
    assert await _final(model) is None, "no purge, no final days"
    await model.close()
