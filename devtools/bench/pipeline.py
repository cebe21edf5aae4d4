"""`bench pipeline`: a worker's rate through a backlog of simulated events, against a plain
aiokafka consumer reading and decoding the same topics in the same run."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from flowsight.adapters.kafka.security import client_options
from flowsight.adapters.readmodel.migrate import upgrade
from flowsight.devtools.bench.harness import (
    Advance,
    Flowsight,
    cpu_seconds,
    free_port,
    machine_load,
    stage,
)
from flowsight.devtools.bench.report import Report, rate

TARGET_RATE = 25_000
TARGET_SHARE = 0.15


@dataclass(frozen=True)
class PipelineRun:
    """One worker's pass through a backlog: events, from its start and from its first commit."""

    events: int
    workers: int
    partitions: int
    wall_seconds: float  # from the workers' start to every record committed
    startup_seconds: float  # from their start to the group's first commit
    ingest_seconds: float  # from their start to every ingest record committed (validator done)
    raw_seconds: float  # the baseline consumer over the same ingest records
    #: faust's floor over the same ingest records (`floor.py`): events a second, and per
    #: CPU-second, after its first batch.
    floor_rate: float
    floor_per_cpu: float
    #: CPU seconds (user + system) of the workers and of the baseline consumer: on a shared
    #: machine these say more than wall time, which depends on what else runs.
    worker_cpu: float = 0.0
    raw_cpu: float = 0.0

    @property
    def timed(self) -> bool:
        """Whether any record was committed after the group's first commit: if not, there is
        no span from it to time, and `rate` means nothing."""
        return self.wall_seconds > self.startup_seconds

    @property
    def rate(self) -> float:
        """Events a second once the group was consuming (start-up left out)."""
        return self.events / max(self.wall_seconds - self.startup_seconds, 1e-9)

    @property
    def wall_rate(self) -> float:
        return self.events / self.wall_seconds

    @property
    def raw_rate(self) -> float:
        return self.events / self.raw_seconds


async def raw_consume(flowsight: Flowsight, records: int) -> float:
    """Seconds a plain consumer (no group) takes to read and JSON-decode `records` ingest records."""
    settings = flowsight.settings
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        topics = [settings.ingest_topic(code) for code in flowsight.catalogue.organisation_codes]
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        started, read = time.perf_counter(), 0
        decoded: Any = None
        while read < records:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for messages in batches.values():
                for message in messages:
                    decoded = orjson.loads(message.value)
                read += sum(len(messages) for messages in batches.values())
        del decoded
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def faust_floor(
    flowsight: Flowsight, records: int, within: float = 900
) -> tuple[float, float]:
    """faust's floor over the `records` ingest records (`floor.py`): events a second, and per
    CPU-second (0 when its first batch held them all)."""
    result = flowsight.directory / "floor.json"
    flowsight.start(f"{records} {result}", "floor", module="flowsight.devtools.bench.floor")
    deadline = time.monotonic() + within
    try:
        while not result.exists():
            flowsight.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"faust's floor had not read {records} records in {within:.0f}s")
            await asyncio.sleep(0.2)
    finally:
        flowsight.stop("floor")
    measured = orjson.loads(result.read_bytes())
    timed = measured["records"]
    return timed / max(measured["seconds"], 1e-9), timed / max(measured["cpu"], 1e-9)


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # a fresh consumer has no topic metadata yet
    return set(consumer.partitions_for_topic(topic) or ())


async def run_pipeline(
    flowsight: Flowsight,
    events: list[dict[str, Any]],
    *,
    workers: int = 1,
    within: float = 1800,
    on_publish: Advance | None = None,
    on_commit: Advance | None = None,
) -> PipelineRun:
    """Publish `events`, measure the baseline, then start `workers` and wait for their commits."""
    await flowsight.create_topics()
    await flowsight.publish(events, on_publish)
    cpu_before = time.process_time()
    raw_seconds = await raw_consume(flowsight, len(events))
    raw_cpu = time.process_time() - cpu_before
    floor_rate, floor_per_cpu = await faust_floor(flowsight, len(events))
    # Workers starting together on an empty database would each run the migrations at once.
    await asyncio.to_thread(upgrade, flowsight.settings.resolved_database_url)
    started = time.perf_counter()
    # Each worker its own metrics port: they share the stage's other settings.
    started_workers = [
        flowsight.start("worker", f"worker-{n}", FLOWSIGHT_WORKER_METRICS_PORT=str(free_port()))
        for n in range(workers)
    ]
    first_commit: list[float] = []

    def progress(done: int) -> None:
        if not first_commit:
            first_commit.append(time.perf_counter())
        if on_commit:
            on_commit(done)

    finished = await flowsight.wait_caught_up(len(events), within, progress)
    worker_cpu = sum(cpu_seconds(worker.pid) for worker in started_workers)
    startup = (first_commit[0] if first_commit else finished) - started
    ingest = (flowsight.ingest_committed or finished) - started
    return PipelineRun(
        len(events),
        workers,
        flowsight.partitions,
        finished - started,
        startup,
        ingest,
        raw_seconds,
        floor_rate,
        floor_per_cpu,
        worker_cpu,
        raw_cpu,
    )


def pipeline_report(run: PipelineRun, database: str) -> Report:
    """The printed result of `bench pipeline`."""
    report = Report(
        f"pipeline: {run.events:,} simulated events, {run.workers} worker(s), "
        f"{run.partitions} partition(s), {database}; {machine_load()}"
    )
    report.figure("baseline: aiokafka read + decode", rate(run.events, run.raw_seconds))
    report.figure(
        "baseline: faust agent doing nothing",
        f"{run.floor_rate:12,.0f} /s   ({run.floor_per_cpu:,.0f} events per CPU-second)"
        if run.floor_rate
        else "too few events to time (all in its first batch)",
    )
    report.figure("worker: start to all committed", rate(run.events, run.wall_seconds))
    report.figure(
        "worker: first commit to all", rate(run.events, run.wall_seconds - run.startup_seconds)
    )
    report.figure("worker start-up (to first commit)", f"{run.startup_seconds:.1f} s")
    report.figure(
        "validator done (ingest committed)", f"{run.ingest_seconds:.1f} s after the start"
    )
    report.figure(
        "CPU: baseline consumer",
        f"{run.raw_cpu:8.2f} s   ({run.events / max(run.raw_cpu, 1e-9):,.0f} events per CPU-second)",
    )
    report.figure(
        "CPU: worker(s), start-up included",
        f"{run.worker_cpu:8.2f} s   ({run.events / max(run.worker_cpu, 1e-9):,.0f} events per CPU-second)",
    )
    report.ratio("worker / baseline, per CPU-second", run.raw_cpu / max(run.worker_cpu, 1e-9))
    if not run.timed:
        # Every record was in the group's first commit: no rate to compare or to judge.
        why = "the first commit held every record: publish more events (--events)"
        report.target(f"≥ {TARGET_RATE:,} events/s", why, None)
        report.target(f"≥ {TARGET_SHARE:.0%} of raw aiokafka", why, None)
        return report
    report.ratio("worker / baseline", run.rate / run.raw_rate)
    # The worker reads every event twice (ingest, then events topic): faust's floor for it is
    # half the floor's rate.
    if run.floor_rate:
        report.ratio("worker / faust's floor for two reads", run.rate / (run.floor_rate / 2))
    report.target(f"≥ {TARGET_RATE:,} events/s", f"{run.rate:,.0f}", run.rate >= TARGET_RATE)
    share = run.rate / run.raw_rate
    report.target(f"≥ {TARGET_SHARE:.0%} of raw aiokafka", f"{share:.1%}", share >= TARGET_SHARE)
    return report


async def bench_pipeline(
    bootstrap: str,
    directory: Path,
    events: list[dict[str, Any]],
    database_url: str | None,
    on_publish: Advance | None = None,
    on_commit: Advance | None = None,
) -> Report:
    """Run `bench pipeline` on its own stage."""
    with stage(bootstrap, directory, database_url) as flowsight:
        run = await run_pipeline(flowsight, events, on_publish=on_publish, on_commit=on_commit)
    return pipeline_report(run, "PostgreSQL" if database_url else "SQLite")
