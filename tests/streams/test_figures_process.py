"""The refresh's reads and figures in a child process: the same figures as on the worker's own
loop, a child that died replaced at the next refresh, none left once the worker stops."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowsight.services.pressure import Cutoffs
from flowsight.streams.agents import Backlog
from flowsight.streams.daily import read_daily, refresh_daily
from flowsight.streams.figures_process import FiguresProcess, separable
from flowsight.streams.pressure import PressurePolicy
from flowsight.streams.tasks.refresh import Refresh
from tests.adapters.readmodel.model import CATALOGUE, Feed, ReadModel

NOW = datetime.now(UTC)


async def ward_model(url: str) -> ReadModel:
    """A read model at `url` with a week of a ward and an ED, its figures never computed."""
    feed = Feed()
    for patient in range(6):
        admitted = NOW - timedelta(days=7 - patient, hours=3)
        feed.visit("lth-ed", patient, admitted - timedelta(hours=2), admitted, outcome="admitted")
        feed.publish("admission", "lth-wards", admitted, patient, admission_method="emergency")
        if patient % 2:
            feed.publish(
                "discharge",
                "lth-wards",
                admitted + timedelta(days=2),
                patient,
                destination="usual_residence",
            )
    model = await ReadModel.at(url)
    await model.fold(feed.events)
    return model


@contextlib.asynccontextmanager
async def ward(url: str) -> AsyncIterator[tuple[ReadModel, FiguresProcess]]:
    """`ward_model(url)` and a figures process reading it, both closed afterwards."""
    model = await ward_model(url)
    process = FiguresProcess(model.url)
    try:
        yield model, process
    finally:
        process.close()
        await model.close()


def sqlite(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'read-model.db'}"


def child_pids(process: FiguresProcess) -> list[int]:
    pool = process._pool
    return list(pool._processes) if pool is not None and pool._processes else []


async def test_the_child_computes_the_figures_the_worker_s_loop_would(database_url: str) -> None:
    async with ward(database_url) as (model, process):
        in_child = await process(CATALOGUE.services, NOW, True)
        here = await read_daily(model.engine, CATALOGUE.services, NOW, True)
        assert in_child == here
        assert in_child.computed["lth-wards"].scored_on["in_service"] == 3
        assert child_pids(process) and os.getpid() not in child_pids(process)

        # And the refresh stores what the child computed.
        daily = await refresh_daily(model.engine, CATALOGUE, model.metrics, NOW, reader=process)
        assert daily.today["lth-wards"] == here.computed["lth-wards"].today
        assert len(await model.rows()) > 8


async def test_a_child_that_died_is_replaced_at_the_next_refresh(tmp_path: Path) -> None:
    async with ward(sqlite(tmp_path)) as (_model, process):
        await process(CATALOGUE.services, NOW, False)
        (first,) = child_pids(process)
        os.kill(first, signal.SIGKILL)
        with pytest.raises(BrokenProcessPool):
            await process(CATALOGUE.services, NOW, False)  # this refresh fails, as any may

        reading = await process(CATALOGUE.services, NOW, False)
        assert reading.computed["lth-wards"].scored_on["in_service"] == 3
        assert child_pids(process) and first not in child_pids(process)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
async def test_a_stop_sent_to_the_whole_group_leaves_the_child_to_its_worker(
    tmp_path: Path, stop: signal.Signals
) -> None:
    # A terminal's Ctrl-C reaches the whole process group, as systemd's SIGTERM reaches the whole
    # service: the worker stops the child once its last refresh is done with it.
    async with ward(sqlite(tmp_path)) as (_model, process):
        await process(CATALOGUE.services, NOW, False)
        (child,) = child_pids(process)
        os.kill(child, stop)
        reading = await process(CATALOGUE.services, NOW, False)
        assert reading.computed["lth-wards"].scored_on["in_service"] == 3
        assert child_pids(process) == [child]


class Topic:
    """A topic that keeps the keys sent to it."""

    def __init__(self) -> None:
        self.keys: list[bytes] = []

    async def send(self, *, key: bytes, value: bytes) -> None:
        self.keys.append(key)


def refresh_in(model: ReadModel, process: FiguresProcess, topic: Topic) -> Refresh:
    """The refresh task's rounds on `model`, its figures computed by `process`."""
    return Refresh(
        model.sink,
        CATALOGUE,
        PressurePolicy(Cutoffs(), timedelta(minutes=30), {}, []),
        model.metrics,
        topic,  # type: ignore[arg-type]
        topic,  # type: ignore[arg-type]
        Backlog(lambda tp: None),
        process,
    )


async def test_the_child_stops_with_the_refresh_task(tmp_path: Path) -> None:
    published = Topic()
    async with ward(sqlite(tmp_path)) as (model, process):
        refresh = refresh_in(model, process, published)
        await asyncio.wait_for(refresh.task(lambda: bool(published.keys), 30)(), 60)
        assert published.keys  # one round ran, in the child
        assert process._pool is None  # stopped with the task


async def test_the_child_starts_with_the_refresh_task_not_at_its_first_round(
    tmp_path: Path,
) -> None:
    # Its imports took the first figures after a worker's start a second or more.
    async with ward(sqlite(tmp_path)) as (model, process):
        published = Topic()
        task = asyncio.ensure_future(
            refresh_in(model, process, published).task(lambda: False, 3600)()
        )
        try:
            await asyncio.sleep(0)
            assert process.started is not None
            await asyncio.wait_for(asyncio.wrap_future(process.started), 60)
            assert child_pids(process)
            # No round has run.
            assert model.metrics.registry.get_sample_value("flowsight_refresh_seconds_count") == 0
            assert not published.keys
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert process._pool is None  # stopped with the task


async def test_a_child_that_cannot_start_with_the_task_is_started_by_the_first_round(
    tmp_path: Path,
) -> None:
    class Unstartable(FiguresProcess):
        def start(self) -> None:
            raise OSError("no process could be made")

    published = Topic()
    async with ward(sqlite(tmp_path)) as (model, _):
        process = Unstartable(model.url)
        refresh = refresh_in(model, process, published)
        await asyncio.wait_for(refresh.task(lambda: bool(published.keys), 30)(), 60)
        assert published.keys  # the round ran, its figures in a child started then


#: A worker in a process of its own: one refresh's figures in the child, then it waits.
WORKER = """
import asyncio, sys, time
from datetime import UTC, datetime
from flowsight.adapters.catalogue import load_catalogue
from flowsight.settings import DEFAULT_CATALOGUE
from flowsight.streams.figures_process import FiguresProcess

async def main():
    process = FiguresProcess(sys.argv[1])
    await process(load_catalogue(DEFAULT_CATALOGUE).services, datetime.now(UTC), False)
    print(*process._pool._processes, flush=True)
    time.sleep(120)

if __name__ == "__main__":
    asyncio.run(main())
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that ended but was not yet reaped by its new parent is gone for our purpose.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[1][0] != "Z"


def test_the_child_ends_with_a_worker_killed_outright(tmp_path: Path) -> None:
    url = asyncio.run(closed(ward_model(sqlite(tmp_path))))
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    worker = subprocess.Popen([sys.executable, str(script), url], stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None
        (child,) = map(int, worker.stdout.readline().split())
        assert alive(child)
        worker.kill()  # SIGKILL: no clean-up of its own
        worker.wait()
        deadline = time.monotonic() + 10
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(child), "the child outlived its worker"
    finally:
        worker.kill()


async def closed(opening: Awaitable[ReadModel]) -> str:
    """The URL of a read model, closed once built."""
    model = await opening
    await model.close()
    return model.url


def test_only_a_database_in_memory_is_read_on_the_worker_s_own_loop() -> None:
    assert separable("sqlite+aiosqlite:////var/lib/flowsight/read-model.db")
    assert separable("postgresql+asyncpg://flowsight@db/flowsight")
    assert not separable("sqlite+aiosqlite://")
    assert not separable("sqlite+aiosqlite:///:memory:")
