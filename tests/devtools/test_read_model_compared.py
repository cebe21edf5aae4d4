"""The read models `bench replay` and the fault campaign compare: a day's figures are in or out
by the day the run started, not by the moment each read model was read, so two builds read
either side of midnight still compare equal."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from flowsight.adapters.readmodel.tables import metadata, service_daily
from flowsight.devtools.bench.harness import Flowsight
from flowsight.devtools.bench.replay import read_model

STARTED = date(2026, 12, 4)  # the run started on the 4th; one build was read on the 5th


async def build(path: Path, occupied: dict[date, int]) -> Flowsight:
    url = f"sqlite+aiosqlite:///{path}"
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        rows: list[dict[str, Any]] = [
            {
                "service_id": "lth-wards",
                "day": day,
                "figures": {"occupied": beds},
                "updated_at": datetime(2026, 12, 5, 0, 5, tzinfo=UTC),
            }
            for day, beds in occupied.items()
        ]
        await connection.execute(insert(service_daily), rows)
    await engine.dispose()
    return cast(Flowsight, SimpleNamespace(settings=SimpleNamespace(resolved_database_url=url)))


async def test_a_build_read_after_midnight_compares_equal_to_one_read_before(
    tmp_path: Path,
) -> None:
    # Read before midnight, one build's figures ran to the 4th (today: as of its last refresh);
    # read after it, the other's had the 4th whole and the 5th begun.
    before_midnight = await build(
        tmp_path / "live.db", {date(2026, 12, 3): 41, date(2026, 12, 4): 38}
    )
    after_midnight = await build(
        tmp_path / "replay.db",
        {date(2026, 12, 3): 41, date(2026, 12, 4): 44, date(2026, 12, 5): 44},
    )

    live = await read_model(before_midnight, STARTED)
    replay = await read_model(after_midnight, STARTED)

    assert live == replay
    assert len(live["service_daily"]) == 1  # the 3rd: the last day final in both
