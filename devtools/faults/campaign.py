"""One run of every fault, concurrently (most of a fault is waiting: an outage, a group's
session), each on its own stage, then each read model compared with the uninterrupted run's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from flowsight.adapters.catalogue import load_catalogue
from flowsight.devtools.bench.city import city_events
from flowsight.devtools.faults import outages, scenarios
from flowsight.devtools.faults.inject import with_refusals
from flowsight.devtools.faults.outcome import Outcome
from flowsight.devtools.faults.stage import Campaign, DatabaseFor, Plan, Progress, sqlite_database
from flowsight.settings import DEFAULT_CATALOGUE

Fault = Callable[[Campaign], Awaitable[Outcome]]

#: Every fault, in the order the report lists them; the uninterrupted run comes first.
FAULTS: dict[str, Fault] = {
    "uninterrupted": scenarios.uninterrupted,
    "kill": scenarios.kill_worker,
    "duplicates": scenarios.duplicates,
    "broker": outages.broker_outage,
    "database": outages.database_outage,
    "poison": scenarios.poison,
    "poison-replay": scenarios.poison_replay,
    "stream": outages.api_restart,
}


def campaign_events(plan: Plan) -> list[dict[str, object]]:
    """The simulated city's events every stage gets, a few refused ones among them."""
    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    events = city_events(catalogue, plan.events, volume=plan.volume, seed=plan.seed)
    return with_refusals(events, plan.refusal_every)


async def run_campaign(
    bootstrap: str,
    directory: Path,
    plan: Plan,
    *,
    faults: dict[str, Fault] | None = None,
    database_for: DatabaseFor = sqlite_database,
    on_published: Progress | None = None,
    on_injected: Progress | None = None,
) -> dict[str, Outcome]:
    """Run `faults` (default: all) at once; each outcome compared with the uninterrupted run.

    A fault that raised is an outcome whose problem is the error: the others still report."""
    chosen = {"uninterrupted": scenarios.uninterrupted, **(faults or FAULTS)}
    campaign = Campaign(
        bootstrap,
        directory,
        plan,
        campaign_events(plan),
        database_for,
        on_published,
        on_injected,
    )
    started = time.monotonic()
    results = await asyncio.gather(
        *(_timed(fault(campaign), started) for fault in chosen.values()), return_exceptions=True
    )
    outcomes: dict[str, Outcome] = {}
    for name, result in zip(chosen, results, strict=True):
        if isinstance(result, BaseException):
            outcome = Outcome(getattr(chosen[name], "__doc__", name) or name)
            outcome.fault = _title(name)
            outcome.problems.append(f"the run failed: {result!r}"[:2000])
            outcomes[name] = outcome
        else:
            outcomes[name] = result
    baseline = campaign.contents.get("uninterrupted")
    for name, outcome in outcomes.items():
        content = campaign.contents.get(name)
        if name == "uninterrupted":
            outcome.identical = None if baseline is None else True
        elif baseline is not None and content is not None:
            outcome.compare(baseline, content)
    return outcomes


def _title(name: str) -> str:
    return {
        "uninterrupted": scenarios.UNINTERRUPTED,
        "kill": scenarios.KILL,
        "duplicates": scenarios.DUPLICATES,
        "poison": scenarios.POISON,
        "poison-replay": scenarios.POISON_REPLAY,
        "broker": outages.BROKER,
        "database": outages.DATABASE,
        "stream": outages.API_RESTART,
    }.get(name, name)


async def _timed(run: Awaitable[Outcome], started: float) -> Outcome:
    outcome = await run
    outcome.seconds = time.monotonic() - started
    outcome.notes.append(f"done {outcome.seconds:.0f} s into the run")
    return outcome
