"""The read model's writes of many rows, on SQLite and PostgreSQL alike (PostgreSQL takes a
table's rows in one statement): rows upserted replace what they meet and keep the last of a
key, and a patient's deletion takes every row of theirs and no one else's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from flowsight.adapters.readmodel.purge import PATIENT_TABLES, delete_patients
from flowsight.adapters.readmodel.store import upsert_rows
from flowsight.adapters.readmodel.tables import queue_entries, stays
from tests.adapters.readmodel.model import ReadModel

REFERRED = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # the night the clocks go forward


def stay(pseudonym: str, seq: int, service: str, ended_at: str | None = None) -> dict[str, Any]:
    return {
        "pseudonym": pseudonym,
        "seq": seq,
        "service_id": service,
        "started_at": "2026-03-28T22:00:00.000000Z",
        "ended_at": ended_at,
        "ended_by": "discharge" if ended_at else None,
        "admission_method": "emergency",
        "start_care_hours": None,
        "end_care_hours": 1.5,
        "destination": None,
        "pathway": "P1",
        "independent": False,
        "care_type": None,
        "readmitted_at": None,
        "nctr_days": 3,
        "next_step": "Home on Monday\nwith family",
        "reviewed_at": "2026-03-29T08:00:00.000000Z",
    }


def entry(pseudonym: str, service: str, priority: str | None) -> dict[str, Any]:
    return {
        "service_id": service,
        "pseudonym": pseudonym,
        "referred_at": REFERRED,
        "referring_service": "lth-wards",
        "pathway": "P1",
        "priority": priority,
        "updated_at": REFERRED,
    }


async def test_upserted_rows_replace_what_they_meet_and_the_last_of_a_key_stands(
    database_url: str,
) -> None:
    model = await ReadModel.at(database_url)
    try:
        async with model.engine.begin() as connection:
            await upsert_rows(connection, stays, [stay("a", 0, "lth-wards"), stay("b", 0, "x")])
        async with model.engine.begin() as connection:
            await upsert_rows(
                connection,
                stays,
                [
                    stay("a", 0, "lth-wards", "2026-03-29T09:00:00.000000Z"),
                    stay("a", 1, "lth-wards"),
                    stay("a", 1, "community-beds"),  # the same key again: this one stands
                ],
            )
            await upsert_rows(
                connection, queue_entries, [entry("a", "hub", None), entry("a", "hub", "urgent")]
            )
        async with model.engine.connect() as connection:
            found = (await connection.execute(select(stays).order_by("pseudonym", "seq"))).all()
            queued = (await connection.execute(select(queue_entries))).all()
        assert [row._mapping for row in found] == [
            stay("a", 0, "lth-wards", "2026-03-29T09:00:00.000000Z"),
            stay("a", 1, "community-beds"),
            stay("b", 0, "x"),
        ]
        assert [(row.pseudonym, row.priority) for row in queued] == [("a", "urgent")]
        assert queued[0].referred_at.astimezone(UTC) == REFERRED
    finally:
        await model.close()


async def test_deleting_patients_takes_every_row_of_theirs_and_no_one_else_s(
    database_url: str,
) -> None:
    model = await ReadModel.at(database_url)
    try:
        async with model.engine.begin() as connection:
            await upsert_rows(connection, stays, [stay(p, 0, "lth-wards") for p in "abc"])
            await upsert_rows(connection, queue_entries, [entry(p, "hub", None) for p in "abc"])
        async with model.engine.begin() as connection:
            await delete_patients(connection, ["a", "c", "nobody"])
        kept = await model.patient_rows()
        assert {row[0] for row in kept["stays"]} == {"b"}
        assert set(kept) == {table.name for table in PATIENT_TABLES}
        async with model.engine.connect() as connection:
            queued = (await connection.execute(select(queue_entries.c.pseudonym))).scalars()
            assert list(queued) == ["b"]
    finally:
        await model.close()
