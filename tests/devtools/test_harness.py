"""The benchmarks' stage tells a stuck worker from a slow one, without waiting out its hour."""

from __future__ import annotations

import pytest

from flowsight.devtools.bench.harness import STALL_SECONDS, StallWatch

BEHIND = {"ingest.RY6": 1, "events": 0}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def watch() -> tuple[StallWatch, Clock]:
    clock = Clock()
    return StallWatch(lambda: "\n--- worker.log:\nthe worker's last words", clock), clock


def test_an_idle_worker_behind_by_the_same_records_is_reported_stuck_with_its_log() -> None:
    stall, clock = watch()
    stall.check(BEHIND, cpu=10.0)
    clock.now = STALL_SECONDS - 1
    stall.check(BEHIND, cpu=10.5)  # not yet: six minutes are given
    clock.now = STALL_SECONDS + 1
    with pytest.raises(TimeoutError) as stuck:
        stall.check(dict(BEHIND), cpu=10.0 + 0.02 * clock.now)  # as an idle worker uses
    assert "stuck" in str(stuck.value)
    assert "'ingest.RY6': 1" in str(stuck.value)
    assert "the worker's last words" in str(stuck.value)


def test_a_worker_busy_restoring_its_tables_is_waited_for_however_long_the_lag_stands() -> None:
    stall, clock = watch()
    stall.check(BEHIND, cpu=10.0)
    for minute in range(1, 31):
        clock.now = 60.0 * minute
        stall.check(BEHIND, cpu=10.0 + 50.0 * minute)  # most of a core


def test_a_lag_that_moves_or_is_gone_starts_the_wait_again() -> None:
    stall, clock = watch()
    stall.check(BEHIND, cpu=0.0)
    clock.now = STALL_SECONDS - 1
    stall.check({"ingest.RY6": 2, "events": 0}, cpu=0.0)  # more arrived: it moved
    clock.now = 2 * STALL_SECONDS - 2
    stall.check({"ingest.RY6": 2, "events": 0}, cpu=0.0)
    clock.now = 2 * STALL_SECONDS
    stall.check({"ingest.RY6": 0, "events": 0}, cpu=0.0)  # caught up: nothing is stuck
    clock.now = 4 * STALL_SECONDS
    stall.check({"ingest.RY6": 0, "events": 0}, cpu=0.0)
