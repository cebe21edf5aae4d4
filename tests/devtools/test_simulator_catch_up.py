"""While `flowsight simulate` publishes its week of history (the first minute of `make run`),
the dashboard's figures are as of the wall clock: the emergency department must look like one
from the first events on, not full of patients in the department for days."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowsight.devtools.simulator import run
from flowsight.devtools.simulator.run import CityRun, simulate
from flowsight.services.kpis import Figures, ServiceFacts, pressure_period, service_figures
from flowsight.settings import Settings
from tests.devtools.test_simulator_steady_state import CATALOGUE, ED, Worker

#: Figures taken at about this many moments of the catch-up (each one folds every patient).
LOOKS = 40
QUIET = 2.0  # seconds


class Recorder:
    """The simulator's publisher: each batch kept with the wall-clock moment it was sent."""

    sent: list[tuple[datetime, list[dict[str, Any]]]]

    def __init__(self, settings: Settings) -> None:
        pass

    async def __aenter__(self) -> Recorder:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass

    async def publish_by_source(self, batch: Sequence[dict[str, Any]]) -> int:
        if batch:
            Recorder.sent.append((datetime.now(UTC), list(batch)))
        return len(batch)


async def catch_up() -> None:
    """Run the simulator until it has published its past: then it sends an event every ~40 s
    (~2,000 a day), so two seconds without one is following the clock."""
    settings = Settings(environment="local", simulator_rate=1_000_000)
    city = CityRun(datetime.now(UTC) - timedelta(days=7), seed=11, volume=1)
    sending = asyncio.Event()
    task = asyncio.create_task(
        simulate(settings, CATALOGUE, city, on_published=lambda _sent: sending.set())
    )
    try:
        async with asyncio.timeout(120):
            await sending.wait()
            while sending.is_set():
                sending.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sending.wait(), QUIET)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def emergency_department(worker: Worker, now: datetime) -> Figures:
    ed = CATALOGUE.service(ED)
    assert ed is not None
    attendances = [a for s in worker.states.values() for a in s.attendances if a.service == ED]
    return service_figures(ed, ServiceFacts(attendances=attendances), pressure_period(now), now)


def test_while_catching_up_a_minority_of_the_department_has_been_there_over_four_hours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Recorder.sent = []
    monkeypatch.setattr(run, "EventPublisher", Recorder)
    asyncio.run(catch_up())
    worker, every = Worker(), max(1, len(Recorder.sent) // LOOKS)
    looked: list[tuple[int, int]] = []
    for position, (now, batch) in enumerate(Recorder.sent):
        worker.fold(batch, now)
        if position % every and position != len(Recorder.sent) - 1:
            continue
        ed = emergency_department(worker, now)
        present, over = int(ed["queue_length"] or 0), int(ed["in_department_over_4h"] or 0)
        looked.append((present, over))
        # In England most attendances end within four hours: at any moment a minority of
        # those in the department have been there longer, and nobody for days.
        if present >= 10:
            assert over <= present / 2, (now, ed)
            assert (ed["longest_wait_hours"] or 0) < 48, (now, ed)
    present, over = looked[-1]
    assert present >= 20 and 0.05 <= over / present <= 0.4, looked
