"""Times without an offset are the sender's local time (HL7 v2.5 2.A.77): London, unless MSH-7
says the sender keeps another offset than London's at that moment."""

from __future__ import annotations

import hl7
import pytest

from flowsight.adapters.hl7.mapping import Mapped, map_message
from flowsight.adapters.profile import MappingProfile
from tests.adapters.hl7.test_mapping import LOCATIONS, PID, mapped, message, pv1


def a01(sent: str, admitted: str) -> str:
    header = f"MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|{sent}||ADT^A01^ADT_A01|C1|P|2.5"
    segment = pv1(f3="WARD7", f44=admitted)
    return mapped(message(header, f"EVN|A01|{admitted}", PID, segment))["occurred_at"]


def read(header: str, evn: str, visit: str) -> Mapped:
    """The message MSH, EVN, PID, PV1 mapped with the test locations."""
    result = map_message(message(header, evn, PID, visit), organisation="RR8", locations=LOCATIONS)
    assert isinstance(result, Mapped), result
    return result


@pytest.mark.parametrize(
    ("sent", "admitted", "at"),
    [
        # A London PAS: its offset is London's, summer and winter, and so are its times.
        ("20260701101500+0100", "20260701093000", "2026-07-01T09:30:00+01:00"),
        ("20261123101500+0000", "20261123093000", "2026-11-23T09:30:00+00:00"),
        ("20260701101500", "20260701093000", "2026-07-01T09:30:00+01:00"),  # no offset: London
        # A PAS whose server runs on UTC: +0000 all summer. Read as London, 09:30 was 08:30 UTC.
        ("20260701101500+0000", "20260701093000", "2026-07-01T09:30:00+00:00"),
        # The HL7 standard's own examples are US Eastern.
        ("20260701101500-0500", "20260701093000", "2026-07-01T09:30:00-05:00"),
        # A time with its own offset is that time, whatever MSH-7 says.
        ("20260701101500+0000", "20260701093000+0100", "2026-07-01T09:30:00+01:00"),
    ],
)
def test_a_time_without_an_offset_is_in_the_senders_zone(sent: str, admitted: str, at: str) -> None:
    assert a01(sent, admitted) == at


def test_a_day_with_no_time_is_read_as_its_midnight_with_a_warning() -> None:
    header = "MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|20261101101500||ADT^A01^ADT_A01|C1|P|2.5"
    hl7 = message(header, "EVN|A01|20261101101000", PID, pv1(f3="WARD7", f44="20261101"))
    result = map_message(hl7, organisation="RR8", locations=LOCATIONS)

    assert isinstance(result, Mapped)
    assert result.event["occurred_at"] == "2026-11-01T00:00:00+00:00"
    assert any(w.startswith("PV1-44: a day with no time") for w in result.warnings)


@pytest.mark.parametrize(
    ("left", "said"),
    [
        ("20261025013000", "happened twice (clocks went back): read as the first, BST"),
        ("20260329013000", "never happened (clocks went forward): read as GMT"),
    ],
)
def test_a_london_time_in_an_hour_clocks_change_is_read_with_a_warning(
    left: str, said: str
) -> None:
    header = "MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|20261101101500||ADT^A03^ADT_A03|C1|P|2.5"
    segment = pv1(f3="WARD7", f37="19", f44="20260301090000", f45=left)
    result = read(header, "EVN|A03|20261101101000", segment)

    assert isinstance(result, Mapped)
    assert any(w.startswith(f"PV1-45 ({left}): a London time that {said}") for w in result.warnings)
    # An offset names the moment: nothing to say.
    plain = pv1(f3="WARD7", f37="19", f44="20260301090000", f45=left + "+0000")
    again = read(header, "EVN|A03|20261101101000", plain)
    assert isinstance(again, Mapped) and not any("London time" in w for w in again.warnings)


def test_a_move_timed_by_evn_2_in_the_hour_clocks_go_back_warns() -> None:
    # An A02 without EVN-6 is timed by EVN-2: read as BST, a move at 01:13 GMT came an hour
    # early, and an ED wait of 4 h 55 min read 3 h 55 min, with nothing said.
    header = "MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|20261025011500||ADT^A02^ADT_A02|C1|P|2.5"
    segment = pv1(f3="WARD7", f6="A&E", f44="20261024211800")
    result = read(header, "EVN|A02|20261025011335", segment)

    assert isinstance(result, Mapped)
    assert any(
        w.startswith("EVN-2 (20261025011335): a London time that happened twice")
        for w in result.warnings
    ), result.warnings


def test_an_a03_before_its_admission_only_as_bst_is_read_as_gmt_in_the_hour_clocks_go_back() -> (
    None
):
    # Admitted at 01:12 BST (00:12 UTC), discharged at 01:01:48 GMT (01:01 UTC): read as BST,
    # the discharge was before the admission and refused, and the patient held the bed.
    header = "MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|20261025010425||ADT^A03^ADT_A03|C1|P|2.5"
    segment = pv1(f3="WARD7", f44="20261025011200", f45="20261025010148")
    result = read(header, "EVN|A03|20261025010148", segment)

    assert isinstance(result, Mapped), result
    assert result.event["occurred_at"] == "2026-10-25T01:01:48+00:00"
    said = [w for w in result.warnings if w.startswith("PV1-45")]
    assert len(said) == 1 and "read as the second (2026-10-25T01:01:48+00:00)" in said[0], said


#: Patients Know Best's A03 and A13 (HL7 API documentation, CC BY 4.0: "ADT A03" and "ADT A13"
#: pages, https://sites.google.com/a/patientsknowbest.com/api-documentation/home/hl7-api/messages/adt-a03)
#: of one discharge from a PAS whose server runs on UTC: MSH-7 `+0000`, its other times without
#: an offset, the A03 sent before the 25 October 2026 clock change and its A13 after it. PID-11,
#: PID-13 and PID-14 left out; the NHS number is the test number 9434765919.
UTC_PAS_A03 = "\r".join(
    [
        "MSH|^~\\&|SendingApp|SendingFacility|HL7API|PKB|20261024233500+0000||ADT^A03|DST0001|P|"
        "2.4",
        "EVN|A03|20261024233400",
        "PID|||9434765919^^^NHS^NH||Smith^John^Joe^^Mr||19700101|M",
        "PV1|1|I|^^^^^^^^My Ward||||^Jones^Stuart^James^^Dr^|^Smith^William^^^Dr^|"
        "^Foster^Terry^^^Mr^||||||||||V00001|||||||||||||||||||||||||20261020100000|"
        "20261024233000",
        "",
    ]
)
UTC_PAS_A13 = UTC_PAS_A03.replace(
    "20261024233500+0000||ADT^A03|DST0001", "20261026090000+0000||ADT^A13|DST0002"
).replace("EVN|A03|20261024233400", "EVN|A13|20261026085900||||20261024233000")


def in_zone(time_zone: str | None) -> MappingProfile:
    return MappingProfile(
        organisation="RR8", default_service="lth-wards", hl7={"time_zone": time_zone}
    )


def test_a_profiles_time_zone_keeps_a_discharge_and_its_cancel_across_the_clock_change() -> None:
    # Guessed from MSH-7, the A03's +0000 in BST said UTC and its A13's +0000 in GMT London:
    # the A13 read the same PV1-45 an hour earlier and cancelled no event.
    discharged = map_message(hl7.parse(UTC_PAS_A03), organisation="RR8", profile=in_zone("UTC"))
    cancelled = map_message(hl7.parse(UTC_PAS_A13), organisation="RR8", profile=in_zone("UTC"))

    assert isinstance(discharged, Mapped) and isinstance(cancelled, Mapped)
    assert discharged.event["event_id"] == "V00001:discharge:20261024T233000Z"
    assert discharged.event["event_id"] in {e["cancels_event_id"] for e in cancelled.events}


def test_a_profiles_time_zone_is_every_offsetless_time_whatever_msh7_says() -> None:
    # A London PAS whose MSH-7 offset is UTC's in summer: its times are still London's.
    summer = UTC_PAS_A03.replace("20261024", "20260701").replace("20261020", "20260630")
    result = map_message(hl7.parse(summer), organisation="RR8", profile=in_zone("Europe/London"))

    assert isinstance(result, Mapped)
    assert result.event["occurred_at"] == "2026-07-01T23:30:00+01:00"
    assert result.event["recorded_at"] == "2026-07-01T23:34:00+01:00"


def test_without_a_time_zone_the_guess_from_msh7_stands() -> None:
    cancelled = map_message(hl7.parse(UTC_PAS_A13), organisation="RR8", profile=in_zone(None))

    assert isinstance(cancelled, Mapped)
    assert "V00001:discharge:20261024T223000Z" in {e["cancels_event_id"] for e in cancelled.events}
