"""The facts that can count in each of a run of periods, found in one sweep. Pure.

A day's figures (`services.report.figures_of`) look at a fact only through its own moments:
whether one of them falls in the day (a start, an end, a decision), or whether the fact runs at
the day's moment (`during`). So a fact whose moments all lie before a day, and that had ended by
then, counts in it for nothing, nor does one all of whose moments come after the day. Computing
a year of a service's days over every fact read for the year made each day cost as much as the
whole year: a simulated city's year of days took 102 s to compute (docs/benchmarks.md,
twenty-fourth round). Each day is now given the facts it can count, and its figures are the
same.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from flowsight.services.facts import Assessment, Attendance, Delay, Referral, Stay
from flowsight.services.kpis import Period, ServiceFacts, closed_at
from flowsight.services.timestamps import utc_timestamp

#: After every timestamp: the end of a fact still running.
_STILL_RUNNING = "\uffff"

#: A fact's first and last moment (`_STILL_RUNNING` while it runs).
Span = tuple[str, str]


def _span(*moments: str | None, running: bool) -> Span:
    known = [moment for moment in moments if moment is not None]
    return min(known), _STILL_RUNNING if running else max(known)


def _started_and_ended(fact: Stay | Delay) -> Span:
    return _span(fact.started_at, fact.ended_at, running=fact.ended_at is None)


def _referral(referral: Referral) -> Span:
    # Waiting until it is started, declined or withdrawn, whatever else it says.
    moments = (referral.referred_at, referral.decided_at, referral.started_at)
    return _span(*moments, running=closed_at(referral) is None)


def _attendance(attendance: Attendance) -> Span:
    departed = attendance.departed_at
    return _span(attendance.arrived_at, departed, running=departed is None)


def _assessment(assessment: Assessment) -> Span:
    completed = assessment.completed_at
    return _span(assessment.opened_at, completed, running=completed is None)


@dataclass
class _Sweep:
    """One kind of fact, taken up as the periods reach its first moment and let go once its
    last is behind them; kept in the order it was given."""

    #: (first, last, position given, fact), by first moment.
    waiting: list[tuple[str, str, int, Any]]
    #: The facts of `waiting` taken up so far.
    taken: int = 0
    #: (last, position given, fact) of the facts taken up and not let go.
    running: list[tuple[str, int, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, facts: Sequence[Any], span: Callable[[Any], Span]) -> _Sweep:
        return cls(
            sorted(
                ((*span(fact), position, fact) for position, fact in enumerate(facts)),
                key=itemgetter(0, 2),
            )
        )

    def at(self, earliest: str, latest: str) -> list[Any]:
        """The facts with a moment at or after `earliest` and one at or before `latest`."""
        up_to = bisect_right(self.waiting, latest, lo=self.taken, key=itemgetter(0))
        self.running.extend(
            (last, p, fact) for _, last, p, fact in self.waiting[self.taken : up_to]
        )
        self.taken = up_to
        self.running = [entry for entry in self.running if entry[0] >= earliest]
        return [fact for _, _, fact in sorted(self.running, key=itemgetter(1))]


def facts_per_period(
    facts: ServiceFacts, periods: Sequence[Period], moments: Sequence[datetime]
) -> Iterator[ServiceFacts]:
    """For each period, in order, the facts of `facts` that can count in its figures as of its
    moment (`services.report.period_moment`), each kind in the order given.

    The periods and their moments must not go back in time: each starts, ends and is taken at
    or after the one before (a run of days).
    """
    sweeps = (
        _Sweep.of(facts.stays, _started_and_ended),
        _Sweep.of(facts.delays, _started_and_ended),
        _Sweep.of(facts.referrals, _referral),
        _Sweep.of(facts.attendances, _attendance),
        _Sweep.of(facts.assessments, _assessment),
    )
    before = ("", "")
    for period, moment in zip(periods, moments, strict=True):
        at = utc_timestamp(moment)
        # A fact counts if a moment of it falls in the period, or it runs at `moment`.
        earliest, latest = min(period.start_text, at), max(period.end_text, at)
        if earliest < before[0] or latest < before[1]:  # a fact let go would be needed again
            raise ValueError(f"periods out of order: {period.start_text} after {before[0]}")
        before = (earliest, latest)
        stays, delays, referrals, attendances, assessments = (
            sweep.at(earliest, latest) for sweep in sweeps
        )
        yield ServiceFacts(stays, delays, referrals, attendances, assessments)
