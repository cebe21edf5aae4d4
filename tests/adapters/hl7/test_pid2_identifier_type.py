"""PID-2 is read as the NHS number unless its identifier type (CX.5) says it is another kind.

Cerner Millennium (a published nHapi test message) sends the MRN in PID-2 as well as PID-3:
`PID|1|12345^^^PATIENT MASTER^MRN^|12345^^^PATIENT MASTER^MRN^|...`. Read as an NHS number, a
10-digit MRN that happens to pass the Modulus 11 check (one in eleven or so do) became the
patient's NHS number: the events joined the journey of whoever holds that number.
"""

from __future__ import annotations

from typing import Any

import pytest

from flowsight.adapters.hl7.mapping import Mapped, map_message
from tests.adapters.hl7.profiles import ED_AND_WARDS
from tests.adapters.hl7.test_mapping import message, msh, pv1

#: A 10-digit number that passes the Modulus 11 check, as some MRNs do.
TEN_DIGITS = "4010232137"
EVN = "EVN|A01|20261123101500||||20261123101000"


def mapped(pid2: str) -> Any:
    pid = f"PID|1|{pid2}|12345^^^PATIENT MASTER^MRN^||TEST||20101114|F"
    result = map_message(
        message(msh("A01"), EVN, pid, pv1(f3="WARD7")),
        organisation="RR8",
        profile=ED_AND_WARDS,
        front_door=frozenset({"lth-ed"}),
    )
    assert isinstance(result, Mapped), result
    return result


def test_an_mrn_in_pid2_is_not_taken_for_the_nhs_number() -> None:
    result = mapped(f"{TEN_DIGITS}^^^PATIENT MASTER^MRN^")
    assert result.event["patient"] == {"local_id": "12345", "id_system": "PATIENT MASTER"}
    assert not any(warning.startswith("PID-2") for warning in result.warnings)


@pytest.mark.parametrize(
    "pid2",
    [TEN_DIGITS, f"{TEN_DIGITS}^^^NHS^NH", f"{TEN_DIGITS}^^^NHS^MR", f"{TEN_DIGITS}^^^RR8"],
)
def test_pid2_without_another_identifier_type_is_still_the_nhs_number(pid2: str) -> None:
    assert mapped(pid2).event["patient"]["nhs_number"] == TEN_DIGITS
