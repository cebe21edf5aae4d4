"""A11, A12, A13: the cancellations of what the cancelled message published, by event id; A23,
the deletion of a visit not discharged, as its A11.

A cancel names every id the cancelled event may carry: one cancellation each, of which at most
one matches (the others retract nothing). An A12 that brings a patient back to the ED (PV1-3 at
the ED, PV1-6 elsewhere) cancels what the A02 out of the ED published, the attendance's end
(`admitted`) and the admission, as well as any transfer. An A12 without EVN-6 names no
transfer: away from the ED it is mapped as the move back. An A23 (delete a patient visit) of a
visit with no discharge time (PV1-45) retracts what its arrival published, named by PV1-44 alone
(its EVN-6 is the deletion's time, not the arrival's); with PV1-45 the visit is finished and the
A23 purges old history (HL7 v2.5 3.3.23): nothing is retracted. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flowsight.adapters.hl7.clock import (
    ADMIT_TIME,
    DISCHARGE_TIME,
    EVENT_TIME,
    RECORDED_TIME,
    SENT_TIME,
    first_time,
    held_end,
    id_time,
    occurred,
)
from flowsight.adapters.hl7.fields import Reading, names_a_place
from flowsight.adapters.hl7.outcome import NoChange
from flowsight.adapters.hl7.parse import MISSING_FIELD, text
from flowsight.adapters.retraction import retraction_time
from flowsight.services.validation import Refused


def event_id(visit: str, kind: str, moment: datetime) -> str:
    """The id of a `kind` event of `visit` at `moment`: `<visit>:<kind>:<UTC time>`."""
    return f"{visit}:{kind}:{id_time(moment)}"


def cancellations(reading: Reading, visit: str, *, trigger: str) -> list[dict[str, Any]]:
    """The cancellation events (without envelope) of an A11, A12, A13 or A23."""
    message = reading.message
    located = reading.place(3, required=False)
    at_ed = reading.at_front_door(located)
    service = reading.department(located) if at_ed else located.service
    # (kind, service of its cancellation) of each event the cancelled message may have published.
    kinds, clock = {
        "A11": (_arrival_kinds(reading, at_ed, service), [ADMIT_TIME, EVENT_TIME]),
        "A12": (_transfer_kinds(reading, at_ed, service), [EVENT_TIME]),
        "A13": ([("departure" if at_ed else "discharge", service)], [DISCHARGE_TIME, EVENT_TIME]),
        "A23": (_arrival_kinds(reading, at_ed, service), [ADMIT_TIME]),
    }[trigger]
    moments = [
        held_end(message, moment, path, reading.zone())[0] if path == DISCHARGE_TIME else moment
        for path in clock
        if (moment := first_time(message, path, zone=reading.zone())) is not None
    ]
    if not moments:
        fields = " or ".join(f"{s}-{n}" for s, n in clock)
        raise Refused(
            MISSING_FIELD,
            "PV1-44" if trigger == "A23" else "EVN-6",
            f"an {trigger} needs {fields}, the time the cancelled {kinds[0][0]} occurred",
        )
    targets = {
        event_id(visit, kind, moment): cancelled_in
        for moment in moments
        for kind, cancelled_in in kinds
    }
    recorded = _retracted_at(reading)
    return [
        {
            "event_type": "cancellation",
            "event_id": f"{target}:cancelled",
            "occurred_at": recorded.isoformat(),
            "service": cancelled_in,
            "cancels_event_id": target,
        }
        for target, cancelled_in in targets.items()
    ]


def visit_deleted(reading: Reading, visit: str) -> list[dict[str, Any]] | NoChange:
    """A23: a visit deleted. Not discharged (no PV1-45), it was entered in error and is retracted
    as its A11 would retract it: the patient leaves the bed or the ED at once. Discharged, it is
    old history purged from the PAS (HL7 v2.5 3.3.23: "to remove old data"), and the stay that
    happened stays counted: nothing is published."""
    if text(reading.message, "PV1", 45):
        return NoChange("an A23 of a discharged visit (PV1-45): its history is kept")
    return cancellations(reading, visit, trigger="A23")


def transfer_cancellations(
    reading: Reading,
    visit: str,
    *,
    moved_back: Callable[[Reading, str], list[dict[str, Any]] | NoChange],
) -> list[dict[str, Any]] | NoChange:
    """A12: the cancellations of what the A02 published, named by EVN-6 (the transfer's time).

    Without EVN-6, as many feeds send it, nothing names the transfer (its id is the A02's time;
    the A12's EVN-2 is the cancel's), so the patient is moved back, PV1-6 to PV1-3, as an A02
    is (`moved_back`, its id timed by EVN-2), with a warning: the ward the patient never
    reached is freed. The move back is a retraction too: it occurs no later than it was
    received (`_retracted_at`), as a cancellation does. To or from the ED it is refused: the
    A02 out of it ended the attendance, and nothing reopens one.
    """
    message = reading.message
    if first_time(message, EVENT_TIME, zone=reading.zone()) is not None or not names_a_place(
        message, 6
    ):
        return cancellations(reading, visit, trigger="A12")
    if any(reading.at_front_door(reading.place(n, required=True)) for n in (3, 6)):
        raise Refused(
            MISSING_FIELD,
            "EVN-6",
            "an A12 to or from the ED needs EVN-6, the time the cancelled transfer occurred: "
            "the attendance that transfer ended cannot be reopened",
        )
    reading.warnings.append(
        "EVN-6: no time of the cancelled transfer; mapped as the move back, PV1-6 to PV1-3"
    )
    moves = moved_back(reading, visit)
    if isinstance(moves, NoChange):
        return moves
    # EVN-2 is there (the move back needs it); its id keeps EVN-2, so a resend names the same
    # move (received at another moment while the clock is ahead, it is refused event_id_reused).
    recorded = _retracted_at(reading).isoformat()
    return [move | {"occurred_at": recorded} for move in moves]


def _retracted_at(reading: Reading) -> datetime:
    """When the retraction was recorded (EVN-2, else MSH-7), no later than it was received
    (`retraction_time`), with a warning when the sender's time was later."""
    message = reading.message
    said = first_time(message, RECORDED_TIME, zone=reading.zone())
    timed_by = "EVN-2" if said is not None else "MSH-7"
    said = said if said is not None else occurred(message, SENT_TIME, zone=reading.zone())
    recorded, ahead = retraction_time(said, reading.received, timed_by)
    reading.warnings.extend([ahead] if ahead else [])
    return recorded


def _arrival_kinds(reading: Reading, at_ed: bool, service: str) -> list[tuple[str, str]]:
    """What the arrival an A11 (or A23) cancels published: an attendance at the ED; else an
    admission, and, when PV1-6 is a place at the ED (an A01 from it, as Epic sends the admission
    after the ED's A04), the end of the attendance there (`admitted`) that the A01 published too:
    the patient is back in the department, not on no board at all."""
    if at_ed:
        return [("attendance", service)]
    admitted = [("admission", service)]
    if not names_a_place(reading.message, 6):
        return admitted
    try:
        before = reading.place(6, required=False)
    except Refused:  # a prior location no rule maps: the A01 ended no attendance from it
        return admitted
    if before.service not in reading.front_door:  # as the A01 judged it (`_attendance_ended`)
        return admitted
    return [*admitted, ("departure", reading.department(before))]


def _transfer_kinds(reading: Reading, back_at_ed: bool, service: str) -> list[tuple[str, str]]:
    """What the A02 an A12 cancels published: a transfer, or, out of the ED, two events.

    Back at the ED (`back_at_ed`, judged as an arrival is; `service` is then the ED's), the A02
    left it unless PV1-6 is an ED service's place. The A02's PV1-2 may have differed from the
    A12's, so the departure and admission are named whenever they may have been published.
    """
    moved = [("transfer", service)]
    if not back_at_ed or not names_a_place(reading.message, 6):
        return moved
    try:
        ward = reading.place(6, required=False).service
    except Refused:  # a prior location no rule maps: no A02 from it was published
        return moved
    if ward in reading.front_door:
        return moved
    return [*moved, ("departure", service), ("admission", ward)]
