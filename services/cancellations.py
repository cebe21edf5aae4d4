"""Cancellations: which of a patient's events are retracted, following chains of cancellations.

A cancellation retracts the events of its source under the id it names that were recorded by
the time it was: every one without a `recorded_at`, and those whose `recorded_at` is at or before
the cancellation's time: its `recorded_at`, else its `occurred_at` (when the retraction was
recorded), or later when it came after an issue recorded later still. So a cancellation that
arrives before its event still retracts it, one that arrives after it retracts it whatever the
source's clocks say (a PAS whose EVN-2 is fast, a cancel timed by MSH-7), and an event sent again
under that id and recorded after the cancellation is a new issue of it (`services/repeats.py`)
that only a later cancellation reaches. A cancellation `if_present` (a record's later version
undoing what an earlier one may have said) reaches only what was recorded by its own time, and
names without an anomaly an event that may never have been sent.
"""

from __future__ import annotations

from typing import Any

Event = dict[str, Any]
#: When the source recorded the sending of an event (HL7 EVN-2, FHIR meta.lastUpdated).
RECORDED_AT = "recorded_at"
#: A cancellation that may name an event never sent (contract v1, `Cancellation.if_present`).
IF_PRESENT = "if_present"
#: The latest `recorded_at` of the issues a cancellation found recorded when it arrived, when
#: later than its own time: it retracts them too. Set by the tracker (`stamped`).
REACHES = "reaches"


def made_at(event: Event) -> str:
    """When the source made `event`: its `recorded_at`, else its `occurred_at` (for a
    cancellation, when the retraction was recorded)."""
    moment: str = event.get(RECORDED_AT) or event["occurred_at"]
    return moment


def reach(cancellation: Event) -> str:
    """The latest recording a cancellation retracts: its own time, or what it found."""
    return max(made_at(cancellation), cancellation.get(REACHES) or "")


def reaches(cancellation: Event, event: Event) -> bool:
    """Whether `cancellation` retracts `event`, an event under the id it names."""
    recorded = event.get(RECORDED_AT)
    return recorded is None or recorded <= reach(cancellation)


def stamped(cancellation: Event, events: list[Event]) -> Event:
    """`cancellation` as recorded among `events`: noting the latest issue of its target it finds
    there when that was recorded after the cancellation's own time. A cancellation `if_present`
    is a version of a record that may be older than the issue found: it reaches no further
    than its own time."""
    if cancellation.get(IF_PRESENT):
        return cancellation
    source, target, latest = cancellation["source"], cancellation["cancels_event_id"], ""
    for event in events:
        if event["event_id"] == target and event["source"] == source:
            latest = max(latest, event.get(RECORDED_AT) or "")
    return {**cancellation, REACHES: latest} if latest > reach(cancellation) else cancellation


def retracted(events: list[Event]) -> set[int] | None:
    """The positions in `events` of the events retracted by cancellations that are not
    themselves retracted; None when the journey holds no cancellation."""
    retracted_by: dict[tuple[str, str], list[int]] = {}
    for position, event in enumerate(events):
        if event["event_type"] == "cancellation":
            target = (event["source"], event["cancels_event_id"])
            retracted_by.setdefault(target, []).append(position)
    if not retracted_by:
        return None
    settled: dict[int, bool] = {}

    def is_retracted(position: int, visiting: frozenset[int]) -> bool:
        if position in settled:
            return settled[position]
        if position in visiting:  # a cancellation cycle, entered in error: it retracts nothing
            return False
        event = events[position]
        result = any(
            reaches(events[by], event) and not is_retracted(by, visiting | {position})
            for by in retracted_by.get((event["source"], event["event_id"]), ())
        )
        settled[position] = result
        return result

    return {
        position
        for position, event in enumerate(events)
        if (event["source"], event["event_id"]) in retracted_by
        and is_retracted(position, frozenset())
    }


def in_effect(events: list[Event], source: str, event_id: str) -> list[Event]:
    """The cancellations of `source`'s event `event_id` among `events` not themselves retracted."""
    gone = retracted(events) or set()
    return [
        event
        for position, event in enumerate(events)
        if event["event_type"] == "cancellation"
        and event["cancels_event_id"] == event_id
        and event["source"] == source
        and position not in gone
    ]


def unmatched(events: list[Event]) -> list[int]:
    """The positions of the cancellations naming an event the journey does not hold: not
    arrived yet (it may come later, and is then retracted), refused, or never sent. Each is
    shown as an anomaly while so, rather than kept without a trace; but not one `if_present`,
    whose sender said the event may never have been sent, nor one of a set sent together of
    which another found its event.

    A set sent together is the cancellations of one source, episode and moment (`occurred_at`,
    when the retraction was recorded): the HL7 gateway names every id the cancelled message may
    have carried (its time from PV1-44, or from EVN-6, when the two differ), of which at most
    one can match; the others were anomalies on every such cancel a real feed sent."""
    keys = {(event["source"], event["event_id"]) for event in events}
    cancellations = [
        (position, event)
        for position, event in enumerate(events)
        if event["event_type"] == "cancellation"
    ]
    found = {
        _sent_together(event)
        for _, event in cancellations
        if (event["source"], event["cancels_event_id"]) in keys
    }
    return [
        position
        for position, event in cancellations
        if not event.get(IF_PRESENT)
        and (event["source"], event["cancels_event_id"]) not in keys
        and _sent_together(event) not in found
    ]


def _sent_together(cancellation: Event) -> tuple[str, str | None, str]:
    return cancellation["source"], cancellation.get("episode_id"), cancellation["occurred_at"]
