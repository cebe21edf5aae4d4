"""What each HL7 v2 ADT trigger publishes: the contract events (v1) of one visit's message.

`mapping` decides whether a message is taken and its visit tracked, and adds the envelope (source,
patient, episode); each function here builds the trigger-specific fields of its events, or says
why the message changes nothing. Nothing does I/O.

| trigger | events | event_id |
|---|---|---|
| A01 admit, A04 register (ED: class E or an ED location) | attendance | `<visit>:attendance:<PV1-44>` |
| A01 admit, A04 register (other) | admission (A01 PV1-4; A04 `start_of_care`); an A01 whose PV1-6 the profile gives the ED: that attendance ends `admitted` first | `<visit>:admission:<PV1-44>` |
| A02 transfer | transfer PV1-6 → PV1-3; none within one unit or within the ED; from the ED (judged as an arrival is) to a ward: attendance ends `admitted` + admission; to a clinic (class O or R): the attendance ends `discharged`, nothing else | `<visit>:transfer:<EVN-6>` |
| A17 swap patients (`swap`) | per PID/PV1 pair, what an A02 of that patient gives | as A02 |
| A03 discharge | discharge (PV1-37, else PV1-36) from PV1-3 (empty: PV1-6, warning); from the ED: the attendance ends | `<visit>:discharge:<PV1-45>`, `<visit>:departure:<PV1-45>` |
| A06 outpatient/ED → inpatient | attendance ends `admitted` (prior location PV1-6 in the ED; by rule where rules place the ED) + admission; none while PV1-3 is still the ED (the A02 out of it admits) | as above |
| A07 inpatient → outpatient/ED | discharge from the prior location's service (PV1-6; without it PV1-3's, where the patient still is; none at the ED), destination `other` | `<visit>:discharge:<EVN-6>` |
| A11, A12, A13 cancel (`cancellation`) | cancellation of the admission/attendance, transfer (back to the ED: also the attendance's end and the admission), discharge/departure | `<that id>:cancelled` |
| A12 without EVN-6, with PV1-6, neither place at the ED | the move back, PV1-6 → PV1-3, as an A02 (warning) | as A02 |
| A23 delete a visit (`cancellation.visit_deleted`) | no PV1-45: cancellation of the admission/attendance (PV1-44 alone); PV1-45: none (history purged) | `<that id>:cancelled` |

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
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from flowsight.adapters.hl7.cancellation import (
    cancellations,
    event_id,
    transfer_cancellations,
    visit_deleted,
)
from flowsight.adapters.hl7.clock import (
    ADMIT_TIME,
    DISCHARGE_TIME,
    EVENT_TIME,
    RECORDED_TIME,
    first_time,
    held_end,
)
from flowsight.adapters.hl7.fields import Reading, names_a_place
from flowsight.adapters.hl7.outcome import NoChange
from flowsight.adapters.hl7.parse import INVALID_FIELD, identifier, text
from flowsight.adapters.hl7.swap import SWAP
from flowsight.adapters.profile import Located, PatientClass
from flowsight.schemas.codes import AdmissionMethod, AttendanceOutcome, DischargeDestination
from flowsight.services import nhs_codes
from flowsight.services.validation import Refused

#: The fields of an event that depend on its trigger.
Fields = dict[str, Any]
#: Classes never admitted: outpatient and recurring visits, whose A01 is a visit notification
#: (A01 is "admit/visit notification"). Preadmit is not one: some PAS, like the public samples,
#: keep class P on the visit they admit with an A01, and its A03 discharges.
NEVER_ADMITTED = frozenset({PatientClass.OUTPATIENT, PatientClass.RECURRING})
_EMERGENCY = AdmissionMethod.EMERGENCY.value


def _arrival(reading: Reading, visit: str, *, registration: bool) -> list[Fields]:
    """A01 and A04: an attendance at the ED, else an admission; an A01 from the ED (PV1-6) ends
    the attendance there `admitted`, as an A06 does."""
    message = reading.message
    located = reading.place(3, required=False)
    clock = reading.own_time(ADMIT_TIME, EVENT_TIME)
    if text(message, "PV1", 45):
        reading.warnings.append(
            f"PV1-45: a discharge time on an {'A04' if registration else 'A01'} ends nothing; "
            "the visit stays open until its A03"
        )
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
    # But not before PV1-44: no one is admitted before their visit began, and a PAS that fills
    # EVN-6 with the time it recorded a back-dated A01 says so (the NHS ITK examples do).
    moment = reading.own_time(EVENT_TIME, ADMIT_TIME)
    if moment < clock:
        reading.warnings.append(
            f"EVN-6 ({moment.isoformat()}) is before PV1-44, the visit's start "
            f"({clock.isoformat()}): the admission is taken at PV1-44"
        )
        moment = clock
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
    arrived = first_time(reading.message, ADMIT_TIME, zone=reading.zone())
    if arrived is None or arrived > moment:
        # The departure is its own arrival: the tracker then keeps the arrival it has recorded.
        reading.warnings.append(
            f"PV1-44 {'is after the departure' if arrived else 'is empty'}: the attendance keeps "
            "the arrival already recorded (its A04 or A01); without one, it lasted no time"
        )
        arrived = moment
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
    moment = reading.own_time(EVENT_TIME)
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
    # Timed by the visit's discharge (PV1-45), as its id is: an A03 sent again with another
    # EVN-6 (real feeds send EVN-6 != PV1-45) says the same discharge.
    clock = _not_before_admission(reading, reading.own_time(DISCHARGE_TIME, EVENT_TIME))
    located = _discharged_from(reading)
    at_front_door = reading.at_front_door(located)
    destination = reading.destination(expected=not at_front_door)
    if at_front_door:
        outcome = AttendanceOutcome.DISCHARGED.value
        if reading.discharge_method() in nhs_codes.DISCHARGE_METHODS_SELF:  # discharged themself
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


def _discharged_from(reading: Reading) -> Located:
    """Where the A03's patient was: PV1-3 (HL7 v2.5 3.3.3: the location before the discharge).

    A PAS that frees the bed as it discharges sends PV1-3 empty and the bed in PV1-6, the prior
    location (Simulated Hospital does, for every death). Read from PV1-6, with a warning: from
    the profile's default service (or refused, without one) the death on a ward was refused and
    the patient held the bed for ever, and a death in the ED became a discharge from the wards,
    the attendance open and breaching for ever."""
    message = reading.message
    if names_a_place(message, 3) or not names_a_place(message, 6):
        return reading.place(3, required=False)
    reading.warnings.append(
        "PV1-3: empty, so the patient was discharged from PV1-6 (prior location); HL7 puts the "
        "location before the discharge in PV1-3"
    )
    return reading.place(6, required=False)


def _not_before_admission(reading: Reading, left: datetime) -> datetime:
    """When the A03's visit ended: `left`, or PV1-44 when `left` is before it only within its
    own precision (HL7 v2.5 2.A.74: `20101021` is that whole day, `201302111000` that minute,
    and a PAS that keeps discharges to the day or minute sends them so), with a warning.

    A local time in the hour the clocks go back is read as its first (BST); one that would end
    the visit before PV1-44 only so is read as its second (GMT), with a warning: a discharge at
    01:10, GMT, after an arrival at 01:50, BST, had been refused, the patient in the ED for ever.
    An A03 that ends the visit before PV1-44 began it (a keying slip in a date) is refused: the
    admission's stay would stay open for ever, the discharge kept only as an anomaly, and the
    sender, answered AA, would never know. FHIR refuses the same (per-1); AE names the field."""
    message = reading.message
    field = next(
        path for path in (DISCHARGE_TIME, EVENT_TIME, RECORDED_TIME) if text(message, *path)
    )
    ends = f"{field[0]}-{field[1]}"
    ended, span = held_end(message, left, field, reading.zone())
    if span:
        reading.warnings.append(
            f"{ends}: a {span} holding PV1-44's admission ({ended.isoformat()}), so the "
            "discharge is taken at PV1-44's time; send the discharge's time to the second"
        )
        return reading.read_at(ended, "PV1-44")
    try:
        admitted = first_time(message, ADMIT_TIME, zone=reading.zone())
    except Refused:  # a PV1-44 that is no time: an A03 needs none, so it is not refused for it
        return left
    if admitted is None or left >= admitted:
        return left
    local = first_time(message, field, zone=reading.zone()) or left  # in the sender's zone
    second = local.replace(fold=1)  # in the hour clocks go back: GMT
    # Compared in UTC: two times of one zone compare by their wall clocks, fold ignored.
    later = second.astimezone(UTC) >= admitted.astimezone(UTC)
    if later and second.utcoffset() != local.utcoffset():
        reading.warnings.append(
            f"{ends}: in the hour the clocks went back, read as the second ({second.isoformat()}):"
            " the first is before PV1-44, the admission; send the offset (+0100, +0000)"
        )
        return reading.read_at(second, ends)
    raise Refused(
        INVALID_FIELD,
        ends,
        f"{ends} ({left.isoformat()}) is before PV1-44, the admission ({admitted.isoformat()}): "
        "a visit cannot end before it began; correct the time and send the A03 again",
    )


def _to_inpatient(reading: Reading, visit: str) -> list[Fields] | NoChange:
    """A06: an outpatient or ED patient admitted; the ED attendance (PV1-6) ends `admitted`.

    Still in the ED (PV1-3 at it, judged as an arrival is; HL7 v2.5 3.3.6 names a prior location
    in PV1-6 only when it differs), the patient waits there for a bed: nothing changes until the A02
    out of the ED ends the attendance and admits, as an A01 at the ED restates the attendance.
    An A06 that gives the spell a new visit number (MRG-5 another) is mapped as any A06 (a
    PV1-6 at the ED ends the old visit's attendance): the A02 out of the ED names only the new.
    """
    message = reading.message
    moment = reading.own_time(EVENT_TIME)
    after = reading.place(3, required=True)
    if reading.at_front_door(after) and identifier(message, "MRG", 5) in ("", visit):
        return NoChange("an A06 in the ED: admitted when the patient leaves it", "same_place")
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
    if not names_a_place(message, 6):
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


def _to_outpatient(reading: Reading, visit: str) -> list[Fields] | NoChange:
    """A07: an inpatient becomes an outpatient or ED patient: the stay in PV1-6's service ends.

    The ED attendance an A06 closed is not reopened (the contract cannot reopen it); the stay
    ends with destination `other`, so no bed stays held. Without PV1-6 (optional in HL7 v2.5,
    which names a prior location only when it differs, 3.3.6) the patient did not move: the
    stay ends in PV1-3's service, with a warning. A PV1-3 the profile gives the ED then ends
    nothing: an A06 there admitted no one (the A02 out of the ED admits).
    """
    moment = reading.own_time(EVENT_TIME)
    if names_a_place(reading.message, 6):
        before = reading.place(6, required=True)
    else:
        before = reading.place(3, required=True)
        if reading.at_front_door(before, PatientClass.INPATIENT):
            return NoChange("an A07 in the ED: no ward stay to end", "same_place")
        reading.warnings.append(
            "PV1-6: no prior location; the inpatient stay ends at PV1-3 (the patient did not move)"
        )
    return [
        {
            "event_type": "discharge",
            "event_id": event_id(visit, "discharge", moment),
            "occurred_at": moment.isoformat(),
            "service": before.service,
            "destination": DischargeDestination.OTHER.value,
        }
    ]


#: What each trigger that can publish builds from a visit's message (the demographics-only
#: triggers, `mapping.NO_FLOW_CHANGE`, never get here).
BY_TRIGGER: dict[str, Callable[[Reading, str], list[Fields] | NoChange]] = {
    "A01": partial(_arrival, registration=False),
    "A04": partial(_arrival, registration=True),
    "A02": _transfer,
    SWAP: _transfer,  # of each patient (`swap`)
    "A03": _discharge,
    "A06": _to_inpatient,
    "A07": _to_outpatient,
    **{t: partial(cancellations, trigger=t) for t in ("A11", "A13")},
    "A12": partial(transfer_cancellations, moved_back=_transfer),
    "A23": visit_deleted,
}


def _with(fields: Fields, name: str, value: str | None) -> Fields:
    return fields | {name: value} if value else fields
