"""A sender that asks for enhanced acknowledgement mode (MSH-15, MSH-16; HL7 v2.5 2.9.3) gets
the accept acknowledgement it asked for (CA, CE, CR), or none; original mode keeps AA, AE, AR.
A real public message; each test of enhanced mode fails on the old code."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import hl7
import pytest

from flowsight.adapters.profile import MappingProfile, default_profile
from tests.adapters.hl7.listening import RecordingPublisher, settings
from tests.adapters.hl7.test_sender_answers import listener_for

#: An ORBIS-style KIS A02 (IHE PAM DE, HL7 v2.5) as HL7 Deutschland's examples quote it in a
#: public repository's markdown (search index file id 51978814464, block 5), in 8859/1 as its
#: MSH-18 declares: MSH-15 `AL`, MSH-16 `NE`, an accept acknowledgement always, no application
#: acknowledgement. PID-5, PID-11, PID-13, PID-14 and PID-23 left out.
KIS_A02 = "\r".join(
    [
        "MSH|^~\\&|KIS|ADT|RIS|ADT|202604011935||ADT^A02^ADT_A02|ADT002|P|2.5^DEU&&HL70399|||AL|NE|"
        "DEU|8859/1|DEU^^HL70296||2.16.840.1.113883.2.6.9.44^^2.16.840.1.113883.2.6^ISO",
        "SFT|KIS System GmbH^L|5.0|A1",
        "EVN||202604011935||||202604011645",
        "PID|||10987^^^Kastanien-Klinik^PI||||19880823|F",
        "PV1|1|I|CHI^303^3^CH^^N^D^4|R||IN1^202^1^IN^^N^D^2|"
        "270909^Langer^Bernhard^^^Dr.^^^Kastanien-Klinik^L^^^DN||||||||||||"
        "8264^^^Kastanien-Klinik^VN|||||||||||||||||||||||||202604011645",
        "PV2|||||||||20260405|4",
        "ZBE|2345^KIS|202604011935||INSERT",
        "",
    ]
)
WARDS = default_profile("RR8", "lth-wards")


class UnavailablePublisher(RecordingPublisher):
    """Kafka does not take the event."""

    async def publish(self, organisation: str, events: Sequence[Mapping[str, Any]]) -> None:
        raise TimeoutError


def answer(
    raw: str,
    directory: Path,
    profile: MappingProfile = WARDS,
    publisher: type[RecordingPublisher] = RecordingPublisher,
) -> tuple[bytes, RecordingPublisher]:
    """The bytes the listener sends back for `raw` (empty: no answer), and what it published."""
    recording = publisher(settings(directory))
    reply = asyncio.run(listener_for(recording, profile).acknowledge(raw.encode("latin-1"))).ack
    return reply, recording


def msa(reply: bytes) -> tuple[str, str]:
    segment = hl7.parse(reply.decode("latin-1")).segment("MSA")
    return str(segment(1)), str(segment(2))


def test_al_ne_is_answered_commit_accept_once_kafka_has_the_transfer(tmp_path: Path) -> None:
    # MSA|AA was an application acknowledgement, which MSH-16 `NE` asked never to be sent.
    reply, publisher = answer(KIS_A02, tmp_path)

    assert msa(reply) == ("CA", "ADT002")
    assert reply.count(b"MSH|") == 1  # one answer: no application acknowledgement after it
    assert [e["event_type"] for e in publisher.published] == ["transfer"]


def test_a_content_error_is_a_commit_error_with_its_err_segment(tmp_path: Path) -> None:
    reply, publisher = answer(KIS_A02, tmp_path, profile=default_profile("RR8"))

    assert msa(reply) == ("CE", "ADT002")
    assert str(hl7.parse(reply.decode("latin-1")).segment("ERR")(5)) == "hl7_unmapped_location"
    assert publisher.published == [] and len(publisher.dead) == 1


@pytest.mark.parametrize(
    ("sent", "publisher"),
    [
        (KIS_A02.replace("|ADT002|P|", "|ADT002|D|"), RecordingPublisher),  # MSH-11 not taken
        (KIS_A02, UnavailablePublisher),  # Kafka did not take it: resend
    ],
    ids=["processing-id", "kafka"],
)
def test_a_rejection_is_a_commit_reject(
    sent: str, publisher: type[RecordingPublisher], tmp_path: Path
) -> None:
    reply, _ = answer(sent, tmp_path, publisher=publisher)

    assert msa(reply) == ("CR", "ADT002")


@pytest.mark.parametrize(
    ("modes", "profile", "expected"),
    [
        ("||", WARDS, ("AA", "ADT002")),  # original mode, as before
        ("|NE|AL", WARDS, ("AA", "ADT002")),  # no accept ACK asked: the application ACK
        ("|ER|NE", default_profile("RR8"), ("CE", "ADT002")),  # an error: asked for
        ("|SU|NE", WARDS, ("CA", "ADT002")),
    ],
    ids=["original", "ne-al", "er-error", "su-success"],
)
def test_the_answer_is_the_one_msh15_and_msh16_ask_for(
    modes: str, profile: MappingProfile, expected: tuple[str, str], tmp_path: Path
) -> None:
    reply, _ = answer(KIS_A02.replace("||AL|NE|", f"|{modes}|", 1), tmp_path, profile)

    assert msa(reply) == expected


@pytest.mark.parametrize(
    ("modes", "profile"),
    [("|NE|NE", WARDS), ("|ER|NE", WARDS), ("|SU|NE", default_profile("RR8"))],
    ids=["never", "er-success", "su-error"],
)
def test_no_answer_is_sent_where_msh15_and_msh16_ask_for_none(
    modes: str, profile: MappingProfile, tmp_path: Path
) -> None:
    # The sender declared it waits for none (table 0155); what was published or dead-lettered
    # is as ever.
    reply, publisher = answer(KIS_A02.replace("||AL|NE|", f"|{modes}|", 1), tmp_path, profile)

    assert reply == b""
    assert len(publisher.published) + len(publisher.dead) == 1
