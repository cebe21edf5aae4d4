"""The faults themselves and what they are measured with: a broker to stop, a locked read model,
duplicated and shuffled deliveries, poison records, an alert receiver, the worker's progress."""

from __future__ import annotations

import asyncio
import copy
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from random import Random
from typing import Any

import httpx
import orjson

from flowsight.adapters.kafka.dlq import read_dead_letters
from flowsight.devtools.bench.harness import Flowsight, free_port, metric_samples
from flowsight.settings import Settings

#: The simulated city's census reaches two months back, and Kafka orders no two partitions: with
#: the default 7-day window whether a patient's oldest event is "too late" depends on whether
#: another source's later event for them was read first, which differs between two clean runs.
#: A window longer than the simulated period makes the figures a function of the events alone.
LATENESS_WINDOW_DAYS = 120

#: The webhook secret of every fault stage's alert route.
WEBHOOK_SECRET = "fault-suite-webhook-secret-0123456789abcdef"  # nosec B105 # loopback test receiver


class AlertReceiver:
    """A webhook receiver on loopback that answers 200 and counts each dedupe key it gets."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        lock = threading.Lock()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                with lock:
                    received[self.headers.get("X-Flowsight-Dedupe-Key", "")] += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def route(self) -> str:
        """`FLOWSIGHT_ALERT_ROUTES` sending every alert here."""
        url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        return orjson.dumps([{"kind": "webhook", "url": url, "secret": WEBHOOK_SECRET}]).decode()

    @property
    def delivered(self) -> int:
        return len(self.received)

    @property
    def duplicated(self) -> int:
        return sum(1 for count in self.received.values() if count > 1)

    def __enter__(self) -> AlertReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def stage_env(receiver: AlertReceiver) -> dict[str, str]:
    """Settings every fault stage shares: quick batches and refreshes, escalations without a hold
    delivered to `receiver`, a lateness window longer than the simulated period."""
    return {
        "FLOWSIGHT_ALERT_ROUTES": receiver.route,
        "FLOWSIGHT_ESCALATION_HOLD_MINUTES": "0",
        "FLOWSIGHT_LATENESS_WINDOW_DAYS": str(LATENESS_WINDOW_DAYS),
        "FLOWSIGHT_SINK_BATCH_SECONDS": "0.2",
        "FLOWSIGHT_DAILY_REFRESH_SECONDS": "2",
        "FLOWSIGHT_LAG_SAMPLE_SECONDS": "1",
        "FLOWSIGHT_LOG_LEVEL": "INFO",
    }


def with_refusals(events: list[dict[str, Any]], every: int) -> list[dict[str, Any]]:
    """The events with a copy of every `every`th one naming a service no catalogue has, so the
    validator dead-letters it (its own event id: an event of its own)."""
    out: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        out.append(event)
        if index % every == every - 1:
            refused = copy.deepcopy(event)
            refused["event_id"] = f"refused-{index}"
            refused["service"] = "no-such-service"
            out.append(refused)
    return out


def duplicated_and_shuffled(
    events: list[dict[str, Any]], share: float, block: int, lateness: timedelta, rng: Random
) -> tuple[list[dict[str, Any]], int]:
    """The events with `share` of them delivered twice and each block of `block` deliveries
    shuffled, a block only when its events lie within `lateness` of each other; and how many
    deliveries were duplicated."""
    deliveries = list(events)
    chosen = rng.sample(range(len(events)), round(len(events) * share))
    for index in sorted(chosen, reverse=True):
        deliveries.insert(min(len(deliveries), index + rng.randint(1, block)), events[index])
    out: list[dict[str, Any]] = []
    for start in range(0, len(deliveries), block):
        part = deliveries[start : start + block]
        moments = [datetime.fromisoformat(e["occurred_at"]) for e in part]
        if max(moments) - min(moments) <= lateness:
            rng.shuffle(part)
        out.extend(part)
    return out, len(chosen)


def poison_records(now: datetime) -> dict[str, list[bytes]]:
    """Records an older or broken producer could put straight on the events topic, valid JSON
    the fold cannot use: those it cannot even record (no patient, not an object), and one it
    records but cannot replay (an admission naming no service)."""
    at = (now - timedelta(minutes=5)).isoformat()
    base = {"schema_version": "1", "source": "RR8/old-producer", "occurred_at": at}
    return {
        "unrecordable": [
            orjson.dumps({**base, "event_type": "admission", "event_id": "poison-no-patient"}),
            orjson.dumps(["not", "an", "event"]),
            orjson.dumps({**base, "event_id": "poison-no-type", "pseudonym": uuid.uuid4().hex}),
        ],
        "unreplayable": [
            orjson.dumps(
                {
                    **base,
                    "event_type": "admission",
                    "event_id": "poison-no-service",
                    "pseudonym": uuid.uuid4().hex,
                    "episode_id": "poison-episode",
                }
            )
        ],
    }


@contextmanager
def locked_sqlite(path: Path) -> Iterator[None]:
    """Another connection holding an exclusive transaction on the SQLite file: no one else
    writes until it ends. Readers go on (in WAL mode a writer's lock does not block them)."""
    connection = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


async def counter_totals(
    port: int, families: tuple[str, ...]
) -> list[tuple[dict[str, str], float]]:
    """The totals of the counter `families` on the /metrics of the local process at `port`: each
    sample's labels and value. Raises `httpx.HTTPError` while it does not answer."""
    samples = await metric_samples(port, families)
    return [(sample.labels, sample.value) for sample in samples if sample.name.endswith("_total")]


async def worker_progress(
    flowsight: Flowsight,
    families: tuple[str, ...] = ("flowsight_events_validated", "flowsight_events_applied"),
) -> float:
    """Events the running worker validated or applied since it started (its metrics: the
    `families` counted); 0 while it does not answer."""
    try:
        totals = await counter_totals(flowsight.settings.worker_metrics_port, families)
    except httpx.HTTPError:
        return 0.0
    return sum(value for _, value in totals)


async def until_processing(flowsight: Flowsight, within: float) -> float | None:
    """Seconds until the worker just started has processed an event; None if not `within`."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        flowsight.check_alive()
        if await worker_progress(flowsight) > 0:
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    return None


async def dead_letter_counts(settings: Settings) -> tuple[int, int, int]:
    """The dead letters as `flowsight dlq` lists them, originals listed more than once (0 when
    the listing works), and the raw repeats on the topic."""
    raw = await read_dead_letters(settings, raw=True)
    listed = await read_dead_letters(settings)
    origins = Counter(letter.origin for letter in listed)
    listed_twice = sum(1 for count in origins.values() if count > 1)
    return len(listed), listed_twice, len(raw) - len(listed)


def now() -> datetime:
    return datetime.now(UTC)
