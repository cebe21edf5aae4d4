"""The worker's child process ends once its worker is gone, however the worker ended."""

from __future__ import annotations

import multiprocessing
import time

from flowsight.streams import child


def started_for(worker: int) -> None:
    """A child's start, for the worker `worker`, then a wait as for a call that never comes."""
    child._started(child._ready, (), worker)
    time.sleep(60)


def test_a_child_started_after_its_worker_died_ends_too() -> None:
    # The child read its worker's pid itself: a worker killed while the child was starting left
    # it init's (1), and it waited for that for ever. Given a worker that is not its parent
    # (as a dead one is not), it ends within the check's second.
    process = multiprocessing.get_context("spawn").Process(target=started_for, args=(999_999,))
    process.start()
    process.join(timeout=30)
    alive = process.is_alive()
    if alive:
        process.kill()
    assert not alive and process.exitcode == 0
