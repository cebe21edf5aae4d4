"""NHS Data Dictionary codes the gateways read, and the contract value each one means.

One table per Data Dictionary data element, shared by the HL7 v2 gateway (codes in PV1-4, PV1-36,
PV1-37) and the FHIR gateway (the UK Core CodeSystems *AdmissionMethodEngland*,
*SourceOfAdmissionEngland* and *DischargeDestinationEngland*, which carry the same codes), so a
sender gets the same event whichever way in it uses. NHS Wales's tables (UK Core's *...Wales*
CodeSystems) are apart: some of their numbers mean other things. Codes of a gateway's own
notation (HL7 table 0007, the HL7 FHIR admit-source and discharge-disposition systems) stay in
that gateway.
Plain data: no I/O.
"""

from __future__ import annotations

import re
from typing import TypeVar

from flowsight.schemas.codes import AdmissionMethod, DischargeDestination

_Value = TypeVar("_Value")


def _codes(groups: dict[str, _Value]) -> dict[str, _Value]:
    """`{"space separated codes": value}` as one entry per code."""
    return {code: value for codes, value in groups.items() for code in codes.split()}


_A, _D = AdmissionMethod, DischargeDestination

#: ADMISSION METHOD (Hospital Provider Spell). Labour and birth admissions (31, 32, 82, 83) count
#: as emergencies: unplanned, not from a waiting list. 98 and 99 (not applicable, not known) are
#: absent on purpose: they decide nothing.
ADMISSION_METHODS: dict[str, AdmissionMethod] = _codes(
    {
        "11 12 13": _A.ELECTIVE,
        "21 22 23 24 25 28 2A 2C 2D": _A.EMERGENCY,
        "31 32 82 83": _A.EMERGENCY,
        "2B 81": _A.TRANSFER_IN,
    }
)

#: SOURCE OF ADMISSION codes that mean another hospital provider (NHS or not): a transfer in.
SOURCES_OF_ADMISSION: dict[str, AdmissionMethod] = _codes({"49 50 51 52 53 87": _A.TRANSFER_IN})

#: DISCHARGE DESTINATION (Hospital Provider Spell) as contract code list 8.3. 48 is a
#: high-security psychiatric hospital: a hospital. 98 and 99 (not applicable, not known) are
#: `other`: the patient has left, which is what counts.
DISCHARGE_DESTINATIONS: dict[str, DischargeDestination] = _codes(
    {
        "19": _D.USUAL_RESIDENCE,
        "48 49 50 51 52 53 84 87": _D.OTHER_HOSPITAL,
        "54": _D.CARE_HOME_NURSING,
        "65 85": _D.CARE_HOME_RESIDENTIAL,
        "79": _D.DIED,
        "88": _D.HOSPICE,
        "29 30 37 38 66 98 99": _D.OTHER,
    }
)

#: The NHS Wales Data Dictionary's ADMISSION METHOD, which UK Core carries as
#: UKCore-AdmissionMethodWales: England's codes less 2A-2D and 2B, plus 27 (an emergency admission
#: through NHS Direct).
ADMISSION_METHODS_WALES: dict[str, AdmissionMethod] = _codes(
    {
        "11 12 13": _A.ELECTIVE,
        "21 22 23 24 25 27 28": _A.EMERGENCY,
        "31 32 82 83": _A.EMERGENCY,
        "81": _A.TRANSFER_IN,
    }
)

#: NHS Wales SOURCE OF ADMISSION codes that mean another hospital (UKCore-SourceOfAdmissionWales):
#: another health board or trust (51), a non-NHS hospital (87).
SOURCES_OF_ADMISSION_WALES: dict[str, AdmissionMethod] = _codes({"51 87": _A.TRANSFER_IN})

#: NHS Wales DISCHARGE DESTINATION (UKCore-DischargeDestinationWales), whose codes are not
#: England's: 20 is a permanent and 21 a temporary place in a nursing or residential home (the
#: contract's short-term bed), 23 a hospice, 51 and 55 another health board's or the same
#: board's hospital, 86 a non-NHS nursing home.
DISCHARGE_DESTINATIONS_WALES: dict[str, DischargeDestination] = _codes(
    {
        "19": _D.USUAL_RESIDENCE,
        "20 65": _D.CARE_HOME_RESIDENTIAL,
        "21": _D.SHORT_TERM_BED,
        "86": _D.CARE_HOME_NURSING,
        "51 55 87": _D.OTHER_HOSPITAL,
        "23": _D.HOSPICE,
        "79": _D.DIED,
        "22 29 39 66 98": _D.OTHER,
    }
)

#: DISCHARGE METHOD codes saying the patient died (4) or was stillborn (5).
DISCHARGE_METHODS_DIED = frozenset({"4", "5"})
#: DISCHARGE METHOD codes of a patient who discharged themself: 6, or 7 by a relative or
#: advocate, the two the Data Dictionary split its 2 into (2 is still sent).
DISCHARGE_METHODS_SELF = frozenset({"2", "6", "7"})
#: The other DISCHARGE METHOD codes: they say how, not where to, so they name no destination.
DISCHARGE_METHODS_ALIVE = frozenset({"1", "2", "3", "6", "7", "8", "9"})


#: The first word (after `PATIENT`) of a disposition's text saying the patient died (HL7 PV1-36,
#: PV1-37; a FHIR dischargeDisposition's text or display).
_DEATH_WORDS = frozenset({"DEAD", "DIED", "DECEASED", "DEATH", "EXPIRED", "STILLBIRTH"})
#: Whole texts (their words) naming the usual residence, HL7 table 0112's display of 01 among them.
_HOME_TEXTS = frozenset(
    {
        "HOME",
        "HOME SELF CARE",
        "USUAL RESIDENCE",
        "USUAL PLACE OF RESIDENCE",
        "DISCHARGED TO HOME OR SELF CARE ROUTINE DISCHARGE",
    }
)
_NOT_A_LETTER = re.compile(r"[^A-Z]+")


def worded(value: str) -> DischargeDestination | None:
    """The destination a disposition's text names plainly: `died` when its first word (after
    `patient`) is one of death's, `usual_residence` when it is one of `_HOME_TEXTS`; else None."""
    words = [word for word in _NOT_A_LETTER.split(value.upper()) if word]
    first = words[1:2] if words[:1] == ["PATIENT"] else words[:1]
    if first and first[0] in _DEATH_WORDS:
        return DischargeDestination.DIED
    if " ".join(words) in _HOME_TEXTS:
        return DischargeDestination.USUAL_RESIDENCE
    return None
