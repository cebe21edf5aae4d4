"""The benchmarks' stage tells a stuck worker from a slow one without waiting out its hour, and
says where the stuck one waits."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flowsight.devtools.bench.city import city_events
from flowsight.devtools.bench.harness import stage
from flowsight.devtools.bench.stuck import STALL_SECONDS, StallWatch, task_stacks, where_stuck

BEHIND = {"ingest.RY6": 1, "events": 0}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_idle_worker_behind_by_the_same_records_is_stuck() -> None:
    clock = Clock()
    watch = StallWatch(clock)
    assert watch.stuck(BEHIND, cpu=10.0) is None
    clock.now = STALL_SECONDS - 1
    assert watch.stuck(BEHIND, cpu=10.5) is None  # not yet
    clock.now = STALL_SECONDS + 1
    stuck = watch.stuck(dict(BEHIND), cpu=10.0 + 0.02 * clock.now)  # as an idle worker uses
    assert stuck is not None
    assert "'ingest.RY6': 1" in stuck
    assert f"for {STALL_SECONDS + 1:.0f} s" in stuck


def test_a_worker_busy_restoring_its_tables_is_waited_for_however_long_the_lag_stands() -> None:
    clock = Clock()
    watch = StallWatch(clock)
    for minute in range(31):
        clock.now = 60.0 * minute
        assert watch.stuck(BEHIND, cpu=50.0 * minute) is None  # most of a core


def test_a_lag_that_moves_or_is_gone_starts_the_wait_again() -> None:
    clock = Clock()
    watch = StallWatch(clock)
    watch.stuck(BEHIND, cpu=0.0)
    clock.now = STALL_SECONDS - 1
    assert watch.stuck({"ingest.RY6": 2, "events": 0}, cpu=0.0) is None  # more arrived
    clock.now = 2 * STALL_SECONDS - 2
    assert watch.stuck({"ingest.RY6": 2, "events": 0}, cpu=0.0) is None
    clock.now = 2 * STALL_SECONDS
    assert watch.stuck({"ingest.RY6": 0, "events": 0}, cpu=0.0) is None  # caught up
    clock.now = 4 * STALL_SECONDS
    assert watch.stuck({"ingest.RY6": 0, "events": 0}, cpu=0.0) is None


def test_a_dump_of_stacks_is_summed_up_as_each_task_and_its_innermost_frames() -> None:
    dump = "\n".join(
        [
            "THREAD MainThread",
            "TASKS",
            "   <Task pending name='Task-9' coro=<Fetcher._fetcher() running at x.py:1>>",
            "  ~~~~",
            "Stack for <Task pending name='Task-9' coro=<Fetcher._fetcher() running at x.py:1>> "
            "(most recent call last):",
            '  File "/v/lib/python3.11/site-packages/mode/services.py", line 878, in _execute',
            "    await task",
            "    task = <Task pending>",
            '  File "/v/lib/python3.11/site-packages/faust/transport/consumer.py", line 1221, '
            "in _drain_messages",
            "    await self.wait_first(",
            "Stack for <Task pending name='Task-2' coro=<Event.wait() running at y.py:80>> "
            "(most recent call last):",
            '  File "/root/.pyenv/versions/3.11.7/lib/python3.11/asyncio/locks.py", line 213, '
            "in wait",
        ]
    )
    assert task_stacks(dump).splitlines() == [
        "Fetcher._fetcher ('Task-9'): mode/services.py:878 _execute > "
        "faust/transport/consumer.py:1221 _drain_messages",
        "and 1 tasks each waiting on an event of its own",  # many, and saying nothing
    ]


@pytest.mark.integration
async def test_a_stuck_stage_tells_where_its_worker_waits_and_keeps_its_logs(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    with stage(kafka_bootstrap, tmp_path) as flowsight:
        events = city_events(flowsight.catalogue, 50, volume=0.1)
        await flowsight.create_topics()
        await flowsight.publish(events)
        flowsight.start("worker")
        await flowsight.wait_caught_up(len(events), 120)
        told = await where_stuck(flowsight.processes, flowsight.directory)
        assert flowsight.processes["worker"].poll() is None  # asked, not stopped

    # The fetcher, the agents and the refresh, each with where it waits.
    assert "Fetcher._fetcher" in told and "_drain_messages" in told
    assert "Agent._execute_actor" in told
    # Last, what the consumer knows of each partition: all read and committed, nothing held.
    partitions = told.rsplit("consumer, on SIGUSR1:", 1)[1]
    ingest = [line for line in partitions.splitlines() if ".ingest." in line]
    assert ingest and all(" unacked 0" in line and " acked 0" in line for line in ingest)
    read = [line for line in ingest if " end None" not in line and " end 0 " not in line]
    assert read, partitions  # the events reached some partitions
    for line in read:
        fields = dict(zip(line.split()[1::2], line.split()[2::2], strict=True))
        assert fields["committed"] == fields["end"] == fields["position"], line
    assert "agent validator: queue 0, batch being filled 0" in partitions
    kept = Path(told.split("every log, whole, in ", 1)[1].split("\n", 1)[0])
    try:
        log = (kept / "worker.log").read_text()
        assert "stacks, on SIGUSR1" in log and "TASKS" in log
        assert "LOCAL VARIABLES" not in log  # faust's own dump printed them, unredacted
    finally:
        shutil.rmtree(kept)
