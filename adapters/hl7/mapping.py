"""Map one HL7 v2 ADT message to flowsight contract events (v1), or say which field is wrong.

This module decides, per message and trigger, whether it is taken, refused or changes nothing
tracked, and puts each event in its envelope; what each trigger publishes is `triggers`.
Segments it does not read (Z-segments, NK1, AL1, DG1, ...) are ignored. What locations, codes and
identifiers mean comes from the source's mapping profile (`fields.Reading`). Nothing does I/O.

| trigger | decision |
|---|---|
| A01, A02, A03, A04, A06, A07, A11, A12, A13, A17, A23 | mapped: the events `triggers` names |
| A04 of class O, P or R; A01, A03, A11, A13, A23 of class O or R (not at the ED); A02, A12, A17 of class O or R (neither PV1-3 nor PV1-6 at the ED) | none: AA and counted (holds no bed), wherever PV1-3 is |
| A08, A28, A31 | none: demographics only |
| none (MSH-9.2 and EVN-1 empty) | none: refused AR `hl7_unsupported_trigger` at MSH-9.2 |
| any, without MSH-10 (the control id) | none: refused AR `hl7_missing_control_id` at MSH-10 |
| any other | none: acknowledged AA and counted (or refused AR: profile `unknown_triggers: refuse`) |

- **source** is `<organisation>/<system>`, the system MSH-3 names, else the profile's
  `hl7.system` (`fields.system_name`);
  **episode_id** is PV1-19.1 (without it PID-18.1, the account number, with a warning).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flowsight.adapters.hl7.clock import (
    ADMIT_TIME,
    DISCHARGE_TIME,
    EVENT_TIME,
    RECORDED_TIME,
    first_time,
    unclear,
)
from flowsight.adapters.hl7.fields import LocationMap as LocationMap  # for callers of map_message
from flowsight.adapters.hl7.fields import Reading, system_name
from flowsight.adapters.hl7.outcome import Mapped as Mapped  # for callers of map_message
from flowsight.adapters.hl7.outcome import NoChange as NoChange
from flowsight.adapters.hl7.parse import (
    MISSING_CONTROL_ID,
    MISSING_FIELD,
    MISSING_SEGMENT,
    TOO_COMPLEX,
    UNPARSEABLE,
    UNSUPPORTED_CHARACTER_SET,
    UNSUPPORTED_MESSAGE_TYPE,
    UNSUPPORTED_PROCESSING_ID,
    UNSUPPORTED_TRIGGER,
    control_id,
    has_segment,
    identifier,
    message_trigger,
    text,
)
from flowsight.adapters.hl7.swap import SWAP, swapped
from flowsight.adapters.hl7.triggers import BY_TRIGGER, NEVER_ADMITTED
from flowsight.adapters.profile import NOT_IN_A_BED, MappingProfile, default_profile
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
        MISSING_CONTROL_ID,
    }
)
#: Triggers that change nothing flowsight tracks: acknowledged AA and not published.
NO_FLOW_CHANGE = frozenset({"A08", "A28", "A31"})
#: Every trigger mapped here; `profile.HL7_TRIGGERS` names the same (a test keeps them in step).
SUPPORTED_TRIGGERS = frozenset(BY_TRIGGER) | NO_FLOW_CHANGE
#: Triggers that publish nothing, away from the ED, for a visit of these classes: acknowledged
#: AA and counted `not_in_a_bed`. A registration (A04) of class O, P or R starts nothing; a
#: visit never admitted starts nothing, and its end, moves and cancels end or move nothing:
#: stays are kept per service, so the A03 of a clinic visit would otherwise end the patient's
#: ward stay, and its A02 between clinics (HL7 v2.5 3.3.2: A02 is for non-admitted patients
#: too) would start one. A move is away from the ED when neither PV1-3 nor PV1-6 is the ED's.
NO_BED_UNTRACKED = {
    "A04": NOT_IN_A_BED,
    **dict.fromkeys(("A01", "A02", "A03", "A11", "A12", "A13", "A23", SWAP), NEVER_ADMITTED),
}
#: Triggers that move a patient from PV1-6 to PV1-3 (or, A12, back).
MOVES = frozenset({"A02", "A12", SWAP})
#: Envelope fields first, in contract order, so published events read like the SPEC's.
_ENVELOPE = (
    "event_id schema_version event_type source occurred_at service patient episode_id"
).split()


def map_message(
    message: Any,
    *,
    organisation: str,
    locations: LocationMap | None = None,
    profile: MappingProfile | None = None,
    front_door: frozenset[str] = frozenset(),
    processing_ids: frozenset[str] | None = None,
    received: datetime | None = None,
) -> Mapped | NoChange | Rejected:
    """The contract events `message` stands for, NoChange, or a Rejected naming the HL7 field.

    `front_door`: the organisation's emergency departments (where an arrival is an attendance);
    `processing_ids` overrides the profile's; `received`: when the message came (default now).
    """
    if profile is None:
        profile = locations.profile(organisation) if locations else default_profile(organisation)
    reading = Reading(message, profile, front_door, received=received or datetime.now(UTC))
    accepted = processing_ids or frozenset(profile.hl7.processing_ids)
    try:
        return _map(reading, organisation, accepted)
    except Refused as refused:
        return refused.rejected


def _map(reading: Reading, organisation: str, processing_ids: frozenset[str]) -> Mapped | NoChange:
    message = reading.message
    if not control_id(message):
        # MSA-2 echoes MSH-10 (both required in every HL7 v2 version): without it the sender cannot
        # tell which message an ACK answers, so none is taken, whatever it holds.
        raise Refused(
            MISSING_CONTROL_ID,
            "MSH-10",
            "MSH-10 (the message control id) is required: the ACK names the message by it",
        )
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
        profile, front_door, received = reading.profile, reading.front_door, reading.received
        return swapped(
            message,
            lambda pair: _map_visit(
                Reading(pair, profile, front_door, received=received), organisation, trigger
            ),
        )
    return _map_visit(reading, organisation, trigger)


def _map_visit(reading: Reading, organisation: str, trigger: str) -> Mapped | NoChange:
    """The events of the visit (one PID and PV1) a `trigger` message is about."""
    # The class first: a visit that holds no bed publishes nothing, so it needs no sending
    # application, visit number or patient identifier (an IHE PIX feed's outpatient A01 and A04
    # send `PV1||O` alone; python-hl7's sample A04 of class O has no MSH-3 either).
    untracked = NO_BED_UNTRACKED.get(trigger)
    places = (3, 6) if trigger in MOVES else (3,)
    no_bed = reading.class_without_a_bed(untracked, places) if untracked else None
    if no_bed is not None:
        return NoChange(
            f"{trigger} of class {no_bed.value}: no bed", "not_in_a_bed", reading.warnings
        )
    visit = _visit(reading)
    envelope: dict[str, Any] = {
        "schema_version": "1",
        "source": f"{organisation}/{system_name(reading.message, reading.profile.hl7.system)}",
        "patient": reading.patient(),
        "episode_id": visit,
    }
    envelope |= _recorded(reading)
    result = BY_TRIGGER[trigger](reading, visit)
    if isinstance(result, NoChange):
        return NoChange(result.why, result.kind, reading.warnings)
    events = []
    for fields in result:
        event = envelope | fields
        envelope_first = {name: event.pop(name) for name in _ENVELOPE}
        events.append(envelope_first | event)
    reading.warnings.extend(_unclear_times(reading))
    return Mapped(events, reading.warnings, reading.times)


def _unclear_times(reading: Reading) -> list[str]:
    """A warning for each of the visit's and the event's times that names no one moment: a day
    alone (`20261101`), read as its midnight in the sender's time (`Reading.zone`, else
    `clock.sender_zone`), where the FHIR gateway refuses a date-only period; or a local time
    without an offset in the hour clocks go back or forward (`clock.unclear`), EVN-2 too (a
    move without EVN-6 is timed by it). One a trigger read as its second reading has its own
    warning. The sender has what is missing."""
    message = reading.message
    said = []
    for segment, number in (ADMIT_TIME, DISCHARGE_TIME, EVENT_TIME, RECORDED_TIME):
        value, where = text(message, segment, number), f"{segment}-{number}"
        if value and len(value.split("+")[0].split("-")[0]) <= len("YYYYMMDD"):
            said.append(
                f"{where}: a day with no time ({value}); read as its midnight in the sender's "
                "time: send the hour and minute"
            )
            continue
        try:
            moment = first_time(message, (segment, number), zone=reading.zone())
        except Refused:  # a field this trigger does not read, refused where it is read
            continue
        if moment is None:
            continue
        why = unclear(moment)
        if why and reading.times.get(moment.replace(fold=1).isoformat()) != where:
            said.append(f"{where} ({value}): {why}; send the offset (+0100, +0000)")
    return said


def _recorded(reading: Reading) -> dict[str, str]:
    """EVN-2, when the PAS recorded the event, as `recorded_at`: the same in every copy of a
    message, later in a message keyed in again, so an event sent again after its cancel takes
    effect again (services/repeats.py). An EVN-2 that is not a time is left out, with a
    warning, rather than refusing events that can do without it."""
    try:
        moment = first_time(reading.message, RECORDED_TIME, zone=reading.zone())
    except Refused:
        reading.warnings.append("EVN-2: not an HL7 time, so the events carry no recorded_at")
        return {}
    return {} if moment is None else {"recorded_at": moment.isoformat()}


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
