"""An answer built once and shared by the requests of one process until it goes stale.

`GET /v1/pressure` reads four aggregates of the read model; at thousands of requests a second
they would be read thousands of times a second for an answer that changes a few times a second at
most. A `Snapshot` keeps the last answer built, and builds it again when:

- it was marked stale (`invalidate`): the live feed saw a record on the worker's pressure or
  alerts topics, so the stored scores changed;
- it is older than `max_age` (queues and capacity change with every batch the worker applies,
  without a pressure record).

An answer past half its `max_age` is still served, while the next one is built in the
background: requests wait for a build only after a change, or when a build takes longer than
half `max_age`. Before this, every request in flight when the answer aged out waited for the
build, and those waits were the endpoint's p99.

Requests that find it stale while it is being built wait for that one build; a build that began
before the last invalidation does not count as fresh, so an answer never predates a change the
feed had seen when the request arrived.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
#: The part of `max_age` after which the next answer is built in the background.
AHEAD = 0.5


@dataclass(frozen=True, slots=True)
class Built(Generic[T]):
    value: T
    generation: int
    at: float


class Snapshot(Generic[T]):
    """The latest value of `build()`, rebuilt when stale; one build at a time."""

    def __init__(self, build: Callable[[], Awaitable[T]], max_age: float) -> None:
        self._build = build
        self.max_age = max_age
        self._generation = 0
        self._built: Built[T] | None = None
        self._building: asyncio.Future[Built[T]] | None = None
        self._building_generation = -1
        self.builds = 0  # how many times it was built, for tests and metrics

    def invalidate(self) -> None:
        """What was built so far is stale."""
        self._generation += 1

    async def get(self) -> T:
        """The value, built again first if stale (sharing a build already under way)."""
        while True:
            built = self._built
            generation = self._generation
            if built is not None and built.generation == generation:
                age = time.monotonic() - built.at
                if age < self.max_age:
                    if age >= self.max_age * AHEAD and self._building is None:
                        self._start(generation).add_done_callback(_retrieved)
                    return built.value
            building = self._building or self._start(generation)
            if self._building_generation == generation:
                # Shielded: a client that goes away does not cancel the others' build.
                return (await asyncio.shield(building)).value
            # A build from before the last change: wait for it, then build anew.
            await asyncio.wait([building])

    def _start(self, generation: int) -> asyncio.Future[Built[T]]:
        self._building = asyncio.ensure_future(self._run(generation))
        self._building_generation = generation
        return self._building

    async def _run(self, generation: int) -> Built[T]:
        started = time.monotonic()
        try:
            built = Built(await self._build(), generation, started)
            self.builds += 1
            if self._built is None or self._built.at <= started:
                self._built = built
            return built
        finally:
            self._building = None


def _retrieved(build: asyncio.Future[Built[T]]) -> None:
    """A build started ahead that failed: nobody waited for it, so its error is not logged as
    never retrieved; the request that finds the answer aged out builds again, and gets it."""
    if not build.cancelled():
        build.exception()
