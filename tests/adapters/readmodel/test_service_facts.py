"""What the figures read of a service: its stays and attendances still open, and those that
began or ended since the moment asked for, and nothing older. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from flowsight.adapters.readmodel import facts
from flowsight.adapters.readmodel.tables import attendances, stays
from flowsight.services.timestamps import utc_timestamp
from tests.adapters.readmodel.model import Feed, ReadModel

NOW = datetime.now(UTC).replace(microsecond=0)


def hours_ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def stamp(hours: float) -> str:
    """`hours_ago(hours)` as the read model holds it."""
    return utc_timestamp(hours_ago(hours))


async def test_a_service_s_open_and_recent_facts_are_read_and_older_ones_are_not(
    database_url: str,
) -> None:
    feed = Feed()
    for patient, (admitted, discharged) in enumerate(
        [
            (hours_ago(100), hours_ago(90)),  # over before the moment asked for: not read
            (hours_ago(100), None),  # still in a bed
            (hours_ago(100), hours_ago(10)),  # left since
            (hours_ago(5), hours_ago(2)),  # came and went since
        ]
    ):
        feed.publish("admission", "lth-wards", admitted, patient, admission_method="emergency")
        if discharged is not None:
            feed.publish(
                "discharge", "lth-wards", discharged, patient, destination="usual_residence"
            )
    feed.visit("lth-ed", 10, hours_ago(80), hours_ago(78))  # not read
    feed.visit("lth-ed", 11, hours_ago(1))  # in the department
    feed.visit("lth-ed", 12, hours_ago(30), hours_ago(6))  # left since
    feed.visit("lth-ed", 13, hours_ago(4), hours_ago(3))
    model = await ReadModel.at(database_url)
    try:
        await model.fold(feed.events)
        async with model.engine.connect() as connection:
            wards = await facts.service_facts(connection, "lth-wards", since=hours_ago(24))
            ed = await facts.service_facts(connection, "lth-ed", since=hours_ago(24))
    finally:
        await model.close()

    assert {(s.started_at, s.ended_at) for s in wards.stays} == {
        (stamp(100), None),
        (stamp(100), stamp(10)),
        (stamp(5), stamp(2)),
    }
    assert {(a.arrived_at, a.departed_at) for a in ed.attendances} == {
        (stamp(1), None),
        (stamp(30), stamp(6)),
        (stamp(4), stamp(3)),
    }


async def test_sqlite_reads_them_as_index_ranges_not_the_service_s_whole_history(
    tmp_path: Path,
) -> None:
    # An OR of the three conditions was read through the service's index alone: every stay the
    # wards ever had (after 90 days, 21 ms a refresh against 4 ms; docs/benchmarks.md).
    model = await ReadModel.open(tmp_path / "read-model.db")
    try:
        for table, began, ended in (
            (stays, "started_at", "ended_at"),
            (attendances, "arrived_at", "departed_at"),
        ):
            query = facts.open_or_since(table, table.c.service_id == "x", began, ended, stamp(24))
            compiled = query.compile(
                model.engine.sync_engine, compile_kwargs={"literal_binds": True}
            )
            async with model.engine.connect() as connection:
                plan = [
                    row[-1]
                    for row in await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
                ]
            searches = [step for step in plan if "SEARCH" in step or "SCAN" in step]
            assert len(searches) == 3, plan
            assert all("service_id=? AND" in step for step in searches), plan
    finally:
        await model.close()
