"""How many of a caller's refusals the audit log writes one by one.

Every 403 of a patient-level read or an admin change is an audit line: which key tried what,
from where. A key that is refused again and again (a stolen viewer key probing, a script gone
wrong) wrote a line each time: 3,000 lines in 29 s from one key, kept for the life of the append-
only log and burying the reads an auditor looks for. The first refusals of each minute say all
there is to know of the probe; the rest are counted, and the count is written with the caller's
next line (docs/security.md, "Audit log").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("flowsight.api")

#: Refusals of one caller written one by one in a minute.
WRITTEN_A_MINUTE = 20
#: The callers remembered at once; past it, those whose minute is over are forgotten.
CALLERS_KEPT = 10_000


@dataclass
class _Minute:
    began: float
    written: int = 0
    held: int = 0


class RefusalLog:
    """Whether a caller's refusal is written now, and how many were held back before it."""

    def __init__(
        self, per_minute: int = WRITTEN_A_MINUTE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_minute, self.clock = per_minute, clock
        self._callers: dict[str, _Minute] = {}

    def take(self, caller: str) -> int | None:
        """None when `caller` has had its minute's lines (this refusal is counted, not written);
        else how many of its refusals were held back since its last line."""
        now = self.clock()
        minute = self._callers.get(caller)
        if minute is None:
            self._forget_the_past(now)
            minute = self._callers[caller] = _Minute(now)
        elif now - minute.began >= 60:
            minute.began, minute.written = now, 0
        if minute.written >= self.per_minute:
            if not minute.held:
                log.warning(
                    "%s was refused %d times within a minute; its further refusals are "
                    "counted and the count written with its next audit line",
                    caller,
                    minute.written,
                )
            minute.held += 1
            return None
        held, minute.held = minute.held, 0
        minute.written += 1
        return held

    def _forget_the_past(self, now: float) -> None:
        if len(self._callers) >= CALLERS_KEPT:
            self._callers = {
                caller: minute
                for caller, minute in self._callers.items()
                if now - minute.began < 60 or minute.held
            }
