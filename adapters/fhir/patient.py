"""The patient an Encounter is about, and whether they died in it: `Encounter.subject`'s
identifier, else the Patient it refers to (contained, or in the same transaction or message,
`references.resolve`). An NHS number not traced, or no usable one, gives way to the Patient's
local identifier, as the HL7 v2 gateway's does (`services/nhs_number_status.py`). Pure: no I/O.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.patient import Patient

from flowsight.adapters.fhir.elements import (
    NHS_NUMBER_SYSTEM,
    Note,
    instant,
    is_nhs_number_system,
)
from flowsight.adapters.fhir.nhs_number import untraced
from flowsight.adapters.fhir.references import BundleIndex, resolve, shown, whereabouts
from flowsight.schemas.nhs_number import nhs_number_problem, normalise_nhs_number
from flowsight.services.nhs_number_status import identity
from flowsight.services.validation import INVALID_FIELD, MISSING_FIELD, Refused


def patient(
    encounter: Encounter, bundle: BundleIndex, notes: list[Note]
) -> tuple[dict[str, str], str]:
    """The contract patient and the element it was read from.

    `Encounter.subject.identifier` if it has a value; otherwise the Patient `subject.reference`
    points at, contained or in the same Bundle: its NHS number, else its first identifier with a
    system and value that is not `old` (`patient_identity`). An NHS number whose verification
    status says it was not traced is noted in `notes`.
    """
    subject = encounter.subject
    identifier = subject.identifier if subject else None
    if identifier is not None and identifier.value:
        if is_nhs_number_system(identifier.system):
            problem = _unusable(str(identifier.value))
            local = _referenced_local_id(encounter, bundle) if problem else None
            if local is not None:  # else refused by the contract's check, naming it
                notes.append(Note("Encounter.subject.identifier.value", _local_used(problem)))
                return local, "Encounter.subject.reference"
            if why := untraced(identifier):
                local = _referenced_local_id(encounter, bundle)
                note = _as_sent(why) if local is None else _gives_way(why, local)
                notes.append(Note("Encounter.subject.identifier.extension", note))
                if local is not None:
                    return local, "Encounter.subject.reference"
            _same_patient(encounter, bundle, str(identifier.value))
            return {"nhs_number": identifier.value}, "Encounter.subject.identifier.value"
        if not identifier.system:
            raise Refused(
                MISSING_FIELD,
                "Encounter.subject.identifier.system",
                "Encounter.subject.identifier.system is required: "
                f"{NHS_NUMBER_SYSTEM} for an NHS number, or the local system that issued the id",
            )
        return (
            {"local_id": identifier.value, "id_system": identifier.system},
            "Encounter.subject.identifier.value",
        )
    element = "Encounter.subject.reference"
    target = subject.reference if subject else None
    if not target:
        raise Refused(
            MISSING_FIELD,
            "Encounter.subject.identifier",
            f"Encounter.subject needs an identifier (system {NHS_NUMBER_SYSTEM}) or a reference "
            "to a Patient contained in the Encounter or sent in the same transaction",
        )
    found = resolve(subject, Patient, encounter, bundle, element)
    if found is None:
        searched = _searched_identity(target)
        if searched is not None:
            return searched, element
        raise Refused(
            MISSING_FIELD,
            element,
            f"{element} {shown(target, 'Patient')} is neither a Patient contained in the "
            "Encounter nor an entry of its transaction Bundle, nor a conditional reference "
            "Patient?identifier=<system>|<value>; give Encounter.subject.identifier (the NHS "
            "number) or send the Patient in the same transaction",
        )
    identity = patient_identity(found, whereabouts(subject, encounter, bundle), notes)
    if identity is None:
        raise Refused(
            MISSING_FIELD,
            element,
            f"the Patient {shown(target, 'Patient')} has neither an NHS number "
            f"({NHS_NUMBER_SYSTEM}) nor an identifier with a system and a value",
        )
    return identity, element


def _searched_identity(target: str) -> dict[str, str] | None:
    """The patient a conditional reference searches for by one identifier with a system
    (`Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919`): in a transaction it
    stands for the Patient that identifier names, as R4's transaction rules resolve it."""
    if not target.startswith("Patient?"):
        return None
    searched = parse_qs(target.removeprefix("Patient?")).get("identifier", [])
    if len(searched) != 1:
        return None
    system, bar, value = searched[0].rpartition("|")
    if not (bar and system and value):
        return None
    if is_nhs_number_system(system):
        return {"nhs_number": value}
    return {"local_id": value, "id_system": system}


def died_in(encounter: Encounter, bundle: BundleIndex, notes: list[Note]) -> bool:
    """Whether the Patient the Encounter's subject refers to (contained, or in the same
    transaction or message: as it stood when the Encounter was sent) died during the Encounter:
    `deceasedDateTime` within its period (Synthea's hospice stays end at the death), or
    `deceasedBoolean` true, read as this stay's death with a note, when the Encounter is the
    only one sent with the Patient (with several, a life's, it says not which stay the death
    ended). A death dated by day only, or outside the period, is not this stay's: a note says
    so."""
    try:
        found = resolve(encounter.subject, Patient, encounter, bundle, "Encounter.subject")
    except Refused:  # the identity's own reading refuses it, naming the element
        return False
    if found is None or (not found.deceasedBoolean and found.deceasedDateTime is None):
        return False
    # Where the Patient is, as an answer names it (`Bundle.entry[3].resource`).
    at = whereabouts(encounter.subject, encounter, bundle) or "Encounter.subject"
    if found.deceasedBoolean:
        alone = bundle.encounters <= 1
        said = (
            "the Patient is deceased: the discharge is a death"
            if alone
            else f"the Patient is deceased, and the Bundle holds {bundle.encounters} "
            "Encounters: which stay ended in the death is not said (send deceasedDateTime); "
            "the discharge is not read as a death"
        )
        notes.append(Note(f"{at}.deceasedBoolean", said))
        return alone
    moment = found.deceasedDateTime
    start, end = (
        (encounter.period.start, encounter.period.end) if encounter.period else (None, None)
    )
    if instant(moment) and instant(start) and instant(end) and start <= moment <= end:
        return True
    notes.append(
        Note(
            f"{at}.deceasedDateTime",
            "the Patient's death is not dated within the Encounter's period (or by day "
            "only): the discharge is not read as a death",
        )
    )
    return False


def _same_patient(encounter: Encounter, bundle: BundleIndex, number: str) -> None:
    """Refuse an Encounter whose subject names an NHS number while the Patient its reference
    points at (contained, or in the same transaction) has another: R4 prefers the literal
    reference, the gateway reads the identifier, and which of the two patients is in the bed
    cannot be told. Neither number is repeated in the refusal."""
    try:
        found = resolve(
            encounter.subject, Patient, encounter, bundle, "Encounter.subject.reference"
        )
    except Refused:
        return
    referenced = None if found is None else patient_identity(found, "", [])
    other = (referenced or {}).get("nhs_number")
    if other is not None and normalise_nhs_number(other) != normalise_nhs_number(number):
        raise Refused(
            INVALID_FIELD,
            "Encounter.subject",
            "Encounter.subject.identifier names one NHS number and the Patient "
            "Encounter.subject.reference points at has another: send the patient's identifier "
            "and reference to the same Patient",
        )


def _referenced_local_id(encounter: Encounter, bundle: BundleIndex) -> dict[str, str] | None:
    """The local identifier of the Patient `Encounter.subject.reference` points at, when it is
    contained or in the same transaction and has one; else None (never a refusal: the subject's
    identifier is there to use)."""
    subject = encounter.subject
    try:
        found = resolve(subject, Patient, encounter, bundle, "Encounter.subject.reference")
    except Refused:
        return None
    identity = None if found is None else patient_identity(found, "", [])
    if identity is None or "local_id" not in identity:
        return None
    return {"local_id": identity["local_id"], "id_system": identity["id_system"]}


def patient_identity(found: Patient, where: str, notes: list[Note]) -> dict[str, str] | None:
    """A Patient's NHS number and its first current local identifier with a system, or either.

    Both when both are there: the local id links what the same source sent before the number
    was traced (services/identities.py). A number whose verification status is not 01 (present
    and verified) is not a traced NHS number: the local identifier alone is the patient until
    a version says it was traced, as the HL7 gateway takes the local id alone beside an NHS
    number it cannot use; without a local identifier the number is used as sent. Either way
    `notes` says so, naming the identifier's extension below `where` (the Patient's element)."""
    usable = [
        (index, i) for index, i in enumerate(found.identifier or []) if i.value and i.use != "old"
    ]
    nhs = next(((index, i) for index, i in usable if is_nhs_number_system(i.system)), None)
    local = next(
        (
            {"local_id": str(i.value), "id_system": str(i.system)}
            for _, i in usable
            if i.system and not is_nhs_number_system(i.system)
        ),
        None,
    )
    if nhs is None:
        return local
    index, identifier = nhs
    problem = _unusable(str(identifier.value))
    if problem and local is not None:  # without one, refused by the contract's check
        notes.append(Note(f"{where}.identifier[{index}].value", _local_used(problem)))
        return local
    why = untraced(identifier)
    if why is not None:
        element = f"{where}.identifier[{index}].extension"
        notes.append(Note(element, _as_sent(why) if local is None else _gives_way(why, local)))
    return identity(str(identifier.value), local, why)


def _unusable(value: str) -> str | None:
    """Why an NHS number sent is no usable one (`fails the Modulus 11 check digit`), or None."""
    return nhs_number_problem(normalise_nhs_number(value))


def _local_used(problem: str | None) -> str:
    """The note on an NHS number that is no usable one, the Patient's local identifier used:
    as the HL7 v2 gateway takes PID-3's local id beside an NHS number that fails its check."""
    return f"the NHS number {problem}: the patient is the Patient's local identifier"


def _gives_way(why: str, local: dict[str, str]) -> str:
    """The note on an NHS number not traced, the local identifier `local` used instead."""
    return (
        f"the Patient's NHS number is not a traced one ({why}): the patient is the local "
        f"identifier ({local['id_system']}) alone, linked to the number once a version of "
        "the Patient says 01, number present and verified"
    )


def _as_sent(why: str) -> str:
    """The note on an NHS number not traced, with no local identifier to use instead."""
    return (
        f"the NHS number is not a traced one ({why}) and no local identifier is sent beside "
        "it: the number is used as sent; send the Patient's local identifier too"
    )
