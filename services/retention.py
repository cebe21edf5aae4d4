"""How long a patient's journey is kept: the data-lifecycle rule (docs/security.md).

A journey is purged once nothing in it is under way (no stay, delay, waiting referral,
attendance or assessment open) and its latest event is older than the retention. A journey
with something still open is never purged by age, however long it has been silent: purging it
would take a patient out of today's bed counts and queues. One silent for longer than the
retention is counted instead (most often a discharge that was never sent), so that the source
can send what is missing; once its journey closes, it is purged like any other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from flowsight.services.journey import Event, JourneyState, ServiceMap, replay
from flowsight.services.timestamps import utc_timestamp


class Retention(StrEnum):
    KEEP = "keep"
    PURGE = "purge"
    #: Something is open and nothing has happened for longer than the retention.
    SILENT_OPEN = "silent_open"


def is_open(state: JourneyState) -> bool:
    """Whether anything in the journey is still under way."""
    return (
        any(stay.ended_at is None for stay in state.stays)
        or any(delay.ended_at is None for delay in state.delays)
        or any(referral.waiting for referral in state.referrals)
        or any(attendance.departed_at is None for attendance in state.attendances)
        or any(assessment.completed_at is None for assessment in state.assessments)
        or bool(state.in_services)
        or bool(state.queues)
    )


def retention_of(
    pseudonym: str,
    events: list[Event],
    now: datetime,
    keep_for: timedelta,
    services: ServiceMap | None = None,
) -> Retention:
    """What becomes of one stored journey (its events in event-time order) at `now`."""
    if events and events[-1]["occurred_at"] >= utc_timestamp(now - keep_for):
        return Retention.KEEP  # the usual case, decided without replaying the journey
    if events and is_open(replay(pseudonym, events, services)):
        return Retention.SILENT_OPEN
    return Retention.PURGE


@dataclass
class PurgeSelection:
    """The journeys one round purges, and how many open ones are silent."""

    purge: list[str] = field(default_factory=list)
    silent_open: int = 0


def select_purged(
    journeys: Iterable[tuple[str, list[Event]]],
    now: datetime,
    keep_for: timedelta,
    services: ServiceMap | None = None,
) -> PurgeSelection:
    """Which of these (pseudonym, events) journeys to purge at `now`."""
    selection = PurgeSelection()
    for pseudonym, events in journeys:
        verdict = retention_of(pseudonym, events, now, keep_for, services)
        if verdict is Retention.PURGE:
            selection.purge.append(pseudonym)
        elif verdict is Retention.SILENT_OPEN:
            selection.silent_open += 1
    return selection
