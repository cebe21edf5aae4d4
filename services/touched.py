"""Which days' figures a change to patients' facts touches, so only those are recomputed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from flowsight.services.facts import london_day
from flowsight.services.journey import JourneyState

#: The kinds of fact the daily figures are computed from (anomalies are counted, not figures).
FACT_KINDS = ("stays", "delays", "referrals", "attendances", "assessments")
#: For each kind of fact: where it lives on a JourneyState, its service, and its moments.
_MOMENTS = (
    ("stays", "service", ("started_at", "ended_at")),
    ("referrals", "to_service", ("referred_at", "decided_at", "started_at")),
    ("attendances", "service", ("arrived_at", "departed_at")),
    ("assessments", "service", ("opened_at", "completed_at")),
    ("delays", "service", ("started_at", "ended_at")),
)


def touched_days(states: Iterable[JourneyState], since: str) -> set[tuple[str, date]]:
    """(service, day) pairs whose figures may have changed: facts on or after `since`.

    Pass both the facts as they were and as they are now: a fact that moved or went away
    changes the days it used to be on as well as the days it is on now.
    """
    touched: set[tuple[str, date]] = set()
    for state in states:
        for attribute, service_field, moments in _MOMENTS:
            for fact in getattr(state, attribute):
                for name in moments:
                    moment = getattr(fact, name)
                    if moment and moment >= since:
                        touched.add((getattr(fact, service_field), london_day(moment)))
    return touched


def changed_facts(
    before: Sequence[JourneyState], after: Sequence[JourneyState]
) -> list[JourneyState]:
    """For each patient of `after`, the facts that differ from those of `before` (the same
    patients in the same order): gone, new or altered."""
    changed = []
    for was, state in zip(before, after, strict=True):
        difference = JourneyState(state.pseudonym)
        for kind in FACT_KINDS:
            remaining = list(getattr(state, kind))
            gone = []
            for fact in getattr(was, kind):
                if fact in remaining:
                    remaining.remove(fact)
                else:
                    gone.append(fact)
            getattr(difference, kind).extend([*gone, *remaining])
        changed.append(difference)
    return changed
