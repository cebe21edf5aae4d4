"""A refresh's reads and figures in a process of their own, beside the worker's event loop.

Computing every service's figures is pure CPU over the facts of the last day and more (the
queue, the stays and the delays still open): hundreds of milliseconds for a city. On the
worker's loop it held the agents' batches that long, and each refresh took several times its
own CPU while the batches held it in turn (docs/benchmarks.md, ninth round). So the worker
reads and computes them (`streams.daily.read_daily`) in one child process with its own
connection to the read model, and writes the rows itself: the read model keeps one writer.

The child is started with the refresh task ("spawn": the worker's threads are not forked) and
ends with the worker, however it ends. A child that died is started again at the next refresh;
the refresh that lost it fails and is retried, as any failed refresh is. A database the child
cannot open (SQLite in memory) is read in the worker's own process instead.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date, datetime

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from flowsight.adapters.readmodel.database import create_engine
from flowsight.schemas.catalogue import Service
from flowsight.streams.daily import DailyReading, read_daily

#: How often the child looks whether its worker is still there.
PARENT_CHECK_SECONDS = 1.0

# The child's own loop and engine, made once when it starts (`_start`).
_loop: asyncio.AbstractEventLoop | None = None
_engine: AsyncEngine | None = None


def _start(url: str) -> None:
    global _loop, _engine
    # Ctrl-C in a terminal reaches the whole process group: the worker stops the child itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()
    _loop = asyncio.new_event_loop()
    asyncio.set_event_loop(_loop)
    _engine = create_engine(url)


def _exit_with(parent: int) -> None:
    """End the child once its worker is gone: a worker killed (`kill -9`, the OOM killer) does
    not stop its children, and an orphan would hold the read model open."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _read(
    services: Sequence[Service],
    now: datetime,
    whole_history: bool,
    marked_until: Mapping[str, date] | None,
) -> DailyReading:
    assert _loop is not None and _engine is not None, "the child was started by _start"
    return _loop.run_until_complete(read_daily(_engine, services, now, whole_history, marked_until))


def _ready() -> None:
    """Nothing: run once the child has started."""


def separable(url: str) -> bool:
    """Whether another process can open the database at `url` (not an in-memory SQLite)."""
    parsed = make_url(url)
    return not (parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"))


class FiguresProcess:
    """`streams.daily.DailyReader` in one child process that reads `url`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: ProcessPoolExecutor | None = None
        #: Done once a child started by `start` is ready.
        self.started: Future[None] | None = None

    def start(self) -> None:
        """Start the child now, not at the first refresh: its imports take a second or more of
        CPU, which the first figures after a worker's start waited for."""
        self.started = self._executor().submit(_ready)

    async def __call__(
        self,
        services: Sequence[Service],
        now: datetime,
        whole_history: bool,
        marked_until: Mapping[str, date] | None = None,
    ) -> DailyReading:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor(), _read, services, now, whole_history, marked_until
            )
        except BrokenProcessPool:
            self.close()  # the next refresh starts a new child
            raise

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(self.url,),
            )
        return self._pool

    def close(self) -> None:
        """Stop the child, without waiting for a computation under way."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
