"""Time at each OPEL level over a span, and the time no level was known: not scored.

Pure: no I/O. A scope's level is known only while it is being scored: from a reading until
`SCORED_WITHIN` after the latest (the worker scores every refresh, 30 s by default; the dashboard
greys figures scored longer ago than this as out of date). The readings of a scope, each within
`SCORED_WITHIN` of the one before, make one `ScoredRun`. Any time outside every run (the worker
down, a scope with nothing to score yet, a week begun before the first score) is *not scored*:
never a level, whatever level came before or after it. Within a run the level is the published
one, from the scope's level changes (the alerts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flowsight.services.escalation import LEVELS, LevelChange

#: How long a reading stands for a scope's level: the dashboard's "not up to date" too.
SCORED_WITHIN = timedelta(minutes=3)
#: The last moment of a half-open span is this before its stop.
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class ScoredRun:
    """A stretch over which a scope's level was known: from its first reading (`since`) until
    the time allowed after its latest (`until`)."""

    scope: str
    since: datetime
    until: datetime


def scored_run(
    latest: ScoredRun | None, scope: str, at: datetime, within: timedelta = SCORED_WITHIN
) -> ScoredRun:
    """The run a reading of `scope` at `at` makes: `latest` carried on to `within` after `at`
    when the reading comes before it ran out, else a new run from `at`."""
    if latest is not None and latest.since <= at <= latest.until:
        return ScoredRun(scope, latest.since, max(latest.until, at + within))
    return ScoredRun(scope, at, at + within)


@dataclass(frozen=True, slots=True)
class LevelTime:
    """A scope's time over a span: seconds at each OPEL level and not scored, and its level
    at the span's first and last moments (None: not scored then)."""

    seconds_at_level: dict[int, float]
    seconds_not_scored: float
    level_at_start: int | None
    level_at_end: int | None

    @property
    def seconds(self) -> float:
        """The span's elapsed seconds: at a level or not scored."""
        return sum(self.seconds_at_level.values()) + self.seconds_not_scored


def level_time(
    changes: Sequence[LevelChange], runs: Iterable[ScoredRun], start: datetime, stop: datetime
) -> LevelTime:
    """Seconds at each level and not scored in [start, stop), from one scope's level `changes`
    and the `runs` over which it was scored.

    Before its first change a scope was at that change's starting level; one never changed at
    level 1, where every escalation starts (`services/escalation.py`): only while scored.
    Seconds are elapsed seconds (times in UTC), so a day with a clock change has 23 or 25 hours.
    """
    start, stop = start.astimezone(UTC), max(stop.astimezone(UTC), start.astimezone(UTC))
    ordered = sorted(changes, key=lambda c: c.at)
    covered = _covered(runs, start, stop)
    seconds = dict.fromkeys(LEVELS, 0.0)
    for since, until in covered:
        level = _level_at(ordered, since)
        for change in ordered:
            if since < change.at < until:
                seconds[level] += (change.at - since).total_seconds()
                since, level = change.at, change.to_level
        seconds[level] += (until - since).total_seconds()
    scored = sum(seconds.values())
    known_at_start = bool(covered) and covered[0][0] == start < stop
    known_at_end = bool(covered) and covered[-1][1] == stop > start
    return LevelTime(
        seconds,
        max((stop - start).total_seconds() - scored, 0.0),
        _level_at(ordered, start) if known_at_start else None,
        _level_at(ordered, stop - _INSTANT) if known_at_end else None,
    )


def _covered(
    runs: Iterable[ScoredRun], start: datetime, stop: datetime
) -> list[tuple[datetime, datetime]]:
    """The runs within [start, stop), joined where they meet or overlap, in time order."""
    clipped = sorted(
        (max(r.since.astimezone(UTC), start), min(r.until.astimezone(UTC), stop)) for r in runs
    )
    covered: list[tuple[datetime, datetime]] = []
    for since, until in clipped:
        if since >= until:
            continue
        if covered and since <= covered[-1][1]:
            covered[-1] = (covered[-1][0], max(covered[-1][1], until))
        else:
            covered.append((since, until))
    return covered


def _level_at(ordered: Sequence[LevelChange], moment: datetime) -> int:
    """The published level at `moment`: the latest change's by then, else the first's start."""
    level = ordered[0].from_level if ordered else 1
    for change in ordered:
        if change.at > moment:
            break
        level = change.to_level
    return level
