"""A local identifier whose assigning authority (PID-3.4, an HD) is given by its universal id
alone (`^^^&<OID>&ISO`) is issued by that OID, not by the sending facility (each test but the
one where the namespace id is given fails on the old code).

IHE feeds (PIX, PAM) and US ADT feeds name authorities so, e.g. a published A08 whose PID-3 is
`100003^^^&2.16.840.1.113883.3.1009&ISO~011806^^^San Luis Valley Reg Med Center&2.16.840...`.
The old code read the namespace id (CX.4.1) only and fell back to MSH-4: MRNs of two
authorities named by OID alone became one system, so two patients with the same number were one.
"""

from __future__ import annotations

from typing import Any

from flowsight.adapters.hl7.mapping import Mapped, map_message
from flowsight.services.validation import Rejected
from tests.adapters.hl7.profiles import ED_AND_WARDS
from tests.adapters.hl7.test_mapping import message, msh, pv1

ED = frozenset({"lth-ed"})
EVN = "EVN|A01|20261123101500||||20261123101000"
AUTHORITY = "2.16.840.1.113883.3.1009"


def mapped(pid3: str) -> Any:
    return map_message(
        message(msh("A01"), EVN, f"PID|1||{pid3}||Smith^John||19500101|M", pv1(f3="WARD7")),
        organisation="RR8",
        profile=ED_AND_WARDS,
        front_door=ED,
    )


def patient(pid3: str) -> dict[str, str]:
    result = mapped(pid3)
    assert isinstance(result, Mapped), result
    patient_: dict[str, str] = result.event["patient"]
    return patient_


def test_an_authority_given_by_its_oid_alone_is_the_local_ids_system() -> None:
    assert patient(f"100003^^^&{AUTHORITY}&ISO^MR") == {
        "local_id": "100003",
        "id_system": AUTHORITY,
    }


def test_the_same_number_from_two_authorities_named_by_oid_is_two_patients() -> None:
    first = patient("100003^^^&2.16.840.1.113883.3.1009&ISO^MR")
    second = patient("100003^^^&2.16.840.1.113883.3.930&ISO^MR")
    assert first["local_id"] == second["local_id"]
    assert first != second


def test_the_namespace_id_still_names_the_system_when_both_are_given() -> None:
    assert patient(f"100003^^^UCH&{AUTHORITY}&ISO^MR")["id_system"] == "UCH"


def test_an_oid_holding_a_control_character_is_refused_as_an_identifier_is() -> None:
    result = mapped("100003^^^&2.16.840\\X0\\.1.113883&ISO^MR")
    assert isinstance(result, Rejected), result
    assert (result.reason, result.field) == ("hl7_invalid_field", "PID-3.4")
