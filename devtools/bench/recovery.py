"""`bench recovery`: a worker with state behind it is killed (`kill -9`), more events arrive,
a new worker starts; how long until its group has committed everything again. The baseline is
the same restart after a clean stop (SIGTERM), in the same run."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowsight.devtools.bench.harness import Advance, Flowsight, machine_load, stage
from flowsight.devtools.bench.report import Report

TARGET_SECONDS = 15.0
TARGET_STATE = 1_000_000


@dataclass(frozen=True)
class Restart:
    """One stop and restart: how the worker was stopped, and its catching up after."""

    how: str
    backlog: int
    seconds: float  # from the new worker's start to everything committed


async def restart(
    flowsight: Flowsight, how: int, more: list[dict[str, Any]], already: int, round_: int
) -> Restart:
    """Stop the running worker with `how`, publish `more`, start another; time its catching up."""
    flowsight.stop("worker", how)
    await flowsight.publish(more)
    started = time.perf_counter()
    flowsight.start("worker", "worker")
    finished = await flowsight.wait_caught_up(already + len(more), 600)
    name = "kill -9" if how == signal.SIGKILL else "SIGTERM"
    return Restart(f"{name} (round {round_})", len(more), finished - started)


async def run_recovery(
    flowsight: Flowsight,
    state: list[dict[str, Any]],
    backlog: int,
    on_commit: Advance | None = None,
) -> list[Restart]:
    """Build state from all but twice `backlog` events, then a clean restart and a killed one."""
    built, clean, killed = state[: -2 * backlog], state[-2 * backlog : -backlog], state[-backlog:]
    await flowsight.create_topics()
    await flowsight.publish(built)
    flowsight.start("worker", "worker")
    await flowsight.wait_caught_up(len(built), 1800, on_commit)
    graceful = await restart(flowsight, signal.SIGTERM, clean, len(built), 1)
    brutal = await restart(flowsight, signal.SIGKILL, killed, len(built) + len(clean), 2)
    return [graceful, brutal]


def recovery_report(restarts: list[Restart], state: int) -> Report:
    """The printed result of `bench recovery`."""
    graceful, killed = restarts
    report = Report(f"recovery: worker restarted with {state:,} events of state; {machine_load()}")
    for run in restarts:
        report.figure(
            f"{'baseline: ' if run is graceful else ''}{run.how}",
            f"caught up {run.seconds:6.1f} s after restart ({run.backlog:,} new events waiting)",
        )
    report.ratio("kill -9 / SIGTERM catch-up time", killed.seconds / graceful.seconds)
    report.target(
        f"kill -9 → caught up ≤ {TARGET_SECONDS:.0f} s with ≥ {TARGET_STATE:,} events of state",
        f"{killed.seconds:.1f} s with {state:,} events",
        killed.seconds <= TARGET_SECONDS and state >= TARGET_STATE,
    )
    return report


async def bench_recovery(
    bootstrap: str,
    directory: Path,
    state: list[dict[str, Any]],
    backlog: int,
    database_url: str | None,
    on_commit: Advance | None = None,
) -> Report:
    """Run `bench recovery` on its own stage."""
    with stage(bootstrap, directory, database_url) as flowsight:
        restarts = await run_recovery(flowsight, state, backlog, on_commit)
    return recovery_report(restarts, len(state))
