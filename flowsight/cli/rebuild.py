"""`flowsight rebuild`: the read model's patient-level state rebuilt from the topics, for
disaster recovery (docs/operations.md).

A worker started with a new app id is a new consumer group with new changelog topics: it reads
the events topic from its earliest offset and folds every journey again, which is the rebuild.
This command wraps that start and adds what a rebuild needs beside it: an empty database, the
ingest topics taken over at the old group's offsets (events already validated are on the events
topic; validating them again would dead-letter the refused ones twice), alert routes muted
(pressure recomputed over the past must not page anyone), a progress bar on the events applied,
and the end: every day's figures computed and one purge round after the catch-up, so that
patients past their retention are gone again before anyone reads the rebuilt model.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess  # nosec B404 # python -m flowsight worker, from an argument list, no shell
import sys
import time
from datetime import UTC, datetime
from typing import Annotated

import typer

from flowsight.cli.terminal import console, fail, runtime_or_exit, settings_or_exit
from flowsight.schemas.catalogue import Catalogue
from flowsight.settings import Settings

#: The rebuilding worker's purge rounds: often, so the last comes soon after the catch-up.
PURGE_EVERY_SECONDS = 2.0
POLL_SECONDS = 1.0


def rebuild(
    database_url: Annotated[
        str,
        typer.Option(
            envvar="FLOWSIGHT_REBUILD_DATABASE_URL",
            show_envvar=True,
            help="the new, empty read-model database to rebuild into; from the environment, a "
            "password in it stays out of the process list (`ps` shows every argument)",
        ),
    ],
    app_id: Annotated[
        str, typer.Option(help="the new app id (consumer group); default <app id>-rebuild-<time>")
    ] = "",
) -> None:
    """Rebuild the read model from the topics into an empty database, with a new app id."""
    from flowsight.logs import configure_logging

    settings = settings_or_exit()
    configure_logging(settings)
    catalogue = runtime_or_exit(settings).catalogue
    new_id = app_id or f"{settings.app_id}-rebuild-{datetime.now(UTC):%Y%m%d%H%M%S}"
    if new_id == settings.app_id:
        raise fail("the rebuild needs a new app id, not the running workers' own", 2)
    target = settings.model_copy(update={"app_id": new_id, "database_url": database_url})
    try:
        seconds, events = _run(settings, target, catalogue)
    except RebuildFailed as error:
        raise fail(str(error)) from None
    rate = events / seconds if seconds else 0.0
    console.print(
        f"rebuilt {events:,} events in {seconds:,.1f} s ({rate:,.0f} events/s). Point the "
        f"workers and the API at it: FLOWSIGHT_APP_ID={new_id} FLOWSIGHT_DATABASE_URL=<the new "
        "database>, then restore the alert routes."
    )


class RebuildFailed(Exception):
    """The rebuild could not start or its worker stopped."""


def _run(settings: Settings, target: Settings, catalogue: Catalogue) -> tuple[float, int]:
    from flowsight.worker import prepare

    prepare(target, catalogue)  # the topics, and the new database's schema
    if asyncio.run(_holds_rows(target)):
        raise RebuildFailed("the database holds read-model rows already: give an empty one")
    total = asyncio.run(_take_over_ingest(settings, target, catalogue))
    port = _free_port()
    log = target.data_dir / f"{target.app_id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "FLOWSIGHT_APP_ID": target.app_id,
        "FLOWSIGHT_DATABASE_URL": target.resolved_database_url,
        "FLOWSIGHT_ALERT_ROUTES": "",
        "FLOWSIGHT_PURGE_INTERVAL_SECONDS": str(PURGE_EVERY_SECONDS),
        "FLOWSIGHT_WORKER_METRICS_HOST": "127.0.0.1",
        "FLOWSIGHT_WORKER_METRICS_PORT": str(port),
    }
    started = time.monotonic()
    with log.open("ab") as output:
        worker = subprocess.Popen(  # nosec B603 # this interpreter, fixed arguments
            [sys.executable, "-m", "flowsight", "worker"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            asyncio.run(_follow(target, catalogue, total, worker, port))
        except RebuildFailed as error:
            raise RebuildFailed(f"{error}; its log, {log}:\n{log.read_text()[-3000:]}") from None
        finally:
            worker.terminate()
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
    return time.monotonic() - started, total


async def _holds_rows(target: Settings) -> bool:
    from sqlalchemy import func, select

    from flowsight.adapters.readmodel.database import create_engine
    from flowsight.adapters.readmodel.purge import PATIENT_TABLES
    from flowsight.adapters.readmodel.tables import service_daily

    engine = create_engine(target.resolved_database_url)
    try:
        async with engine.connect() as connection:
            for table in (*PATIENT_TABLES, service_daily):
                query = select(func.count()).select_from(table)
                if (await connection.execute(query)).scalar_one():
                    return True
        return False
    finally:
        await engine.dispose()


async def _take_over_ingest(settings: Settings, target: Settings, catalogue: Catalogue) -> int:
    """Commit the old group's ingest offsets (their end, where it has none) for the new group;
    return the number of records on the events topic, the rebuild's work."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.structs import OffsetAndMetadata

    from flowsight.adapters.kafka.security import client_options

    ingest = [settings.ingest_topic(code) for code in catalogue.organisation_codes]
    admin = AIOKafkaAdminClient(**client_options(settings))
    consumer = AIOKafkaConsumer(
        **client_options(settings), group_id=target.app_id, enable_auto_commit=False
    )
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(settings.app_id)
        partitions = {
            topic["topic"]: [
                TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]
            ]
            for topic in await admin.describe_topics([*ingest, settings.events_topic])
            if not topic["error_code"]
        }
        held = [tp for topic in ingest for tp in partitions.get(topic, [])]
        consumer.assign(held)
        ends = await consumer.end_offsets(held) if held else {}
        offsets = {}
        for tp in held:
            old = committed.get(tp)
            offsets[tp] = OffsetAndMetadata(old.offset if old and old.offset >= 0 else ends[tp], "")
        if offsets:
            await consumer.commit(offsets)
        events = partitions.get(settings.events_topic, [])
        if not events:
            return 0
        starts = await consumer.beginning_offsets(events)
        last = await consumer.end_offsets(events)
        return sum(last[tp] - starts[tp] for tp in events)
    finally:
        await consumer.stop()
        await admin.close()


async def _follow(
    target: Settings,
    catalogue: Catalogue,
    total: int,
    worker: subprocess.Popen[bytes],
    port: int,
) -> None:
    """Show the events applied until the worker caught up, its figures are computed and a purge
    round followed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from flowsight.adapters.kafka.lag import ConsumerLag, consumed_topics

    lag = ConsumerLag(target, target.app_id, consumed_topics(target, catalogue))
    rounds_then: float | None = None
    try:
        with Progress(
            "{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            applied = progress.add_task("events applied", total=total)
            while True:
                if worker.poll() is not None:
                    raise RebuildFailed(f"the rebuilding worker stopped ({worker.returncode})")
                behind = await lag.measure()
                progress.update(applied, completed=max(0, total - behind[target.events_topic]))
                rounds = _purge_rounds(port)
                if rounds_then is None and not any(behind.values()) and rounds is not None:
                    rounds_then = rounds
                    progress.update(applied, description="figures and purge")
                if rounds_then is not None and rounds is not None and rounds > rounds_then:
                    if not await _days_waiting(target):
                        return
                await asyncio.sleep(POLL_SECONDS)
    finally:
        await lag.close()


def _purge_rounds(port: int) -> float | None:
    """The rebuilding worker's finished purge rounds, from its metrics; None before it answers."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    try:
        page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == "flowsight_purge_rounds_total":
                return float(sample.value)
    return None


async def _days_waiting(target: Settings) -> int:
    from sqlalchemy import func, select

    from flowsight.adapters.readmodel.database import create_engine
    from flowsight.adapters.readmodel.tables import service_daily_dirty

    engine = create_engine(target.resolved_database_url)
    try:
        async with engine.connect() as connection:
            query = select(func.count()).select_from(service_daily_dirty)
            return int((await connection.execute(query)).scalar_one())
    finally:
        await engine.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
