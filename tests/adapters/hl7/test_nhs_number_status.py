"""An NHS number PID-32 says was not traced is not the patient's NHS number yet, as the FHIR
gateway reads UK Core's verification status. NHS England's HL7 v2 ADT specification sends the NHS
Number Status Indicator Code in PID-32 (table 0445: `NSTS01` number present and verified to
`NSTS08`). Beside a local id, an untraced number gives way to it (linked once a message says
NSTS01); alone it is used as sent. Either way the message is acknowledged AA with a warning
naming PID-32."""

from __future__ import annotations

from typing import Any

import pytest

from flowsight.adapters.hl7.check import Outcome
from tests.adapters.fhir.test_nhs_number_verification import nhs_number
from tests.adapters.fhir.test_nhs_number_verification import sent as sent_over_fhir
from tests.adapters.fhir.test_real_feeds import MRN
from tests.adapters.hl7.test_mapping import msh, pv1
from tests.adapters.hl7.test_visit_lifecycle import checked

NHS_NUMBER = "9434765919"
BOTH = f"RR8123456^^^RR8^MR~{NHS_NUMBER}^^^NHS^NH"


def admitted(status: str, identifiers: str = BOTH) -> Outcome:
    """What the listener answers an A01 whose PID-3 is `identifiers` and PID-32 `status`."""
    pid = f"PID|1||{identifiers}||Smith^John||19500101|M" + "|" * 24 + status
    assert pid.split("|")[32] == status
    (outcome,) = checked(
        (
            msh("A01"),
            "EVN|A01|20261123093100",
            pid,
            pv1(f3="LGI^WARD7", f4="C", f44="20261123093000"),
        )
    )
    assert outcome.ack == "AA", outcome.refusal
    return outcome


def patient(outcome: Outcome) -> dict[str, str]:
    (event,) = outcome.events
    patient: dict[str, str] = event["patient"]
    return patient


def test_a_number_present_but_not_traced_gives_way_to_the_local_id() -> None:
    outcome = admitted("NSTS02")

    assert patient(outcome) == {"local_id": "RR8123456", "id_system": "RR8"}
    (warning,) = outcome.warnings
    assert warning.startswith("PID-32: the NHS number is not a traced one (status 02, number ")
    assert NHS_NUMBER not in warning


def test_a_verified_number_is_the_patient_with_the_local_id_beside_it() -> None:
    outcome = admitted("NSTS01")

    assert patient(outcome) == {
        "nhs_number": NHS_NUMBER,
        "local_id": "RR8123456",
        "id_system": "RR8",
    }
    assert outcome.warnings == []


def test_an_untraced_number_alone_is_used_as_sent_with_a_warning() -> None:
    outcome = admitted("03", identifiers=f"{NHS_NUMBER}^^^NHS^NH")

    assert patient(outcome) == {"nhs_number": NHS_NUMBER}
    (warning,) = outcome.warnings
    assert warning.startswith("PID-32:") and "used as sent" in warning


def test_pid32_codes_that_say_nothing_of_the_number_leave_it_traced() -> None:
    # Table 0445's own codes: the name is an alias, the date of birth unknown.
    outcome = admitted("AL~UD")

    assert patient(outcome)["nhs_number"] == NHS_NUMBER
    assert outcome.warnings == []


def test_one_repetition_saying_verified_is_enough() -> None:
    outcome = admitted("AL~NSTS01")

    assert patient(outcome)["nhs_number"] == NHS_NUMBER


@pytest.mark.parametrize("code", ["01", "02", "03", "04", "05", "06", "07", "08"])
def test_the_same_patient_over_hl7_and_fhir_is_tracked_by_the_same_identifier(code: str) -> None:
    over_hl7 = patient(admitted(f"NSTS{code}"))
    over_fhir: dict[str, Any]
    over_fhir, _ = sent_over_fhir({"system": MRN, "value": "RR8123456"}, nhs_number(code))

    assert ("nhs_number" in over_hl7) == ("nhs_number" in over_fhir)
    assert over_hl7["local_id"] == over_fhir["local_id"]
