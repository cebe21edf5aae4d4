"""Live pressure and alert changes for `GET /v1/stream`, read from the worker's topics.

One Kafka reader per API process follows `<ns>.pressure.v1` and `<ns>.alerts.v1` from their end
and hands each change to every connected client's queue. The worker publishes every scope's score
on each refresh; only a change of published level, scored level or score is passed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from flowsight.adapters.kafka.security import client_options
from flowsight.settings import Settings

log = logging.getLogger("flowsight.api.live")

#: Changes a client may fall behind by before it is told to reload (`resync`) instead.
CLIENT_BUFFER = 256
RECONNECT_SECONDS = 5.0


@dataclass(frozen=True)
class Change:
    """One server-sent event: `pressure`, `alert` or `resync`."""

    kind: str
    data: dict[str, Any]


def pressure_view(
    scope: str,
    published_level: int | None,
    scored_level: int | None,
    score: float | None,
    indicators: Any,
    as_of: str | None,
) -> dict[str, Any]:
    """A scope's pressure as `GET /v1/pressure` words it: `level` is the published level."""
    return {
        "scope": scope,
        "level": published_level,
        "scored_level": scored_level,
        "score": score,
        "indicators": indicators or [],
        "as_of": as_of,
    }


class Changes:
    """Turns the worker's records into the changes clients are told about."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[Any, ...]] = {}

    def of(self, topic_kind: str, value: bytes) -> Change | None:
        try:
            body = orjson.loads(value)
        except orjson.JSONDecodeError:
            log.warning("skipped an unreadable record on the %s topic", topic_kind)
            return None
        if topic_kind == "alerts":
            return Change("alert", body)
        view = pressure_view(
            str(body.get("scope")),
            body.get("published_level"),
            body.get("level"),
            body.get("score"),
            body.get("indicators"),
            body.get("as_of"),
        )
        fingerprint = _fingerprint(view)
        if self._last.get(view["scope"]) == fingerprint:
            return None
        self._last[view["scope"]] = fingerprint
        return Change("pressure", view)


def _fingerprint(view: dict[str, Any]) -> tuple[Any, ...]:
    return (view["level"], view["scored_level"], view["score"])


class LiveFeed:
    """Fans the worker's pressure and alert records out to subscribed clients."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.changes = Changes()
        self._subscribers: set[asyncio.Queue[Change]] = set()
        self._reader: asyncio.Task[None] | None = None

    def subscribe(self) -> asyncio.Queue[Change]:
        """A queue of changes for one client; the reader starts with the first client."""
        queue: asyncio.Queue[Change] = asyncio.Queue(CLIENT_BUFFER)
        self._subscribers.add(queue)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="flowsight-live-feed")
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

    async def _read(self) -> None:
        topics = {self.settings.pressure_topic: "pressure", self.settings.alerts_topic: "alerts"}
        while True:
            consumer = AIOKafkaConsumer(
                *topics,
                **client_options(self.settings),
                auto_offset_reset="latest",
                enable_auto_commit=False,
            )
            try:
                await consumer.start()
                async for record in consumer:
                    change = self.changes.of(topics[record.topic], record.value or b"")
                    if change is not None:
                        self.publish(change)
            except KafkaError as error:
                log.warning("live feed lost Kafka (%s); reconnecting", error)
            finally:
                await consumer.stop()
            await asyncio.sleep(RECONNECT_SECONDS)


def _drain(queue: asyncio.Queue[Change]) -> None:
    while not queue.empty():
        queue.get_nowait()
