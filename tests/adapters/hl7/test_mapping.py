"""HL7 v2.5 ADT messages, as a PAS sends them, become contract events or say what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.hl7.ack import hl7_field_of
from flowsight.adapters.hl7.mapping import (
    SUPPORTED_TRIGGERS,
    LocationMap,
    Mapped,
    NoChange,
    map_message,
)
from flowsight.adapters.hl7.parse import Unparseable, parse_message
from flowsight.adapters.profile import HL7_TRIGGERS
from flowsight.services.validation import Accepted, Rejected, ValidationContext, validate_document
from flowsight.settings import DEFAULT_CATALOGUE

NHS_NUMBER = "9434765919"  # the NHS's published example, valid Modulus 11
LOCATIONS = LocationMap(
    default_service="lth-wards", services={"A&E": "lth-ed", "TOCH": "lth-toc-hub"}
)

# A realistic admission from a trust PAS: the hospital number comes first in PID-3 and the NHS
# number second; escape sequences in the address (an escaped &) and in a Z-segment (an escaped
# field separator); PD1, NK1, AL1 and DG1 segments flowsight does not read; two local Z-segments.
A01 = "\r".join(
    [
        "MSH|^~\\&|PAS|RR8^LTHT^L|FLOWSIGHT|LEEDS|20261123093105+0000||ADT^A01^ADT_A01|"
        "PAS0000101|P|2.5|||AL|NE|GBR|UNICODE UTF-8",
        "EVN|A01|20261123093100+0000|||ADMCLERK^Clerk^Anne|20261123093000+0000",
        "PID|1||RR8123456^^^RR8^MR~9434765919^^^NHS^NH||O'Brien^Mary^Jane^^Mrs||19450312|F|||"
        "Flat 2 \\T\\ 3^12 Park Lane^Leeds^^LS1 1AA^GBR||0113 496 0000^PRN^PH",
        "PD1|||Park Lane Surgery^^B86001",
        "NK1|1|O'Brien^Peter|SON^Son|12 Park Lane^^Leeds^^LS1 1AA",
        "PV1|1|I|WARD7^BAY2^BED3^RR8|C|||C1234567^Jones^Sarah^^^Dr|||GMED||||19|||"
        "C1234567^Jones^Sarah^^^Dr||SPELL-55123^^^RR8^VN" + "|" * 25 + "20261123093000+0000",
        "AL1|1|DA|PENICILLIN^Penicillin",
        "DG1|1||R69X^Illness, unspecified^I10",
        "ZPV|fall-risk|high|bay 2\\F\\side room",
        "ZU1|^~\\&|anything goes here",
    ]
)


def message(*segments: str) -> Any:
    """Parse segments given one per argument, joined with CR as on the wire."""
    return parse_message("\r".join(segments).encode()).message


#: The v2.5 message structure of each trigger (MSH-9.3).
STRUCTURES = {"A02": "ADT_A02", "A03": "ADT_A03", "A11": "ADT_A09", "A12": "ADT_A12"}
STRUCTURES |= {"A05": "ADT_A05", "A28": "ADT_A05", "A31": "ADT_A05", "R01": "ORU_R01"}


def msh(trigger: str, control: str = "PAS0000201", *, kind: str = "ADT", pid: str = "P") -> str:
    structure = STRUCTURES.get(trigger, "ADT_A01")
    return (
        f"MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|20261123101500+0000||{kind}^{trigger}^{structure}|"
        f"{control}|{pid}|2.5"
    )


def pv1(**fields: str) -> str:
    """A PV1 segment from field numbers: pv1(f3="WARD7", f19="SPELL-1")."""
    values = {int(name[1:]): value for name, value in fields.items()}
    values.setdefault(1, "1")
    values.setdefault(2, "I")
    values.setdefault(19, "SPELL-55123^^^RR8^VN")
    return "PV1|" + "|".join(values.get(n, "") for n in range(1, max(values) + 1))


PID = "PID|1||RR8123456^^^RR8^MR~9434765919^^^NHS^NH||Smith^John||19500101|M"


def mapped(hl7_message: Any, locations: LocationMap = LOCATIONS) -> dict[str, Any]:
    result = map_message(hl7_message, organisation="RR8", locations=locations)
    assert isinstance(result, Mapped), result
    return result.event


def refused(hl7_message: Any, locations: LocationMap = LOCATIONS) -> Rejected:
    result = map_message(hl7_message, organisation="RR8", locations=locations)
    assert isinstance(result, Rejected), result
    return result


def test_an_a01_becomes_an_admission_with_the_nhs_number_from_repeating_pid3() -> None:
    event = mapped(parse_message(A01.encode()).message)
    assert event == {
        "schema_version": "1",
        "event_type": "admission",
        "event_id": "SPELL-55123:admission:20261123T093000Z",
        "source": "RR8/pas",
        "occurred_at": "2026-11-23T09:30:00+00:00",
        "patient": {"nhs_number": NHS_NUMBER, "local_id": "RR8123456", "id_system": "RR8"},
        "episode_id": "SPELL-55123",
        "recorded_at": "2026-11-23T09:31:00+00:00",  # EVN-2
        "service": "lth-wards",
        "unit": "WARD7",
        "admission_method": "elective",
    }


def test_an_a01_whose_evn_6_is_before_pv1_44_is_admitted_at_pv1_44_with_a_warning() -> None:
    # The NHS ITK example: EVN-2 = EVN-6 = the day the back-dated A01 was keyed, ten days before
    # PV1-44; the admission was placed ten days early (its id already named PV1-44).
    segment = pv1(f3="WARD7", f4="C", f44="20101020171600")
    result = map_message(
        message(msh("A01"), "EVN|A01|20101010140000|||C|20101010140000", PID, segment),
        organisation="RR8",
        locations=LOCATIONS,
    )
    assert isinstance(result, Mapped), result
    assert result.event["occurred_at"] == "2010-10-20T17:16:00+01:00"
    assert result.event["event_id"] == "SPELL-55123:admission:20101020T161600Z"
    assert any(w.startswith("EVN-6") and "before PV1-44" in w for w in result.warnings)


def test_the_mapped_a01_is_a_valid_contract_event_for_its_organisation() -> None:
    context = ValidationContext(
        load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, clock_skew=timedelta(minutes=5)
    )
    event = mapped(parse_message(A01.encode()).message)
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert isinstance(
        validate_document(event, organisation="RR8", context=context, now=now), Accepted
    )


def test_z_segments_and_segments_flowsight_does_not_read_change_nothing() -> None:
    plain = A01.split("\r")
    without = [s for s in plain if s[:3] in {"MSH", "EVN", "PID", "PV1"}]
    assert mapped(message(*without)) == mapped(message(*plain))


def test_escape_sequences_are_unescaped_by_the_library() -> None:
    parsed = parse_message(A01.encode()).message
    assert parsed.extract_field("PID", 1, 11, 1, 1, 1) == "Flat 2 & 3"
    # (ZPV-3 holds `\F\` too, but segments flowsight does not read are no longer parsed.)
    fenced = parse_message(A01.replace("Flat 2 \\T\\ 3", "bay 2\\F\\side room").encode())
    assert fenced.message.extract_field("PID", 1, 11, 1, 1, 1) == "bay 2|side room"


def test_escape_sequences_are_unescaped_before_a_location_is_looked_up() -> None:
    # "A&E" must travel as A\T\E: & is the sub-component separator.
    event = mapped(
        message(msh("A01"), "EVN|A01|20261123101500", PID, pv1(f3="A\\T\\E^CUBE4", f4="E"))
    )
    assert event["service"] == "lth-ed"
    assert event["unit"] == "A&E"


def test_other_separators_declared_in_msh_are_honoured() -> None:
    event = mapped(
        message(
            "MSH#*~\\&#PAS#RR8#FLOWSIGHT#LEEDS#20261123101500+0000##ADT*A01#C1#P#2.5",
            "EVN#A01#20261123101500+0000",
            "PID#1##9434765919***NHS*NH##Smith*John",
            "PV1#1#I#WARD7*B1#E###############SPELL-9",
        )
    )
    assert (event["patient"], event["unit"], event["episode_id"]) == (
        {"nhs_number": NHS_NUMBER},
        "WARD7",
        "SPELL-9",
    )


@pytest.mark.parametrize(
    ("pid", "expected"),
    [
        ("PID|1||RR8123456^^^LTH-PAS^MR||Smith", {"local_id": "RR8123456", "id_system": "LTH-PAS"}),
        ("PID|1||RR8123456^^^^MR||Smith^John", {"local_id": "RR8123456", "id_system": "RR8"}),
        (
            "PID|1||X1^^^LTH^MR~943 476 5919^^^NHS||Smith",
            {"nhs_number": "943 476 5919", "local_id": "X1", "id_system": "LTH"},
        ),
        ("PID|1||943 476 5919^^^NHS||Smith", {"nhs_number": "943 476 5919"}),
    ],
    ids=[
        "local id with its authority",
        "authority from MSH-4",
        "NHS authority, no type, and the local id",
        "NHS number alone",
    ],
)
def test_patient_identifiers(pid: str, expected: dict[str, str]) -> None:
    event = mapped(message(msh("A01"), "EVN|A01|20261123101500", pid, pv1(f3="WARD7", f4="E")))
    assert event["patient"] == expected


def test_a_message_without_any_patient_identifier_is_refused_on_pid3() -> None:
    refusal = refused(message(msh("A01"), "PID|1||||Smith", pv1(f3="WARD7", f4="E")))
    assert (refusal.reason, refusal.field) == ("hl7_missing_field", "PID-3")


@pytest.mark.parametrize(
    ("admission_type", "patient_class", "method"),
    [
        ("E", "I", "emergency"),
        ("U", "I", "emergency"),
        ("C", "I", "elective"),
        ("R", "I", "elective"),
        ("21", "I", "emergency"),
        ("12", "I", "elective"),
        ("2B", "I", "transfer_in"),
        ("81", "I", "transfer_in"),
        ("", "E", "emergency"),
    ],
)
def test_admission_method_from_pv1_4(admission_type: str, patient_class: str, method: str) -> None:
    segment = pv1(f2=patient_class, f3="WARD7", f4=admission_type)
    event = mapped(message(msh("A01"), "EVN|A01|20261123101500", PID, segment))
    assert event["admission_method"] == method


def test_an_a04_registration_is_a_start_of_care_admission() -> None:
    event = mapped(message(msh("A04"), "EVN|A04|20261123101500", PID, pv1(f2="", f3="TOCH")))
    assert event["event_type"] == "admission"
    assert event["admission_method"] == "start_of_care"
    assert event["service"] == "lth-toc-hub"


def test_an_a02_is_a_transfer_from_the_prior_location_to_the_assigned_one() -> None:
    segment = pv1(f3="TOCH^R1", f6="WARD7^BAY2^BED3")
    event = mapped(
        message(msh("A02"), "EVN|A02|20261123101600|||CLERK|20261123101000", PID, segment)
    )
    assert event == {
        "schema_version": "1",
        "event_type": "transfer",
        "event_id": "SPELL-55123:transfer:20261123T101000Z",
        "source": "RR8/pas",
        "occurred_at": "2026-11-23T10:10:00+00:00",
        "patient": {"nhs_number": NHS_NUMBER, "local_id": "RR8123456", "id_system": "RR8"},
        "episode_id": "SPELL-55123",
        "recorded_at": "2026-11-23T10:16:00+00:00",
        "service": "lth-wards",
        "from_service": "lth-wards",
        "to_service": "lth-toc-hub",
        "to_unit": "TOCH",
    }


def test_a_transfer_needs_its_prior_location() -> None:
    refusal = refused(message(msh("A02"), "EVN|A02|20261123101600", PID, pv1(f3="TOCH")))
    assert (refusal.reason, refusal.field) == ("hl7_missing_field", "PV1-6")


def test_two_transfers_in_one_visit_have_different_event_ids() -> None:
    first, second = (
        mapped(message(msh("A02"), f"EVN|A02|||||{at}", PID, pv1(f3="W2", f6="W1")))
        for at in ("20261123101000", "20261123141000")
    )
    assert first["event_id"] != second["event_id"]


@pytest.mark.parametrize(
    ("disposition", "discharged_to", "destination"),
    [
        ("1", "19", "usual_residence"),
        ("", "51", "other_hospital"),
        ("1", "54^20261123", "care_home_nursing"),
        ("1", "65", "care_home_residential"),
        ("1", "88", "hospice"),
        ("4", "79", "died"),
        ("4", "", "died"),
        ("usual_residence_with_support", "", "usual_residence_with_support"),
        ("", "short_term_bed", "short_term_bed"),
        ("", "", "other"),
        # PV1-37, the discharged-to location, wins over what PV1-36 holds; PV1-36 is a fallback.
        ("01", "19", "usual_residence"),
        ("Discharged", "65", "care_home_residential"),
        ("usual_residence_with_support", "19", "usual_residence"),
        ("usual_residence_with_support", "Elsewhere", "usual_residence_with_support"),
    ],
)
def test_discharge_destination(disposition: str, discharged_to: str, destination: str) -> None:
    segment = pv1(f3="WARD7", f36=disposition, f37=discharged_to, f45="20261123150000")
    event = mapped(message(msh("A03"), "EVN|A03|20261123150500", PID, segment))
    assert event["destination"] == destination


def pid_death(dated: str, indicator: str) -> str:
    """PID with PID-29 (date of death) and PID-30 (death indicator)."""
    return PID + "|" * 20 + f"|{dated}|{indicator}"


@pytest.mark.parametrize(
    ("dated", "indicator", "destination", "warned"),
    [
        ("20261123143000", "", "died", False),  # dated within the visit: as FHIR reads it
        ("20261123", "", "died", False),  # the day of the admission, to the day
        ("20261123143000", "N", "died", True),  # a contradiction, said
        ("20080101", "Y", "died", False),  # PID-30 says so, whatever PID-29
        ("20261201", "", "usual_residence", False),  # after the discharge: a later death
        ("20261122", "", "usual_residence", False),  # before the visit began
    ],
)
def test_a_date_of_death_within_the_visit_is_a_death(
    dated: str, indicator: str, destination: str, warned: bool
) -> None:
    # A PID-29 within the stay with no PID-30 was a discharge home; the FHIR gateway reads a
    # Patient's deceasedDateTime within the stay as a death.
    segment = pv1(f3="WARD7", f37="19", f44="20261123093000", f45="20261123150000")
    result = map_message(
        message(msh("A03"), "EVN|A03|20261123150500", pid_death(dated, indicator), segment),
        organisation="RR8",
        locations=LOCATIONS,
    )
    assert isinstance(result, Mapped), result
    assert result.event["destination"] == destination
    assert any(w.startswith("PID-30") for w in result.warnings) is warned


def test_an_a03_is_a_discharge_at_pv1_45_when_evn_6_is_absent() -> None:
    segment = pv1(f3="WARD7", f36="1", f37="19", f45="20261123150000")
    event = mapped(message(msh("A03"), "EVN|A03|20261123150500", PID, segment))
    assert event["event_type"] == "discharge"
    assert event["event_id"] == "SPELL-55123:discharge:20261123T150000Z"
    assert event["occurred_at"] == "2026-11-23T15:00:00+00:00"
    assert event["service"] == "lth-wards"


@pytest.mark.parametrize(
    ("times", "field"),
    [
        ({"f44": "20261123090000", "f45": "20261122150000"}, "PV1-45"),  # a day's keying slip
        ({"f44": "20261123090000"}, "EVN-6"),  # no PV1-45: the event time ends the visit
    ],
)
def test_an_a03_ending_the_visit_before_pv1_44_is_refused_naming_the_field(
    times: dict[str, str], field: str
) -> None:
    # Answered AA, the stay stayed open for ever and the discharge was only an anomaly.
    segment = pv1(f3="WARD7", f37="19", **times)
    rejected = refused(
        message(msh("A03"), "EVN|A03|20261123150500||||20261122150000", PID, segment)
    )
    assert (rejected.reason, rejected.field) == ("hl7_invalid_field", field)
    assert "before PV1-44" in rejected.message


def test_an_a03_at_its_admission_time_or_after_it_discharges() -> None:
    for left in ("20261123090000", "20261123150000"):
        segment = pv1(f3="WARD7", f37="19", f44="20261123090000", f45=left)
        event = mapped(message(msh("A03"), "EVN|A03|20261123150500", PID, segment))
        assert event["event_type"] == "discharge"


@pytest.mark.parametrize(
    ("admitted", "left", "span"),
    [
        ("20130211100052", "201302111000", "minute"),  # a PAS keeping discharges to the minute
        ("20261123093000", "20261123", "day"),  # a day case, its discharge dated only
        ("2026112309", "20261123", "day"),
    ],
)
def test_an_a03_before_pv1_44_only_within_its_precision_discharges_at_pv1_44(
    admitted: str, left: str, span: str
) -> None:
    # Refused AE: every same-day discharge of a PAS that dates discharges to the day was lost.
    segment = pv1(f3="WARD7", f37="19", f44=admitted, f45=left)
    result = map_message(
        message(msh("A03"), "EVN|A03|20261123150500", PID, segment),
        organisation="RR8",
        locations=LOCATIONS,
    )
    assert isinstance(result, Mapped), result
    admission_time = datetime.strptime(admitted.ljust(14, "0"), "%Y%m%d%H%M%S")
    occurred = datetime.fromisoformat(result.event["occurred_at"])
    assert occurred.replace(tzinfo=None) == admission_time
    assert any(w.startswith(f"PV1-45: a {span} holding PV1-44") for w in result.warnings)


def test_an_a03_a_minute_before_pv1_44_to_the_minute_is_still_refused() -> None:
    segment = pv1(f3="WARD7", f37="19", f44="201302111001", f45="201302111000")
    rejected = refused(message(msh("A03"), "EVN|A03|20261123150500", PID, segment))
    assert (rejected.reason, rejected.field) == ("hl7_invalid_field", "PV1-45")


def test_an_unknown_discharge_destination_still_discharges_with_a_warning() -> None:
    segment = pv1(f3="WARD7", f37="01")  # a US UB-04 status code, not an NHS one
    result = map_message(
        message(msh("A03"), "EVN|A03|20261123150500", PID, segment),
        organisation="RR8",
        locations=LOCATIONS,
    )
    assert isinstance(result, Mapped)
    assert result.event["destination"] == "other"
    assert any(w.startswith("PV1-37") for w in result.warnings)


@pytest.mark.parametrize(
    ("original", "cancel"),
    [
        (
            (
                msh("A01", "M1"),
                "EVN|A01|20261123093100|||C|20261123093000",
                PID,
                pv1(f3="WARD7", f4="E"),
            ),
            # The cancel carries the admission's time in EVN-6, in another precision and offset.
            (
                msh("A11", "M2"),
                "EVN|A11|20261123110000|||C|202611230930+0000",
                PID,
                pv1(f3="WARD7"),
            ),
        ),
        (
            (
                msh("A01", "M1"),
                "EVN|A01|20261123093100",
                PID,
                pv1(f3="WARD7", f4="E", f44="20261123093000"),
            ),
            (
                msh("A11", "M2"),
                "EVN|A11|20261123110000",
                PID,
                pv1(f3="WARD7", f44="20261123093000"),
            ),
        ),
        (
            (
                msh("A02", "M1"),
                "EVN|A02|20261123101600|||C|20261123101000",
                PID,
                pv1(f3="W2", f6="W1"),
            ),
            (
                msh("A12", "M2"),
                "EVN|A12|20261123110000|||C|20261123101000",
                PID,
                pv1(f3="W1", f6="W2"),
            ),
        ),
        (
            (
                msh("A03", "M1"),
                "EVN|A03|20261123150500",
                PID,
                pv1(f3="W1", f37="19", f45="20261123150000"),
            ),
            (msh("A13", "M2"), "EVN|A13|20261123160000", PID, pv1(f3="W1", f45="20261123150000")),
        ),
        (
            (
                msh("A03", "M1"),
                "EVN|A03|20261123150500",
                PID,
                pv1(f3="W1", f37="19", f44="20261123093000", f45="20261123"),
            ),
            # The discharge was taken at PV1-44: its day-only PV1-45 holds the admission.
            (
                msh("A13", "M2"),
                "EVN|A13|20261123160000",
                PID,
                pv1(f3="W1", f44="20261123093000", f45="20261123"),
            ),
        ),
    ],
    ids=["A11 by EVN-6", "A11 by PV1-44", "A12 by EVN-6", "A13 by PV1-45", "A13 by a day"],
)
def test_a_cancel_message_names_the_event_id_of_what_it_cancels(
    original: tuple[str, ...], cancel: tuple[str, ...]
) -> None:
    cancelled = mapped(message(*original))
    cancellation = mapped(message(*cancel))
    assert cancellation["event_type"] == "cancellation"
    assert cancellation["cancels_event_id"] == cancelled["event_id"]
    assert cancellation["event_id"] == f"{cancelled['event_id']}:cancelled"
    assert cancellation["occurred_at"].startswith("2026-11-23T1")  # when the cancel was recorded


def test_a_cancel_without_the_time_of_what_it_cancels_is_refused() -> None:
    refusal = refused(message(msh("A12"), "EVN|A12|20261123110000", PID, pv1(f3="W1")))
    assert (refusal.reason, refusal.field) == ("hl7_missing_field", "EVN-6")


def test_a_resend_with_a_new_control_id_keeps_the_event_id() -> None:
    evn = "EVN|A01|20261123093100|||C|20261123093000"
    first = mapped(message(msh("A01", "PAS1"), evn, PID, pv1(f3="WARD7", f4="E")))
    again = mapped(message(msh("A01", "PAS2"), evn, PID, pv1(f3="WARD7", f4="E")))
    assert first["event_id"] == again["event_id"]


@pytest.mark.parametrize("trigger", ["A08", "A28", "A31"])
def test_patient_information_updates_change_nothing(trigger: str) -> None:
    result = map_message(
        message(msh(trigger), f"EVN|{trigger}|20261123101500", PID),
        organisation="RR8",
        locations=LOCATIONS,
    )
    assert isinstance(result, NoChange)


def test_the_triggers_mapped_are_the_triggers_a_profile_may_take() -> None:
    assert SUPPORTED_TRIGGERS == HL7_TRIGGERS


@pytest.mark.parametrize(
    ("header", "reason", "field"),
    [
        (msh("R01", kind="ORU"), "hl7_unsupported_message_type", "MSH-9"),
        (msh("A01", pid="T"), "hl7_unsupported_processing_id", "MSH-11"),
    ],
)
def test_messages_flowsight_does_not_take_are_refused(header: str, reason: str, field: str) -> None:
    refusal = refused(message(header, "EVN|A01|20261123101500", PID, pv1(f3="WARD7", f4="E")))
    assert (refusal.reason, refusal.field) == (reason, field)
    assert refusal.message


@pytest.mark.parametrize("missing", ["PID", "PV1"])
def test_a_missing_segment_is_named(missing: str) -> None:
    segments = [msh("A01"), "EVN|A01|20261123101500", PID, pv1(f3="WARD7", f4="E")]
    refusal = refused(message(*[s for s in segments if not s.startswith(missing)]))
    assert (refusal.reason, refusal.field) == ("hl7_missing_segment", missing)


def test_a_message_without_a_visit_or_account_number_is_refused() -> None:
    segment = "PV1|1|I|WARD7^B1|E"
    refusal = refused(message(msh("A01"), "EVN|A01|20261123101500", PID, segment))
    assert (refusal.reason, refusal.field) == ("hl7_missing_field", "PV1-19")


def test_without_a_visit_number_the_account_number_names_the_visit_with_a_warning() -> None:
    # Feeds outside the NHS often leave PV1-19 empty and key the encounter by PID-18.
    pid = PID + "|" * (18 - PID.count("|")) + "ACC-991"
    result = map_message(
        message(msh("A01"), "EVN|A01|20261123101500", pid, "PV1|1|I|WARD7^B1|E"),
        organisation="RR8",
        locations=LOCATIONS,
    )

    assert isinstance(result, Mapped), result
    assert result.event["episode_id"] == "ACC-991"
    assert result.event["event_id"].startswith("ACC-991:admission:")
    assert any(warning.startswith("PV1-19:") for warning in result.warnings)


def test_a_point_of_care_outside_the_map_without_a_default_is_refused() -> None:
    only_mapped = LocationMap(services={"WARD7": "lth-wards"})
    segment = pv1(f3="WARD9", f4="E")
    refusal = refused(message(msh("A01"), "EVN|A01|20261123101500", PID, segment), only_mapped)
    assert (refusal.reason, refusal.field) == ("hl7_unmapped_location", "PV1-3")


@pytest.mark.parametrize(
    ("evn", "occurred_at", "id_time"),
    [
        ("EVN|A01|||||20261123093000+0000", "2026-11-23T09:30:00+00:00", "20261123T093000Z"),
        ("EVN|A01|||||20260714093000+0100", "2026-07-14T09:30:00+01:00", "20260714T083000Z"),
        ("EVN|A01|||||20261123093000-0500", "2026-11-23T09:30:00-05:00", "20261123T143000Z"),
        # No offset: Europe/London, GMT in November and BST in July.
        ("EVN|A01|||||20261123093000", "2026-11-23T09:30:00+00:00", "20261123T093000Z"),
        ("EVN|A01|||||20260714093000", "2026-07-14T09:30:00+01:00", "20260714T083000Z"),
        ("EVN|A01|||||202607140930", "2026-07-14T09:30:00+01:00", "20260714T083000Z"),
        (
            "EVN|A01|||||20260714093000.25",
            "2026-07-14T09:30:00.250000+01:00",
            "20260714T083000.250000Z",
        ),
        # No EVN-6: the recorded time, EVN-2.
        ("EVN|A01|20261123100000", "2026-11-23T10:00:00+00:00", "20261123T100000Z"),
    ],
)
def test_event_times(evn: str, occurred_at: str, id_time: str) -> None:
    segments = [msh("A01"), evn, PID, pv1(f3="WARD7", f4="E")]
    event = mapped(message(*segments))
    assert event["occurred_at"] == occurred_at
    assert event["event_id"] == f"SPELL-55123:admission:{id_time}"


def test_the_time_a_message_was_sent_never_times_its_event() -> None:
    # An engine resending a message stamps a new MSH-7 and keeps MSH-10; an event timed by MSH-7
    # was another event each time, an admission or a discharge counted again.
    for trigger in ("A01", "A02", "A03"):
        segments = [f"EVN|{trigger}", PID, pv1(f3="WARD7", f4="E", f6="WARD8", f37="19")]
        refusal = refused(message(msh(trigger), *segments))
        assert (refusal.reason, refusal.field) == ("hl7_missing_field", "EVN-2"), trigger
        assert "MSH-7" in refusal.message
    first = msh("A01")
    resent = msh("A01").replace("20261123101500", "20261123102000")
    ids = {
        mapped(message(header, "EVN|A01|20261123100000", PID, pv1(f3="WARD7")))["event_id"]
        for header in (first, resent)
    }
    assert ids == {"SPELL-55123:admission:20261123T100000Z"}


@pytest.mark.parametrize("bad", ["2026-11-23", "20261323093000", "20261123093000+2500", "soon"])
def test_a_time_that_is_not_an_hl7_time_is_refused(bad: str) -> None:
    refusal = refused(message(msh("A01"), f"EVN|A01||||C|{bad}", PID, pv1(f3="WARD7", f4="E")))
    assert (refusal.reason, refusal.field) == ("hl7_invalid_field", "EVN-6")


def test_the_source_system_is_the_sending_application() -> None:
    header = msh("A01").replace("|PAS|", "|Leeds PAS|")
    event = mapped(message(header, "EVN|A01|20261123101400", PID, pv1(f3="WARD7", f4="E")))
    assert event["source"] == "RR8/leeds-pas"
    refusal = refused(message(msh("A01").replace("|PAS|", "|@@@|"), PID, pv1(f3="W", f4="E")))
    assert (refusal.reason, refusal.field) == ("hl7_invalid_field", "MSH-3")


def test_segments_ended_by_line_feeds_are_read_too() -> None:
    assert mapped(parse_message(A01.replace("\r", "\r\n").encode()).message) == mapped(
        parse_message(A01.encode()).message
    )


def test_blank_lines_between_segments_are_skipped() -> None:
    gappy = A01.replace("\r", "\r\n\r\n")
    assert mapped(parse_message(gappy.encode()).message) == mapped(
        parse_message(A01.encode()).message
    )


@pytest.mark.parametrize(
    "raw",
    [b"GET / HTTP/1.1\r\nHost: flowsight\r\n\r\n", b"MSH|\r", b"MSHE^&\\&|PAS|RR8|F|L\r"],
    ids=["not HL7", "bare MSH", "separators the library cannot use"],
)
def test_bytes_that_are_not_hl7_are_unparseable(raw: bytes) -> None:
    with pytest.raises(Unparseable):
        parse_message(raw)


def test_the_declared_character_set_decodes_the_message() -> None:
    latin = A01.replace("UNICODE UTF-8", "8859/1").replace("Mary^Jane", "Zoë^Jane")
    parsed = parse_message(latin.encode("latin-1"))
    assert parsed.encoding == "iso8859-1"
    assert parsed.message.extract_field("PID", 1, 5, 1, 2, 1) == "Zoë"


def test_bytes_that_break_the_declared_character_set_in_a_read_field_are_unparseable() -> None:
    broken = A01.replace("WARD7", "WARD\udceb7").encode("utf-8", errors="surrogateescape")
    with pytest.raises(Unparseable, match="UNICODE UTF-8") as raised:
        parse_message(broken)
    assert raised.value.field == "PV1-3"
    assert raised.value.header.extract_field("MSH", 1, 10, 1, 1, 1) == "PAS0000101"


def test_undeclared_non_utf8_bytes_are_read_as_windows_1252() -> None:
    undeclared = A01.replace("|UNICODE UTF-8", "").replace("Mary", "Zoë")
    parsed = parse_message(undeclared.encode("cp1252"))
    assert parsed.encoding == "cp1252"
    assert parsed.message.extract_field("PID", 1, 5, 1, 2, 1) == "Zoë"
    assert mapped(parsed.message)["patient"]["nhs_number"] == NHS_NUMBER


def test_the_location_map_names_services_the_organisation_does_not_own() -> None:
    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    locations = LocationMap("lth-wards", {"W1": "lth-ed", "CH": "lcc-care-homes", "X": "nope"})
    problems = locations.problems(catalogue, "RR8")
    assert len(problems) == 2
    assert "'lcc-care-homes' is not a service of RR8" in problems[0]
    assert "'nope'" in problems[1]


@pytest.mark.parametrize(
    ("contract_field", "event_type", "hl7_field"),
    [
        ("patient.nhs_number", "admission", "PID-3"),
        ("patient.id_system", "admission", "PID-3.4"),
        ("service", "admission", "PV1-3"),
        ("service", "transfer", "PV1-6"),
        ("to_service", "transfer", "PV1-3"),
        ("occurred_at", "admission", "EVN-6"),
        ("occurred_at", "cancellation", "EVN-2"),
        ("event_id", "discharge", "PV1-19"),
    ],
)
def test_contract_fields_are_named_by_their_hl7_field(
    contract_field: str, event_type: str, hl7_field: str
) -> None:
    assert hl7_field_of(contract_field, event_type) == hl7_field


def test_an_a03_with_a_pv1_44_that_is_no_time_still_discharges() -> None:
    # An A03 needs no admission time: one that is not a time refuses nothing.
    segment = pv1(f3="WARD7", f37="19", f44="NOT-A-TIME", f45="20261123150000")
    event = mapped(message(msh("A03"), "EVN|A03|20261123150500", PID, segment))
    assert event["event_type"] == "discharge"
