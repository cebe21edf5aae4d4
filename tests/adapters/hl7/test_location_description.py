"""A location named only by its description (PL.9, PL.1 empty) is a place: its unit, the rules
that match it, a move to or from it (each test fails on the old code but the one where PL.1 and
PL.9 are both sent, which guards that PL.1 stays the unit).

Some senders fill PV1-3 as `^^^^^^^^<ward name>`: the point of care left empty and the ward
named in PL.9, the location description (HL7 v2.3 and later). A patient-portal HL7 API
published for NHS trusts, for one, shows its A01 and A04 so. The old code read PL.1 to PL.4
only: the admission lost its ward, a profile rule on `location` never matched, and an A02
between two such wards was refused AE for a missing point of care.
"""

from __future__ import annotations

from typing import Any

from flowsight.adapters.hl7.mapping import Mapped, map_message
from flowsight.adapters.profile import LocationRule, MappingProfile
from tests.adapters.hl7.test_mapping import PID, message, msh, pv1

ED = frozenset({"lth-ed"})
PROFILE = MappingProfile(
    organisation="RR8",
    default_service="lth-wards",
    locations=[LocationRule(location="EMERGENCY*", service="lth-ed")],
)
EVN = "EVN|{trigger}|20261123101500||||20261123101000"


def events(trigger: str, **fields: str) -> list[dict[str, Any]]:
    result = map_message(
        message(msh(trigger), EVN.format(trigger=trigger), PID, pv1(**fields)),
        organisation="RR8",
        profile=PROFILE,
        front_door=ED,
    )
    assert isinstance(result, Mapped), result
    return result.events


def test_an_admission_to_a_ward_named_only_in_pl9_keeps_the_ward_as_its_unit() -> None:
    (admission,) = events("A01", f3="^^^^^^^^My Ward", f44="20261123100000")
    assert admission["event_type"] == "admission"
    assert (admission["service"], admission["unit"]) == ("lth-wards", "My Ward")


def test_a_rule_on_location_places_a_location_named_only_in_pl9() -> None:
    # Class I, so only the rule can place it in the ED: the old code admitted to lth-wards.
    (attendance,) = events("A01", f3="^^^^^^^^Emergency Department", f44="20261123100000")
    assert (attendance["event_type"], attendance["service"]) == ("attendance", "lth-ed")


def test_a_transfer_between_wards_named_only_in_pl9_is_no_refusal() -> None:
    (transfer,) = events("A02", f3="^^^^^^^^Ward 9", f6="^^^^^^^^Ward 7")
    assert transfer["event_type"] == "transfer"
    assert transfer["to_unit"] == "Ward 9"


def test_an_a07_from_a_ward_named_only_in_pl9_ends_the_stay_there_without_a_warning() -> None:
    result = map_message(
        message(
            msh("A07"),
            EVN.format(trigger="A07"),
            PID,
            pv1(f2="O", f3="CLINIC 4", f6="^^^^^^^^Ward 7"),
        ),
        organisation="RR8",
        profile=PROFILE,
        front_door=ED,
    )
    assert isinstance(result, Mapped), result
    assert result.event["service"] == "lth-wards"
    assert not any(w.startswith("PV1-6") for w in result.warnings)


def test_the_point_of_care_stays_the_unit_when_pl1_and_pl9_are_both_sent() -> None:
    (admission,) = events("A01", f3="WARD7^^^^^^^^Ward Seven", f44="20261123100000")
    assert admission["unit"] == "WARD7"


def test_a_swap_between_wards_named_only_in_pl9_moves_each_patient() -> None:
    other = "PID|1||RR8999^^^RR8^MR~4010232137^^^NHS^NH||Jones^Ann||19600101|F"
    result = map_message(
        message(
            msh("A17"),
            EVN.format(trigger="A17"),
            PID,
            pv1(f3="^^^^^^^^Ward 9", f6="^^^^^^^^Ward 7", f19="SPELL-1"),
            other,
            pv1(f3="^^^^^^^^Ward 7", f19="SPELL-2"),  # PV1-6 empty: the other's PV1-3
        ),
        organisation="RR8",
        profile=PROFILE,
        front_door=ED,
    )
    assert isinstance(result, Mapped), result
    assert [(e["episode_id"], e["to_unit"]) for e in result.events] == [
        ("SPELL-1", "Ward 9"),
        ("SPELL-2", "Ward 7"),
    ]


def test_a_cancelled_transfer_without_its_time_moves_back_to_a_ward_named_only_in_pl9() -> None:
    result = map_message(
        message(
            msh("A12"),
            "EVN|A12|20261123101500",
            PID,
            pv1(f3="^^^^^^^^Ward 7", f6="^^^^^^^^Ward 9"),
        ),
        organisation="RR8",
        profile=PROFILE,
        front_door=ED,
    )
    assert isinstance(result, Mapped), result
    (moved_back,) = result.events
    assert (moved_back["event_type"], moved_back["to_unit"]) == ("transfer", "Ward 7")
