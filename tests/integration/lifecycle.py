"""Shared helpers of the data-lifecycle and rebuild tests: journeys to publish, the read model's
rows, the latest changelog record per key."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import create_async_engine

from flowsight.adapters.readmodel.purge import PATIENT_TABLES
from flowsight.adapters.readmodel.tables import service_daily, service_daily_dirty, stays
from tests.integration.feeds import nhs_numbers, publish
from tests.integration.stack import Stack

SOURCES = {"lth-wards": ("RR8", "RR8/pas"), "lch-community-beds": ("RY6", "RY6/systmone")}


def stay_events(
    number: str, service: str, admitted_days_ago: float, discharged_days_ago: float | None
) -> list[dict[str, Any]]:
    """An admission to `service`, and its discharge unless the patient is still there."""
    now = datetime.now(UTC)
    _organisation, source = SOURCES[service]
    base = {
        "schema_version": "1",
        "source": source,
        "service": service,
        "patient": {"nhs_number": number},
        "episode_id": f"SPELL-{number}",
    }
    events = [
        {
            **base,
            "event_id": f"adm-{number}-{service}",
            "event_type": "admission",
            "occurred_at": (now - timedelta(days=admitted_days_ago)).isoformat(),
            "admission_method": "emergency",
        }
    ]
    if discharged_days_ago is not None:
        events.append(
            {
                **base,
                "event_id": f"dis-{number}-{service}",
                "event_type": "discharge",
                "occurred_at": (now - timedelta(days=discharged_days_ago)).isoformat(),
                "destination": "usual_residence",
            }
        )
    return events


def publish_events(stack: Stack, events: list[dict[str, Any]]) -> None:
    """Publish each event to its organisation's ingest topic."""
    settings = stack.settings
    for event in events:
        organisation, _source = SOURCES[event["service"]]
        topic = settings.ingest_topic(organisation)
        asyncio.run(publish(settings.kafka_bootstrap, topic, json.dumps(event).encode()))


def numbers(count: int) -> list[str]:
    return nhs_numbers(count)


async def _rows(url: str, tables: tuple[Table, ...]) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_async_engine(url)
    content = {}
    try:
        async with engine.connect() as connection:
            for table in tables:
                columns = [c for c in table.c if c.name != "updated_at"]
                rows = await connection.execute(select(*columns))
                content[table.name] = sorted(tuple(map(repr, row)) for row in rows)
    finally:
        await engine.dispose()
    return content


def patient_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every patient-level table's rows, sorted (first column: the pseudonym)."""
    return asyncio.run(_rows(url, PATIENT_TABLES))


def finished_days(url: str, today: date) -> list[tuple[Any, ...]]:
    """Every service's daily figures before `today` (today's are as of each refresh). Reads
    compared with each other take the same `today`, the day the test started."""
    rows = asyncio.run(_rows(url, (service_daily,)))["service_daily"]
    return [row for row in rows if row[1] < repr(today)]


async def _latest_per_key(bootstrap: str, topic: str) -> dict[bytes, bytes | None]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    latest: dict[bytes, bytes | None] = {}
    try:
        partitions = consumer.assignment()
        while not partitions:
            await asyncio.sleep(0.1)
            partitions = consumer.assignment()
        ends = await consumer.end_offsets(list(partitions))
        async with asyncio.timeout(60):
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        latest[record.key or b""] = record.value
    finally:
        await consumer.stop()
    return latest


def latest_per_key(bootstrap: str, topic: str) -> dict[str, bytes | None]:
    """The latest record of each key of `topic` (None for a tombstone), keys as text."""
    latest = asyncio.run(_latest_per_key(bootstrap, topic))
    return {key.decode(errors="replace"): value for key, value in latest.items()}


def read_model(
    url: str, tables: tuple[Table, ...], today: date, after: int = 90
) -> dict[str, list[Any]]:
    """The tables' rows; of the daily figures, those of the `after` days before `today` (older
    ones may have been computed after or before a purge took their facts). Read models compared
    with each other take the same `today`, the day the test started: each read's own would
    differ across midnight, and one would hold a day the other left out as today's."""
    content = asyncio.run(_rows(url, tables))
    first, last = repr(today - timedelta(days=after)), repr(today)
    content["service_daily"] = [r for r in content["service_daily"] if first < r[1] < last]
    return content


async def _count(url: str, table: Table) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            query = select(func.count()).select_from(table)
            return int((await connection.execute(query)).scalar_one())
    except Exception:  # the schema is not there yet
        return -1
    finally:
        await engine.dispose()


def settled(url: str, facts: int) -> bool:
    """`facts` stays written and every day's figures computed."""
    return (
        asyncio.run(_count(url, stays)) == facts
        and asyncio.run(_count(url, service_daily)) > 0
        and asyncio.run(_count(url, service_daily_dirty)) == 0
    )
