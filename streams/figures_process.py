"""A refresh's reads and figures in a process of their own, beside the worker's event loop.

Computing every service's figures is pure CPU over the facts of the last day and more (the
queue, the stays and the delays still open): hundreds of milliseconds for a city. On the
worker's loop it held the agents' batches that long, and each refresh took several times its
own CPU while the batches held it in turn (docs/benchmarks.md, ninth round). So the worker
reads and computes them (`streams.daily.read_daily`) in one child process with its own
connection to the read model, and writes the rows itself: the read model keeps one writer.

The child (`streams.child`) is started with the refresh task and ends with the worker, however
it ends. A child that died is started again at the next refresh; the refresh that lost it
fails and is retried, as any failed refresh is. A database the child cannot open (SQLite in
memory) is read in the worker's own process instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from flowsight.adapters.readmodel.database import create_engine
from flowsight.schemas.catalogue import Service
from flowsight.streams.child import Child
from flowsight.streams.daily import DailyReading, read_daily

# The child's own loop and engine, made once when it starts (`_start`).
_loop: asyncio.AbstractEventLoop | None = None
_engine: AsyncEngine | None = None


def _start(url: str) -> None:
    global _loop, _engine
    _loop = asyncio.new_event_loop()
    asyncio.set_event_loop(_loop)
    _engine = create_engine(url)


def _read(
    services: Sequence[Service],
    now: datetime,
    whole_history: bool,
    marked_until: Mapping[str, date] | None,
) -> DailyReading:
    assert _loop is not None and _engine is not None, "the child was started by _start"
    return _loop.run_until_complete(read_daily(_engine, services, now, whole_history, marked_until))


def separable(url: str) -> bool:
    """Whether another process can open the database at `url` (not an in-memory SQLite)."""
    parsed = make_url(url)
    return not (parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"))


class FiguresProcess(Child):
    """`streams.daily.DailyReader` in one child process that reads `url`."""

    def __init__(self, url: str) -> None:
        super().__init__(_start, url)
        self.url = url

    async def __call__(
        self,
        services: Sequence[Service],
        now: datetime,
        whole_history: bool,
        marked_until: Mapping[str, date] | None = None,
    ) -> DailyReading:
        return await self.run(_read, services, now, whole_history, marked_until)
