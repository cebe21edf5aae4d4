"""The coded elements of an Encounter the FHIR gateway reads, and the contract value of each code.

NHS Data Dictionary codes come from `flowsight.services.nhs_codes`, the tables the HL7 v2 gateway
reads too; the UK Core CodeSystems carry them under their own system URIs. HL7 FHIR's own
terminology (admit-source, discharge-disposition, v3 ActCode) is FHIR's alone and lives here.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.encounter import Encounter

from flowsight.adapters.fhir.elements import Note
from flowsight.schemas.codes import AdmissionMethod, AttendanceOutcome, DischargeDestination
from flowsight.services import nhs_codes

ADMISSION_METHOD_EXTENSION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AdmissionMethod"
)
ADMISSION_METHOD_ENGLAND = "https://fhir.hl7.org.uk/CodeSystem/UKCore-AdmissionMethodEngland"
SOURCE_OF_ADMISSION_ENGLAND = "https://fhir.hl7.org.uk/CodeSystem/UKCore-SourceOfAdmissionEngland"
DISCHARGE_DESTINATION_ENGLAND = (
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeDestinationEngland"
)
#: UK Core's value sets (UKCore-AdmissionMethod, -SourceOfAdmission, -DischargeDestination) are
#: England's codes and Wales's, each under its own system; Wales's are not all England's.
ADMISSION_METHOD_WALES = "https://fhir.hl7.org.uk/CodeSystem/UKCore-AdmissionMethodWales"
SOURCE_OF_ADMISSION_WALES = "https://fhir.hl7.org.uk/CodeSystem/UKCore-SourceOfAdmissionWales"
DISCHARGE_DESTINATION_WALES = "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeDestinationWales"
DISCHARGE_METHOD_EXTENSION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DischargeMethod"
)
#: The NHS Data Dictionary DISCHARGE METHOD under UK Core's England, Wales and STU1 systems.
DISCHARGE_METHOD_SYSTEMS = frozenset(
    {
        "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeMethodEngland",
        "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeMethodWales",
        "https://fhir.hl7.org.uk/CodeSystem/NHSDataModelAndDictionary-DischargeMethod",
    }
)
#: The same NHS codes under the system URI of UK Core's first (STU) releases, still in its examples.
DISCHARGE_DESTINATION_UK_CORE_STU = "https://fhir.nhs.uk/R4/CodeSystem/UKCore-DischargeDestination"
#: The NHS Data Dictionary tables under the system URIs of UK Core STU1, still sent (the NHS
#: England IOPS examples carry them).
ADMISSION_METHOD_NHS_DD = (
    "https://fhir.hl7.org.uk/CodeSystem/NHSDataModelAndDictionary-AdmissionMethod"
)
DISCHARGE_DESTINATION_NHS_DD = (
    "https://fhir.hl7.org.uk/CodeSystem/NHSDataModelAndDictionary-DischargeDestination"
)
SNOMED_CT = "http://snomed.info/sct"
HL7_ADMIT_SOURCE = "http://terminology.hl7.org/CodeSystem/admit-source"
HL7_DISCHARGE_DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
HL7_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
#: The same HL7 code systems under their STU3 URIs, still sent by feeds upgraded from STU3: read
#: as the R4 ones (STU3's codes are R4's, R4 adding only alt-home to the dispositions).
HL7_ACT_CODE_STU3 = "http://hl7.org/fhir/v3/ActCode"
HL7_ADMIT_SOURCE_STU3 = "http://hl7.org/fhir/admit-source"
HL7_DISCHARGE_DISPOSITION_STU3 = "http://hl7.org/fhir/discharge-disposition"
#: NUBC's Patient Discharge Status (UB-04 form locator 17), which US Core, Synthea and Da Vinci
#: send, under the three URIs in use: the current code system, the one US Core's examples and
#: Synthea send, and THO's for the UB-92 codes (the same two digits).
NUBC_DISCHARGE_STATUS = (
    "https://www.nubc.org/CodeSystem/PatDischargeStatus",
    "http://www.nubc.org/patient-discharge",
    "http://terminology.hl7.org/CodeSystem/nubc-UB92",
)
#: Senders may name a contract value directly, with these systems.
FLOWSIGHT_ADMISSION_METHOD = "urn:flowsight:admission-method"
FLOWSIGHT_DISCHARGE_DESTINATION = "urn:flowsight:discharge-destination"

_Code = TypeVar("_Code")


def _table(system: str, groups: Mapping[str, _Code]) -> dict[tuple[str, str], _Code]:
    """A lookup by (system, code) from `{"space separated codes": value}`."""
    return {(system, code): value for codes, value in groups.items() for code in codes.split()}


def _tables(systems: tuple[str, ...], groups: Mapping[str, _Code]) -> dict[tuple[str, str], _Code]:
    """`_table` of each of `systems`, one code system under several URIs."""
    return {key: value for system in systems for key, value in _table(system, groups).items()}


def _in(system: str, codes: Mapping[str, _Code]) -> dict[tuple[str, str], _Code]:
    """An NHS Data Dictionary table under a UK Core system."""
    return {(system, code): value for code, value in codes.items()}


_A, _D = AdmissionMethod, DischargeDestination

#: Admission method, tried in this order: the UK Core extension, admitSource, then class.
ADMISSION_METHOD_CODES = {
    **_in(ADMISSION_METHOD_ENGLAND, nhs_codes.ADMISSION_METHODS),
    **_in(ADMISSION_METHOD_NHS_DD, nhs_codes.ADMISSION_METHODS),
    **_in(ADMISSION_METHOD_WALES, nhs_codes.ADMISSION_METHODS_WALES),
    **_table(FLOWSIGHT_ADMISSION_METHOD, {method.value: method for method in _A}),
}
_ADMIT_SOURCES = {
    "hosp-trans nursing psych rehab": _A.TRANSFER_IN,
    "emd gp": _A.EMERGENCY,
    "outp mp": _A.ELECTIVE,
}
ADMIT_SOURCE_CODES = {
    **_table(HL7_ADMIT_SOURCE, _ADMIT_SOURCES),
    **_table(HL7_ADMIT_SOURCE_STU3, _ADMIT_SOURCES),
    **_in(SOURCE_OF_ADMISSION_ENGLAND, nhs_codes.SOURCES_OF_ADMISSION),
    **_in(SOURCE_OF_ADMISSION_WALES, nhs_codes.SOURCES_OF_ADMISSION_WALES),
    **_table(FLOWSIGHT_ADMISSION_METHOD, {method.value: method for method in _A}),
}
_CLASSES = {"EMER": _A.EMERGENCY, "HH": _A.START_OF_CARE}
CLASS_CODES = {**_table(HL7_ACT_CODE, _CLASSES), **_table(HL7_ACT_CODE_STU3, _CLASSES)}

_DISPOSITIONS = {
    "home": _D.USUAL_RESIDENCE,
    "other-hcf psy": _D.OTHER_HOSPITAL,
    "hosp": _D.HOSPICE,
    "long snf": _D.CARE_HOME_NURSING,
    "rehab": _D.SHORT_TERM_BED,
    "exp": _D.DIED,
    "alt-home aadvice oth": _D.OTHER,
}
# NUBC's codes; 81 to 95 are 01 to 70 with a readmission planned. 30 (still a patient) and the
# hospice claims' deaths elsewhere than at home or a facility are read as their words say.
_NUBC_DISPOSITIONS = {
    "01 81": _D.USUAL_RESIDENCE,
    "06 86": _D.USUAL_RESIDENCE_WITH_SUPPORT,  # home with an organised home health service
    "02 05 43 63 65 66 82 85 88 91 93 94": _D.OTHER_HOSPITAL,
    "03 64 83 92": _D.CARE_HOME_NURSING,  # skilled nursing, or Medicaid nursing, facility
    "04 84": _D.CARE_HOME_RESIDENTIAL,  # intermediate care facility: custodial care
    "61 62 89 90": _D.SHORT_TERM_BED,  # a swing bed, an inpatient rehabilitation facility
    "50 51": _D.HOSPICE,
    "20 40 41 42": _D.DIED,
    "07 09 21 69 70 87 95": _D.OTHER,  # against advice, admitted here, custody, elsewhere
}
#: Discharge destination (code list 8.3) from Encounter.hospitalization.dischargeDisposition.
DISCHARGE_DESTINATION_CODES = {
    **_in(DISCHARGE_DESTINATION_ENGLAND, nhs_codes.DISCHARGE_DESTINATIONS),
    **_in(DISCHARGE_DESTINATION_UK_CORE_STU, nhs_codes.DISCHARGE_DESTINATIONS),
    **_in(DISCHARGE_DESTINATION_NHS_DD, nhs_codes.DISCHARGE_DESTINATIONS),
    **_in(DISCHARGE_DESTINATION_WALES, nhs_codes.DISCHARGE_DESTINATIONS_WALES),
    **_table(HL7_DISCHARGE_DISPOSITION, _DISPOSITIONS),
    **_table(HL7_DISCHARGE_DISPOSITION_STU3, _DISPOSITIONS),
    **_tables(NUBC_DISCHARGE_STATUS, _NUBC_DISPOSITIONS),
    # SNOMED CT's discharge procedures, as the Emergency Care Data Set's destinations and the
    # HL7 FHIR examples ("Discharge to home" on a finished inpatient Encounter) send them.
    **_table(
        SNOMED_CT,
        {
            "306689006": _D.USUAL_RESIDENCE,
            "306691003": _D.CARE_HOME_RESIDENTIAL,
            "306694006": _D.CARE_HOME_NURSING,
            "19712007": _D.OTHER_HOSPITAL,
            "183919006": _D.HOSPICE,
            "305398007": _D.DIED,
        },
    ),
    **_table(FLOWSIGHT_DISCHARGE_DESTINATION, {value.value: value for value in _D}),
}

_O = AttendanceOutcome
_NUBC_OUTCOMES = {
    "09": _O.ADMITTED,
    "07": _O.LEFT,  # left against medical advice
    "01 81 06 86 03 64 83 92 04 84 21 87 20 40 41 42": _O.DISCHARGED,
    "02 05 43 63 65 66 82 85 88 91 93 94 50 51 61 62 89 90 69 70 95": _O.TRANSFERRED,
}
#: Where an emergency department's patient went (Encounter.hospitalization.dischargeDisposition):
#: the Emergency Care Data Set's EMERGENCY CARE DISCHARGE DESTINATION (SNOMED CT), which UK ED
#: systems send. A ward, short-stay ward or critical care unit of the hospital is an admission;
#: another hospital or a hospice a transfer; home, a care home, custody, same-day emergency care,
#: hospital at home and the mortuary leave the department without an admission.
ATTENDANCE_OUTCOME_CODES = {
    **_table(
        SNOMED_CT,
        {
            "306706006 1066331000000109 1066361000000104 1066371000000106 1066381000000108 "
            "1066391000000105 1066401000000108": _O.ADMITTED,
            "19712007 183919006": _O.TRANSFERRED,
            "306689006 306691003 306694006 306705005 50861005 1066341000000100 "
            "1066351000000102 305398007": _O.DISCHARGED,
        },
    ),
    **_table(HL7_DISCHARGE_DISPOSITION, {"aadvice": _O.LEFT}),
    **_table(HL7_DISCHARGE_DISPOSITION_STU3, {"aadvice": _O.LEFT}),
    # NUBC: a care home, custody or the mortuary as ECDS's; another hospital, a hospice, a
    # rehabilitation facility or another institution a transfer; 09, admitted to this hospital.
    **_tables(NUBC_DISCHARGE_STATUS, _NUBC_OUTCOMES),
}

#: The UK Core (ECDS) EMERGENCY CARE DISCHARGE STATUS on an emergency department's Encounter:
#: the codes saying the patient left before their assessment or treatment was completed, which
#: the destination (home, say) does not tell apart from a completed attendance.
EMERGENCY_CARE_DISCHARGE_STATUS_EXTENSION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EmergencyCareDischargeStatus"
)
EMERGENCY_CARE_OUTCOME_WALES = (
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-EmergencyCareOutcomeOfAttendanceWales"
)
LEFT_BEFORE_TREATMENT_CODES = {
    **_table(SNOMED_CT, {"1066301000000103 1066311000000101 1066321000000107": _O.LEFT}),
    **_table(EMERGENCY_CARE_OUTCOME_WALES, {"09": _O.LEFT}),
}

_DISPOSITION = "Encounter.hospitalization.dischargeDisposition"
_ADMIT_SOURCE = "Encounter.hospitalization.admitSource"
_DISCHARGE_STATUS = "Encounter.extension"
_NONE: Mapping[str, Any] = {}


def admission_method(
    encounter: Encounter, notes: list[Note], vendor: Mapping[str, AdmissionMethod] = _NONE
) -> tuple[AdmissionMethod, str]:
    """The admission method and the element it was read from: the UK Core extension, then
    admitSource, then class; `emergency`, with a note, when none tells it (the patient is in a
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
            if extension.url == ADMISSION_METHOD_EXTENSION:
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
    # Refusing would leave the bed looking free for the whole stay; the arrival is what counts.
    unknown = f" for {'; '.join(_said(concept) for concept in said)}" if said else ""
    notes.append(
        Note(
            _ADMIT_SOURCE,
            f"no admission method{unknown}: taken as emergency; give the UK Core "
            "AdmissionMethod extension, a hospitalization.admitSource meaning a transfer, "
            "emergency or elective admission, class EMER or HH, or map the code in the mapping "
            "profile",
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
        if extension.url == DISCHARGE_METHOD_EXTENSION and extension.valueCodeableConcept
        for coding in extension.valueCodeableConcept.coding or []
    )


def attendance_outcome(encounter: Encounter, notes: list[Note]) -> tuple[AttendanceOutcome, str]:
    """Admitted, transferred to another hospital, left before treatment, or discharged: `left`
    when the UK Core EmergencyCareDischargeStatus says the patient left before assessment or
    treatment was completed; else by the ECDS and HL7 codes of the disposition, then the
    discharge destination tables (another hospital is a transfer); discharged when there is no
    disposition, and discharged with a note naming the code when no table knows it."""
    for extension in encounter.extension or []:
        if extension.url == EMERGENCY_CARE_DISCHARGE_STATUS_EXTENSION:
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
