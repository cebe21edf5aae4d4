"""What every fault run shares: the plan, the events, the stage each fault gets, publishing while
the fault lasts, and waiting until the read model is final."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError

from flowsight.adapters.kafka.admin import BrokerUnreachable, quiet_aiokafka
from flowsight.adapters.kafka.producer import EventPublisher
from flowsight.devtools.bench.harness import Flowsight
from flowsight.devtools.bench.replay import london_today, read_model, wait_figures
from flowsight.devtools.faults.inject import AlertReceiver, dead_letter_counts, stage_env
from flowsight.devtools.faults.outcome import Content, Outcome

#: Told how many events were published, or how many faults injected, as a run goes on.
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Plan:
    """How much of each fault one run injects; the CI suite's defaults, the soak's larger."""

    events: int = 1_000
    volume: float = 0.05
    seed: int = 15
    #: Worker `kill -9`s, each at a random moment within `kill_within` seconds after the
    #: (re)started worker was seen processing.
    kills: int = 10
    kill_within: float = 1.5
    duplicate_share: float = 0.10
    shuffle_block: int = 20
    #: Longer than the producers' 15 s request timeout and the group's 10 s session timeout,
    #: so sends fail and are retried and the worker's session lapses.
    broker_outage_seconds: float = 20.0
    database_outage_seconds: float = 40.0
    stream_clients: int = 3
    api_restarts: int = 1
    #: One event in this many is copied with a service no catalogue has (a dead letter).
    refusal_every: int = 100
    #: Events published per step, and the pause between steps, while a fault lasts.
    step: int = 25
    pause: float = 0.1
    #: Longest wait for a stage to finish its work once the fault is over: a worker has caught
    #: up and refreshed its figures within seconds of the fault's end, even on a loaded machine.
    settle_within: float = 120.0


#: A read-model database URL for a stage, by its name (None: an SQLite file of its own).
DatabaseFor = Callable[[str], Awaitable[str | None]]


async def sqlite_database(name: str) -> str | None:
    return None


@dataclass
class Campaign:
    """One run of the faults: the broker, where stages live, the plan and the events."""

    bootstrap: str
    directory: Path
    plan: Plan
    events: list[dict[str, Any]]
    database_for: DatabaseFor = sqlite_database
    on_published: Progress | None = None
    on_injected: Progress | None = None
    contents: dict[str, Content] = field(default_factory=dict)
    receivers: dict[str, AlertReceiver] = field(default_factory=dict)
    #: The day the campaign started (Europe/London): every stage's figures are compared up to
    #: it, however late each stage finishes (a stage done after midnight holds one day more).
    today: date = field(default_factory=london_today)

    def injected(self, outcome: Outcome, count: int = 1) -> None:
        outcome.injected += count
        if self.on_injected:
            self.on_injected(count)

    @asynccontextmanager
    async def stage(
        self, name: str, bootstrap: str | None = None, **extra: str
    ) -> AsyncIterator[Flowsight]:
        """An isolated flowsight for one fault, its topics made, escalations delivered to a
        receiver whose counts `finish` reads."""
        url = await self.database_for(name)
        with AlertReceiver() as receiver:
            flowsight = Flowsight(
                bootstrap or self.bootstrap,
                self.directory / name,
                url,
                extra={**stage_env(receiver), **extra},
            )
            try:
                self.receivers[name] = receiver
                await flowsight.create_topics()
                yield flowsight
            finally:
                # In a thread: a worker's graceful stop takes seconds, and every other stage's
                # clients share this loop (a stalled probe meets the API's keep-alive timeout).
                await asyncio.to_thread(flowsight.stop_all)

    async def stream(self, flowsight: Flowsight, events: list[dict[str, Any]]) -> None:
        """Publish `events` in small steps through one producer, as a source does; a step Kafka
        refused is sent again, by a new producer, until it is taken (an event sent twice is
        absorbed by its source and event id)."""
        plan = self.plan
        publisher: EventPublisher | None = None
        try:
            for start in range(0, len(events), plan.step):
                chunk = events[start : start + plan.step]
                while True:
                    try:
                        # New topics elect leaders for a moment: the producer retries, quietly.
                        with quiet_aiokafka():
                            if publisher is None:
                                publisher = EventPublisher(flowsight.settings)
                                await publisher.start()
                            await publisher.publish_by_source(chunk)
                        break
                    except (KafkaError, BrokerUnreachable, OSError):
                        await _dropped(publisher)
                        publisher = None
                        await asyncio.sleep(1.0)
                if self.on_published:
                    self.on_published(len(chunk))
                await asyncio.sleep(plan.pause)
        finally:
            await _dropped(publisher)

    async def finish(self, name: str, flowsight: Flowsight, outcome: Outcome) -> None:
        """Wait until the stage has done all its work; keep its read model and count its dead
        letters and alerts."""
        started = time.monotonic()
        await flowsight.wait_caught_up(0, self.plan.settle_within)
        await wait_figures(flowsight, self.plan.settle_within)
        outcome.notes.append(f"settled {time.monotonic() - started:.0f} s after the last fault")
        self.contents[name] = await read_model(flowsight, self.today)
        listed, twice, repeats = await _dead_letter_counts(flowsight)
        outcome.dead_letters, outcome.dead_letters_duplicated = listed, twice
        outcome.raw_dead_letter_repeats = repeats
        receiver = self.receivers[name]
        outcome.alerts_delivered, outcome.alerts_duplicated = (
            receiver.delivered,
            receiver.duplicated,
        )


async def _dead_letter_counts(flowsight: Flowsight, tries: int = 3) -> tuple[int, int, int]:
    """`dead_letter_counts`, asked again when the broker was slow to answer (a loaded machine:
    every stage finishes at about the same time)."""
    for _ in range(tries - 1):
        with suppress(BrokerUnreachable):
            return await dead_letter_counts(flowsight.settings)
        await asyncio.sleep(2.0)
    return await dead_letter_counts(flowsight.settings)


async def _dropped(publisher: EventPublisher | None) -> None:
    """Stop a producer Kafka refused, if any: its queued records go, or fail, with it."""
    if publisher is not None:
        with suppress(KafkaError, OSError):
            await publisher.stop()


def halves(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    middle = len(events) // 2
    return events[:middle], events[middle:]


def parts(events: list[dict[str, Any]], count: int) -> list[list[dict[str, Any]]]:
    """`events` in `count` consecutive parts of (nearly) equal size."""
    size, extra = divmod(len(events), count)
    out, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        out.append(events[start:end])
        start = end
    return out
