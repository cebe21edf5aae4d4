"""A patient's stored journey: their events in event-time order, and how one more is recorded
(a duplicate, an id reused, too late, or applied, a new issue of a cancelled event among them).
What the events mean is `services/journey.py`'s replay."""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from flowsight.services.cancellations import stamped
from flowsight.services.identities import MOVED_FROM
from flowsight.services.journey import Event
from flowsight.services.lateness import too_late
from flowsight.services.repeats import is_repeat, reissues, same_sending

# Same-instant events replay in the order a person would expect: referred, then admitted...
_SAME_TIME_ORDER = {
    "attendance": 0,
    "referral": 1,
    "admission": 2,
    "transfer": 3,
    "assessment": 4,
    "discharge": 5,
    "capacity": 6,
    "cancellation": 7,
}


class Recorded(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    TOO_LATE = "too_late"
    #: Another event under a (source, event_id) already recorded: refused, the first one kept.
    ID_REUSED = "event_id_reused"


def _order(event: Event) -> tuple[str, int, str, str]:
    return (
        event["occurred_at"],
        _SAME_TIME_ORDER[event["event_type"]],
        event["source"],
        event["event_id"],
    )


@dataclass(slots=True)
class Journey:
    """One patient's events, in event-time order, as they are stored between events."""

    events: list[Event] = field(default_factory=list)

    @classmethod
    def from_stored(cls, stored: list[Event] | None) -> Journey:
        return cls(list(stored or ()))

    def to_stored(self) -> list[Event]:
        return self.events

    @property
    def latest_occurred_at(self) -> str | None:
        return self.events[-1]["occurred_at"] if self.events else None

    def recorded_as(self, event: Event) -> Event | None:
        """The event recorded under `event`'s source and event id, if any."""
        key = (event["source"], event["event_id"])
        return next((e for e in self.events if (e["source"], e["event_id"]) == key), None)

    def earliest_affected(self, event: Event) -> str:
        """The earliest event time `event` can change: its own, or the event it cancels."""
        moment: str = event["occurred_at"]
        if event["event_type"] != "cancellation":
            return moment  # the usual case: no need to index the journey's events
        by_id: dict[tuple[str, str], Event] = {}
        for other in self.events:  # in event-time order: the earliest issue of each id
            by_id.setdefault((other["source"], other["event_id"]), other)
        seen = set()
        # Follow a chain of cancellations down to the event whose effect comes or goes.
        while event["event_type"] == "cancellation":
            target = (event["source"], event["cancels_event_id"])
            if target in seen or target not in by_id:
                break
            seen.add(target)
            event = by_id[target]
            moment = min(moment, event["occurred_at"])
        return moment

    def record(self, event: Event, lateness: timedelta) -> Recorded:
        """Add `event` unless its (source, event_id) is already recorded (the same event again:
        a duplicate; another event: its id reused; a new issue of a cancelled event is added:
        `services/repeats.py`) or it is further behind its own source's newest event than the
        lateness window allows (a moved event is never too late)."""
        events, source, event_id = self.events, event["source"], event["event_id"]
        for other in events:  # a plain loop: this is the hot path; bodies compared on a match only
            if other["event_id"] == event_id and other["source"] == source:
                if same_sending(other, event):  # the usual repeat: a delivery again
                    return Recorded.DUPLICATE
                seen = self._seen_again(event)
                if seen is not None:
                    return seen
                break
        if event["event_type"] == "cancellation":
            event = stamped(event, events)
        if not events or _order(event) >= _order(events[-1]):
            events.append(event)  # in order, the usual case
            return Recorded.APPLIED
        # Per source episode (lateness.py); a moved event was accepted once (identities.py).
        if MOVED_FROM not in event and too_late(events, event, lateness):
            return Recorded.TOO_LATE
        insort(events, event, key=_order)
        return Recorded.APPLIED

    def _seen_again(self, event: Event) -> Recorded | None:
        """How an event under a recorded (source, event_id) is recorded; None for a new issue."""
        key = (event["source"], event["event_id"])
        issues = [e for e in self.events if (e["source"], e["event_id"]) == key]
        if any(same_sending(issue, event) for issue in issues):
            return Recorded.DUPLICATE
        if reissues(issues, event, self.events):
            return None
        if any(is_repeat(issue, event) for issue in issues):
            return Recorded.DUPLICATE
        return Recorded.ID_REUSED
