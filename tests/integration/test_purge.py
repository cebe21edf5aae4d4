"""Data lifecycle on real parts: a patient past the retention leaves every read-model table and
the worker's state (a tombstone on the changelog); every service's daily figures stay the same."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from flowsight.adapters.readmodel.purge import purges
from flowsight.adapters.readmodel.tables import service_daily
from flowsight.devtools.bench.replay import london_today
from tests.integration.feeds import pseudonym_of
from tests.integration.lifecycle import (
    finished_days,
    latest_per_key,
    numbers,
    patient_rows,
    publish_events,
    settled,
    stay_events,
)
from tests.integration.stack import running_stack, stack_env

pytestmark = pytest.mark.integration


def test_a_purged_patient_is_gone_from_every_table_and_the_daily_figures_stay_the_same(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    today = london_today()  # both reads' figures cut at the day the test started
    old, recent, in_bed = numbers(3)
    env = stack_env(
        kafka_bootstrap,
        database_url,
        tmp_path,
        FLOWSIGHT_DAILY_REFRESH_SECONDS="1",
        FLOWSIGHT_PATIENT_RETENTION_DAYS="3650",  # nothing purged yet
        FLOWSIGHT_PURGE_INTERVAL_SECONDS="1",
    )
    with running_stack(env, tmp_path) as stack:
        stack.start_worker()
        # Its metrics answer once the topics and the schema exist.
        stack.wait_until(stack.worker_metrics, 120, "the worker")
        # The only patient ever in the community beds, gone 45 days ago: their stay is the
        # service's first fact, so its daily rows start with it.
        publish_events(
            stack,
            [
                *stay_events(old, "lch-community-beds", 60, 45),
                *stay_events(recent, "lth-wards", 20, 10),
                *stay_events(in_bed, "lth-wards", 50, None),
            ],
        )
        stack.wait_until(lambda: settled(database_url, 3), 120, "the facts and figures")
        days_before = finished_days(database_url, today)
        rows_before = patient_rows(database_url)
        assert any(row[0] == repr("lch-community-beds") for row in days_before)
        stack.processes["worker"].stop()

        stack.env["FLOWSIGHT_PATIENT_RETENTION_DAYS"] = "30"
        stack.start_worker()
        stack.wait_until(
            lambda: (stack.worker_metric("flowsight_purged_patients_total") or 0) >= 1,
            120,
            "the purge",
        )
        purged_at = asyncio.run(_latest_purge(database_url))
        # Figures refreshed since the purge (a restarted worker fills its whole history first).
        stack.wait_until(
            lambda: asyncio.run(_refreshed_since(database_url, purged_at)), 60, "a refresh"
        )
        assert stack.worker_metric("flowsight_silent_open_journeys") == 1.0

        rows_after = patient_rows(database_url)
        gone = repr(pseudonym_of(old))
        for table, rows in rows_after.items():
            assert not [row for row in rows if gone in row], f"{table} still holds the patient"
        kept = {repr(pseudonym_of(n)) for n in (recent, in_bed)}
        for table, rows in rows_before.items():
            assert [r for r in rows if r[0] in kept] == rows_after[table], table
        assert finished_days(database_url, today) == days_before

        changelog = latest_per_key(kafka_bootstrap, f"{env['FLOWSIGHT_APP_ID']}-journeys-changelog")
        latest = {key.strip('"'): value for key, value in changelog.items()}
        assert latest[pseudonym_of(old)] is None, "the journey's latest record is a tombstone"
        assert latest[pseudonym_of(recent)] is not None
        assert latest[pseudonym_of(in_bed)] is not None


async def _latest_purge(url: str) -> object:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(select(func.max(purges.c.at)))).scalar_one()
    finally:
        await engine.dispose()


async def _refreshed_since(url: str, moment: object) -> bool:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            query = select(func.min(service_daily.c.updated_at)).where(
                service_daily.c.updated_at > moment
            )
            return (await connection.execute(query)).scalar_one() is not None
    finally:
        await engine.dispose()
