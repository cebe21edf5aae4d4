"""Runs a benchmark coroutine on its own broker and temporary directory, with progress bars."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from flowsight.devtools.bench.harness import Advance, broker

_T = TypeVar("_T")


def run_on_broker(
    bootstrap: str | None, body: Callable[[str, Path], Coroutine[Any, Any, _T]]
) -> _T:
    """`body(bootstrap, directory)` on the given broker (else a local one), in a temp dir."""
    with tempfile.TemporaryDirectory(prefix="flowsight-bench-") as temporary:
        directory = Path(temporary)
        with broker(bootstrap, directory / "broker") as address:
            return asyncio.run(body(address, directory))


class Bars:
    """Progress bars on the console; `bar(description, total)` gives a step's advance callback."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def bar(self, description: str, total: int | None) -> Advance:
        task = self.progress.add_task(description, total=total)

        def advance(done: int) -> None:
            self.progress.advance(task, done)

        return advance


@contextmanager
def bars(console: Console) -> Iterator[Bars]:
    """Progress bars for long steps, shown only on a terminal."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=True,
    ) as progress:
        yield Bars(progress)
