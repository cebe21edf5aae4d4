"""The faults on the worker and its input: the uninterrupted run they are compared with, the
worker killed at random points, duplicated and shuffled deliveries, poison records."""

from __future__ import annotations

import asyncio
import signal
import statistics
from random import Random

from flowsight.adapters.kafka.dlq import read_dead_letters
from flowsight.adapters.kafka.producer import EventPublisher
from flowsight.devtools.faults.inject import (
    duplicated_and_shuffled,
    now,
    poison_records,
    until_processing,
)
from flowsight.devtools.faults.outcome import Outcome
from flowsight.devtools.faults.stage import Campaign, halves, parts

UNINTERRUPTED = "none: the uninterrupted run every fault is compared with"
KILL = "`kill -9` of the worker at random points while events stream"
DUPLICATES = "10 % of deliveries duplicated, deliveries shuffled within the lateness window"
POISON = "poison records on the events topic: valid JSON the fold cannot record"
POISON_REPLAY = "a poison record on the events topic the fold records but cannot replay"


async def uninterrupted(campaign: Campaign) -> Outcome:
    """The same events, published the same way, to a worker nothing happens to."""
    outcome = Outcome(UNINTERRUPTED)
    async with campaign.stage("uninterrupted") as flowsight:
        flowsight.start("worker")
        await campaign.stream(flowsight, campaign.events)
        await campaign.finish("uninterrupted", flowsight, outcome)
    return outcome


async def kill_worker(campaign: Campaign) -> Outcome:
    """Kill the worker with SIGKILL `plan.kills` times, each at a random moment soon after the
    (re)started worker is seen processing, while the events keep coming; then let one finish.

    Whether a restarted worker waits out the killed one's session (10 s) or takes its place at
    once (static membership), the run is the same: the time from each restart to processing is
    measured and reported, never assumed."""
    plan, rng = campaign.plan, Random(campaign.plan.seed)  # nosec B311 # reproducible faults
    outcome = Outcome(KILL)
    pieces = parts(campaign.events, plan.kills + 1)
    waits: list[float] = []
    async with campaign.stage("kill") as flowsight:
        for piece in pieces[:-1]:
            flowsight.start("worker")
            feed = asyncio.ensure_future(campaign.stream(flowsight, piece))
            waited = await until_processing(flowsight, within=120)
            if waited is None:
                outcome.problems.append("a restarted worker processed nothing within 120 s")
            else:
                waits.append(waited)
            await asyncio.sleep(rng.uniform(0, plan.kill_within))
            flowsight.stop("worker", signal.SIGKILL)
            campaign.injected(outcome)
            await feed
        flowsight.start("worker")
        feed = asyncio.ensure_future(campaign.stream(flowsight, pieces[-1]))
        waited = await until_processing(flowsight, within=120)
        await feed
        if waited is not None:
            waits.append(waited)
        await campaign.finish("kill", flowsight, outcome)
    if waits:
        outcome.notes.insert(
            0,
            f"restart to processing: median {statistics.median(waits):.1f} s, "
            f"max {max(waits):.1f} s over {len(waits)} starts",
        )
    return outcome


async def duplicates(campaign: Campaign) -> Outcome:
    """Every event delivered at least once, a tenth twice, in shuffled order."""
    plan = campaign.plan
    outcome = Outcome(DUPLICATES)
    async with campaign.stage("duplicates") as flowsight:
        deliveries, doubled = duplicated_and_shuffled(
            campaign.events,
            plan.duplicate_share,
            plan.shuffle_block,
            flowsight.settings.lateness_window,
            Random(plan.seed),  # nosec B311 # a reproducible shuffle, not a secret
        )
        flowsight.start("worker")
        await campaign.stream(flowsight, deliveries)
        campaign.injected(outcome, doubled)
        outcome.notes.append(f"{len(deliveries)} deliveries of {len(campaign.events)} events")
        await campaign.finish("duplicates", flowsight, outcome)
    return outcome


async def poison(campaign: Campaign) -> Outcome:
    """Poison records the fold cannot record, published straight to the events topic between two
    halves of the events: each dead-lettered with the exception as its reason, the agent going on."""
    return await _poison(campaign, "poison", POISON, "unrecordable")


async def poison_replay(campaign: Campaign) -> Outcome:
    """A poison record the fold records but cannot replay (an admission naming no service)."""
    return await _poison(campaign, "poison-replay", POISON_REPLAY, "unreplayable")


async def _poison(campaign: Campaign, name: str, title: str, kind: str) -> Outcome:
    outcome = Outcome(title)
    first, second = halves(campaign.events)
    async with campaign.stage(name) as flowsight:
        settings = flowsight.settings
        flowsight.start("worker")
        await campaign.stream(flowsight, first)
        records = poison_records(now())[kind]
        async with EventPublisher(settings) as publisher:
            for record in records:
                await publisher.write(settings.events_topic, record, key=b"poison-episode")
                campaign.injected(outcome)
        await campaign.stream(flowsight, second)
        await campaign.finish(name, flowsight, outcome)
        flowsight.check_alive()
        crashes = flowsight.log_tail("worker", 10_000_000).count("Crashed reason=")
        outcome.check(not crashes, f"the tracker agent crashed {crashes} time(s)")
        letters = [
            letter
            for letter in await read_dead_letters(settings)
            if letter.origin_topic == settings.events_topic and letter.value in records
        ]
        outcome.check(
            len(letters) == len(records),
            f"{len(letters)} of {len(records)} poison records dead-lettered",
        )
        for letter in letters:
            outcome.check(
                letter.reason == "unprocessable" and "Error(" in letter.header("error.message"),
                f"a poison record dead-lettered as {letter.reason!r}: "
                f"{letter.header('error.message')!r}",
            )
        reasons = sorted({letter.header("error.message") for letter in letters})
        if reasons:
            outcome.notes.append("dead-lettered: " + "; ".join(reasons))
    return outcome
