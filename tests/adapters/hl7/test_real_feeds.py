"""Issue 12, points 1-10: what a real PAS feed sends arrives intact (each test fails on the old code)."""

from __future__ import annotations

from typing import Any

from flowsight.adapters.hl7.mapping import Mapped, NoChange, map_message
from flowsight.adapters.hl7.parse import parse_message, split_messages
from flowsight.adapters.profile import MappingProfile
from flowsight.services.validation import Rejected
from tests.adapters.hl7.profiles import ED_AND_WARDS
from tests.adapters.hl7.test_mapping import PID, message, msh, pv1

ED = frozenset({"lth-ed"})
#: EVN-2, when the event was recorded (required): the time of an event with no other.
EVN = "EVN||20261123101400"
PROFILE = MappingProfile.model_validate(
    {
        **ED_AND_WARDS.model_dump(),
        "codes": {
            "admission_method": {"EL": "elective"},
            "discharge_destination": {"HOME": "usual_residence"},
        },
    }
)


def result(hl7_message: Any, profile: MappingProfile = PROFILE, **options: Any) -> Any:
    return map_message(hl7_message, organisation="RR8", profile=profile, front_door=ED, **options)


def events(hl7_message: Any, profile: MappingProfile = PROFILE) -> list[dict[str, Any]]:
    mapped = result(hl7_message, profile)
    assert isinstance(mapped, Mapped), mapped
    return mapped.events


def test_1_two_messages_in_one_frame_are_both_taken() -> None:
    one = "\r".join([msh("A01", "M1"), PID, pv1(f3="WARD7", f4="E")])
    two = "\r".join([msh("A01", "M2"), PID, pv1(f3="WARD8", f4="E", f19="SPELL-2")])
    parts = split_messages(f"{one}\r{two}\r".encode())
    assert [parse_message(p).message.extract_field("MSH", 1, 10, 1, 1, 1) for p in parts] == [
        "M1",
        "M2",
    ]


def test_2_a_cancel_with_blank_evn6_finds_an_original_whose_evn6_differs_from_pv1_45() -> None:
    original = events(
        message(
            msh("A03"),
            "EVN|A03|20261123150500|||C|20261123150200",
            PID,
            pv1(f3="WARD7", f37="19", f45="20261123150000"),
        )
    )[0]
    cancels = events(
        message(msh("A13"), "EVN|A13|20261123160000", PID, pv1(f3="WARD7", f45="20261123150000"))
    )
    assert original["event_id"] in [c["cancels_event_id"] for c in cancels]


def test_3_a_bed_move_within_one_ward_is_no_transfer() -> None:
    moved = result(
        message(
            msh("A02"), "EVN|A02|20261123101500", PID, pv1(f3="LGI^WARD7^BED4", f6="LGI^WARD7^BED3")
        )
    )
    assert isinstance(moved, NoChange) and moved.kind == "same_place"
    moved_in_ed = result(
        message(
            msh("A02"),
            "EVN|A02|20261123101500",
            PID,
            pv1(f2="E", f3="EDMAJ^CUB2", f6="EDRESUS^BAY1"),
        )
    )
    assert isinstance(moved_in_ed, NoChange)


def test_4_an_ed_registration_is_an_attendance_and_an_outpatient_one_holds_no_bed() -> None:
    (arrival,) = events(message(msh("A04"), "EVN|A04|20261123101500", PID, pv1(f2="E", f3="EDMAJ")))
    assert (arrival["event_type"], arrival["service"]) == ("attendance", "lth-ed")
    assert arrival["arrived_at"] == "2026-11-23T10:15:00+00:00"
    clinic = result(message(msh("A04"), "EVN|A04|20261123101500", PID, pv1(f2="O", f3="OPD1")))
    assert isinstance(clinic, NoChange) and clinic.kind == "not_in_a_bed"


def test_5_an_a06_ends_the_ed_attendance_admitted_and_admits() -> None:
    departure, admission = events(
        message(msh("A06"), "EVN|A06|20261123140000", PID, pv1(f2="I", f3="LGI^WARD7", f6="EDMAJ"))
    )
    assert (departure["event_type"], departure["outcome"], departure["service"]) == (
        "attendance",
        "admitted",
        "lth-ed",
    )
    assert departure["departed_at"] == "2026-11-23T14:00:00+00:00"
    assert (admission["event_type"], admission["service"], admission["unit"]) == (
        "admission",
        "lth-wards",
        "WARD7",
    )
    assert admission["admission_method"] == "emergency"


def test_6_a_byte_order_mark_and_a_batch_envelope_are_read_through() -> None:
    body = "\r".join([msh("A01", "M1"), "EVN|A01|20261123101400", PID, pv1(f3="WARD7", f4="E")])
    batch = f"FHS|^~\\&\rBHS|^~\\&\r{body}\rBTS|1\rFTS|1\r".encode()
    (only,) = split_messages(b"\xef\xbb\xbf" + batch)
    assert events(parse_message(only).message)[0]["event_type"] == "admission"


def test_7_an_invalid_nhs_number_falls_back_on_the_mrn_and_nhsnmbr_pid2_are_read() -> None:
    bad = "PID|1||RR8123456^^^RR8^MR~9434765918^^^NHS^NH||Smith^John"
    mapped = result(message(msh("A01"), EVN, bad, pv1(f3="WARD7", f4="E")))
    assert isinstance(mapped, Mapped)
    assert mapped.event["patient"] == {"local_id": "RR8123456", "id_system": "RR8"}
    assert any("NHS number" in w for w in mapped.warnings)
    for pid in (
        "PID|1||9434765919^^^NHSNMBR||Smith",
        "PID|1||943 476 5919^^^^NHS||Smith",
        "PID|1|9434765919|RR8123456^^^RR8^MR||Smith",
    ):
        (event,) = events(message(msh("A01"), EVN, pid, pv1(f3="WARD7", f4="E")))
        assert event["patient"].get("nhs_number", "").replace(" ", "") == "9434765919", pid


def test_8_triggers_not_taken_are_acknowledged_unless_the_profile_refuses_them() -> None:
    for trigger in ("A05", "A14", "A40"):
        assert isinstance(result(message(msh(trigger), PID, pv1(f3="W"))), NoChange)
    strict = PROFILE.model_copy(
        update={"hl7": PROFILE.hl7.model_copy(update={"unknown_triggers": "refuse"})}
    )
    refused = result(message(msh("A05"), PID, pv1(f3="W")), strict)
    assert isinstance(refused, Rejected) and refused.reason == "hl7_unsupported_trigger"


def test_9_vendor_codes_and_the_ward_in_pl2_come_from_the_profile() -> None:
    (admission,) = events(message(msh("A01"), EVN, PID, pv1(f3="LGI^WARD9^B1", f4="EL")))
    assert (admission["admission_method"], admission["unit"]) == ("elective", "WARD9")
    (discharge,) = events(message(msh("A03"), EVN, PID, pv1(f3="LGI^WARD9", f37="HOME")))
    assert discharge["destination"] == "usual_residence"
    unknown = result(message(msh("A03"), EVN, PID, pv1(f3="LGI^WARD9", f37="XYZ")))
    assert isinstance(unknown, Mapped) and unknown.event["destination"] == "other"


def test_10_processing_id_t_is_taken_when_allowed() -> None:
    test_feed = message(msh("A01", pid="T"), EVN, PID, pv1(f3="WARD7", f4="E"))
    assert isinstance(result(test_feed), Rejected)
    assert isinstance(result(test_feed, processing_ids=frozenset({"P", "T"})), Mapped)
