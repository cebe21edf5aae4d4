"""A `GET /v1/stream` client as a browser's EventSource behaves: it reconnects after the server
went away, sending the last event id it saw as `Last-Event-ID`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class Received:
    """One server-sent event: its id (empty when the server gave none), kind and data."""

    id: str
    event: str
    data: str


@dataclass
class StreamClient:
    """Follows the stream until stopped, reconnecting as EventSource does."""

    url: str
    headers: dict[str, str]
    #: Resume after this event id from the start (a client that saw it before).
    last_id: str = ""
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    #: Status codes of refused (re)connections, e.g. 503 while the API restarts.
    refused: list[int] = field(default_factory=list)

    async def follow(self, stop: asyncio.Event, retry_seconds: float = 0.5) -> None:
        """Read events until `stop` is set; reconnect after every disconnection or refusal."""
        async with httpx.AsyncClient(timeout=httpx.Timeout(5, read=None)) as client:
            while not stop.is_set():
                reading = asyncio.ensure_future(self._connection(client))
                stopping = asyncio.ensure_future(stop.wait())
                await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not reading.done():
                    reading.cancel()
                stopping.cancel()
                await asyncio.gather(reading, stopping, return_exceptions=True)
                if not stop.is_set():
                    await asyncio.sleep(retry_seconds)

    async def read_until_quiet(self, quiet: float, within: float) -> None:
        """One connection, read until the first event and then until none came for `quiet`
        seconds (or `within` passed)."""
        async with httpx.AsyncClient(timeout=httpx.Timeout(5, read=None)) as client:
            deadline = time.monotonic() + within
            reading = asyncio.ensure_future(self._connection(client))
            seen = 0
            while time.monotonic() < deadline and not reading.done():
                await asyncio.sleep(quiet)
                if self.received and len(self.received) == seen:
                    break
                seen = len(self.received)
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)

    async def _connection(self, client: httpx.AsyncClient) -> None:
        headers = dict(self.headers)
        if self.last_id:
            headers["Last-Event-ID"] = self.last_id
        try:
            async with client.stream("GET", self.url, headers=headers) as response:
                if response.status_code != 200:
                    self.refused.append(response.status_code)
                    return
                self.connections += 1
                fields: dict[str, str] = {}
                async for line in response.aiter_lines():
                    if line.startswith(":"):
                        continue
                    if not line:
                        if "data" in fields:
                            self._receive(fields)
                        fields = {}
                        continue
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    fields[name] = f"{fields[name]}\n{value}" if name in fields else value
        except httpx.HTTPError:
            return

    def _receive(self, fields: dict[str, str]) -> None:
        event = Received(fields.get("id", ""), fields.get("event", "message"), fields["data"])
        self.received.append(event)
        if event.id:
            self.last_id = event.id

    @property
    def changes(self) -> list[Received]:
        """The events that carry an id (changes the client can resume after)."""
        return [event for event in self.received if event.id]


#: A scope's pressure as a client knows it: published level, scored level, score.
Known = tuple[object, object, object]


def scores(events: Iterable[Received]) -> dict[str, Known]:
    """Each scope's pressure as a client that read `events` knows it (snapshot and changes)."""
    known: dict[str, Known] = {}
    for event in events:
        if event.event == "pressure":
            data = json.loads(event.data)
            known[data["scope"]] = (data["level"], data["scored_level"], data["score"])
    return known


def alerts(events: Iterable[Received]) -> list[str]:
    """The alert events among `events`, as their data."""
    return [event.data for event in events if event.event == "alert"]


def current_scores(pressure: dict[str, Any]) -> dict[str, Known]:
    """Each scope's pressure in a `GET /v1/pressure` answer (scopes scored so far)."""
    answer = {"system": pressure["system"], **{s["id"]: s for s in pressure["services"]}}
    return {
        scope: (body["level"], body["scored_level"], body["score"])
        for scope, body in answer.items()
        if body.get("score") is not None
    }
