"""FHIR R4 Encounter to event contract v1: the emergency department attendance, admission,
transfers and discharge (or their cancellations) that one Encounter snapshot says happened.

Elements are read by `elements` and `codes`; what cannot be read is a `Rejected` naming the
element. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from fhir.resources.R4B.encounter import Encounter

from flowsight.adapters.fhir.classes import act_class, class_without_a_bed
from flowsight.adapters.fhir.department import (
    admission_from_department,
    attendance,
    department_stays,
    emergency_arrival,
)
from flowsight.adapters.fhir.elements import (
    INVALID_FHIR,
    UNSUPPORTED_ENCOUNTER,
    Note,
    episode,
    in_order,
    location_element,
    timestamp,
)
from flowsight.adapters.fhir.inpatient import admission, discharge
from flowsight.adapters.fhir.locations import NEVER_BEGAN, Places, never_began, stays
from flowsight.adapters.fhir.moves import dated_moves
from flowsight.adapters.fhir.patient import died_in, patient
from flowsight.adapters.fhir.references import (
    NO_BUNDLE,
    BundleIndex,
    part_of,
    provider_code,
    provider_identifier,
)
from flowsight.adapters.fhir.retractions import (
    UPDATED,
    cancellations,
    reopened,
    stated_at,
    withdrawable,
    withdrawn,
)
from flowsight.adapters.fhir.snapshot import MappedEncounter, MappedEvent, Snapshot
from flowsight.adapters.fhir.stay import Stay
from flowsight.adapters.profile import MappingProfile
from flowsight.schemas.events import SCHEMA_VERSION
from flowsight.services.validation import MISSING_FIELD, Refused, Rejected

#: The system part of `source` for every event the FHIR gateway makes: "RR8/fhir".
SOURCE_SYSTEM = "fhir"

__all__ = ["INVALID_FHIR", "UNSUPPORTED_ENCOUNTER", "MappedEncounter", "MappedEvent"]

#: Statuses whose snapshot says the patient was admitted (and, if finished, discharged).
ADMITTED_STATUSES = frozenset({"in-progress", "onleave", "finished"})
#: Statuses of a patient present but not yet seen: at a front door (an emergency department)
#: that is the attendance, whose four-hour clock runs from the arrival; at a ward, nothing yet.
ARRIVED_STATUSES = frozenset({"arrived", "triaged"})
#: What an Encounter that has not begun is answered with (200: valid, nothing to publish).
NOT_BEGUN = (
    "nothing has been admitted yet, so nothing is published; send the Encounter again once it "
    "is in-progress"
)
#: What a version the patient has not left says of its period.end: no discharge is read from it.
_END_NOT_READ = (
    "status {!r} with a period.end: the patient has not left, so no discharge is published; "
    "send the Encounter as finished once they have"
)
#: Statuses that undo what an earlier snapshot of the Encounter said: entered-in-error retracts it
#: all, cancelled (never began) withdraws what was published of it (`retractions.withdrawn`).
RETRACTED_STATUSES = frozenset({"entered-in-error", "cancelled"})


def map_encounter(
    encounter: Encounter,
    *,
    organisation: str | None,
    now: datetime,
    front_door: Collection[str] = frozenset(),
    profiles: Mapping[str, MappingProfile] | None = None,
    services: Collection[str] = frozenset(),
    bundle: BundleIndex = NO_BUNDLE,
    departments: Callable[[str], Collection[str]] | None = None,
    bedded: Collection[str] = frozenset(),
) -> MappedEncounter | Rejected:
    """The events an Encounter snapshot stands for, with idempotent ids, or why there are none.

    `organisation` is used when the Encounter names no serviceProvider; `now` times cancellations
    of an Encounter without meta.lastUpdated. Time spent at a `front_door` service (an emergency
    department) is an attendance there, not an admission (`department.py`). Locations and codes
    are read through the serviceProvider's mapping profile in `profiles`; `services` are the
    catalogue's service ids; `bundle` the transaction the Encounter came in, if any;
    `departments` the front-door services of an organisation (default: all of `front_door`);
    `bedded` the services whose capacity is beds, where a home visit placed by the profile's
    default alone is not put (`_home_visit_in_a_bed`).
    """
    notes: list[Note] = []
    try:
        if encounter.partOf is not None:
            return MappedEncounter([], [part_of(encounter.partOf, bundle)])
        of = departments or (lambda _organisation: front_door)
        reading = _Reading(front_door, profiles or {}, services, bundle, notes, of, bedded)
        return MappedEncounter(_events(encounter, organisation, now, reading), notes)
    except Refused as refused:
        return refused.rejected


def encounter_events(
    encounter: Encounter,
    *,
    organisation: str | None,
    now: datetime,
    front_door: Collection[str] = frozenset(),
) -> list[MappedEvent] | Rejected:
    """The events of `map_encounter`, without its warnings."""
    mapped = map_encounter(encounter, organisation=organisation, now=now, front_door=front_door)
    return mapped if isinstance(mapped, Rejected) else mapped.events


@dataclass(frozen=True, slots=True)
class _Reading:
    """What an Encounter is read against besides itself, and where warnings go."""

    front_door: Collection[str]
    profiles: Mapping[str, MappingProfile]
    services: Collection[str]
    bundle: BundleIndex
    notes: list[Note]
    departments: Callable[[str], Collection[str]]
    bedded: Collection[str] = frozenset()


#: Encounter.status codes of FHIR R5 that R4 has not (R5 replaced R4's finished, onleave...).
R5_STATUSES = frozenset({"discharged", "completed", "on-hold", "discontinued"})


def _events(
    encounter: Encounter, organisation: str | None, now: datetime, reading: _Reading
) -> list[MappedEvent]:
    status = encounter.status
    if status == "planned":  # as the HL7 v2 gateway takes a pre-admission (A05)
        reading.notes.append(Note("Encounter.status", f"status 'planned': {NOT_BEGUN}"))
        return []
    if status in R5_STATUSES:
        raise Refused(
            UNSUPPORTED_ENCOUNTER,
            "Encounter.status",
            f"status {status!r} is FHIR R5's, not R4's: flowsight reads FHIR R4 (UK Core), "
            "where a stay that has ended is 'finished' and one under way 'in-progress'",
        )
    if status not in ADMITTED_STATUSES | RETRACTED_STATUSES | ARRIVED_STATUSES:
        raise Refused(
            UNSUPPORTED_ENCOUNTER,
            "Encounter.status",
            f"status {status!r} is not an arrival, admission, transfer or discharge; flowsight "
            "takes in-progress, onleave, finished, arrived or triaged at an emergency "
            "department, entered-in-error or cancelled to retract, and planned (nothing "
            "published)",
        )
    in_order(encounter.period, "Encounter.period")
    if status in RETRACTED_STATUSES and never_began(encounter):
        reading.notes.append(Note("Encounter.location", f"{status}: {NEVER_BEGAN}"))
        return []  # nothing was published for it, so nothing is retracted
    stated = stated_at(encounter, reading.bundle)
    if status == "cancelled" and not withdrawable(encounter, stated, reading.notes):
        return []  # dated by nothing, it could not be told from a later admission of the visit
    no_bed = class_without_a_bed(
        encounter, _profile(encounter, organisation, reading), reading.notes
    )
    if (
        no_bed
        and status not in RETRACTED_STATUSES
        and not _at_front_door(encounter, organisation, reading)
    ):
        return _without_a_bed(encounter, no_bed, organisation, now, reading)
    snapshot = _snapshot(encounter, organisation, reading)
    if status not in RETRACTED_STATUSES and _home_visit_in_a_bed(encounter, snapshot, reading):
        return []
    if status not in RETRACTED_STATUSES:  # a retraction cancels every move's id, dated or not
        moves = dated_moves(snapshot.stays, reading.notes, encounter.period)
        snapshot = replace(snapshot, stays=moves)
    in_department = department_stays(snapshot.stays, reading.front_door)
    if status == "cancelled":  # never began: what was published of it is withdrawn
        return withdrawn(snapshot, now, in_department, reading.notes, stated)
    if status in RETRACTED_STATUSES:
        return cancellations(snapshot, now, in_department, reading.notes)
    if status in ARRIVED_STATUSES and not in_department:
        reading.notes.append(
            Note(
                "Encounter.status",
                f"status {status!r} away from an emergency department: {NOT_BEGUN}",
            )
        )
        return []
    if not in_department:
        events = [admission(encounter, snapshot, reading.notes)]
    else:
        events = attendance(encounter, snapshot, in_department, status, reading.notes)
        if len(in_department) == len(snapshot.stays):
            if status != "finished":  # still in the department: a departure said is undone
                department = in_department[0]
                departure = "attendance:departure"
                events += reopened(snapshot, now, departure, department, reading.notes, stated)
                _end_not_read(encounter, status, reading.notes)
            return events
        snapshot = replace(snapshot, stays=snapshot.stays[len(in_department) :])
        events.append(admission_from_department(snapshot))
    for suffix, previous, stay in snapshot.transfers():
        start_element = stay.start_element
        fields = {
            "occurred_at": timestamp(stay.start, start_element, "the transfer time"),
            "from_service": previous.service,
            "to_service": stay.service,
            **({"to_unit": stay.unit} if stay.unit else {}),
        }
        events.append(
            snapshot.event(
                suffix,
                "transfer",
                previous,
                fields,
                occurred_at=start_element,
                from_service=location_element(previous.index),
                to_service=location_element(stay.index),
                to_unit=stay.unit_element,
            )
        )
    if status == "finished":
        died = died_in(encounter, reading.bundle, reading.notes)
        events.append(discharge(encounter, snapshot, reading.notes, died=died))
    else:  # a discharge an earlier version said happened is undone (HL7's A13)
        events += reopened(snapshot, now, "discharge", snapshot.stays[-1], reading.notes, stated)
        _end_not_read(encounter, status, reading.notes)
    return events


def _end_not_read(encounter: Encounter, status: str, notes: list[Note]) -> None:
    """A note on a `period.end` of a version whose patient has not left (in progress, arrived
    or triaged in the department): it ends nothing."""
    if encounter.period and encounter.period.end:
        notes.append(Note("Encounter.period.end", _END_NOT_READ.format(status)))


def _without_a_bed(
    encounter: Encounter, code: str, organisation: str | None, now: datetime, reading: _Reading
) -> list[MappedEvent]:
    """What an Encounter that holds no bed publishes: nothing, with a warning; but retractions
    when it may be a spell reclassified (`_reclassified`)."""
    retracted = _reclassified(encounter, organisation, now, reading)
    done = "what an earlier version published as an inpatient stay is retracted"
    said = f"class {code} holds no bed and the Encounter's first location is not an emergency "
    said += f"department's: {done if retracted else 'nothing published'}"
    reading.notes.append(Note("Encounter.class", said))
    return retracted


def _reclassified(
    encounter: Encounter, organisation: str | None, now: datetime, reading: _Reading
) -> list[MappedEvent]:
    """An Encounter that holds no bed, dated (`meta.lastUpdated`), at a place a rule of the
    profile (or a service id) puts on a ward, may be an admission corrected to a ward
    attendance: it retracts what an earlier version published as an inpatient stay, as
    entered-in-error would, and the bed is free again. A later version that admits is a new
    issue of those events (`services/repeats.py`); undated, it would stay retracted, so an
    undated Encounter retracts nothing."""
    if not (encounter.meta and encounter.meta.lastUpdated):
        return []
    quiet = replace(reading, notes=[])  # nothing said of a snapshot only read to retract
    try:
        snapshot = _snapshot(encounter, organisation, quiet)
    except Refused:  # an outpatient clinic no rule knows, a subject not resolved
        return []
    first = snapshot.stays[0]
    if first.by_default or first.service not in reading.services:
        return []
    return cancellations(snapshot, now, [], quiet.notes, if_present=True)


def _home_visit_in_a_bed(encounter: Encounter, snapshot: Snapshot, reading: _Reading) -> bool:
    """Whether a home-health Encounter (class HH) would be a stay in beds only because no rule
    maps its place and the profile's default service has beds: a 15-minute home visit became
    a ward admission, a hospice stay at home a 24-day ward stay. Nothing is published, with a
    warning; a rule (or a service id) placing it, in a reablement or home-care service, is
    followed."""
    first = snapshot.stays[0]
    if act_class(encounter) != "HH" or not first.by_default or first.service not in reading.bedded:
        return False
    reading.notes.append(
        Note(
            "Encounter.class",
            f"class HH (home health) at a place no rule of the mapping profile maps: a home "
            f"visit is no stay in the default service {first.service!r}, whose capacity is "
            "beds; nothing published. Map its location to a reablement or home-care service",
        )
    )
    return True


def _at_front_door(encounter: Encounter, organisation: str | None, reading: _Reading) -> bool:
    """Whether the first place of the Encounter's history is an emergency department's. A place
    no rule of the profile knows (an outpatient clinic) is none, and no refusal."""
    provider, _ = _provider(encounter, organisation, reading)
    places = Places(reading.profiles.get(provider), reading.services, reading.bundle)
    try:
        history = stays(encounter, places, [])
    except Refused:
        return False
    return bool(department_stays(history, reading.front_door))


def _profile(
    encounter: Encounter, organisation: str | None, reading: _Reading
) -> MappingProfile | None:
    """The mapping profile of the Encounter's organisation; None when it names none."""
    try:
        return reading.profiles.get(_provider(encounter, organisation, reading)[0])
    except Refused:  # said when the Encounter is read further, if it is
        return None


def _provider(encounter: Encounter, organisation: str | None, reading: _Reading) -> tuple[str, str]:
    """The ODS code of the organisation the Encounter is of, and the element that named it."""
    element = "Encounter.serviceProvider.identifier.value"
    provider = provider_identifier(encounter)
    if provider is None and (provider := provider_code(encounter, reading.bundle)):
        element = "Encounter.serviceProvider.reference"
    provider = provider or organisation
    if provider is None:
        raise Refused(
            MISSING_FIELD,
            element,
            "Encounter.serviceProvider.identifier (the ODS code) is required when the API "
            "key publishes for several organisations",
        )
    return provider, element


def _snapshot(encounter: Encounter, organisation: str | None, reading: _Reading) -> Snapshot:
    episode_id, episode_element = episode(encounter)
    provider, source_element = _provider(encounter, organisation, reading)
    identity, patient_element = patient(encounter, reading.bundle, reading.notes)
    common = {
        "schema_version": SCHEMA_VERSION,
        "source": f"{provider}/{SOURCE_SYSTEM}",
        "patient": identity,
        "episode_id": episode_id,
    }
    # When the server recorded this version: a version after an entered-in-error one is a new
    # issue of the events it retracted, and takes effect again (services/repeats.py).
    if encounter.meta and encounter.meta.lastUpdated:  # an instant: FHIR requires its offset
        common["recorded_at"] = encounter.meta.lastUpdated.isoformat()
    elements = {
        "event_id": episode_element,
        "source": source_element,
        "patient": patient_element,
        "patient.id_system": "Encounter.subject.identifier.system",
        "episode_id": episode_element,
        "schema_version": "Encounter",
        "recorded_at": UPDATED,
    }
    profile = reading.profiles.get(provider)
    places = Places(profile, reading.services, reading.bundle)
    emergency = act_class(encounter) == "EMER"
    # An emergency Encounter without a location is its department's, not the default's: said
    # once, by `emergency_arrival`, when there is one.
    unlocated = _unlocated(encounter, profile, [] if emergency else reading.notes)
    history = unlocated or stays(encounter, places, reading.notes)
    if emergency:
        placed = emergency_arrival(history, reading.departments(provider), reading.notes)
        if unlocated and placed == history:  # no department: the default's, as said
            _unlocated(encounter, profile, reading.notes)
        history = placed
    # The business identifier, not the logical id: a transaction's POST has no id, and the same
    # spell read back from a server, or sent again through a subscription, has one.
    return Snapshot(episode_id, common, elements, history, profile)


def _unlocated(
    encounter: Encounter, profile: MappingProfile | None, notes: list[Note]
) -> list[Stay]:
    """An Encounter that names no location at all, read as the HL7 v2 gateway reads an empty
    PV1-3: one stay in the profile's default service, with a warning. Without a default: none
    (`stays` refuses it, naming `Encounter.location`)."""
    if encounter.location or profile is None or profile.default_service is None:
        return []
    service = profile.default_service
    notes.append(
        Note("Encounter.location", f"no location: placed in the default service {service!r}")
    )
    start = encounter.period.start if encounter.period else None
    return [Stay(0, 0, service, None, "Encounter.location", start, by_default=True)]
