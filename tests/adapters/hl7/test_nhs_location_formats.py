"""NHS PAS locations that lose the ward: the NHS ITK ADT specification's PV1-3 puts the site's
code in the point of care (`RCB^WARD9^BED1^RCB55`) and the ward in the room, and some PAS leave
the point of care empty. Without a rule naming the room as the unit, the unit was the site (a
move between two wards of it "a move within RCB") or nothing, without a word; and a move whose
PV1-6 names only a room was refused as naming no place. Each now says what to map. And
`hl7 check` says which of its events the tracker would refuse after an AA."""

from __future__ import annotations

from flowsight.adapters.profile import LocationRule, MappingProfile
from tests.adapters.hl7.test_mapping import PID, msh, pv1
from tests.adapters.hl7.test_moves_without_a_bed import checked

DEFAULT_ONLY = MappingProfile(organisation="RR8", default_service="lth-wards")
ITK = "EVN|A02|20261123103000"


def moved(before: str, after: str, profile: MappingProfile = DEFAULT_ONLY) -> tuple[str, ...]:
    (outcome,) = checked((msh("A02"), ITK, PID, pv1(f3=after, f6=before)), profile=profile)
    return outcome.ack, outcome.warnings, [e.get("to_unit") for e in outcome.events]


def test_a_site_code_as_the_point_of_care_is_named_with_what_to_map() -> None:
    ack, warnings, _ = moved("RCB^OBS1^BAY2-6^RCB55", "RCB^WARD9^BED1^RCB55")

    assert ack == "AA"
    assert any(
        "PV1-3: the unit 'RCB' (PL.1) is the site's code, not a ward" in w and "`unit: room`" in w
        for w in warnings
    )


def test_with_the_room_as_the_unit_the_move_between_wards_is_seen() -> None:
    rooms = MappingProfile(
        organisation="RR8",
        locations=[LocationRule(facility="RCB*", service="lth-wards", unit="room")],
    )

    ack, warnings, units = moved("RCB^OBS1^BAY2-6^RCB55", "RCB^WARD9^BED1^RCB55", rooms)

    assert (ack, units) == ("AA", ["WARD9"])
    assert not any("site's code" in w for w in warnings)


def test_a_location_with_no_point_of_care_says_so() -> None:
    (admitted,) = checked(
        (msh("A01"), "EVN|A01|20261123100000", PID, pv1(f3="^WARD9^BED1^RCB55")),
        profile=DEFAULT_ONLY,
    )
    (refused,) = checked(
        (msh("A02"), ITK, PID, pv1(f3="^WARD9^BED1^RCB55", f6="^OBS1^BAY2-6^RCB55")),
        profile=DEFAULT_ONLY,
    )

    assert any("PV1-3: no unit (PL.1 and PL.9 are empty)" in w for w in admitted.warnings)
    assert refused.ack == "AE"
    assert refused.refusal is not None and "`unit: room`" in refused.refusal.message


def test_an_ordinary_ward_draws_no_warning() -> None:
    _, warnings, _ = moved("WARD7^BAY1^BED2^RR8", "WARD9^BAY3^BED4^RR8")

    assert not any("unit" in w for w in warnings)


def test_check_says_when_the_tracker_would_refuse_an_id_given_again() -> None:
    # UCLH's public Epic messages: a second A01 of the visit, same PV1-44, another ward. The ACK
    # is AA (the message is valid), but the tracker keeps the first: `hl7 check` had shown both
    # as accepted, without a word.
    def admitted(ward: str) -> tuple[str, ...]:
        return (msh("A01"), "EVN|A01|20261123100000", PID, pv1(f3=ward, f44="20261123100000"))

    first, second = checked(admitted("T42E"), admitted("T11E"), profile=DEFAULT_ONLY)

    assert (first.ack, second.ack) == ("AA", "AA")
    assert not any("event_id_reused" in w for w in first.warnings)
    assert any("the tracker refuses it (event_id_reused)" in w for w in second.warnings)
