"""The front door's attendances in a patient's journey: arrivals, departures, and a move out of
the department to a bed (services.journey folds them)."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from datetime import timedelta
from typing import Any

from flowsight.services.facts import Attendance
from flowsight.services.timestamps import parse_timestamp

#: A patient's attendances by (service, episode id).
Attendances = MutableMapping[tuple[str, str], Attendance]

#: How far apart a department's departure `admitted` and a move out of it sent after it may be.
DEPARTED_WITHIN = timedelta(hours=24)


def record_attendance(attendances: Attendances, event: dict[str, Any]) -> None:
    """An attendance event: the arrival, or its departure (which restates the arrival)."""
    key = (event["service"], event["episode_id"])
    current = attendances.get(key)
    if current is None:
        attendances[key] = Attendance(
            event["service"],
            event["episode_id"],
            event["arrived_at"],
            event.get("departed_at"),
            event.get("outcome"),
        )
        return
    departed = event.get("departed_at")
    # The arrival is the first one said (the Emergency Care Data Set's arrival time): a later
    # event of the attendance restates it with whatever time its sender had. An HL7 A01 sent
    # while the patient is still in the department carries the admission's PV1-44, an A06 or
    # A02 without PV1-44 its own departure: taken as the arrival, a five-hour stay became a
    # two-hour or a zero-minute one and its breach went. A wrong arrival is corrected by
    # cancelling the event that said it.
    current.arrived_at = min(current.arrived_at, event["arrived_at"])
    current.departed_at = departed or current.departed_at
    current.outcome = event.get("outcome") or current.outcome


def left_department(attendances: Attendances, service: str, move: dict[str, Any]) -> bool:
    """Whether a transfer out of `service` is a patient leaving its front door for a bed: their
    attendance there (this episode's, else the latest still open) departs, admitted. Left open,
    the patient was in the department for ever, on the queue and past four hours.

    A source may send the department's departure first (an A06 or an ECDS-fed end `admitted`)
    and the move after it: an attendance of this episode already ended, or one ended `admitted`
    within a day of the move, is the same patient leaving for a bed (an emergency admission, a
    readmission when it follows a discharge), not a transfer from nowhere."""
    here = [a for (where, _), a in attendances.items() if where == service]
    open_here = [a for a in here if a.departed_at is None]
    if not open_here:
        return any(_departed_for(a, move) for a in here)
    same = [a for a in open_here if a.episode_id == move["episode_id"]]
    left = same[0] if same else max(open_here, key=lambda a: a.arrived_at)
    left.departed_at, left.outcome = move["occurred_at"], "admitted"
    return True


def left_for(
    attendances: Attendances,
    event: dict[str, Any],
    outcome: str,
    organisations: Mapping[str, str] | None = None,
) -> bool:
    """Whether `event` (a move or a discharge) ends an attendance of its own
    episode still open when it happened: the patient has left the department, with `outcome`.

    A source whose messages give the visit's class now, not where the patient was (Epic sets
    PV1-2 to I once the patient is admitted), sends the move out of the department as a move
    between wards, and an emergency patient's discharge as one from a ward: without this the
    attendance stayed open, the patient in the department and past four hours for ever."""
    at, episode, of = event["occurred_at"], event["episode_id"], organisations or {}
    own = of.get(event["service"])  # episode ids are a source's own
    ended = [
        attendance
        for attendance in attendances.values()
        if attendance.episode_id == episode
        and attendance.departed_at is None
        and attendance.arrived_at <= at
        and (own is None or of.get(attendance.service, own) == own)
    ]
    for attendance in ended:
        attendance.departed_at, attendance.outcome = at, outcome
    return bool(ended)


def _departed_for(attendance: Attendance, move: dict[str, Any]) -> bool:
    """Whether `attendance`, ended, is the one a move out of its department comes after."""
    if attendance.episode_id == move["episode_id"]:
        return True
    if attendance.outcome != "admitted" or attendance.departed_at is None:
        return False
    apart = parse_timestamp(move["occurred_at"]) - parse_timestamp(attendance.departed_at)
    return abs(apart) <= DEPARTED_WITHIN
