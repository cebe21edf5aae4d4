"""Live pressure and alert changes for `GET /v1/stream`, read from the worker's topics.

One Kafka reader per API process follows every partition of `<ns>.pressure.v1` and
`<ns>.alerts.v1` from their end and hands each change to every connected client's queue. The
worker publishes every scope's score on each refresh; only a change of published level, scored
level, score or an indicator (its value, level or thresholds) is passed on. Each change carries
where it was read (topic, partition, offset): a client's position in the topics is its stream's
event id, from which a client that reconnects is caught up (`api/resume.py`), on this process or
another one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from flowsight.adapters.kafka.security import client_options
from flowsight.services.escalation import not_scored_reason
from flowsight.settings import Settings

log = logging.getLogger("flowsight.api.live")

#: Changes a client may fall behind by before it is told to reload (`resync`) instead.
CLIENT_BUFFER = 256
RECONNECT_SECONDS = 5.0
#: How often the reader looks again for topics the worker has not created yet.
TOPICS_WAIT_SECONDS = 1.0

#: The two topics the stream follows, by the short name positions use.
KINDS = ("pressure", "alerts")

#: (topic kind, partition) → the offset of the next record to read there.
Position = dict[tuple[str, int], int]


@dataclass(frozen=True)
class Change:
    """One server-sent event: `pressure`, `alert` or `resync`, and where its record was read
    (topic kind, partition, offset) when it came from a topic."""

    kind: str
    data: dict[str, Any]
    at: tuple[str, int, int] | None = None


def pressure_view(
    scope: str,
    published_level: int | None,
    scored_level: int | None,
    score: float | None,
    indicators: Any,
    as_of: str | None,
) -> dict[str, Any]:
    """A scope's pressure as `GET /v1/pressure` words it: `level` is the published level, and
    why there is none."""
    return {
        "scope": scope,
        "level": published_level,
        "not_scored_reason": not_scored_reason(published_level, scored_level),
        "scored_level": scored_level,
        "score": score,
        "indicators": indicators or [],
        "as_of": as_of,
    }


class Changes:
    """Turns the worker's records into the changes clients are told about."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[Any, ...]] = {}

    def of(
        self, topic_kind: str, value: bytes, at: tuple[str, int, int] | None = None
    ) -> Change | None:
        """The change a record tells, if it is news."""
        change = parse(topic_kind, value, at)
        return change if change is not None and self.fresh(change) else None

    def fresh(self, change: Change) -> bool:
        """Whether `change` tells something new (always, but for a scope's unchanged pressure);
        a pressure change is remembered as its scope's latest."""
        if change.kind != "pressure":
            return True
        fingerprint = _fingerprint(change.data)
        if self._last.get(change.data["scope"]) == fingerprint:
            return False
        self._last[change.data["scope"]] = fingerprint
        return True


def parse(topic_kind: str, value: bytes, at: tuple[str, int, int] | None = None) -> Change | None:
    """The change a record of the `topic_kind` topic states (news or not); None if unreadable."""
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError:
        log.warning("skipped an unreadable record on the %s topic", topic_kind)
        return None
    if topic_kind == "alerts":
        return Change("alert", body, at)
    view = pressure_view(
        str(body.get("scope")),
        body.get("published_level"),
        body.get("level"),
        body.get("score"),
        body.get("indicators"),
        body.get("as_of"),
    )
    return Change("pressure", view, at)


def _fingerprint(view: dict[str, Any]) -> tuple[Any, ...]:
    # The indicators too: a queue that grew within its level is news to whoever watches it.
    return (view["level"], view["scored_level"], view["score"], orjson.dumps(view["indicators"]))


def topic_names(settings: Settings) -> dict[str, str]:
    """The topic of each kind the stream follows."""
    return {"pressure": settings.pressure_topic, "alerts": settings.alerts_topic}


async def partitions_of(settings: Settings) -> list[tuple[str, int]]:
    """Every (kind, partition) of the followed topics; empty while a topic does not exist."""
    names = topic_names(settings)
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        # Only topics that exist are described: asking for a missing one may create it (with
        # the broker's default partitions) before the worker creates it as it should be.
        if not set(names.values()) <= set(await admin.list_topics()):
            return []
        described = {
            topic["topic"]: topic for topic in await admin.describe_topics(list(names.values()))
        }
    finally:
        await admin.close()
    found: list[tuple[str, int]] = []
    for kind in KINDS:
        topic = described.get(names[kind])
        if topic is None or topic["error_code"] or not topic["partitions"]:
            return []
        found.extend(
            (kind, p["partition"])
            for p in sorted(topic["partitions"], key=lambda p: p["partition"])
        )
    return found


class LiveFeed:
    """Fans the worker's pressure and alert records out to subscribed clients, and tells
    `listeners` of every record read (a cached answer is stale)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.changes = Changes()
        #: Where the next record of each partition will be read (None until positioned).
        self.position: Position | None = None
        #: Where the reader was first positioned: every record from here on reached subscribers.
        self.start: Position | None = None
        self.positioned = asyncio.Event()
        #: When this feed was made (ms since the epoch): where the reader first starts reading.
        self.born_ms = int(time.time() * 1000)
        self.listeners: list[Callable[[], None]] = []
        self._subscribers: set[asyncio.Queue[Change]] = set()
        self._reader: asyncio.Task[None] | None = None

    def run(self) -> None:
        """Start the reader if it is not running (it then reconnects by itself)."""
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="flowsight-live-feed")

    def subscribe(self) -> asyncio.Queue[Change]:
        """A queue of changes for one client; the reader starts with the first client."""
        queue: asyncio.Queue[Change] = asyncio.Queue(CLIENT_BUFFER)
        self._subscribers.add(queue)
        self.run()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Change]) -> None:
        self._subscribers.discard(queue)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    def publish(self, change: Change) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(change)
            except asyncio.QueueFull:  # a client too slow to keep up reloads instead
                _drain(queue)
                queue.put_nowait(Change("resync", {"reason": "too many changes to send"}))

    def take(self, kind: str, partition: int, offset: int, value: bytes) -> None:
        """One record read: passed on if news; listeners told in any case."""
        assert self.position is not None
        change = self.changes.of(kind, value, (kind, partition, offset))
        self.position[(kind, partition)] = offset + 1
        for listener in self.listeners:
            listener()
        if change is not None:
            self.publish(change)

    async def _read(self) -> None:
        names = topic_names(self.settings)
        while True:
            consumer = AIOKafkaConsumer(
                **client_options(self.settings),
                auto_offset_reset="latest",
                enable_auto_commit=False,
            )
            try:
                await consumer.start()
                await self._position(consumer)
                while True:
                    batch = await consumer.getmany(timeout_ms=1000)
                    for tp, records in batch.items():
                        kind = "pressure" if tp.topic == names["pressure"] else "alerts"
                        for record in records:
                            self.take(kind, tp.partition, record.offset, record.value or b"")
            except KafkaError as error:
                log.warning("live feed lost Kafka (%s); reconnecting", error)
            finally:
                await consumer.stop()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _position(self, consumer: AIOKafkaConsumer) -> None:
        """Assign every partition; read on from where the reader was, and a partition it has
        not read before from the first record written since the feed was made (else its end).
        Before the worker has made the topics the reader waits for them, and the worker's first
        alerts came in that wait: read from the end once it was over, they reached no one."""
        names = topic_names(self.settings)
        keys = await partitions_of(self.settings)
        while not keys:  # the worker has not created the topics yet
            await asyncio.sleep(TOPICS_WAIT_SECONDS)
            keys = await partitions_of(self.settings)
        tps = {key: TopicPartition(names[key[0]], key[1]) for key in keys}
        consumer.assign(list(tps.values()))
        position = self.position or {}
        if set(position) != set(keys):
            new = [tps[key] for key in keys if key not in position]
            ends = await consumer.end_offsets(new)
            since = await consumer.offsets_for_times({tp: self.born_ms for tp in new})
            found = {tp: since[tp].offset if since.get(tp) else ends[tp] for tp in new}
            position = {key: position.get(key, found.get(tp, 0)) for key, tp in tps.items()}
            self.start = {key: (self.start or {}).get(key, at) for key, at in position.items()}
            self.position = position
        for key, tp in tps.items():
            consumer.seek(tp, position[key])
        self.positioned.set()


def _drain(queue: asyncio.Queue[Change]) -> None:
    while not queue.empty():
        queue.get_nowait()
