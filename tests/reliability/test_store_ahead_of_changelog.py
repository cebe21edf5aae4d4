"""`kill -9` of a worker on the on-disk store (rocksdb://) after its tables took a batch but
before Kafka acknowledged the batch's changelog records, then the partitions on a new host.

The broker is frozen (SIGSTOP) while the worker is folding a backlog: the tracker goes on with
the records it has fetched, writes the read model and its local RocksDB tables, but no changelog
record is acknowledged and no offset committed. The worker is killed, the broker resumed, and
the worker restarted on the same host (same data directory and member name) until it has caught
up. Then a worker on a new host (an empty data directory) restores the tables from their
changelogs alone, and its journeys are read from its files: every patient, each event once.

Its own broker: freezing the session's would stall every other test."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from rocksdict import AccessType, Options, Rdict

from flowsight.adapters.kafka.producer import EventPublisher, Record
from flowsight.devtools.bench.city import city_events
from flowsight.devtools.bench.harness import Flowsight, stage
from flowsight.devtools.bench.state import validated
from flowsight.devtools.faults.inject import worker_progress
from flowsight.devtools.faults.outages import own_broker

pytestmark = pytest.mark.integration

#: The simulated city's census (one admission per inpatient) and a little of its flow: a patient
#: whose only events are in the batches folded while the broker is frozen has no later event to
#: carry them to the changelog.
EVENTS = 2_000
VOLUME = 0.15
#: The broker is frozen once the tracker has applied this share of the events, for this long.
FREEZE_AFTER = 0.25
FREEZE_SECONDS = 3.0
WITHIN = 180.0
#: The tracker's batches: a twentieth of the events each.
BATCH = 100


async def _applied(flowsight: Flowsight) -> float:
    """Events the running tracker has folded (its metrics answer while the broker is frozen)."""
    return await worker_progress(flowsight, ("flowsight_events_applied",))


async def _until_applied(flowsight: Flowsight, count: float) -> float:
    deadline = time.monotonic() + WITHIN
    while (applied := await _applied(flowsight)) < count:
        flowsight.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"the tracker applied {applied} events in {WITHIN:.0f} s")
        await asyncio.sleep(0.05)
    return applied


async def _publish_validated(flowsight: Flowsight, events: list[dict[str, Any]]) -> None:
    """The events straight onto the events topic, as the validator would send them: the
    tracker's consumer then fetches far more than it has folded when the broker is frozen,
    whatever the validator's pace (through the ingest topics it could be caught up)."""
    records: list[Record] = [
        (key.encode(), orjson.dumps(event), []) for key, event in validated(flowsight, events)
    ]
    async with EventPublisher(flowsight.settings) as publisher:
        handed = await publisher.send_batch(flowsight.settings.events_topic, records)
        await asyncio.gather(*(delivery for delivery, _ in handed))


def _local_journeys(data_dir: Path) -> dict[str, list[str]]:
    """The journeys table in a stopped worker's local RocksDB files (one per changelog
    partition): each patient's event ids; a patient filed under two partitions is an error."""
    journeys: dict[str, list[str]] = {}
    paths = sorted(data_dir.glob("faust/**/journeys-*.db"))
    assert paths, f"no journeys table under {data_dir}"
    for path in paths:
        db = Rdict(str(path), Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            for key, value in db.items():
                if key.startswith(b"__faust"):  # the persisted changelog offset
                    continue
                pseudonym = key.decode()  # raw, as the events topic's key
                assert pseudonym not in journeys, f"{pseudonym} in two partitions ({path.name})"
                journeys[pseudonym] = [event["event_id"] for event in orjson.loads(value)]
        finally:
            db.close()
    return journeys


def _expected(flowsight: Flowsight, events: list[dict[str, Any]]) -> dict[str, list[str]]:
    journeys: dict[str, list[str]] = defaultdict(list)
    for _, event in validated(flowsight, events):
        if event["event_type"] != "capacity":
            journeys[event["pseudonym"]].append(event["event_id"])
    return journeys


async def test_a_batch_stored_locally_but_not_in_its_changelog_reaches_a_new_host(
    tmp_path: Path,
) -> None:
    on_disk = {
        "FLOWSIGHT_STATE_STORE": "rocksdb://",
        "FLOWSIGHT_WORKER_ID": "host-a",
        # Many small batches: with the worker's 2,000 the first batch folded every event before
        # the broker could be frozen, and nothing was folded while it was.
        "FLOWSIGHT_SINK_BATCH_SIZE": str(BATCH),
    }
    async with own_broker(tmp_path / "broker") as kafka:
        broker_pid = int(kafka.pid_file.read_text())
        with stage(kafka.settings.kafka_bootstrap, tmp_path / "stage", extra=on_disk) as flow:
            events = city_events(flow.catalogue, EVENTS, volume=VOLUME)
            await flow.create_topics()
            await _publish_validated(flow, events)
            flow.start("worker")
            frozen_at = await _until_applied(flow, EVENTS * FREEZE_AFTER)
            os.kill(broker_pid, signal.SIGSTOP)
            try:
                await asyncio.sleep(FREEZE_SECONDS)
                folded_while_frozen = await _applied(flow) - frozen_at
                flow.stop("worker", signal.SIGKILL)
            finally:
                os.kill(broker_pid, signal.SIGCONT)
            # Without batches folded while nothing could be acknowledged, nothing was tested.
            assert folded_while_frozen > 0, "the tracker folded nothing while the broker was frozen"

            flow.start("worker")  # the same host: its data directory and member name
            await flow.wait_caught_up(len(events), WITHIN)
            flow.stop("worker")

            new_host = tmp_path / "new-host"
            new_host.mkdir()
            flow.start(
                "worker",
                "new-host",
                FLOWSIGHT_DATA_DIR=str(new_host),
                FLOWSIGHT_WORKER_ID="host-b",
            )
            # One event delivered again: caught up means the tables were restored first.
            await flow.publish(events[:1])
            await flow.wait_caught_up(len(events) + 1, WITHIN)
            flow.stop("new-host")

            expected = _expected(flow, events)
            same_host, new_host_journeys = (
                _local_journeys(flow.directory),
                _local_journeys(new_host),
            )

    for where, journeys in (("the same host", same_host), ("a new host", new_host_journeys)):
        lost = sorted(set(expected) - set(journeys))
        assert not lost, f"{len(lost)} of {len(expected)} patients missing on {where}"
        differing = [p for p in expected if sorted(journeys[p]) != sorted(expected[p])]
        assert not differing, f"{len(differing)} journeys differ on {where}: {differing[:3]}"
