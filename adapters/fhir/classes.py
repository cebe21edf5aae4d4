"""What an Encounter's class says for flow: HL7 v3 ActCode's, HL7 v2 table 0004's (as the HL7
gateway reads PV1-2), or a vendor's through the sender's mapping profile; whether the Encounter
holds a bed at all. Pure: no I/O."""

from __future__ import annotations

import re

from fhir.resources.R4B.encounter import Encounter, EncounterHospitalization

from flowsight.adapters.fhir.elements import Note
from flowsight.adapters.fhir.terminology import HL7_ACT_CODE, HL7_ACT_CODE_STU3
from flowsight.adapters.profile import STANDARD_PATIENT_CLASSES, MappingProfile, PatientClass

#: Encounter classes (HL7 v3 ActCode) that hold no bed: an ambulatory (outpatient) visit, a
#: virtual one, one in the field. As the HL7 gateway takes an arrival of class O or R, such an
#: Encounter without admission details publishes nothing, wherever it is, unless its first
#: location is an emergency department's: that is an attendance there. (Dated, at a ward a rule
#: places, it retracts an earlier version's inpatient stay: `mapping._reclassified`.) HH (home
#: health) is a start of care, and PRENC (pre-admission) is what converters make of an HL7 A01
#: of class P, which admits: neither is here.
NO_BED_CLASSES = frozenset({"AMB", "VR", "FLD"})
#: HL7 v2 table 0004 (patient class, PV1-2) as an Encounter.class system: Oracle Health (Cerner)
#: Millennium sends it where no v3 code is mapped.
HL7_V2_PATIENT_CLASS = "http://terminology.hl7.org/CodeSystem/v2-0004"
#: Table 0004's classes as the v3 ActCode class they are, where there is one.
_V2_AS_ACT = {
    PatientClass.EMERGENCY: "EMER",
    PatientClass.INPATIENT: "IMP",
    PatientClass.OBSTETRICS: "IMP",
    PatientClass.OUTPATIENT: "AMB",
    PatientClass.RECURRING: "AMB",
    PatientClass.PREADMIT: "PRENC",
}
#: What a sender's class says that no admission detail overrides: a clinic visit.
_NEVER_ADMITTED = (PatientClass.OUTPATIENT, PatientClass.RECURRING)


def class_without_a_bed(
    encounter: Encounter, profile: MappingProfile | None, notes: list[Note]
) -> str | None:
    """The Encounter's class code when it holds no bed and the Encounter gives no details of an
    admission (`hospitalization` beyond a vendor's extensions): with them, the sender says the
    patient was admitted (FHIR's own day-surgery examples are class AMB). A class of HL7 v3
    ActCode holds no bed when it is one of `NO_BED_CLASSES`; one of a vendor's system (Epic's
    `urn:oid:…` codes: 4 is an office visit) when the sender's profile's `codes.patient_class`
    makes it an outpatient or recurring one. Any other vendor class is read as a stay, with a
    warning naming it: an office visit read as an admission never ends.

    Two classes hold no bed whatever `hospitalization` holds, as the HL7 gateway reads PV1-2: a
    code the profile's `codes.patient_class` names outpatient or recurring (a code listed there
    wins), and table 0004's O and R. Oracle Health (Cerner) fills `hospitalization` on its clinic
    visits with codes that say nothing (admit source `other`, disposition `home`): read as an
    admission, a cardiology clinic patient lay in a ward bed overnight."""
    coding = encounter.class_fhir
    meaning = profile.codes.patient_class.get(coding.code or "") if profile else None
    if meaning in _NEVER_ADMITTED or (
        coding.system == HL7_V2_PATIENT_CLASS
        and STANDARD_PATIENT_CLASSES.get(coding.code or "") in _NEVER_ADMITTED
    ):
        return str(coding.code)
    if _tells_of_an_admission(encounter.hospitalization):
        return None
    code = act_class(encounter)
    if code is not None:
        return code if code in NO_BED_CLASSES else None
    if meaning is None:
        named = f"{coding.system or 'no system'}|{coding.code or ''}"
        notes.append(
            Note(
                "Encounter.class",
                f"class {named} is no HL7 v3 ActCode code and the mapping profile's "
                "codes.patient_class does not name it: read as a stay in beds; map it "
                "(an outpatient or recurring class holds no bed)",
            )
        )
    return None


def _tells_of_an_admission(hospitalization: EncounterHospitalization | None) -> bool:
    """Whether `hospitalization` says anything of an admission: an element of its own, or an
    NHS extension (UK Core's admission method is one). Epic sends one on office visits holding
    only an extension of its own."""
    if hospitalization is None:
        return False
    told = hospitalization.model_dump(exclude_none=True)
    if set(told) - {"id", "extension", "modifierExtension"}:
        return True
    extensions = [*(hospitalization.extension or []), *(hospitalization.modifierExtension or [])]
    return any(_NHS_EXTENSION.search(extension.url or "") for extension in extensions)


#: Where NHS and UK Core extensions are defined.
_NHS_EXTENSION = re.compile(r"^https?://(fhir\.hl7\.org\.uk|fhir\.nhs\.uk)/", re.IGNORECASE)


def act_class(encounter: Encounter) -> str | None:
    """The Encounter's class as a code of HL7 v3 ActCode (R4's or STU3's system), or as the one
    an HL7 v2 table 0004 class is (E is EMER: an emergency department's attendance)."""
    coding = encounter.class_fhir
    if coding.system in (HL7_ACT_CODE, HL7_ACT_CODE_STU3):
        return str(coding.code) if coding.code is not None else None
    if coding.system == HL7_V2_PATIENT_CLASS:
        meaning = STANDARD_PATIENT_CLASSES.get(coding.code or "")
        return _V2_AS_ACT.get(meaning) if meaning is not None else None
    return None
