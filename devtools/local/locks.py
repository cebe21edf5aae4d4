"""A file lock between processes: the test workers and `flowsight run` share one machine."""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def held(name: str) -> Iterator[None]:
    """Hold the exclusive lock `name` (a file in the temporary directory) while inside."""
    with Path(tempfile.gettempdir(), name).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
