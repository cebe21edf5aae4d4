"""Escalation over time (SPEC section 6): a level goes up at once and down only after a hold.

Pure: no I/O. Readings are OPEL levels with their times; the published level rises to a higher
reading immediately, and falls to a lower level L only once every reading for the hold period
(default 30 minutes) has been L or lower, so levels do not flap around a threshold.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DEFAULT_HOLD = timedelta(minutes=30)
LEVELS = (1, 2, 3, 4)
# Alert ids are uuid5 in this namespace, so a replayed level change gets the same id.
_ALERT_NAMESPACE = uuid.UUID("6f1c2a52-52d5-4b7e-9c1e-5b0f9c3e7a41")

#: Why a scope has no published level.
NO_THRESHOLDS = "no thresholds set"
NO_FIGURES = "no figures yet"
CATCHING_UP = "scored while the worker catches up on a backlog; no level published yet"
#: The reason of a scope's first level change: its first score, above level 1.
FIRST_SCORED = "first scored: level {level}, with no earlier score"


def is_first_score(reason: str) -> bool:
    """Whether an alert of this `reason` is its scope's first score (its `from_level` of 1 was
    never shown): the dashboard (`dashboard.js`) and the messages say its level alone."""
    return reason.startswith(FIRST_SCORED.split(":", 1)[0] + ":")


@dataclass(frozen=True, slots=True)
class LevelChange:
    """A change of a scope's OPEL level: one alert."""

    scope: str
    from_level: int
    to_level: int
    at: datetime
    reason: str

    @property
    def escalation(self) -> bool:
        return self.to_level > self.from_level

    @property
    def alert_id(self) -> str:
        """A stable id: the same change, replayed after a crash, is the same alert."""
        key = f"{self.scope}|{self.from_level}|{self.to_level}|{self.at.isoformat()}"
        return str(uuid.uuid5(_ALERT_NAMESPACE, key))


@dataclass(slots=True)
class Escalation:
    """A scope's published OPEL level: up at once, down only after the hold period."""

    scope: str
    hold: timedelta = DEFAULT_HOLD
    level: int = 1
    last_at: datetime | None = None
    # For each level below the published one: since when every reading has been at or below it.
    below_since: dict[int, datetime] = field(default_factory=dict)

    @property
    def published(self) -> int | None:
        """The level shown for the scope: None until its first reading."""
        return self.level if self.last_at is not None else None

    def observe(self, level: int, at: datetime) -> LevelChange | None:
        """Take a reading; the change of published level it causes, if any, exactly once."""
        if level not in LEVELS:
            raise ValueError(f"{self.scope}: an OPEL level is 1 to 4, got {level!r}")
        if at.tzinfo is None:
            raise ValueError(f"{self.scope}: reading time {at.isoformat()} has no time zone")
        if self.last_at is not None and at < self.last_at:
            return None  # a reading older than one already taken changes nothing
        first, self.last_at = self.last_at is None, at
        if level > self.level:
            # A first reading escalates from level 1 (its alert is kept), but nothing had been
            # scored before it: "rose from 1" said a level 1 was shown, and none was.
            said = (
                FIRST_SCORED.format(level=level)
                if first
                else f"rose to level {level} from {self.level}"
            )
            change = LevelChange(self.scope, self.level, level, at, said)
            self.level, self.below_since = level, {}
            return change
        for lower in range(1, self.level):
            if level <= lower:
                self.below_since.setdefault(lower, at)
            else:
                self.below_since.pop(lower, None)
        held = [lower for lower, since in self.below_since.items() if at - since >= self.hold]
        if not held:
            return None
        target = min(held)
        since = self.below_since[target]
        change = LevelChange(
            self.scope,
            self.level,
            target,
            at,
            f"at level {target} or lower since {since.isoformat()}, "
            f"held for {_minutes(self.hold)} minutes",
        )
        self.level = target
        self.below_since = {k: v for k, v in self.below_since.items() if k < target}
        return change

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form, for a Faust table."""
        return {
            "scope": self.scope,
            "hold_seconds": self.hold.total_seconds(),
            "level": self.level,
            "last_at": self.last_at.isoformat() if self.last_at else None,
            "below_since": {str(k): v.isoformat() for k, v in self.below_since.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Escalation:
        """The escalation `to_dict` described."""
        hold, level, last_at, below = (
            data["hold_seconds"],
            data["level"],
            data.get("last_at"),
            data.get("below_since") or {},
        )
        if not isinstance(hold, int | float) or level not in LEVELS or not isinstance(level, int):
            raise ValueError(f"not an escalation state: {dict(data)!r}")
        if not isinstance(below, Mapping) or not isinstance(last_at, str | None):
            raise ValueError(f"not an escalation state: {dict(data)!r}")
        return cls(
            scope=str(data["scope"]),
            hold=timedelta(seconds=hold),
            level=level,
            last_at=datetime.fromisoformat(last_at) if last_at else None,
            below_since={int(k): datetime.fromisoformat(str(v)) for k, v in below.items()},
        )


def not_scored_reason(
    published: int | None, scored_level: int | None, *, thresholds: bool = True
) -> str | None:
    """Why a scope has no `published` level (None when it has one): a service with no
    `thresholds`, a scope with no figure to score yet, or one scored only while levels were held
    behind a backlog (`scored_level`, its latest score's level)."""
    if published is not None:
        return None
    if not thresholds:
        return NO_THRESHOLDS
    return NO_FIGURES if scored_level is None else CATCHING_UP


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:g}"
