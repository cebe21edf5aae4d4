"""The messages of one visit are read as its first was: what an arrival started, its move or
end finishes; what an arrival did not start (a visit that holds no bed), its end does not end."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.hl7.check import Checker, Outcome
from flowsight.adapters.hl7.mapping import Mapped, map_message
from flowsight.adapters.profile import LocationRule, MappingProfile
from flowsight.services.validation import ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE
from tests.adapters.hl7.test_mapping import PID, message, msh, pv1

ED = frozenset({"lth-ed"})
#: Wards mapped by rule; the emergency department (AE) only by the default service.
WARDS_BY_RULE = MappingProfile(
    organisation="RR8",
    default_service="lth-wards",
    locations=[LocationRule(point_of_care="LGI", service="lth-wards", unit="room")],
)

CONTEXT = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))


def checked(*messages: tuple[str, ...], profile: MappingProfile = WARDS_BY_RULE) -> list[Outcome]:
    """What `flowsight hl7 check` (and the listener) answers each message, in order."""
    checker = Checker("RR8", profile, CONTEXT, frozenset({"P"}))
    return [checker.check_message("\r".join(segments).encode()) for segments in messages]


def events(*segments: str, profile: MappingProfile = WARDS_BY_RULE) -> list[dict[str, Any]]:
    mapped = map_message(message(*segments), organisation="RR8", profile=profile, front_door=ED)
    assert isinstance(mapped, Mapped), mapped
    return mapped.events


def test_a_class_e_arrival_placed_by_the_default_service_ends_when_moved_to_a_ward() -> None:
    (arrived,) = events(
        msh("A04"), "EVN|A04|20261123080000", PID, pv1(f2="E", f3="AE^MAJ^C3", f44="20261123080000")
    )
    moved = events(
        msh("A02"),
        "EVN|A02|20261123113000|||C|20261123113000",
        PID,
        pv1(f2="E", f3="LGI^WARD7^B1", f6="AE^MAJ^C3", f44="20261123080000"),
    )
    assert (arrived["event_type"], arrived["service"]) == ("attendance", "lth-ed")
    assert [(e["event_type"], e["service"], e.get("outcome")) for e in moved] == [
        ("attendance", "lth-ed", "admitted"),
        ("admission", "lth-wards", None),
    ]
    assert moved[0]["episode_id"] == arrived["episode_id"]


def test_an_a12_of_that_move_cancels_the_attendance_end_and_the_admission() -> None:
    moved = events(
        msh("A02"),
        "EVN|A02|20261123113000|||C|20261123113000",
        PID,
        pv1(f2="E", f3="LGI^WARD7^B1", f6="AE^MAJ^C3"),
    )
    cancels = events(
        msh("A12"),
        "EVN|A12|20261123120000|||C|20261123113000",
        PID,
        pv1(f2="E", f3="AE^MAJ^C3", f6="LGI^WARD7^B1"),
    )
    cancelled = {c["cancels_event_id"]: c["service"] for c in cancels}
    assert {e["event_id"]: e["service"] for e in moved}.items() <= cancelled.items()


def test_an_a06_from_an_ed_placed_by_the_default_service_ends_the_attendance() -> None:
    # Epic's pattern: A01 class E at "ED" (no rule), then A06 class I from it to a unit.
    admitted = events(
        msh("A06"),
        "EVN|A06|20261123170052|||C|20261123160052",
        PID,
        pv1(f2="I", f3="EAU^UCH T00 EAU BY02^BY02-08", f6="ED^NON COVID MAJORS 04"),
        profile=MappingProfile(organisation="RR8", default_service="lth-wards"),
    )
    assert [(e["event_type"], e["service"], e.get("outcome")) for e in admitted] == [
        ("attendance", "lth-ed", "admitted"),
        ("admission", "lth-wards", None),
    ]


def test_a_class_e_move_between_places_the_default_service_places_stays_in_the_ed() -> None:
    moved = map_message(
        message(msh("A02"), "EVN|A02|20261123113000", PID, pv1(f2="E", f3="RESUS", f6="MAJ")),
        organisation="RR8",
        profile=WARDS_BY_RULE,
        front_door=ED,
    )
    assert not isinstance(moved, Mapped)


def test_an_outpatient_registration_at_a_clinic_no_rule_maps_is_acknowledged() -> None:
    # Without a default service, an unmapped location is refused; a clinic visit holds no bed,
    # so where it is does not matter.
    strict = WARDS_BY_RULE.model_copy(update={"default_service": None})
    (outcome,) = checked(
        (msh("A04"), "EVN|A04|20261123100000", PID, pv1(f2="O", f3="FRACTURE CLINIC^^^RR8")),
        profile=strict,
    )
    assert (outcome.ack, outcome.events, outcome.refusal) == ("AA", [], None)


VISIT = [
    ("A01", "EVN|A01|20261123100000"),
    ("A03", "EVN|A03|20261123110000"),
    ("A11", "EVN|A11|20261123110000|||C|20261123100000"),
    ("A13", "EVN|A13|20261123120000|||C|20261123110000"),
]


@pytest.mark.parametrize(("trigger", "evn"), VISIT)
@pytest.mark.parametrize("patient_class", ["O", "R"])
def test_the_messages_of_a_visit_never_admitted_publish_nothing(
    trigger: str, evn: str, patient_class: str
) -> None:
    # Stays are kept per service: a discharge from this visit would end the patient's real
    # inpatient stay on the ward.
    clinic = pv1(f2=patient_class, f3="FRACTURE CLINIC", f19="OP-77", f44="20261123100000")
    (outcome,) = checked((msh(trigger), evn, PID, clinic + "|20261123110000"))
    assert (outcome.ack, outcome.events, outcome.refusal) == ("AA", [], None)


def test_a_preadmit_class_kept_on_an_admitted_visit_admits_and_discharges() -> None:
    # Some PAS, like the public samples, keep class P on the visit an A01 admits.
    ward = pv1(f2="P", f3="LGI^WARD7^B1", f19="V-5", f44="20261123100000")
    admitted, discharged = checked(
        (msh("A01"), "EVN|A01|20261123100000", PID, ward),
        (msh("A03"), "EVN|A03|20261123110000", PID, ward + "|20261123110000"),
    )
    assert [e["event_type"] for e in admitted.events] == ["admission"]
    assert [e["event_type"] for e in discharged.events] == ["discharge"]


def test_an_outpatient_visit_ends_nothing_of_the_inpatient_stay_before_it() -> None:
    outcomes = checked(
        (msh("A01"), "EVN|A01|20261120080000", PID, pv1(f3="LGI^WARD7^B1", f44="20261120080000")),
        (msh("A04"), "EVN|A04|20261123100000", PID, pv1(f2="O", f3="OPD1", f19="OP-77")),
        (msh("A03"), "EVN|A03|20261123110000", PID, pv1(f2="O", f3="OPD1", f19="OP-77")),
    )
    assert [(o.ack, [e["event_type"] for e in o.events]) for o in outcomes] == [
        ("AA", ["admission"]),
        ("AA", []),
        ("AA", []),
    ]


def test_a_no_bed_class_at_the_ed_is_still_an_attendance_there() -> None:
    ed_by_rule = MappingProfile(
        organisation="RR8",
        default_service="lth-wards",
        locations=[LocationRule(point_of_care="AE", service="lth-ed")],
    )
    (arrived, left) = checked(
        (msh("A04"), "EVN|A04|20261123100000", PID, pv1(f2="O", f3="AE", f44="20261123100000")),
        (msh("A03"), "EVN|A03|20261123110000", PID, pv1(f2="O", f3="AE", f45="20261123110000")),
        profile=ed_by_rule,
    )
    assert [e["event_type"] for e in arrived.events + left.events] == ["attendance", "attendance"]
    assert left.events[0]["outcome"] == "discharged"


def test_an_a11_of_an_admission_from_the_ed_puts_the_patient_back_in_the_department() -> None:
    # Epic's order: A04 at the ED, the A01 at a ward naming the ED in PV1-6 (which ends the
    # attendance, admitted), then the A11 of that admission: it cancelled the admission alone,
    # and the patient was on no board at all, neither in the department nor on the ward.
    ed_rule = LocationRule(point_of_care="AE", service="lth-ed")
    profile = WARDS_BY_RULE.model_copy(update={"locations": [*WARDS_BY_RULE.locations, ed_rule]})
    admitted = events(
        msh("A01"),
        "EVN|A01|20261123113000|||C|20261123113000",
        PID,
        pv1(f2="I", f3="LGI^WARD7^B1", f6="AE^MAJ^C3", f44="20261123080000"),
        profile=profile,
    )
    cancels = events(
        msh("A11"),
        "EVN|A11|20261123120000|||C|20261123113000",
        PID,
        pv1(f2="I", f3="LGI^WARD7^B1", f6="AE^MAJ^C3", f44="20261123080000"),
        profile=profile,
    )
    assert [(e["event_type"], e.get("outcome")) for e in admitted] == [
        ("attendance", "admitted"),
        ("admission", None),
    ]
    cancelled = {c["cancels_event_id"]: c["service"] for c in cancels}
    assert {e["event_id"]: e["service"] for e in admitted}.items() <= cancelled.items()


def test_the_check_says_the_answer_the_listener_sends_in_enhanced_mode() -> None:
    # MSH-15 AL, MSH-16 NE (the guide's worked example): the listener answers CA; the check
    # said AA, the original-mode code, so a sender's engine set to expect CA looked refused.
    enhanced = msh("A01") + "|||AL|NE"
    admit = ("EVN|A01|20261123100000", PID, pv1(f2="I", f3="LGI^WARD7^B1", f44="20261123100000"))
    (accepted,) = checked((enhanced, *admit))
    assert (accepted.ack, accepted.answer) == ("AA", "CA")
    # A discharge before its admission (PV1-45 before PV1-44): refused, AE, so CE.
    discharge = msh("A03") + "|||AL|NE"
    ward = pv1(f2="I", f3="LGI^WARD7", f44="20261123100000", f45="20261122100000")
    (refused,) = checked((discharge, "EVN|A03|20261123110000", PID, ward))
    assert refused.refusal is not None and (refused.ack, refused.answer) == ("AE", "CE")
    (original,) = checked((msh("A01"), *admit))
    assert (original.ack, original.answer) == ("AA", "AA")
