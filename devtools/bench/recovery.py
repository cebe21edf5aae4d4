"""`bench recovery`: a worker with state behind it is killed (`kill -9`), more events arrive,
a new worker starts; how long until its group has committed everything again. The baseline is
the same restart after a clean stop (SIGTERM), in the same run.

The state is built either by the worker itself (`--events`, about 800 events a second), or, for
city-sized state (`--state-events`), by the worker's fold run in the benchmark's process and
written to the tables' changelogs and the read model (`devtools/bench/state.py`); then each state
store asked for (`--stores`) gets a cold start (nothing local: the whole changelog restored),
a clean restart and a killed one, on the same state."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowsight.devtools.bench.harness import Advance, Flowsight, cpu_seconds, machine_load, stage
from flowsight.devtools.bench.report import Report
from flowsight.devtools.bench.state import BuiltState, build_state

TARGET_SECONDS = 15.0
TARGET_STATE = 1_000_000


@dataclass(frozen=True)
class Restart:
    """One stop and restart: how the worker was stopped, and its catching up after."""

    how: str
    backlog: int
    seconds: float  # from the new worker's start to everything committed
    store: str = "memory://"
    cpu: float = 0.0  # the new worker's CPU seconds until then (robust on a shared machine)


async def start_worker(
    flowsight: Flowsight, more: list[dict[str, Any]], already: int, store: str | None
) -> tuple[float, float]:
    """Publish `more`, start a worker (on `store`); the seconds until it has caught up, and the
    CPU seconds it used until then."""
    await flowsight.publish(more)
    started = time.perf_counter()
    worker = flowsight.start(
        "worker", "worker", **({"FLOWSIGHT_STATE_STORE": store} if store else {})
    )
    finished = await flowsight.wait_caught_up(already + len(more), 3600)
    return finished - started, cpu_seconds(worker.pid)


async def restart(
    flowsight: Flowsight,
    how: int,
    more: list[dict[str, Any]],
    already: int,
    round_: int,
    store: str | None = None,
) -> Restart:
    """Stop the running worker with `how`, publish `more`, start another; time its catching up."""
    flowsight.stop("worker", how)
    seconds, cpu = await start_worker(flowsight, more, already, store)
    name = "kill -9" if how == signal.SIGKILL else "SIGTERM"
    return Restart(f"{name} (round {round_})", len(more), seconds, store or "memory://", cpu)


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


async def run_store_recovery(
    flowsight: Flowsight,
    state: list[dict[str, Any]],
    backlog: int,
    stores: list[str],
    on_state: Advance | None = None,
) -> tuple[BuiltState, list[Restart]]:
    """Build state from all but three `backlog` events a store with the worker's fold, then
    with each store a cold start, a clean restart and a killed one, each with a backlog."""
    rounds = 3 * len(stores)
    built_events, rest = state[: -rounds * backlog], state[-rounds * backlog :]
    chunks = [rest[i * backlog : (i + 1) * backlog] for i in range(rounds)]
    await flowsight.create_topics()
    built = await build_state(flowsight, built_events, on_state)
    restarts: list[Restart] = []
    already = 0
    for number, store in enumerate(stores):
        cold, clean, killed = chunks[3 * number : 3 * number + 3]
        if number:
            flowsight.stop("worker")
        seconds, cpu = await start_worker(flowsight, cold, already, store)
        restarts.append(Restart("cold start (nothing local)", backlog, seconds, store, cpu))
        already += backlog
        restarts.append(await restart(flowsight, signal.SIGTERM, clean, already, 1, store))
        already += backlog
        restarts.append(await restart(flowsight, signal.SIGKILL, killed, already, 2, store))
        already += backlog
    return built, restarts


def store_report(built: BuiltState, restarts: list[Restart]) -> Report:
    """The printed result of `bench recovery --state-events`."""
    report = Report(
        f"recovery: {built.events:,} events of state ({built.patients:,} patients, changelogs "
        f"{built.changelog_records:,} records, {built.changelog_bytes / 2**20:,.0f} MiB, built "
        f"by the worker's fold in {built.seconds:.0f} s); {machine_load()}"
    )
    for run in restarts:
        report.figure(
            f"{run.store} {run.how}",
            f"caught up {run.seconds:6.1f} s after start, worker CPU {run.cpu:6.1f} s "
            f"({run.backlog:,} new events waiting)",
        )
    stores = list(dict.fromkeys(run.store for run in restarts))
    for store in stores:
        graceful, killed = (r for r in restarts if r.store == store and "round" in r.how)
        report.ratio(f"{store} kill -9 / SIGTERM catch-up time", killed.seconds / graceful.seconds)
        report.ratio(f"{store} kill -9 / SIGTERM worker CPU", killed.cpu / graceful.cpu)
        report.target(
            f"{store} kill -9 → caught up ≤ {TARGET_SECONDS:.0f} s with ≥ {TARGET_STATE:,} "
            "events of state",
            f"{killed.seconds:.1f} s with {built.events:,} events",
            killed.seconds <= TARGET_SECONDS and built.events >= TARGET_STATE,
        )
    return report


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


async def bench_store_recovery(
    bootstrap: str,
    directory: Path,
    state: list[dict[str, Any]],
    backlog: int,
    stores: list[str],
    database_url: str | None,
    on_state: Advance | None = None,
) -> Report:
    """Run `bench recovery --state-events` on its own stage."""
    with stage(bootstrap, directory, database_url) as flowsight:
        built, restarts = await run_store_recovery(flowsight, state, backlog, stores, on_state)
    return store_report(built, restarts)
