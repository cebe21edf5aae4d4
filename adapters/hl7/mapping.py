"""Map one HL7 v2 ADT message to flowsight contract events (v1), or say which field is wrong.

Segments it does not read (Z-segments, NK1, AL1, DG1, ...) are ignored. What locations, codes and
identifiers mean comes from the source's mapping profile (`fields.Reading`). Nothing does I/O.

| trigger | events | event_id |
|---|---|---|
| A01 admit, A04 register (ED: class E or an ED location) | attendance | `<visit>:attendance:<PV1-44>` |
| A01 admit, A04 register (other) | admission (A01 PV1-4; A04 `start_of_care`); an A01 whose PV1-6 the profile gives the ED: that attendance ends `admitted` first | `<visit>:admission:<PV1-44>` |
| A04 of class O, P or R; A01, A03, A11, A13 of class O or R (not at the ED); A02, A12, A17 of class O or R (neither PV1-3 nor PV1-6 at the ED) | none: AA and counted (holds no bed), wherever PV1-3 is | |
| A02 transfer | transfer PV1-6 → PV1-3; none within one unit or within the ED; from the ED (judged as an arrival is) to a ward: attendance ends `admitted` + admission; to a clinic (class O or R): the attendance ends `discharged`, nothing else | `<visit>:transfer:<EVN-6>` |
| A17 swap patients (`swap`) | per PID/PV1 pair, what an A02 of that patient gives | as A02 |
| A03 discharge | discharge (PV1-37, else PV1-36); from the ED: the attendance ends | `<visit>:discharge:<PV1-45>`, `<visit>:departure:<PV1-45>` |
| A06 outpatient/ED → inpatient | attendance ends `admitted` (prior location PV1-6 in the ED; by rule where rules place the ED) + admission | as above |
| A07 inpatient → outpatient/ED | discharge from the prior location's service, destination `other` | `<visit>:discharge:<EVN-6>` |
| A11, A12, A13 cancel (`cancellation`) | cancellation of the admission/attendance, transfer (back to the ED: also the attendance's end and the admission), discharge/departure | `<that id>:cancelled` |
| A12 without EVN-6, with PV1-6, neither place at the ED | the move back, PV1-6 → PV1-3, as an A02 (warning) | as A02 |
| A08, A28, A31 | none: demographics only | |
| none (MSH-9.2 and EVN-1 empty) | none: refused AR `hl7_unsupported_trigger` at MSH-9.2 | |
| any other | none: acknowledged AA and counted (or refused AR: profile `unknown_triggers: refuse`) | |

- **Event ids** come from the visit (PV1-19.1), the kind and a time in UTC (`20261123T093000Z`), never
  from MSH-10, so a resend is absorbed downstream. The time is the visit's own clock where HL7 has
  one, PV1-44 (admit) for an admission or attendance and PV1-45 (discharge) for a discharge or
  departure, else EVN-6, else EVN-2, never MSH-7 (`clock`: a resend changes it); a cancel (A11, A13) carries the same PV1 of the visit, so
  it finds its target even when its EVN-6 is blank or differs. A cancel names every candidate it
  has (PV1-44/45 and EVN-6, which HL7 v2.5 defines on a cancel as the cancelled event's time);
  one cancellation each, of which at most one matches. With neither it is refused, but for an
  A12 away from the ED with a PV1-6: that is mapped as the move back.
- **occurred_at** is the time the id names for an attendance (PV1-44) and a discharge or
  departure from an A03 (PV1-45), so a message restating one says the same; for an admission
  EVN-6, else PV1-44 (after the ED's A04, PV1-44 is the arrival there), else EVN-2; for a move
  EVN-6, else EVN-2. A message with none of its times is refused AE at EVN-2.
- **source** is `<organisation>/<system>`, the system MSH-3 names (`fields.system_name`);
  **episode_id** is PV1-19.1 (without it PID-18.1, the account number, with a warning).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from flowsight.adapters.hl7.cancellation import cancellations, event_id, transfer_cancellations
from flowsight.adapters.hl7.clock import own_time
from flowsight.adapters.hl7.fields import LocationMap as LocationMap  # for callers of map_message
from flowsight.adapters.hl7.fields import Reading, system_name
from flowsight.adapters.hl7.outcome import Mapped as Mapped  # for callers of map_message
from flowsight.adapters.hl7.outcome import NoChange as NoChange
from flowsight.adapters.hl7.parse import (
    ADMIT_TIME,
    DISCHARGE_TIME,
    EVENT_TIME,
    MISSING_FIELD,
    MISSING_SEGMENT,
    TOO_COMPLEX,
    UNPARSEABLE,
    UNSUPPORTED_CHARACTER_SET,
    UNSUPPORTED_MESSAGE_TYPE,
    UNSUPPORTED_PROCESSING_ID,
    UNSUPPORTED_TRIGGER,
    first_time,
    has_segment,
    identifier,
    message_trigger,
    text,
)
from flowsight.adapters.hl7.swap import SWAP, swapped
from flowsight.adapters.profile import (
    NOT_IN_A_BED,
    Located,
    MappingProfile,
    PatientClass,
    default_profile,
)
from flowsight.schemas.codes import AdmissionMethod, AttendanceOutcome, DischargeDestination
from flowsight.services.validation import Refused, Rejected

#: Refusals of the message as a whole (HL7 v2.5 2.9.2.1): acknowledged AR, not AE.
MESSAGE_REJECTIONS = frozenset(
    {
        UNPARSEABLE,
        UNSUPPORTED_MESSAGE_TYPE,
        UNSUPPORTED_TRIGGER,
        UNSUPPORTED_PROCESSING_ID,
        UNSUPPORTED_CHARACTER_SET,
        TOO_COMPLEX,
    }
)
#: The fields of an event that depend on its trigger.
Fields = dict[str, Any]
#: Triggers that change nothing flowsight tracks: acknowledged AA and not published.
NO_FLOW_CHANGE = frozenset({"A08", "A28", "A31"})
#: Classes never admitted: outpatient and recurring visits, whose A01 is a visit notification
#: (A01 is "admit/visit notification"). Preadmit is not one: some PAS, like the public samples,
#: keep class P on the visit they admit with an A01, and its A03 discharges.
NEVER_ADMITTED = frozenset({PatientClass.OUTPATIENT, PatientClass.RECURRING})
#: Triggers that publish nothing, away from the ED, for a visit of these classes: acknowledged
#: AA and counted `not_in_a_bed`. A registration (A04) of class O, P or R starts nothing; a
#: visit never admitted starts nothing, and its end, moves and cancels end or move nothing:
#: stays are kept per service, so the A03 of a clinic visit would otherwise end the patient's
#: ward stay, and its A02 between clinics (HL7 v2.5 3.3.2: A02 is for non-admitted patients
#: too) would start one. A move is away from the ED when neither PV1-3 nor PV1-6 is the ED's.
NO_BED_UNTRACKED = {
    "A04": NOT_IN_A_BED,
    **dict.fromkeys(("A01", "A02", "A03", "A11", "A12", "A13", SWAP), NEVER_ADMITTED),
}
#: Triggers that move a patient from PV1-6 to PV1-3 (or, A12, back).
MOVES = frozenset({"A02", "A12", SWAP})
#: Envelope fields first, in contract order, so published events read like the SPEC's.
_ENVELOPE = (
    "event_id schema_version event_type source occurred_at service patient episode_id"
).split()
_EMERGENCY = AdmissionMethod.EMERGENCY.value


def map_message(
    message: Any,
    *,
    organisation: str,
    locations: LocationMap | None = None,
    profile: MappingProfile | None = None,
    front_door: frozenset[str] = frozenset(),
    processing_ids: frozenset[str] | None = None,
) -> Mapped | NoChange | Rejected:
    """The contract events `message` stands for, NoChange, or a Rejected naming the HL7 field.

    `front_door`: the organisation's emergency departments (where an arrival is an attendance);
    `processing_ids` overrides the profile's.
    """
    if profile is None:
        profile = locations.profile(organisation) if locations else default_profile(organisation)
    reading = Reading(message, profile, front_door)
    accepted = processing_ids or frozenset(profile.hl7.processing_ids)
    try:
        return _map(reading, organisation, accepted)
    except Refused as refused:
        return refused.rejected


def _map(reading: Reading, organisation: str, processing_ids: frozenset[str]) -> Mapped | NoChange:
    message = reading.message
    message_type = text(message, "MSH", 9).upper()
    if message_type != "ADT":
        raise Refused(
            UNSUPPORTED_MESSAGE_TYPE, "MSH-9", f"message type {message_type!r} is not ADT"
        )
    processing_id = text(message, "MSH", 11)
    if processing_id not in processing_ids:
        raise Refused(
            UNSUPPORTED_PROCESSING_ID,
            "MSH-11",
            f"processing id {processing_id!r} is not accepted here (only "
            + ", ".join(sorted(processing_ids))
            + ")",
        )
    trigger = message_trigger(message)
    if not trigger:  # MSH-9.2 is required from v2.3; before it, EVN-1 named the event
        raise Refused(
            UNSUPPORTED_TRIGGER, "MSH-9.2", "MSH-9 names no trigger event, nor does EVN-1"
        )
    decision = reading.profile.hl7.decides(trigger)
    if decision == "refuse":
        raise Refused(
            UNSUPPORTED_TRIGGER,
            "MSH-9.2",
            f"trigger {trigger!r} is not taken; flowsight takes "
            + ", ".join(sorted(reading.profile.hl7.take)),
        )
    if decision == "ignore":
        return NoChange(f"{trigger} is not taken: acknowledged", "not_taken")
    if trigger in NO_FLOW_CHANGE:
        return NoChange(f"{trigger} updates patient information only")
    for segment in ("PID", "PV1"):
        if not has_segment(message, segment):
            raise Refused(MISSING_SEGMENT, segment, f"an ADT^{trigger} needs a {segment} segment")
    if trigger == SWAP:  # two patients exchange beds: each PID/PV1 pair is a transfer
        profile, front_door = reading.profile, reading.front_door
        return swapped(
            message,
            lambda pair: _map_visit(Reading(pair, profile, front_door), organisation, trigger),
        )
    return _map_visit(reading, organisation, trigger)


def _map_visit(reading: Reading, organisation: str, trigger: str) -> Mapped | NoChange:
    """The events of the visit (one PID and PV1) a `trigger` message is about."""
    message = reading.message
    visit = _visit(reading)
    envelope: dict[str, Any] = {
        "schema_version": "1",
        "source": f"{organisation}/{system_name(message)}",
        "patient": reading.patient(),
        "episode_id": visit,
    }
    untracked = NO_BED_UNTRACKED.get(trigger)
    places = (3, 6) if trigger in MOVES else (3,)
    no_bed = reading.class_without_a_bed(untracked, places) if untracked else None
    if no_bed is not None:
        return NoChange(
            f"{trigger} of class {no_bed.value}: no bed", "not_in_a_bed", reading.warnings
        )
    result = _BY_TRIGGER[trigger](reading, visit)
    if isinstance(result, NoChange):
        return NoChange(result.why, result.kind, reading.warnings)
    events = []
    for fields in result:
        event = envelope | fields
        envelope_first = {name: event.pop(name) for name in _ENVELOPE}
        events.append(envelope_first | event)
    return Mapped(events, reading.warnings)


def _visit(reading: Reading) -> str:
    """The visit number (PV1-19.1); without one the patient account number (PID-18.1), which
    feeds outside the NHS often key the encounter by, with a warning."""
    visit = identifier(reading.message, "PV1", 19)
    if visit:
        return visit
    account = identifier(reading.message, "PID", 18)
    if not account:
        raise Refused(
            MISSING_FIELD,
            "PV1-19",
            "PV1-19 (the visit number) is required, or PID-18 (the account number) without it",
        )
    reading.warnings.append("PV1-19: no visit number; PID-18 (the account number) names the visit")
    return account


def _arrival(reading: Reading, visit: str, *, registration: bool) -> list[Fields]:
    """A01 and A04: an attendance at the ED, else an admission; an A01 from the ED (PV1-6) ends
    the attendance there `admitted`, as an A06 does."""
    message = reading.message
    located = reading.place(3, required=False)
    clock = own_time(message, ADMIT_TIME, EVENT_TIME)
    if reading.at_front_door(located):
        # Timed by the visit's arrival (PV1-44), as its id is: the A01 of a patient admitted
        # while still in the ED restates the A04's attendance, whatever its EVN-6 says.
        return [
            {
                "event_type": "attendance",
                "event_id": event_id(visit, "attendance", clock),
                "occurred_at": clock.isoformat(),
                "service": reading.department(located),
                "arrived_at": clock.isoformat(),
            }
        ]
    # EVN-6 first: after an ED registration (A04) the visit's PV1-44 is the arrival in the ED.
    moment = own_time(message, EVENT_TIME, ADMIT_TIME)
    if registration:
        return [
            _admission_fields(visit, clock, moment, located, AdmissionMethod.START_OF_CARE.value)
        ]
    admission = _admission_fields(visit, clock, moment, located, reading.admission_method())
    return [*_attendance_ended(reading, visit, moment, admitting=False), admission]


def _admission_fields(
    visit: str, clock: datetime, moment: datetime, located: Located, method: str
) -> Fields:
    fields = {
        "event_type": "admission",
        "event_id": event_id(visit, "admission", clock),
        "occurred_at": moment.isoformat(),
        "service": located.service,
        "admission_method": method,
    }
    return _with(fields, "unit", located.unit)


def _departure(
    reading: Reading, visit: str, service: str, moment: datetime, clock: datetime, outcome: str
) -> Fields:
    """The end of an attendance: the same episode's attendance, now departed."""
    arrived = first_time(reading.message, ADMIT_TIME)
    arrived = arrived if arrived is not None and arrived <= moment else moment
    return {
        "event_type": "attendance",
        "event_id": event_id(visit, "departure", clock),
        "occurred_at": moment.isoformat(),
        "service": service,
        "arrived_at": arrived.isoformat(),
        "departed_at": moment.isoformat(),
        "outcome": outcome,
    }


def _transfer(reading: Reading, visit: str) -> list[Fields] | NoChange:
    """A02: a transfer from PV1-6 to PV1-3, unless it stays within one unit or the ED."""
    message = reading.message
    moment = own_time(message, EVENT_TIME)
    before, after = reading.place(6, required=True), reading.place(3, required=True)
    # Both places are judged as the arrival was: class E where only the default service places
    # a location is the ED there too, so the attendance it started ends when the patient leaves.
    in_ed = reading.at_front_door(before)
    if (before.service, before.unit) == (after.service, after.unit) or (
        in_ed and reading.at_front_door(after)
    ):
        return NoChange(f"a move within {before.unit or before.service}", "same_place")
    if in_ed and reading.patient_class() in NEVER_ADMITTED:
        # Sent from the ED to a clinic (a fracture clinic, say) as an outpatient: not admitted.
        # ECDS records it as a discharge whose follow-up is the clinic; the visit holds no bed.
        discharged = AttendanceOutcome.DISCHARGED.value
        return [_departure(reading, visit, reading.department(before), moment, moment, discharged)]
    if in_ed:  # from the ED to a ward: the attendance ends in an admission
        admitted = AttendanceOutcome.ADMITTED.value
        method = AdmissionMethod.EMERGENCY.value
        department = reading.department(before)
        return [
            _departure(reading, visit, department, moment, moment, admitted),
            _admission_fields(visit, moment, moment, after, method),
        ]
    fields = {
        "event_type": "transfer",
        "event_id": event_id(visit, "transfer", moment),
        "occurred_at": moment.isoformat(),
        "service": before.service,
        "from_service": before.service,
        "to_service": after.service,
    }
    return [_with(fields, "to_unit", after.unit)]


def _discharge(reading: Reading, visit: str) -> list[Fields]:
    """A03: a discharge to the destination PV1-37 (else PV1-36) names, or an ED departure."""
    message = reading.message
    # Timed by the visit's discharge (PV1-45), as its id is: an A03 sent again with another
    # EVN-6 (real feeds send EVN-6 != PV1-45) says the same discharge.
    clock = own_time(message, DISCHARGE_TIME, EVENT_TIME)
    located = reading.place(3, required=False)
    destination = reading.destination()
    if reading.at_front_door(located):
        outcome = AttendanceOutcome.DISCHARGED.value
        if reading.discharge_method() == "2":  # self-discharged: left before treatment ended
            outcome = AttendanceOutcome.LEFT.value
        elif destination == DischargeDestination.OTHER_HOSPITAL.value:
            outcome = AttendanceOutcome.TRANSFERRED.value
        service = reading.department(located)
        return [_departure(reading, visit, service, clock, clock, outcome)]
    return [
        {
            "event_type": "discharge",
            "event_id": event_id(visit, "discharge", clock),
            "occurred_at": clock.isoformat(),
            "service": located.service,
            "destination": destination,
        }
    ]


def _to_inpatient(reading: Reading, visit: str) -> list[Fields]:
    """A06: an outpatient or ED patient admitted; the ED attendance (PV1-6) ends `admitted`."""
    message = reading.message
    moment = own_time(message, EVENT_TIME)
    after = reading.place(3, required=True)
    events = _attendance_ended(reading, visit, moment, admitting=True)
    # Without PV1-4, an admission from the ED or a clinic is unplanned: NHS methods 21 and 24.
    method = reading.admission_method() if text(message, "PV1", 4) else _EMERGENCY
    return [*events, _admission_fields(visit, moment, moment, after, method)]


def _attendance_ended(
    reading: Reading, visit: str, moment: datetime, *, admitting: bool
) -> list[Fields]:
    """The end, `admitted` at `moment`, of the ED attendance PV1-6 names, by an admission from
    it: none when PV1-6 is not the ED.

    `admitting`: the message is an A06, whose PV1-6 is the non-admitted visit's place. An A01's
    PV1-6 (as Epic sends it after the ED's A04) ends an attendance only where the profile gives
    it to the ED, and one no rule maps is no refusal: an A01 was taken before PV1-6 was read.
    """
    message = reading.message
    if not text(message, "PV1", 6):
        return []
    try:
        before = reading.place(6, required=False)
    except Refused:
        if admitting:
            raise
        return []
    if not admitting:
        return (
            _departed_admitted(reading, visit, before, moment)
            if before.service in reading.front_door
            else []
        )
    # PV1-2 is already the new class; the visit admitted was a non-admitted one (E or O).
    # Where no rule places the ED, a PV1-6 only the default service places is read as the
    # ED, as a class E arrival there was: an attendance left open would breach for ever.
    # Where rules place the ED, PV1-6 is the ED only if they say so: an outpatient admitted
    # from a clinic the default service places was never in the ED, and ending an
    # attendance there would count one (admitted) that never began.
    from_ed = (
        before.service in reading.front_door
        if reading.places_the_ed_by_rule()
        else reading.at_front_door(before, PatientClass.EMERGENCY)
    )
    return _departed_admitted(reading, visit, before, moment) if from_ed else []


def _departed_admitted(
    reading: Reading, visit: str, before: Located, moment: datetime
) -> list[Fields]:
    prior_visit = identifier(reading.message, "MRG", 5) or visit  # the spell's new visit number
    admitted = AttendanceOutcome.ADMITTED.value
    department = reading.department(before)
    departure = _departure(reading, prior_visit, department, moment, moment, admitted)
    return [departure | {"episode_id": prior_visit}]


def _to_outpatient(reading: Reading, visit: str) -> list[Fields]:
    """A07: an inpatient becomes an outpatient or ED patient: the stay in PV1-6's service ends.

    The ED attendance an A06 closed is not reopened (the contract cannot reopen it); the stay
    ends with destination `other`, so no bed stays held.
    """
    moment = own_time(reading.message, EVENT_TIME)
    before = reading.place(6, required=True)
    return [
        {
            "event_type": "discharge",
            "event_id": event_id(visit, "discharge", moment),
            "occurred_at": moment.isoformat(),
            "service": before.service,
            "destination": DischargeDestination.OTHER.value,
        }
    ]


_BY_TRIGGER: dict[str, Callable[[Reading, str], list[Fields] | NoChange]] = {
    "A01": partial(_arrival, registration=False),
    "A04": partial(_arrival, registration=True),
    "A02": _transfer,
    SWAP: _transfer,  # of each patient (`swap`)
    "A03": _discharge,
    "A06": _to_inpatient,
    "A07": _to_outpatient,
    **{t: partial(cancellations, trigger=t) for t in ("A11", "A13")},
    "A12": partial(transfer_cancellations, moved_back=_transfer),
    **dict.fromkeys(NO_FLOW_CHANGE, lambda reading, visit: NoChange("demographics only")),
}
#: Every trigger mapped here; `profile.HL7_TRIGGERS` names the same (a test keeps them in step).
SUPPORTED_TRIGGERS = frozenset(_BY_TRIGGER)


def _with(fields: Fields, name: str, value: str | None) -> Fields:
    return fields | {name: value} if value else fields
