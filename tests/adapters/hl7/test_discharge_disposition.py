"""PV1-36 (discharge disposition) as real feeds fill it: NHS discharge method codes, HL7 table 0112
codes and free text. A death is `died` whatever PV1-37 says; a text naming the usual residence is
`usual_residence`; a code that means one thing in table 0112 and another in the NHS tables is
left to the profile (`other`, with a warning)."""

from __future__ import annotations

from typing import Any

import pytest

from flowsight.adapters.hl7.mapping import Mapped, map_message
from flowsight.adapters.profile import MappingProfile
from tests.adapters.hl7.test_mapping import LOCATIONS, PID, message, msh, pv1


def discharged(disposition: str, discharged_to: str = "", *, where: str = "WARD7") -> Mapped:
    segment = pv1(f3=where, f36=disposition, f37=discharged_to, f45="20261123150000")
    result = map_message(
        message(msh("A03"), "EVN|A03|20261123150500", PID, segment),
        organisation="RR8",
        locations=LOCATIONS,
    )
    assert isinstance(result, Mapped), result
    return result


def destination(disposition: str, discharged_to: str = "") -> Any:
    (event,) = discharged(disposition, discharged_to).events
    return event["destination"]


@pytest.mark.parametrize(
    "disposition",
    [
        "Dead",
        "DIED",
        "Deceased",
        "deceased - coroner informed",
        "Death",
        "Expired",
        "Patient died",  # NHS DISCHARGE METHOD 4, as its description reads
        "Stillbirth",  # NHS DISCHARGE METHOD 5
        "20",  # HL7 table 0112: expired
        "40",  # expired at home
        "41",  # expired in a medical facility
        "42",  # expired, place unknown
        "20^Expired^HL70112",
        "D^Deceased^L",  # a local code whose text says it
    ],
)
def test_a_death_in_pv1_36_is_died(disposition: str) -> None:
    assert destination(disposition) == "died"


@pytest.mark.parametrize("disposition", ["Died", "Deceased", "20", "4"])
def test_a_death_in_pv1_36_beats_the_usual_residence_in_pv1_37(disposition: str) -> None:
    # PAS fill the destination of a death with the usual residence: how the patient left wins.
    assert destination(disposition, "19") == "died"


@pytest.mark.parametrize("discharged_to", ["Deceased", "Dead"])
def test_a_death_in_pv1_37_is_died(discharged_to: str) -> None:
    assert destination("", discharged_to) == "died"


@pytest.mark.parametrize(
    "disposition",
    [
        "Home",
        "HOME",
        "Usual residence",
        "Usual place of residence",
        "Home/Self Care",
        "Discharged to home or self care (routine discharge)",  # table 0112 01, as displayed
    ],
)
def test_a_text_naming_the_usual_residence_is_usual_residence(disposition: str) -> None:
    result = discharged(disposition)
    assert result.event["destination"] == "usual_residence"
    assert result.warnings == []


@pytest.mark.parametrize(
    "disposition",
    [
        "04",  # table 0112: an intermediate care facility; NHS method 4 (died) zero-padded
        "01",  # table 0112: home; NHS method 1 (clinical advice) zero-padded
        "Leave expired",  # mental health leave, not a death
        "Home with care package",  # home, but with support? not said plainly
        "Nursing home",
        "Admitted as Inpatient",
    ],
)
def test_what_is_not_plainly_a_destination_stays_other_with_a_warning(disposition: str) -> None:
    result = discharged(disposition)
    assert result.event["destination"] == "other"
    assert any(warning.startswith("PV1-36") for warning in result.warnings)


@pytest.mark.parametrize("disposition", ["", "1"], ids=["none", "a discharge method only"])
def test_a_discharge_from_a_bed_with_no_destination_is_other_with_a_warning(
    disposition: str,
) -> None:
    # OpenVPMS's A03 sends neither PV1-36 nor PV1-37; NHS method 1 (on clinical advice) says how,
    # not where. The engineer is told, as of an unmapped code.
    result = discharged(disposition)

    assert result.event["destination"] == "other"
    assert "PV1-37: no discharge destination (nor one in PV1-36); taken as 'other'" in (
        result.warnings
    )


def departed_from_the_ed(method: str = "") -> Mapped:
    """An A03 of class E at the ED, discharge method `method` in PV1-36, no PV1-37."""
    segment = pv1(f2="E", f3="A&E", f36=method, f44="20261123120000", f45="20261123150000")
    result = map_message(
        message(msh("A03"), "EVN|A03|20261123150500", PID, segment),
        organisation="RR8",
        locations=LOCATIONS,
        front_door=frozenset({"lth-ed"}),
    )
    assert isinstance(result, Mapped), result
    return result


def test_a_departure_from_the_ed_with_no_destination_warns_of_none() -> None:
    # An ED's departure carries an outcome, not a destination: none given is no gap.
    result = departed_from_the_ed()

    assert result.event["event_type"] == "attendance"
    assert not [warning for warning in result.warnings if warning.startswith("PV1-37")]


def profiled(disposition: str, discharged_to: str, codes: dict[str, Any]) -> Any:
    profile = MappingProfile(
        organisation="RR8", default_service="lth-wards", codes={"discharge_destination": codes}
    )
    segment = pv1(f3="WARD7", f36=disposition, f37=discharged_to, f45="20261123150000")
    result = map_message(
        message(msh("A03"), "EVN|A03|20261123150500", PID, segment),
        organisation="RR8",
        profile=profile,
    )
    assert isinstance(result, Mapped), result
    return result.event["destination"]


def test_the_profile_says_what_a_code_of_its_own_means_before_table_0112() -> None:
    # A trust whose PAS numbers its own dispositions: its 20 is a nursing home, not a death.
    assert profiled("20", "", {"20": "care_home_nursing"}) == "care_home_nursing"
    assert profiled("Deceased", "", {"Deceased": "other"}) == "other"


def test_a_death_the_profile_names_in_pv1_36_beats_pv1_37() -> None:
    assert profiled("D", "19", {"D": "died"}) == "died"


@pytest.mark.parametrize(
    ("method", "outcome"),
    [
        ("2", "left"),  # self-discharged or by a relative (the NHS code before 2021)
        ("6", "left"),  # patient discharged him/herself (NHS Data Dictionary, since)
        ("7", "left"),  # patient discharged by a relative or advocate
        ("1", "discharged"),  # on clinical advice
    ],
)
def test_an_ed_patient_who_discharged_themself_left(method: str, outcome: str) -> None:
    result = departed_from_the_ed(method)
    assert (result.event["event_type"], result.event["outcome"]) == ("attendance", outcome)
