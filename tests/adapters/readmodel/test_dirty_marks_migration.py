"""Migrations 0008 and 0010: the days marked for computing, one row per service and day before,
become one span per service (0008), then one span per service and batch (0010), and back; no
marked day is lost either way. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from alembic import command
from sqlalchemy import column, insert, select, table

from flowsight.adapters.readmodel.database import create_engine
from flowsight.adapters.readmodel.migrate import alembic_config, upgrade

BEFORE = "0007"
WRITTEN = datetime(2026, 11, 12, tzinfo=UTC)
D0 = date(2026, 11, 2)
#: Marks as the sink wrote them before 0008: the ward's days 0, 1, 2 and 5; the ED's day 3.
MARKED = [("lth-wards", D0 + timedelta(days=n), "t1") for n in (0, 1, 2)] + [
    ("lth-wards", D0 + timedelta(days=5), "t2"),
    ("lth-ed", D0 + timedelta(days=3), "t3"),
]


async def test_marked_days_become_one_span_per_service_and_back(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url, BEFORE)
    engine = create_engine(database_url)
    per_day = table("service_daily_dirty", column("service_id"), column("day"), column("token"))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(per_day), [{"service_id": s, "day": d, "token": t} for s, d, t in MARKED]
            )
        await asyncio.to_thread(upgrade, database_url)
        spans = table("service_daily_dirty", column("service_id"), column("day"), column("through"))
        async with engine.connect() as connection:
            rows = (await connection.execute(select(spans).order_by(spans.c.service_id))).all()
        assert [(s, str(first), str(last)) for s, first, last in rows] == [
            ("lth-ed", "2026-11-05", "2026-11-05"),
            ("lth-wards", "2026-11-02", "2026-11-07"),
        ]

        await asyncio.to_thread(command.downgrade, alembic_config(database_url), BEFORE)
        async with engine.connect() as connection:
            days = (await connection.execute(select(per_day.c.service_id, per_day.c.day))).all()
        ward = sorted(str(d) for s, d in days if s == "lth-wards")
        assert ward == [str(D0 + timedelta(days=n)) for n in range(6)]  # the span, every day
        assert [str(d) for s, d in days if s == "lth-ed"] == ["2026-11-05"]
        await asyncio.to_thread(upgrade, database_url)  # and up again
    finally:
        await engine.dispose()


async def test_spans_become_one_per_service_and_batch_and_back(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url, "0009")
    engine = create_engine(database_url)
    spans = table(
        "service_daily_dirty",
        column("service_id"),
        column("day"),
        column("through"),
        column("token"),
    )
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(spans), [{"service_id": "lth-wards", "day": D0, "through": D0, "token": "a"}]
            )
        await asyncio.to_thread(upgrade, database_url)
        later = D0 + timedelta(days=4)
        async with engine.begin() as connection:  # a second batch's mark of the same service
            await connection.execute(
                insert(spans),
                [{"service_id": "lth-wards", "day": later, "through": later, "token": "b"}],
            )
            rows = (await connection.execute(select(spans).order_by(spans.c.token))).all()
        assert [(s, str(first), str(last), t) for s, first, last, t in rows] == [
            ("lth-wards", "2026-11-02", "2026-11-02", "a"),
            ("lth-wards", "2026-11-06", "2026-11-06", "b"),
        ]

        await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0009")
        async with engine.connect() as connection:
            rows = (await connection.execute(select(spans))).all()
        assert [(s, str(first), str(last)) for s, first, last, _t in rows] == [
            ("lth-wards", "2026-11-02", "2026-11-06")  # one span covering both
        ]
    finally:
        await engine.dispose()


async def test_every_stored_day_is_marked_for_computing_again_with_the_new_definitions(
    database_url: str,
) -> None:
    """0011: lost bed days and the pathway shares changed definition; every service's stored
    days, from its first to its last, are marked so the refresh computes them again."""
    await asyncio.to_thread(upgrade, database_url, "0010")
    engine = create_engine(database_url)
    daily = table(
        "service_daily", column("service_id"), column("day"), column("figures"),
        column("updated_at"),
    )  # fmt: skip
    marks = table(
        "service_daily_dirty", column("service_id"), column("day"), column("through"),
        column("token"),
    )  # fmt: skip
    stored = [("lth-wards", D0), ("lth-wards", D0 + timedelta(days=9)), ("lth-ed", D0)]
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(daily),
                [
                    {"service_id": s, "day": d, "figures": "{}", "updated_at": WRITTEN}
                    for s, d in stored
                ],
            )
        await asyncio.to_thread(upgrade, database_url)
        async with engine.connect() as connection:
            rows = (await connection.execute(select(marks).order_by(marks.c.service_id))).all()
        assert [(s, str(first), str(last)) for s, first, last, _ in rows] == [
            ("lth-ed", "2026-11-02", "2026-11-02"),
            ("lth-wards", "2026-11-02", "2026-11-11"),
        ]
        await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0010")
        async with engine.connect() as connection:
            assert (await connection.execute(select(marks))).all() == []
    finally:
        await engine.dispose()
