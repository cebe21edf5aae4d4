"""A stage whose worker stopped working, told from one that is slow, and where it waits.

`StallWatch` says a stage is stuck when its lag has not moved for `STALL_SECONDS` while its
processes were idle. `where_stuck` then asks each worker for its stacks (on SIGUSR1 it logs every
thread's and every asyncio task's, then its consumer's partitions, `flowsight/worker.py`), keeps every log whole in a directory
that outlives the stage, and sums each worker up for the error: the end of its log before the
dump, each task and the innermost frames it waits in, and last each partition's offsets.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess  # nosec B404 # only to name the processes' type
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from flowsight.streams.diagnose import CONSUMER_HEADING

#: Behind by the same records for this long while the stage's processes used under
#: `IDLE_SHARE` of a core: stuck. An idle worker uses about 2 % of a core; one restoring its
#: tables or folding a backlog, most of one.
STALL_SECONDS = 120.0
IDLE_SHARE = 0.10
#: How long a worker is given to print its stacks.
DUMP_SECONDS = 3.0
#: Frames shown of each task, innermost last.
FRAMES = 5
LOG_CHARACTERS = 2_000

_RECORD = re.compile(r"^\d{4}-\d\d-\d\dT")
_TASK = re.compile(r"^Stack for <Task \w+ name=(.*?) coro=<(.*?)\(\) running at")
_FRAME = re.compile(
    r'^\s*File "(?:.*/site-packages/|.*/lib/python3\.\d+/|.*/flowsight/)?([^"]*)", line (\d+), in (\S+)'
)


class StallWatch:
    """Whether a stage is stuck: the same lag for `STALL_SECONDS`, its processes idle meanwhile."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.since: tuple[dict[str, int], float, float] | None = None

    def stuck(self, behind: dict[str, int], cpu: float) -> str | None:
        """None while the lag moves, is gone or is being worked on; else what is stuck."""
        now = self.clock()
        if self.since is None or self.since[0] != behind or not any(behind.values()):
            self.since = (dict(behind), now, cpu)
            return None
        _, began, cpu_then = self.since
        waited = now - began
        if waited >= STALL_SECONDS and cpu - cpu_then < IDLE_SHARE * waited:
            return (
                f"the worker was stuck: behind by {behind} for {waited:.0f} s, using "
                f"{cpu - cpu_then:.1f} CPU seconds meanwhile"
            )
        return None


async def where_stuck(processes: Mapping[str, subprocess.Popen[bytes]], directory: Path) -> str:
    """Each worker's stacks and the end of every log, for the error; the logs kept whole."""
    logs = {name: directory / f"{name}.log" for name in processes}
    before = {name: log.stat().st_size if log.exists() else 0 for name, log in logs.items()}
    workers = [p for name, p in processes.items() if name.startswith("worker") and p.poll() is None]
    for process in workers:
        os.kill(process.pid, signal.SIGUSR1)
    if workers:
        await asyncio.sleep(DUMP_SECONDS)
    kept = Path(tempfile.mkdtemp(prefix="flowsight-stuck-"))
    told = [f"\nevery log, whole, in {kept}"]
    for name, log in logs.items():
        if not log.exists():
            continue
        shutil.copy(log, kept / log.name)
        text = log.read_bytes().decode(errors="replace")
        earlier, dump = text[: before[name]], text[before[name] :]
        told.append(f"\n--- {name}.log, its end:\n{earlier[-LOG_CHARACTERS:]}")
        if dump:
            told.append(f"\n--- {name}'s asyncio tasks, innermost frame last:\n{task_stacks(dump)}")
            # Last: a long report is cut in its middle, and the partitions say most.
            told.append(f"\n--- {name}'s {consumer_section(dump)}")
    return "".join(told)


def consumer_section(dump: str) -> str:
    """The consumer's state from a worker's dump: the heading's record, to the next record."""
    lines = dump.splitlines()
    start = next((i for i, line in enumerate(lines) if CONSUMER_HEADING in line), None)
    if start is None:
        return "consumer state: not in its log"
    section = [CONSUMER_HEADING]
    for line in lines[start + 1 :]:
        if _RECORD.match(line):
            break
        section.append(line)
    return "\n".join(section)


def task_stacks(dump: str) -> str:
    """From a worker's dump of its stacks, each asyncio task with the innermost frames it
    waits in (the whole dump, with each frame's line of code, is in the kept log)."""
    tasks: list[tuple[str, list[str]]] = []
    for line in dump.splitlines():
        if task := _TASK.match(line):
            tasks.append((f"{task.group(2)} ({task.group(1)})", []))
        elif tasks and (frame := _FRAME.match(line)):
            tasks[-1][1].append(f"{frame.group(1)}:{frame.group(2)} {frame.group(3)}")
    shown, waiting = [], 0
    for name, frames in tasks:
        if len(frames) == 1 and frames[0].endswith(" wait") and name.startswith("Event.wait"):
            waiting += 1  # an event nobody has set yet: says nothing of itself
        else:
            shown.append(f"{name}: {' > '.join(frames[-FRAMES:]) or 'no frames'}")
    return "\n".join([*shown, f"and {waiting} tasks each waiting on an event of its own"])
