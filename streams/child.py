"""A process of the worker's own, beside its event loop, for work that is pure CPU.

The worker's loop runs both agents, the tasks and every Kafka client on one core. Work that
needs none of them (computing the figures, checking events) runs in a child process instead,
so the loop goes on while it computes and a second core does the work (docs/benchmarks.md).

Each child is one process of a `ProcessPoolExecutor`, started with "spawn" (the worker's
threads are not forked) and set up once by its initializer. It ignores Ctrl-C and SIGTERM (a
terminal sends SIGINT to the whole process group, systemd SIGTERM to the whole service: the
worker stops its children itself, once its tasks are done with them) and ends once its worker
is gone, however the worker ended. A child that died fails the call under way
(`BrokenProcessPool`); the next call starts a new one.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

#: How often a child looks whether its worker is still there.
PARENT_CHECK_SECONDS = 1.0

T = TypeVar("T")


def _started(setup: Callable[..., None], arguments: tuple[Any, ...], worker: int) -> None:
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, signal.SIG_IGN)
    # The worker's pid as the worker gave it: read here, a worker killed while this child was
    # starting left it the pid of init (1), and a child that waited for that never ended.
    threading.Thread(target=_exit_with, args=(worker,), daemon=True).start()
    setup(*arguments)


def _exit_with(parent: int) -> None:
    """End the child once its worker is gone: a worker killed (`kill -9`, the OOM killer) does
    not stop its children, and an orphan would hold what it opened."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _ready() -> None:
    """Nothing: run once the child has started."""


class Child:
    """One child process, set up by `setup(*arguments)` (a module-level function, run in the
    child), that runs module-level functions for the worker."""

    def __init__(self, setup: Callable[..., None], *arguments: Any) -> None:
        self._setup = setup
        self._arguments = arguments
        self._pool: ProcessPoolExecutor | None = None
        #: Done once a child started by `start` is ready.
        self.started: Future[None] | None = None

    def start(self) -> None:
        """Start the child now, not at its first call: its imports take a second or more of
        CPU, which that call would wait for."""
        self.started = self._executor().submit(_ready)

    async def run(self, function: Callable[..., T], *arguments: Any) -> T:
        """`function(*arguments)`, run in the child."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor(), function, *arguments)
        except BrokenProcessPool:
            self.close()  # the next call starts a new child
            raise

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_started,
                initargs=(self._setup, self._arguments, os.getpid()),
            )
        return self._pool

    def close(self) -> None:
        """Stop the child, without waiting for a call under way."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
