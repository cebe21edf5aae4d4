"""`flowsight soak`: the fault campaign round after round for as long as asked, with larger
counts than the CI suite, on SQLite or on a local PostgreSQL cluster (whose outage stops it)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path

from flowsight.devtools.faults import outages
from flowsight.devtools.faults.campaign import FAULTS, Fault, run_campaign
from flowsight.devtools.faults.outcome import Outcome
from flowsight.devtools.faults.stage import DatabaseFor, Plan, Progress, sqlite_database
from flowsight.devtools.local.postgres import LocalPostgres

#: One soak round: three times the CI suite's events, more stream clients and API restarts.
SOAK_PLAN = Plan(events=3_000, stream_clients=5, api_restarts=2, settle_within=900.0)
#: The outage stage's cluster: its name, and its port as an offset from the shared cluster's.
OUTAGE_CLUSTER = "flowsight-soak-outage"
OUTAGE_PORT_OFFSET = 100


def merge(total: Outcome | None, new: Outcome, rounds: int) -> Outcome:
    """`new` added to the rounds before it: counts summed, figures identical only if every
    round's were, every problem kept (with its round)."""
    if total is None:
        total = Outcome(new.fault, identical=new.identical)
    elif new.identical is not None:
        total.identical = bool(total.identical is not False and new.identical)
    total.injected += new.injected
    total.lost += new.lost
    total.applied_twice += new.applied_twice
    total.alerts_delivered += new.alerts_delivered
    total.alerts_duplicated += new.alerts_duplicated
    total.dead_letters += new.dead_letters
    total.dead_letters_duplicated += new.dead_letters_duplicated
    total.raw_dead_letter_repeats += new.raw_dead_letter_repeats
    total.seconds += new.seconds
    total.problems += [f"round {rounds}: {problem}" for problem in new.problems]
    total.notes = [f"{rounds} round(s); last: " + "; ".join(new.notes)]
    return total


class PostgresStages:
    """A database per stage on a local cluster, dropped after each round. The read-model outage
    stage has a cluster of its own (`outage_server`), stopped and started again: stopping the
    shared one would take every other stage's database away too, the uninterrupted run's with
    them, and leave nothing sound to compare with."""

    def __init__(self, server: LocalPostgres, outage_server: LocalPostgres) -> None:
        self.server = server
        self.outage_server = outage_server
        self.created: list[tuple[LocalPostgres, str]] = []

    async def database_for(self, name: str) -> str | None:
        server = self.outage_server if name == "database" else self.server
        database = f"flowsight_soak_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        await server.create_database(database)
        self.created.append((server, database))
        return server.url(database)

    @contextmanager
    def outage(self, directory: Path) -> Iterator[None]:
        self.outage_server.stop()
        try:
            yield
        finally:
            self.outage_server.start(timeout=120)

    async def drop_all(self) -> None:
        for server, database in self.created:
            await server.drop_database(database)
        self.created.clear()


def outage_cluster(shared: LocalPostgres) -> LocalPostgres:
    """The read-model outage stage's own cluster, beside the shared one (created if missing)."""
    server = LocalPostgres(port=shared.port + OUTAGE_PORT_OFFSET, cluster=OUTAGE_CLUSTER)
    server.start(timeout=180)
    return server


async def soak(
    bootstrap: str,
    directory: Path,
    minutes: float,
    *,
    postgres: LocalPostgres | None = None,
    plan: Plan = SOAK_PLAN,
    on_published: Progress | None = None,
    on_injected: Progress | None = None,
    on_round: Progress | None = None,
) -> tuple[dict[str, Outcome], int]:
    """Run rounds of every fault until `minutes` have passed (at least one round); the outcomes
    summed over the rounds, and how many rounds ran."""
    faults: dict[str, Fault] = dict(FAULTS)
    database_for: DatabaseFor = sqlite_database
    stages = PostgresStages(postgres, outage_cluster(postgres)) if postgres else None
    if stages:
        database_for = stages.database_for
        faults["database"] = partial(
            outages.database_outage, outage=stages.outage, readers_refused=True
        )
    deadline = time.monotonic() + minutes * 60
    totals: dict[str, Outcome] = {}
    rounds = 0
    while rounds == 0 or time.monotonic() < deadline:
        rounds += 1
        outcomes = await run_campaign(
            bootstrap,
            directory / f"round-{rounds}",
            replace(plan, seed=plan.seed + rounds),
            faults=faults,
            database_for=database_for,
            on_published=on_published,
            on_injected=on_injected,
        )
        if stages:
            await stages.drop_all()
        for name, outcome in outcomes.items():
            totals[name] = merge(totals.get(name), outcome, rounds)
        if on_round:
            on_round(1)
        await asyncio.sleep(0)
    return totals, rounds
