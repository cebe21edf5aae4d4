"""A message whose MSH-3 (sending application, optional in HL7 v2.5) is empty is named by the
source system its profile gives (`hl7.system`); without one it is refused saying how to name it.
Real public messages; the tests of the setting fail on the old code."""

from __future__ import annotations

from datetime import timedelta

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.hl7.check import Checker, Outcome
from flowsight.adapters.profile import MappingProfile
from flowsight.services.validation import ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE

CONTEXT = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))

#: NIST syndromic surveillance test case NIST-SS-003.32, an A03 with MSH-3 empty, as
#: HCA-Healthcare/elixir-hl7 @e490b0fe0b6436e8c888f1eab3e906e9f4f9e94b publishes it
#: (lib/hl7/examples.ex, `nist_syndromic_hl7`); segments after PV1 (DG1, OBX) left out.
NIST_A03 = "\r".join(
    [
        "MSH|^~\\&||LakeMichMC^9879874000^NPI|||201204020040||ADT^A03^ADT_A03|NIST-SS-003.32|P|"
        "2.5.1|||||||||PH_SS-NoAck^SS Sender^2.16.840.1.114222.4.10.3^ISO",
        "EVN||201204020030|||||LakeMichMC^9879874000^NPI",
        "PID|1||33333^^^^MR||^^^^^^~^^^^^^S|||F||2106-3^^CDCREC|^^^^53217^^^^55089|||||||||||"
        "2186-5^^CDCREC",
        "PV1|1||||||||||||||||||33333_001^^^^VN|||||||||||||||||09||||||||201204012130",
        "",
    ]
)
#: Thieme E-ConsentPro's A02 (IHE PAM DE, HL7 v2.6) as HL7 Deutschland's examples quote it in a
#: public repository's markdown (search index file id 51978814464, block 14): MSH-3 to MSH-6
#: empty. Without an MSH-18 it is read as Windows-1252, as such a sender writes it.
THIEME_A02 = "\r".join(
    [
        "MSH|^~\\&|||||20260912142642||ADT^A02^ADT_A02|MSG00001|P|2.6|",
        "EVN|A02|20260912142642||",
        "PID|0||246813579^^^PVS1||Br\u00fcckner^G\u00efs\u00ebla||19720514|F|||"
        "Holtenauer Str. 789^^Kiel^^24105||04567/89012-0~^NET^X.400^"
        "gisela.brueckner@kielerpost.com~0456/78901234^^CP",
        "PV1||I|n\u00ebuFl\u00fcgel^n\u00ebuZimmer^n\u00ebuBett|||"
        "altFl\u00fcgel^altZimmer^altBett|0100^BRANDT,FR\u00cfTZ|0148^BRANDT,\u00c4NNA ES||SUR|||"
        "||||0148^BRANDT,FR\u00cfTZ|S|3600|A|||||||||||||||||||G\u00cbNKHS||||||",
        "",
    ]
)


def checked(raw: bytes, system: str | None = None) -> Outcome:
    profile = MappingProfile(
        organisation="RR8", default_service="lth-wards", hl7={"system": system}
    )
    return Checker("RR8", profile, CONTEXT, frozenset({"P"})).check_message(raw)


def test_the_profiles_system_names_a_message_without_msh3() -> None:
    # MSH-3 is optional in HL7 v2.5; the NIST test case was refused AE "MSH-3 is required".
    outcome = checked(NIST_A03.encode(), system="nist-ss")

    assert outcome.ack == "AA", outcome.refusal
    (discharge,) = outcome.events
    assert discharge["source"] == "RR8/nist-ss"
    assert discharge["event_id"] == "33333_001:discharge:20120401T233000Z"


def test_a_german_kis_a02_without_msh3_is_a_transfer_of_the_profiles_system() -> None:
    outcome = checked(THIEME_A02.encode("latin-1"), system="thieme")

    assert outcome.ack == "AA", outcome.refusal
    assert [(e["event_type"], e["source"]) for e in outcome.events] == [("transfer", "RR8/thieme")]


def test_msh3_when_sent_wins_over_the_profiles_system() -> None:
    filled = NIST_A03.replace("MSH|^~\\&||", "MSH|^~\\&|NISTSS|", 1)

    (discharge,) = checked(filled.encode(), system="nist-ss").events

    assert discharge["source"] == "RR8/nistss"


def test_without_msh3_or_the_setting_the_refusal_says_how_to_name_the_system() -> None:
    outcome = checked(NIST_A03.encode())

    assert outcome.ack == "AE" and outcome.refusal is not None
    assert (outcome.refusal.reason, outcome.refusal.field) == ("hl7_missing_field", "MSH-3")
    assert "hl7: system:" in outcome.refusal.message


def test_a_local_id_without_an_issuer_is_the_profiles_systems() -> None:
    # MSH-3, MSH-4 and PID-3.4 all empty: the only issuer the MRN can have is the system the
    # profile names for the feed. It was refused "a local identifier needs its authority".
    bare = THIEME_A02.replace("246813579^^^PVS1", "246813579", 1)

    outcome = checked(bare.encode("latin-1"), system="thieme")

    assert outcome.ack == "AA", outcome.refusal
    (transfer,) = outcome.events
    assert transfer["patient"]["id_system"] == "thieme"
    assert transfer["patient"]["local_id"] == "246813579"
