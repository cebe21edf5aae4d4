"""An Encounter's coded elements as the contract's values: its admission method, destination
and attendance outcome, read with the tables of `adapters.fhir.terminology`. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.encounter import Encounter

from flowsight.adapters.fhir.elements import Note
from flowsight.adapters.fhir.terminology import (
    ADMISSION_METHOD_CODES,
    ADMISSION_METHOD_EXTENSIONS,
    ADMIT_SOURCE_CODES,
    ATTENDANCE_OUTCOME_CODES,
    CLASS_CODES,
    DISCHARGE_DESTINATION_CODES,
    DISCHARGE_METHOD_EXTENSIONS,
    DISCHARGE_METHOD_SYSTEMS,
    EMERGENCY_CARE_DISCHARGE_STATUS_EXTENSIONS,
    FLOWSIGHT_DISCHARGE_DESTINATION,
    HL7_DISCHARGE_DISPOSITION,
    LEFT_BEFORE_TREATMENT_CODES,
    PRIORITY_CODES,
    SNOMED_CT,
)
from flowsight.schemas.codes import AdmissionMethod, AttendanceOutcome, DischargeDestination
from flowsight.services import nhs_codes

_Code = TypeVar("_Code")

_DISPOSITION = "Encounter.hospitalization.dischargeDisposition"
_ADMIT_SOURCE = "Encounter.hospitalization.admitSource"
_DISCHARGE_STATUS = "Encounter.extension"
_NONE: Mapping[str, Any] = {}


def admission_method(
    encounter: Encounter, notes: list[Note], vendor: Mapping[str, AdmissionMethod] = _NONE
) -> tuple[AdmissionMethod, str]:
    """The admission method and the element it was read from: the UK Core (or Care Connect)
    extension, then admitSource, then class (EMER, HH), then priority (ActPriority: elective or
    emergency); `emergency`, with a note, when none tells it (the patient is in a
    bed, which is what flow needs; the HL7 v2 gateway does the same for PV1-4).

    `vendor` is the sender's mapping profile's admission method codes.
    """
    hospitalization = encounter.hospitalization
    said: list[CodeableConcept] = []
    # UK Core puts the extension on Encounter.hospitalization; some senders put it on Encounter.
    for extensions, element in (
        ((hospitalization.extension or []) if hospitalization else [], "hospitalization.extension"),
        (encounter.extension or [], "extension"),
    ):
        for extension in extensions:
            if extension.url in ADMISSION_METHOD_EXTENSIONS:
                method = lookup(extension.valueCodeableConcept, ADMISSION_METHOD_CODES, vendor)
                if method is not None:
                    return method, f"Encounter.{element}"
                said += [extension.valueCodeableConcept] if extension.valueCodeableConcept else []
    if hospitalization is not None and hospitalization.admitSource is not None:
        method = lookup(hospitalization.admitSource, ADMIT_SOURCE_CODES, vendor)
        if method is not None:
            return method, _ADMIT_SOURCE
        said.append(hospitalization.admitSource)
    method = CLASS_CODES.get((encounter.class_fhir.system or "", encounter.class_fhir.code or ""))
    if method is not None:
        return method, "Encounter.class"
    if encounter.priority is not None:
        method = lookup(encounter.priority, PRIORITY_CODES, vendor)
        if method is not None:
            return method, "Encounter.priority"
        said.append(encounter.priority)
    # Refusing would leave the bed looking free for the whole stay; the arrival is what counts.
    unknown = f" for {'; '.join(_said(concept) for concept in said)}" if said else ""
    notes.append(
        Note(
            _ADMIT_SOURCE,
            f"no admission method{unknown}: taken as emergency; give the UK Core "
            "AdmissionMethod extension, a hospitalization.admitSource meaning a transfer, "
            "emergency or elective admission, an Encounter.priority of v3 ActPriority (EL, EM), "
            "class EMER or HH, or map the code in the mapping profile",
        )
    )
    return AdmissionMethod.EMERGENCY, _ADMIT_SOURCE


def destination(
    encounter: Encounter,
    notes: list[Note],
    vendor: Mapping[str, DischargeDestination] = _NONE,
    *,
    died: bool = False,
) -> DischargeDestination:
    """Where a finished Encounter's patient went: the sender's `vendor` codes, then the standard
    tables; `other`, with a note, when the disposition is missing or no table knows it (the
    patient has left, which is what flow needs; the HL7 v2 gateway does the same).

    A UK Core discharge method saying the patient died (4) or was stillborn (5) is `died`
    whatever the disposition says, as PV1-36 is for the HL7 v2 gateway: the discharge
    destination of a death is often left at the usual residence or not filled in at all. So
    is one the caller found `died` (the Patient's `deceased[x]`: `patient.died_in`). A
    disposition no table knows whose text (or a coding's display) plainly names a death or the
    usual residence is that, as the HL7 v2 gateway reads PV1-36's text (`nhs_codes.worded`).
    """
    if died or _died(encounter):
        return DischargeDestination.DIED
    disposition = (
        encounter.hospitalization.dischargeDisposition if encounter.hospitalization else None
    )
    if disposition is None:
        notes.append(Note(_DISPOSITION, f"no {_DISPOSITION}: the destination is other"))
        return DischargeDestination.OTHER
    found = lookup(disposition, DISCHARGE_DESTINATION_CODES, vendor) or _worded(disposition)
    if found is None:
        notes.append(
            Note(
                _DISPOSITION,
                f"no discharge destination for {_said(disposition)}: the "
                "destination is other; use the UK Core DischargeDestinationEngland codes, "
                f"{HL7_DISCHARGE_DISPOSITION}, {FLOWSIGHT_DISCHARGE_DESTINATION} with a code "
                "list 8.3 value, or map the code in the mapping profile",
            )
        )
        return DischargeDestination.OTHER
    return found


def _worded(disposition: CodeableConcept) -> DischargeDestination | None:
    """The destination the disposition's text, else a coding's display, names plainly."""
    texts = [disposition.text, *(coding.display for coding in disposition.coding or [])]
    return next((found for said in texts if said and (found := nhs_codes.worded(said))), None)


def _died(encounter: Encounter) -> bool:
    """Whether the UK Core DischargeMethod extension (on Encounter, where UK Core puts it, or on
    hospitalization) says the patient died or was stillborn."""
    hospitalization = encounter.hospitalization
    extensions = [
        *(encounter.extension or []),
        *((hospitalization.extension or []) if hospitalization else []),
    ]
    return any(
        coding.system in DISCHARGE_METHOD_SYSTEMS
        and coding.code in nhs_codes.DISCHARGE_METHODS_DIED
        for extension in extensions
        if extension.url in DISCHARGE_METHOD_EXTENSIONS and extension.valueCodeableConcept
        for coding in extension.valueCodeableConcept.coding or []
    )


def attendance_outcome(encounter: Encounter, notes: list[Note]) -> tuple[AttendanceOutcome, str]:
    """Admitted, transferred to another hospital, left before treatment, or discharged: `left`
    when the UK Core EmergencyCareDischargeStatus says the patient left before assessment or
    treatment was completed; else by the ECDS and HL7 codes of the disposition, then the
    discharge destination tables (another hospital is a transfer); discharged when there is no
    disposition, and discharged with a note naming the code when no table knows it."""
    for extension in encounter.extension or []:
        if extension.url in EMERGENCY_CARE_DISCHARGE_STATUS_EXTENSIONS:
            if lookup(extension.valueCodeableConcept, LEFT_BEFORE_TREATMENT_CODES) is not None:
                return AttendanceOutcome.LEFT, _DISCHARGE_STATUS
    disposition = (
        encounter.hospitalization.dischargeDisposition if encounter.hospitalization else None
    )
    if disposition is None:
        return AttendanceOutcome.DISCHARGED, _DISPOSITION
    outcome = lookup(disposition, ATTENDANCE_OUTCOME_CODES)
    if outcome is not None:
        return outcome, _DISPOSITION
    place = lookup(disposition, DISCHARGE_DESTINATION_CODES)
    if place == DischargeDestination.OTHER_HOSPITAL:
        return AttendanceOutcome.TRANSFERRED, _DISPOSITION
    if place is None:
        notes.append(
            Note(
                _DISPOSITION,
                f"no attendance outcome for {_said(disposition)}: counted as "
                f"discharged; use the ECDS discharge destination codes ({SNOMED_CT}) or "
                f"{HL7_DISCHARGE_DISPOSITION}",
            )
        )
    return AttendanceOutcome.DISCHARGED, _DISPOSITION


def _said(concept: CodeableConcept) -> str:
    """A concept as a note names it: its codings, else its text."""
    codes = ", ".join(f"{c.system}|{c.code}" for c in concept.coding or [])
    return codes or repr(concept.text or "")


def lookup(
    concept: CodeableConcept | None,
    table: Mapping[tuple[str, str], _Code],
    vendor: Mapping[str, _Code] | None = None,
) -> _Code | None:
    """The value of the first coding of `concept` that `table` knows; a code of the sender's
    mapping profile (`vendor`, by code whatever its system) wins over the standard tables."""
    codings = (concept.coding or []) if concept else []
    for coding in codings if vendor else []:
        found = vendor.get(coding.code or "") if vendor else None
        if found is not None:
            return found
    for coding in codings:
        found = table.get((coding.system or "", coding.code or ""))
        if found is not None:
            return found
    return None
