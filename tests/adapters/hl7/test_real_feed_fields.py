"""Fields real ADT feeds fill in their own way are read, not refused (each fails on the old code).

The messages are cut down from the UCLH / Epic-shaped NHS England test messages of
UCLH-DHCT/emap (hl7-reader/src/test/resources/Adt), with the NHS's published example number.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import hl7
import pytest

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.hl7.check import Checker
from flowsight.adapters.hl7.mapping import Mapped, map_message
from flowsight.adapters.hl7.parse import parse_message
from flowsight.adapters.profile import LocationRule, MappingProfile
from flowsight.services.validation import Rejected, ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE
from tests.adapters.hl7.test_mapping import LOCATIONS, PID, message, msh, pv1

ED = frozenset({"lth-ed"})
PROFILE = MappingProfile(
    organisation="RR8",
    default_service="lth-wards",
    locations=[LocationRule(point_of_care="ED", service="lth-ed")],
)

CONTEXT = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))


def result(hl7_message: Any, profile: MappingProfile = PROFILE) -> Any:
    return map_message(hl7_message, organisation="RR8", profile=profile, front_door=ED)


def events(hl7_message: Any, profile: MappingProfile = PROFILE) -> list[dict[str, Any]]:
    mapped = result(hl7_message, profile)
    assert isinstance(mapped, Mapped), mapped
    return mapped.events


def with_sender(sending_application: str) -> Any:
    header = msh("A01").replace("|PAS|", f"|{sending_application}|")
    return message(header, "EVN|A01|20261123101500", PID, pv1(f3="WARD7", f4="E"))


@pytest.mark.parametrize(
    ("sending_application", "system"),
    [
        ("CERNER/MILL", "cerner-mill"),
        ("^2.16.840.1.113883.3.72.5.20^ISO", "2.16.840.1.113883.3.72.5.20"),
        ("EPIC^2.16.840.1.113883.3.72.5.20^ISO", "epic"),
        (" Leeds  PAS / ADT ", "leeds-pas-adt"),
    ],
    ids=["slash", "universal id only", "namespace id first", "spaces and slash"],
)
def test_any_sending_application_names_a_source_system(
    sending_application: str, system: str
) -> None:
    (event,) = events(with_sender(sending_application))
    assert event["source"] == f"RR8/{system}"


@pytest.mark.parametrize(
    ("sending_application", "reason"),
    [("", "hl7_missing_field"), ("//", "hl7_invalid_field"), ("P" * 65, "hl7_invalid_field")],
    ids=["empty", "nothing left", "too long"],
)
def test_a_sending_application_that_names_nothing_is_refused_at_msh3(
    sending_application: str, reason: str
) -> None:
    refusal = result(with_sender(sending_application))
    assert isinstance(refusal, Rejected)
    assert (refusal.reason, refusal.field) == (reason, "MSH-3")


def test_an_a12_of_a_move_out_of_the_ed_cancels_the_departure_and_the_admission() -> None:
    moved = events(
        message(
            msh("A02"),
            "EVN|A02|20261123123100|||C|20261123123052",
            PID,
            pv1(f2="I", f3="T11E^BY02^BY02-17", f6="ED^UCHED RAT CHAIR^RAT-CHAIR"),
        )
    )
    assert [(e["event_type"], e.get("outcome")) for e in moved] == [
        ("attendance", "admitted"),
        ("admission", None),
    ]
    cancels = events(
        message(
            msh("A12"),
            "EVN|A12|20261123124000|||C|20261123123052",
            PID,
            pv1(f2="E", f3="ED^UCHED RAT CHAIR^RAT-CHAIR", f6="T11E^BY02^BY02-17"),
        )
    )
    cancelled = {c["cancels_event_id"]: c["service"] for c in cancels}
    assert {e["event_id"]: e["service"] for e in moved}.items() <= cancelled.items()


def test_an_a12_between_wards_still_cancels_only_the_transfer() -> None:
    moved = events(message(msh("A02"), "EVN|A02||||C|20261123123052", PID, pv1(f3="W2", f6="W1")))
    cancels = events(message(msh("A12"), "EVN|A12||||C|20261123123052", PID, pv1(f3="W1", f6="W2")))
    assert [c["cancels_event_id"] for c in cancels] == [e["event_id"] for e in moved]


def arrival(trigger: str, admission_type: str, profile: MappingProfile = PROFILE) -> Mapped:
    segment = pv1(f2="I", f3="T11E^BY02^BY02-17", f4=admission_type, f6="OPD")
    mapped = result(message(msh(trigger), f"EVN|{trigger}|20261123101500", PID, segment), profile)
    assert isinstance(mapped, Mapped), mapped
    return mapped


@pytest.mark.parametrize(
    ("admission_type", "method"),
    [
        ("EMERGENCY", "emergency"),
        ("Elective", "elective"),
        ("Matern Ante", "emergency"),
        ("maternity", "emergency"),
        ("Transfer from other trust", "transfer_in"),
        # Epic's abbreviated first words.
        ("Elect Wait", "elective"),
        ("Elect Book", "elective"),
        ("Elect Plan", "elective"),
        ("Emerg Other", "emergency"),
    ],
)
@pytest.mark.parametrize("trigger", ["A01", "A06"])
def test_a_textual_admission_type_is_read(trigger: str, admission_type: str, method: str) -> None:
    mapped = arrival(trigger, admission_type)
    assert mapped.events[-1]["admission_method"] == method
    assert mapped.warnings == []


@pytest.mark.parametrize(
    ("admission_type", "warning"),
    [
        ("", "PV1-4: no admission type; taken as 'emergency'"),
        ("28B", "PV1-4: admission type '28B' is not mapped; taken as 'emergency'"),
    ],
)
def test_an_arrival_without_a_known_admission_type_is_an_emergency_with_a_warning(
    admission_type: str, warning: str
) -> None:
    mapped = arrival("A01", admission_type)
    assert mapped.events[0]["admission_method"] == "emergency"
    assert mapped.warnings == [warning]


def test_the_profile_maps_a_vendor_admission_type_in_any_case() -> None:
    profile = MappingProfile(
        organisation="RR8",
        default_service="lth-wards",
        codes={"admission_method": {"el": "elective"}},
    )
    assert arrival("A01", "EL", profile).events[0]["admission_method"] == "elective"


@pytest.mark.parametrize("discharged_to", ["Home", "Dead", "19", ""])
def test_an_a03_with_the_patient_death_indicator_is_a_death(discharged_to: str) -> None:
    dead = "PID|1||40800000^^^MRENTR^MEDREC||ZZZTEST^MATTHEW" + "|" * 24 + "20261123083456|Y"
    (event,) = events(
        message(
            msh("A03"),
            "EVN|A03|20261123101500",
            dead,
            pv1(f3="T11E^BY02^BY02-17", f36=discharged_to, f45="20261123100000"),
        )
    )
    assert (event["event_type"], event["destination"]) == ("discharge", "died")


def test_an_a03_with_the_death_indicator_n_is_not_a_death() -> None:
    alive = "PID|1||40800000^^^MRENTR^MEDREC||ZZZTEST^MATTHEW" + "|" * 25 + "N"
    (event,) = events(
        message(msh("A03"), "EVN|A03|20261123101500", alive, pv1(f3="T11E", f37="19"))
    )
    assert event["destination"] == "usual_residence"


@pytest.mark.parametrize(
    "authority",
    ["&2.16.840.1.113883.2.1.4.1&ISO", "NHSNUMBER&2.16.840.1.113883.2.1.4.1&ISO"],
    ids=["universal id only", "with a namespace id"],
)
def test_an_nhs_number_named_by_its_oid_in_cx4_is_the_nhs_number(authority: str) -> None:
    pid = f"PID|1||40800000^^^MRENTR^MEDREC~9434765919^^^{authority}||ZZZTEST^MATTHEW"
    (event,) = events(message(msh("A01"), "EVN|A01|20261123101500", pid, pv1(f3="W", f4="E")))
    assert event["patient"]["nhs_number"] == "9434765919"
    assert event["patient"]["local_id"] == "40800000"  # not the NHS number: that one is named


def test_a_profile_authority_may_be_a_universal_id() -> None:
    profile = MappingProfile(
        organisation="RR8",
        default_service="lth-wards",
        hl7={"nhs_number": {"authorities": ["1.2.826.0.1.285"]}},
    )
    pid = "PID|1||40800000^^^MRENTR^MEDREC~9434765919^^^&1.2.826.0.1.285&ISO||ZZZTEST"
    segments = (msh("A01"), "EVN|A01|20261123101500", pid, pv1(f3="W", f4="E"))
    (event,) = events(message(*segments), profile)
    assert event["patient"] == {
        "nhs_number": "9434765919",
        "local_id": "40800000",
        "id_system": "MRENTR",
    }


ADMIT = "\r".join(
    [
        "MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|20261123093105+0000||ADT^A01^ADT_A01|PAS1|P|2.5|||AL|NE"
        "|GBR|{charset}",
        "EVN|A01|20261123093100+0000|||C|20261123093000+0000",
        "PID|1||RR8123456^^^RR8^MR~9434765919^^^NHS^NH||{name}^Anne||19450312|F",
        pv1(f3="WARD7", f4="E"),
    ]
)


def test_a_byte_outside_the_declared_charset_in_a_name_is_replaced_with_a_warning() -> None:
    raw = ADMIT.format(charset="UNICODE UTF-8", name="Z\u00f6e").encode("latin-1")
    checker = Checker("RR8", PROFILE, CONTEXT, frozenset({"P"}))
    (outcome,) = checker.check_bytes(raw)
    assert (outcome.ack, outcome.refusal) == ("AA", None)
    assert [e["event_type"] for e in outcome.events] == ["admission"]
    assert outcome.warnings == ["PID-5: bytes that are not UNICODE UTF-8 (MSH-18) were replaced"]
    assert parse_message(raw).message.extract_field("PID", 1, 5, 1, 1, 1) == "Z\ufffde"


def test_a_byte_outside_the_declared_charset_in_a_read_field_is_refused_naming_it() -> None:
    raw = (
        ADMIT.format(charset="UTF-8", name="Smith").replace("WARD7", "WARD\u00d6").encode("latin-1")
    )
    (outcome,) = Checker("RR8", PROFILE, CONTEXT, frozenset({"P"})).check_bytes(raw)
    assert outcome.refusal is not None
    assert (outcome.ack, outcome.refusal.reason, outcome.refusal.field) == (
        "AE",
        "hl7_invalid_field",
        "PV1-3",
    )


@pytest.mark.parametrize(
    ("charset", "codec"),
    [
        ("ISO-8859-15", "iso8859-15"),
        ("ISO_IR 100", "iso8859-1"),
        ("ISO-IR-100", "iso8859-1"),
        ("I8859/1", "iso8859-1"),
        ("8859/15", "iso8859-15"),
        ("iso 8859/1", "iso8859-1"),
    ],
)
def test_spellings_of_the_table_0211_character_sets_are_read(charset: str, codec: str) -> None:
    raw = ADMIT.format(charset=charset, name="Z\u00f6e").encode("latin-1")
    parsed = parse_message(raw)
    assert (parsed.encoding, parsed.warnings) == (codec, ())
    assert parsed.message.extract_field("PID", 1, 5, 1, 1, 1) == "Z\u00f6e"


def test_class_e_on_a_ward_the_profile_maps_is_on_that_ward() -> None:
    # Some PAS keep PV1-2 E on the emergency spell after admission: the location rule, the
    # sender's own statement of where the patient is, decides.
    ward_rule = MappingProfile(
        organisation="RR8",
        default_service="lth-wards",
        locations=[
            LocationRule(point_of_care="ED", service="lth-ed"),
            LocationRule(point_of_care="WARD*", service="lth-wards"),
        ],
    )
    admitted = events(
        message(msh("A01"), "EVN|A01|20261123101500", PID, pv1(f2="E", f3="WARD7", f4="E")),
        ward_rule,
    )
    discharged = events(
        message(msh("A03"), "EVN|A03|20261124101500", PID, pv1(f2="E", f3="WARD7", f37="19")),
        ward_rule,
    )
    unmapped = events(
        message(msh("A01"), "EVN|A01|20261123101500", PID, pv1(f2="E", f3="RESUS", f4="E")),
        ward_rule,
    )

    assert [(e["event_type"], e["service"]) for e in admitted] == [("admission", "lth-wards")]
    assert [(e["event_type"], e["service"]) for e in discharged] == [("discharge", "lth-wards")]
    # Placed only by the default service, class E still says the emergency department.
    assert [(e["event_type"], e["service"]) for e in unmapped] == [("attendance", "lth-ed")]


ESCAPED_IDS = (
    "MSH|^~\\&|PAS|RR8|FS|LEEDS|20261123101500||ADT^A01|C1|P|2.4\r"
    "EVN|A01|20261123101400\r"
    "PID|1|9434765919\\Z01\\|{local}^^^RR8^MR||Smith^John\r"
    "PV1|1|I|WARD7|C|||||||||||||||SPELL-1"
)


def test_hl7_check_logs_no_field_the_library_cannot_unescape(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in a fresh process: the library's loggers as it leaves them.
    for module in (hl7.util, hl7.containers):
        monkeypatch.setattr(module.logger, "level", logging.NOTSET)
    checker = Checker("RR8", PROFILE, CONTEXT, frozenset({"P"}))
    with caplog.at_level(logging.DEBUG):
        checker.check_bytes(ESCAPED_IDS.format(local="RR8123").encode())
    assert "9434765919" not in caplog.text


def test_a_control_character_an_escape_puts_in_an_identifier_is_refused() -> None:
    checker = Checker("RR8", PROFILE, CONTEXT, frozenset({"P"}))
    (outcome,) = checker.check_bytes(ESCAPED_IDS.format(local="RR8\\X0\\123").encode())
    assert (outcome.ack, outcome.events) == ("AE", [])
    assert outcome.refusal is not None
    assert (outcome.refusal.reason, outcome.refusal.field) == ("hl7_invalid_field", "PID-3")


@pytest.mark.parametrize(
    ("trigger", "evn"),
    [
        ("A12", "EVN|A12|20261123110000|||C|20261123101000"),
        ("A02", "EVN|A02|20261123110000|||C|20261123101000"),
        ("A01", "EVN|A01|20261123110000"),
    ],
)
def test_an_unmapped_patient_class_is_warned_about_once(trigger: str, evn: str) -> None:
    sent = message(msh(trigger), evn, PID, pv1(f2="DAY CASE", f3="WARD7", f6="TOCH", f4="21"))
    result = map_message(sent, organisation="RR8", locations=LOCATIONS)
    assert isinstance(result, Mapped), result
    assert result.warnings == ["PV1-2: patient class 'DAY CASE' is not mapped"]
