"""The code systems and extensions the FHIR gateway reads, and the contract value of each code.

NHS Data Dictionary codes come from `flowsight.services.nhs_codes`, the tables the HL7 v2 gateway
reads too; UK Core's CodeSystems (and Care Connect's, before it) carry them under their own
system URIs. HL7 FHIR's own terminology (admit-source, discharge-disposition, v3 ActCode and
ActPriority) and NUBC's are FHIR's alone and live here. `adapters.fhir.codes` reads an
Encounter's coded elements with these tables. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

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
#: NHS England's Care Connect (the STU3 profiles before UK Core, still sent by Transfer of Care,
#: Yorkshire and Humber and other regional records): the same NHS Data Dictionary codes under its
#: own system and extension URIs.
CARE_CONNECT = "https://fhir.hl7.org.uk/STU3/"
ADMISSION_METHOD_CARE_CONNECT = f"{CARE_CONNECT}CodeSystem/CareConnect-AdmissionMethod-1"
SOURCE_OF_ADMISSION_CARE_CONNECT = f"{CARE_CONNECT}CodeSystem/CareConnect-SourceOfAdmission-1"
DISCHARGE_DESTINATION_CARE_CONNECT = f"{CARE_CONNECT}CodeSystem/CareConnect-DischargeDestination-1"
#: Each extension the gateway reads, under UK Core's URL and Care Connect's.
ADMISSION_METHOD_EXTENSIONS = frozenset(
    {
        ADMISSION_METHOD_EXTENSION,
        f"{CARE_CONNECT}StructureDefinition/Extension-CareConnect-AdmissionMethod-1",
    }
)
DISCHARGE_METHOD_EXTENSIONS = frozenset(
    {
        DISCHARGE_METHOD_EXTENSION,
        f"{CARE_CONNECT}StructureDefinition/Extension-CareConnect-DischargeMethod-1",
    }
)
DISCHARGE_METHOD_SYSTEMS = DISCHARGE_METHOD_SYSTEMS | {
    f"{CARE_CONNECT}CodeSystem/CareConnect-DischargeMethod-1"
}
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
#: Encounter.priority: HL7 v3 ActPriority (R4's URI and STU3's), which Oracle Health (Cerner) and
#: others fill on every Encounter where the admitSource tells no method.
HL7_ACT_PRIORITY = (
    "http://terminology.hl7.org/CodeSystem/v3-ActPriority",
    "http://hl7.org/fhir/v3/ActPriority",
)
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


def _nubc(groups: Mapping[str, _Code]) -> dict[tuple[str, str], _Code]:
    """NUBC's two-digit codes under its URIs, each 0N also as N: senders drop the leading zero
    (Da Vinci's own discharge notification sends `1`, home)."""
    table = _tables(NUBC_DISCHARGE_STATUS, groups)
    return {**{(s, c[1:]): v for (s, c), v in table.items() if c.startswith("0")}, **table}


def _in(system: str, codes: Mapping[str, _Code]) -> dict[tuple[str, str], _Code]:
    """An NHS Data Dictionary table under a UK Core system."""
    return {(system, code): value for code, value in codes.items()}


_A, _D = AdmissionMethod, DischargeDestination

#: Admission method, tried in this order: the UK Core extension, admitSource, then class.
ADMISSION_METHOD_CODES = {
    **_in(ADMISSION_METHOD_ENGLAND, nhs_codes.ADMISSION_METHODS),
    **_in(ADMISSION_METHOD_NHS_DD, nhs_codes.ADMISSION_METHODS),
    **_in(ADMISSION_METHOD_CARE_CONNECT, nhs_codes.ADMISSION_METHODS),
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
    **_in(SOURCE_OF_ADMISSION_CARE_CONNECT, nhs_codes.SOURCES_OF_ADMISSION),
    **_in(SOURCE_OF_ADMISSION_WALES, nhs_codes.SOURCES_OF_ADMISSION_WALES),
    **_table(FLOWSIGHT_ADMISSION_METHOD, {method.value: method for method in _A}),
}
_CLASSES = {"EMER": _A.EMERGENCY, "HH": _A.START_OF_CARE}
#: Elective and routine (a non-urgent admission: read after the class, so an emergency class
#: wins); emergency, urgent, stat and as soon as possible. Other priorities (callback, pre-op,
#: as needed...) tell no admission method.
PRIORITY_CODES = _tables(HL7_ACT_PRIORITY, {"EL R": _A.ELECTIVE, "EM UR S A": _A.EMERGENCY})
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
    **_in(DISCHARGE_DESTINATION_CARE_CONNECT, nhs_codes.DISCHARGE_DESTINATIONS),
    **_in(DISCHARGE_DESTINATION_WALES, nhs_codes.DISCHARGE_DESTINATIONS_WALES),
    **_table(HL7_DISCHARGE_DISPOSITION, _DISPOSITIONS),
    **_table(HL7_DISCHARGE_DISPOSITION_STU3, _DISPOSITIONS),
    **_nubc(_NUBC_DISPOSITIONS),
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
    **_nubc(_NUBC_OUTCOMES),
}

#: The UK Core (ECDS) EMERGENCY CARE DISCHARGE STATUS on an emergency department's Encounter:
#: the codes saying the patient left before their assessment or treatment was completed, which
#: the destination (home, say) does not tell apart from a completed attendance.
EMERGENCY_CARE_DISCHARGE_STATUS_EXTENSION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EmergencyCareDischargeStatus"
)
EMERGENCY_CARE_DISCHARGE_STATUS_EXTENSIONS = frozenset(
    {
        EMERGENCY_CARE_DISCHARGE_STATUS_EXTENSION,
        f"{CARE_CONNECT}StructureDefinition/Extension-CareConnect-EmergencyCareDischargeStatus-1",
    }
)
EMERGENCY_CARE_OUTCOME_WALES = (
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-EmergencyCareOutcomeOfAttendanceWales"
)
LEFT_BEFORE_TREATMENT_CODES = {
    **_table(SNOMED_CT, {"1066301000000103 1066311000000101 1066321000000107": _O.LEFT}),
    **_table(EMERGENCY_CARE_OUTCOME_WALES, {"09": _O.LEFT}),
}
