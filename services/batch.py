"""What one batch of validated events changes: patients' journeys and services' capacity.

The worker reads the events topic in batches. Each event is recorded in its patient's journey
(duplicates ignored, another event under an id already recorded refused, a new issue of a
cancelled event recorded beside it: `services/repeats.py`,
events further behind their own source's newest event than the lateness window refused:
`services/lateness.py`), and each patient the batch changed is replayed once,
however many of their events it held, and once more as they were before the batch: the read
model is then written what changed without reading it back.
Capacity reports follow "the latest report wins": a report older than the one already known
changes nothing. A link between a local and an NHS pseudonym moves what was recorded under
the local one on to the NHS one (`services/identities.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flowsight.schemas.events import EVENT_TYPES
from flowsight.services.cancellations import made_at
from flowsight.services.identities import LINK, alias_of, is_link, moved
from flowsight.services.journey import Event, JourneyState, ServiceMap, replay
from flowsight.services.pseudonym import without_nhs_numbers
from flowsight.services.recorded import Journey, Recorded
from flowsight.services.repeats import differing_fields
from flowsight.services.validation import EVENT_ID_REUSED, TOO_LATE, UNPROCESSABLE, Rejected

#: Outcomes counted per event type besides `Recorded`'s: an older capacity report, a failure,
#: an event sent on to the NHS pseudonym its local one is linked to.
SUPERSEDED = "superseded"
FAILED = "failed"
MOVED = "moved"


@dataclass(frozen=True, slots=True)
class Refusal:
    """An event of the batch to dead-letter: its position in the batch and why."""

    position: int
    rejected: Rejected
    #: The error behind an unprocessable event, so the worker can log where it came from.
    error: Exception | None = None


@dataclass(slots=True)
class BatchChanges:
    """What one batch changed, ready to be stored, written to the read model and counted."""

    #: Each changed patient's journey, to store for their next events.
    journeys: dict[str, Journey] = field(default_factory=dict)
    #: The changed patients' states, replayed once each.
    states: list[JourneyState] = field(default_factory=list)
    #: The same patients' states as they were before the batch, in the same order: what the
    #: read model holds for them, so that only what changed is written.
    before: list[JourneyState] = field(default_factory=list)
    #: The latest capacity report of each service the batch changed, to store.
    capacity: dict[str, Event] = field(default_factory=dict)
    #: Every capacity report the batch brought, the superseded ones too: each is history.
    reports: list[Event] = field(default_factory=list)
    #: Events to send on under the NHS pseudonym their local one is linked to: the batch's own
    #: and those of each local journey a new link hands on (`services/identities.py`).
    moved: list[Event] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    #: Events handled, by (event type, outcome).
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: The earliest event time the batch changed: figures from then on may need recomputing.
    since: str | None = None

    @property
    def capacity_rows(self) -> list[dict[str, Any]]:
        """The read model's row of every report the batch brought; `latest` marks each
        service's current one, the others only join the capacity history."""
        latest = {id(report) for report in self.capacity.values()}
        return [{**capacity_row(report), "latest": id(report) in latest} for report in self.reports]

    def changed_from(self, moment: str) -> None:
        """Note that figures from `moment` on may have changed."""
        self.since = moment if self.since is None else min(self.since, moment)


def apply_batch(
    events: Sequence[Event],
    stored_journey: Callable[[str], list[Event] | None],
    latest_capacity: Callable[[str], Event | None],
    lateness: timedelta,
    services: ServiceMap,
) -> BatchChanges:
    """Fold a batch of validated events into journeys and capacity; say what changed.

    `stored_journey(pseudonym)` gives a patient's journey as stored before the batch and
    `latest_capacity(service)` a service's latest known capacity report; neither is changed.
    """
    changes = BatchChanges()
    # Journeys read in this batch, changed or not: a patient's next event builds on the same one.
    working: dict[str, Journey] = {}
    # Each patient's events as stored before the batch (`Journey.from_stored` copies them).
    stored: dict[str, list[Event]] = {}
    # Where each patient's applied events sit in the batch, to refuse one that cannot replay.
    applied: dict[str, list[int]] = {}
    # The local pseudonyms linked to an NHS one, by the batch or before it: their events move on.
    aliases: dict[str, Event] = {}
    linked = _links(events)
    for position, event in enumerate(events):
        try:
            if event["event_type"] == "capacity":
                outcome = _apply_capacity(event, latest_capacity, changes)
            elif event["event_type"] == LINK:
                outcome = _apply_link(
                    event, linked, stored_journey, stored, aliases, changes, services
                )
            else:
                outcome = _apply_patient_event(
                    event, stored_journey, lateness, working, stored, linked, changes
                )
        except Exception as error:  # one bad record must not stop every patient's flow
            changes.outcomes[event_type_label(event), FAILED] += 1
            changes.refusals.append(Refusal(position, unprocessable(error), error))
            continue
        changes.outcomes[event["event_type"], outcome] += 1
        if outcome == Recorded.TOO_LATE.value:
            changes.refusals.append(Refusal(position, _too_late(event, lateness)))
        elif outcome == Recorded.ID_REUSED.value:
            changes.refusals.append(Refusal(position, _id_reused(event, working)))
        elif outcome == Recorded.APPLIED.value and event["event_type"] not in _NOT_REPLAYED:
            applied.setdefault(event["pseudonym"], []).append(position)
    for pseudonym, journey in list(changes.journeys.items()):
        if pseudonym in aliases:
            continue  # a link, not a journey: its state (none) is written by `_apply_link`
        try:
            state = replay(pseudonym, journey.events, services)
        except Exception:  # an event recorded but not replayable: find it, keep the others
            replayed = _without_unreplayable(
                pseudonym,
                stored[pseudonym],
                applied[pseudonym],
                events,
                lateness,
                services,
                changes,
            )
            if replayed is None:
                continue
            state = replayed
        changes.states.append(state)
        changes.before.append(replay(pseudonym, stored[pseudonym], services))
    return changes


def _without_unreplayable(
    pseudonym: str,
    stored: list[Event],
    positions: list[int],
    events: Sequence[Event],
    lateness: timedelta,
    services: ServiceMap,
    changes: BatchChanges,
) -> JourneyState | None:
    """The patient's state with the batch's events added one at a time, refusing each one the
    journey cannot be replayed with (an admission naming no service, say): it is dead-lettered
    with the error, and the patient's other events still count. None when none is left."""
    journey = Journey.from_stored(stored)
    state: JourneyState | None = None
    for position in positions:
        event = events[position]
        trial = Journey.from_stored(journey.events)
        trial.record(event, lateness)
        try:
            state = replay(pseudonym, trial.events, services)
        except Exception as error:
            changes.outcomes[event["event_type"], Recorded.APPLIED.value] -= 1
            changes.outcomes[event_type_label(event), FAILED] += 1
            changes.refusals.append(Refusal(position, unprocessable(error), error))
            continue
        journey = trial
    if state is None:
        del changes.journeys[pseudonym]
        return None
    changes.journeys[pseudonym] = journey
    return state


def _apply_capacity(
    report: Event, latest_capacity: Callable[[str], Event | None], changes: BatchChanges
) -> str:
    service = report["service"]
    changes.reports.append(report)
    latest = changes.capacity.get(service) or latest_capacity(service)
    if latest and latest["occurred_at"] > report["occurred_at"]:
        return SUPERSEDED
    changes.capacity[service] = report
    return Recorded.APPLIED.value


_NOT_REPLAYED = frozenset({"capacity", LINK})


def _links(events: Sequence[Event]) -> dict[str, Event]:
    """The latest link of each local pseudonym the batch links."""
    linked: dict[str, Event] = {}
    for event in events:
        if _well_formed_link(event):
            known = linked.get(event["pseudonym"])
            if known is None or known["occurred_at"] <= event["occurred_at"]:
                linked[event["pseudonym"]] = event
    return linked


def _well_formed_link(event: object) -> bool:
    """A link record naming both pseudonyms and a time; any other is refused by `_apply_link`."""
    return (
        is_link(event)
        and isinstance(event, dict)
        and all(isinstance(event.get(name), str) for name in ("pseudonym", "to", "occurred_at"))
    )


def _stored(
    pseudonym: str,
    stored_journey: Callable[[str], list[Event] | None],
    stored: dict[str, list[Event]],
) -> list[Event]:
    found = stored.get(pseudonym)
    if found is None:
        found = stored[pseudonym] = stored_journey(pseudonym) or []
    return found


def _apply_link(
    event: Event,
    linked: dict[str, Event],
    stored_journey: Callable[[str], list[Event] | None],
    stored: dict[str, list[Event]],
    aliases: dict[str, Event],
    changes: BatchChanges,
    services: ServiceMap,
) -> str:
    """Store the local pseudonym's link in place of its journey, and move that journey's events
    on to the NHS pseudonym: the local pseudonym's state becomes empty."""
    if not _well_formed_link(event):
        raise ValueError("a link record names no pseudonym, no pseudonym to move to or no time")
    alias = event["pseudonym"]
    if linked[alias] is not event:
        return Recorded.DUPLICATE.value  # the batch links the same pseudonym later
    aliases[alias] = event
    events = _stored(alias, stored_journey, stored)
    known = alias_of(events)
    if known is not None:
        if known["to"] == event["to"] and known["occurred_at"] >= event["occurred_at"]:
            return Recorded.DUPLICATE.value
        changes.journeys[alias] = Journey([event])  # kept from this link's time on
        return Recorded.APPLIED.value
    changes.journeys[alias] = Journey([event])
    if events:
        # In the order the source made them: a new issue of a cancelled event after the
        # cancellation, where the journey it reaches takes it for one (`services/repeats.py`).
        changes.moved.extend(moved(recorded, event) for recorded in sorted(events, key=made_at))
        changes.states.append(JourneyState(alias))
        changes.before.append(replay(alias, events, services))
        changes.changed_from(events[0]["occurred_at"])
    return Recorded.APPLIED.value


def _apply_patient_event(
    event: Event,
    stored_journey: Callable[[str], list[Event] | None],
    lateness: timedelta,
    working: dict[str, Journey],
    stored: dict[str, list[Event]],
    linked: dict[str, Event],
    changes: BatchChanges,
) -> str:
    pseudonym = event["pseudonym"]
    journey = working.get(pseudonym)
    if journey is None:
        events = _stored(pseudonym, stored_journey, stored)
        link = linked.get(pseudonym) or alias_of(events)
        if link is not None:
            changes.moved.append(moved(event, link))
            return MOVED
        journey = working[pseudonym] = Journey.from_stored(events)
    recorded = journey.record(event, lateness)
    if recorded is Recorded.APPLIED:
        changes.journeys[pseudonym] = journey
        changes.changed_from(journey.earliest_affected(event))
    return recorded.value


def unprocessable(error: Exception) -> Rejected:
    """Why an event the fold could not handle is dead-lettered."""
    return Rejected(UNPROCESSABLE, "", f"the state agent failed: {error!r}")


def _too_late(event: Event, lateness: timedelta) -> Rejected:
    return Rejected(
        TOO_LATE,
        "occurred_at",
        f"occurred_at {event['occurred_at']} is older than the lateness window "
        f"({lateness.days} days) behind the newest event {event['source']} sent for this "
        f"patient's episode {event.get('episode_id')}",
    )


def _id_reused(event: Event, working: dict[str, Journey]) -> Rejected:
    recorded = working[event["pseudonym"]].recorded_as(event) or {}
    # Field names only: a value may be anything the sender typed. The id and source are blanked
    # where shaped like an NHS number, which no dead letter may carry.
    differs = ", ".join(differing_fields(recorded, event))
    return Rejected(
        EVENT_ID_REUSED,
        "event_id",
        f"event_id {without_nhs_numbers(event['event_id'])!r} of source "
        f"{without_nhs_numbers(event['source'])} is already recorded for this patient as another "
        f"event (they differ in {differs}): the first event was kept, this one not applied. An "
        "event_id names one event: send this one under an id of its own; to correct the first, "
        "cancel it and send the correction under a new event_id",
    )


def event_type_label(document: object) -> str:
    """A bounded label for a refused event: its declared type when readable and known."""
    if not isinstance(document, dict):
        return "unreadable"
    declared = document.get("event_type")
    return declared if declared in EVENT_TYPES else "unknown"


def capacity_row(report: Event) -> dict[str, Any]:
    """A capacity report as the read model stores it."""
    return {
        "service_id": report["service"],
        "open": report["open"],
        "total": report.get("total"),
        "unit": report["unit"],
        "as_of": datetime.fromisoformat(report["occurred_at"]),
    }
