"""A patient's journey through the system, rebuilt from their events in event-time order.

The stored journey is the patient's events, sorted by when they happened; everything else
(the services they are in, the queues they wait in) is derived by replaying them. That makes
the result independent of arrival order and of duplicates, which is what at-least-once
delivery and late source systems need.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from services.timestamps import parse_timestamp, utc_timestamp

Event = dict[str, Any]

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
_OPEN_REFERRAL = frozenset({"new", "accepted"})


class Recorded(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    TOO_LATE = "too_late"


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

    def record(self, event: Event, lateness: timedelta) -> Recorded:
        """Add `event` unless it is a duplicate or older than the lateness window allows."""
        identity = (event["source"], event["event_id"])
        if any((e["source"], e["event_id"]) == identity for e in self.events):
            return Recorded.DUPLICATE
        latest = self.latest_occurred_at
        if latest is not None and event["occurred_at"] < latest:
            oldest_allowed = utc_timestamp(parse_timestamp(latest) - lateness)
            if event["occurred_at"] < oldest_allowed:
                return Recorded.TOO_LATE
        insort(self.events, event, key=_order)
        return Recorded.APPLIED


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A patient waiting for a service: referred to it, not yet admitted."""

    service: str
    pseudonym: str
    referred_at: str
    referring_service: str
    pathway: str | None = None
    priority: str | None = None


@dataclass(slots=True)
class JourneyState:
    """Where a patient is now: the services they are in (since when) and the queues they wait in."""

    pseudonym: str
    in_services: dict[str, str] = field(default_factory=dict)
    queues: dict[str, QueueEntry] = field(default_factory=dict)


def replay(pseudonym: str, events: list[Event]) -> JourneyState:
    """Derive the patient's current state from their events, as if they arrived in order."""
    cancelled = _cancelled(events)
    state = JourneyState(pseudonym)
    for event in events:
        if (event["source"], event["event_id"]) in cancelled:
            continue
        _APPLY.get(event["event_type"], _ignore)(state, event)
    return state


def _cancelled(events: list[Event]) -> set[tuple[str, str]]:
    """The events retracted by cancellations that are not themselves retracted."""
    retracted_by: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for event in events:
        if event["event_type"] == "cancellation":
            target = (event["source"], event["cancels_event_id"])
            retracted_by.setdefault(target, []).append((event["source"], event["event_id"]))
    if not retracted_by:
        return set()
    settled: dict[tuple[str, str], bool] = {}

    def is_cancelled(key: tuple[str, str], visiting: frozenset[tuple[str, str]]) -> bool:
        if key in settled:
            return settled[key]
        if key in visiting:  # a cancellation cycle, entered in error: it retracts nothing
            return False
        result = any(not is_cancelled(by, visiting | {key}) for by in retracted_by.get(key, ()))
        settled[key] = result
        return result

    return {key for key in retracted_by if is_cancelled(key, frozenset())}


def _referral(state: JourneyState, event: Event) -> None:
    target = event["to_service"]
    if event["status"] not in _OPEN_REFERRAL:
        state.queues.pop(target, None)
        return
    if target in state.in_services:
        return
    waiting = state.queues.get(target)
    state.queues[target] = QueueEntry(
        service=target,
        pseudonym=state.pseudonym,
        referred_at=waiting.referred_at if waiting else event["occurred_at"],
        referring_service=waiting.referring_service if waiting else event["service"],
        pathway=event.get("pathway") or (waiting.pathway if waiting else None),
        priority=event.get("priority") or (waiting.priority if waiting else None),
    )


def _admission(state: JourneyState, event: Event) -> None:
    state.in_services[event["service"]] = event["occurred_at"]
    state.queues.pop(event["service"], None)


def _transfer(state: JourneyState, event: Event) -> None:
    state.in_services.pop(event["from_service"], None)
    state.in_services[event["to_service"]] = event["occurred_at"]
    state.queues.pop(event["to_service"], None)


def _discharge(state: JourneyState, event: Event) -> None:
    state.in_services.pop(event["service"], None)


def _ignore(state: JourneyState, event: Event) -> None:
    """Event types this slice of state does not use yet."""


_APPLY = {
    "referral": _referral,
    "admission": _admission,
    "transfer": _transfer,
    "discharge": _discharge,
}
