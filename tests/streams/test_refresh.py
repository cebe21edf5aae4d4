"""The refresh task over a real SQLite read model: pressure is scored on the services a write
changed, at once, with the figures a whole refresh gives, while the days' figures wait."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from flowsight.devtools.simulator.model import City
from flowsight.services.pressure import Cutoffs
from flowsight.services.validation import Accepted, validate_document
from flowsight.streams import daily
from flowsight.streams.daily import pressure_figures
from flowsight.streams.pressure import PressurePolicy
from flowsight.streams.tasks import refresh as refresh_module
from flowsight.streams.tasks.refresh import (
    BATCHES_PER_REFRESH,
    PRESSURE_SECONDS,
    Refresh,
    wait_before,
)
from tests.adapters.readmodel.model import CATALOGUE, Feed, ReadModel

WARDS = "lth-wards"


class Channel:
    """A topic the refresh publishes to: what it sent, decoded."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

    async def send(self, *, key: bytes, value: bytes) -> None:
        self.sent.append(orjson.loads(value))
        self.arrived.set()


async def city_model(path: Path, now: datetime) -> ReadModel:
    """A read model holding three days of a small simulated city, folded in batches."""
    city = City(CATALOGUE, now - timedelta(days=3), seed=3, volume=0.05)
    feed = Feed()
    for document in city.events_until(now):
        organisation = document["source"].split("/")[0]
        outcome = validate_document(
            document, organisation=organisation, context=feed.context, now=now
        )
        if isinstance(outcome, Accepted):
            feed.events.append(outcome.event)
    model = await ReadModel.open(path)
    for start in range(0, len(feed.events), 200):
        await model.fold(feed.events[start : start + 200])
    return model


def capacity_report(open_beds: int, when: datetime) -> Any:
    feed = Feed()
    return feed.publish("capacity", WARDS, when, open=open_beds, total=1450, unit="beds")


def occupancy_level(record: dict[str, Any]) -> int:
    return next(i["level"] for i in record["indicators"] if i["name"] == "occupancy_pct")


def new_refresh(model: ReadModel) -> tuple[Refresh, Channel]:
    policy = PressurePolicy(Cutoffs(), timedelta(minutes=30), {}, [])
    scores = Channel()
    refresh = Refresh(model.sink, CATALOGUE, policy, model.metrics, scores, Channel())  # type: ignore[arg-type]
    return refresh, scores


async def test_pressure_is_scored_on_the_figures_a_whole_refresh_gives(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    model = await city_model(tmp_path / "read-model.db", now)
    whole = await model.refresh(now, whole_history=True)
    alone = await pressure_figures(model.engine, CATALOGUE.services, now)
    await model.close()

    assert any(figures.get("occupancy_pct") for figures in alone.values())
    assert alone == whole.pressure


async def test_a_round_reads_afresh_only_the_services_a_write_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    model = await city_model(tmp_path / "read-model.db", now)
    refresh, scores = new_refresh(model)
    await refresh.once()
    read: list[str] = []

    async def spied(engine: Any, services: Any, moment: datetime) -> Any:
        services = list(services)
        read.extend(service.id for service in services)
        return await pressure_figures(engine, services, moment)

    monkeypatch.setattr(refresh_module, "pressure_figures", spied)
    monkeypatch.setattr(refresh_module, "STEADY_SECONDS", 3600.0)  # no service due by age
    scores.sent.clear()
    await model.fold([capacity_report(1, datetime.now(UTC))])
    await refresh.pressure()
    await model.close()

    assert read == [WARDS]
    wards = next(record for record in scores.sent if record["scope"] == WARDS)
    assert occupancy_level(wards) == 4  # every bed taken but one: far over 98 %
    # Scopes whose score did not change are not published again before their time.
    assert "lth-ed" not in {record["scope"] for record in scores.sent}


async def test_a_change_is_scored_while_the_days_figures_are_still_being_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    model = await city_model(tmp_path / "read-model.db", now)
    refresh, scores = new_refresh(model)
    await refresh.once()
    figures_began, figures_held = asyncio.Event(), asyncio.Event()

    async def slow_days(*args: Any, **kwargs: Any) -> daily.DailyRefresh:
        figures_began.set()
        await figures_held.wait()
        return await daily.refresh_daily(*args, **kwargs)

    monkeypatch.setattr(refresh_module, "refresh_daily", slow_days)
    stopped = False
    task = asyncio.create_task(refresh.task(lambda: stopped, 60)())
    scores.sent.clear()
    scores.arrived.clear()
    await model.fold([capacity_report(1, datetime.now(UTC))])
    await asyncio.wait_for(figures_began.wait(), 30)
    while not any(r["scope"] == WARDS and occupancy_level(r) == 4 for r in scores.sent):
        scores.arrived.clear()
        await asyncio.wait_for(scores.arrived.wait(), 30)
    still_computing = not figures_held.is_set()
    stopped = True
    figures_held.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await model.close()

    assert still_computing


def test_a_round_under_a_steady_flow_leaves_the_batches_three_times_its_duration() -> None:
    # After a quiet spell: at once (but for the burst's wait).
    assert wait_before(took=0.05, idle=10.0, least=PRESSURE_SECONDS, coalesce=0.0) == 0.0
    # Right after a short round: the least spacing.
    assert wait_before(took=0.01, idle=0.0, least=PRESSURE_SECONDS, coalesce=0.0) == 0.2
    # Right after a long one: three times as long as it took.
    assert wait_before(took=0.5, idle=0.0, least=PRESSURE_SECONDS, coalesce=0.0) == pytest.approx(
        BATCHES_PER_REFRESH * 0.5
    )
