"""What an ACK's envelope says to the sender: the message it answers (MSA-2, from MSH-10) and
the character set it is written in (MSH-18). Real public messages; each test fails on the old
code."""

from __future__ import annotations

import asyncio
from pathlib import Path

import hl7
import pytest

from tests.adapters.hl7.listening import RecordingPublisher, settings
from tests.adapters.hl7.test_sender_answers import answered, listener_for

#: hapifhir/hapi-hl7v2 @43471df0d05f3c36aa23d9dc2dd03d5b7e8b22a2,
#: hapi-examples/src/main/java/ca/uhn/hl7v2/examples/ExampleParseMessages.java L52-58: an A01
#: whose MSH-10 is empty (MSH, PID and PV1 as published; PV2, NK1, AL1 and GT1 left out).
HAPI_A01_WITHOUT_MSH10 = "\r".join(
    [
        "MSH|^~\\&|HIS|RIH|EKG|EKG|199904140038||ADT^A01||P|2.2",
        "PID|0001|00009874|00001122|A00977|SMITH^JOHN^M|MOM|19581119|F|NOTREAL^LINDA^M|C|"
        "564 SPRING ST^^NEEDHAM^MA^02494^US|0002|(818)565-1551|(425)828-3344|E|S|C|0000444444|"
        "252-00-4414||||SA|||SA||||NONE|V1|0001|I|D.ER^50A^M110^01|ER|P00055|11B^M011^02|"
        "070615^BATMAN^GEORGE^L|555888^NOTREAL^BOB^K^DR^MD|777889^NOTREAL^SAM^T^DR^MD^PHD|ER|"
        "D.WT^1A^M010^01|||ER|AMB|02|070615^NOTREAL^BILL^L|ER|000001916994|D||||||||||||||||"
        "GDD|WA|NORM|02|O|02|E.IN^02D^M090^01|E.IN^01D^M080^01|199904072124|199904101200|"
        "199904101200||||5555112333|||666097^NOTREAL^MANNY^P",
        "PV1|0001|I|D.ER^1F^M950^01|ER|P000998|11B^M011^02|070615^BATMAN^GEORGE^L|"
        "555888^OKNEL^BOB^K^DR^MD|777889^NOTREAL^SAM^T^DR^MD^PHD|ER|D.WT^1A^M010^01|||ER|AMB|"
        "02|070615^VOICE^BILL^L|ER|000001916994|D||||||||||||||||GDD|WA|NORM|02|O|02|"
        "E.IN^02D^M090^01|E.IN^01D^M080^01|199904072124|199904101200|||||5555112333|||"
        "666097^DNOTREAL^MANNY^P",
        "",
    ]
)


def test_a_message_without_a_control_id_is_rejected_naming_msh10(tmp_path: Path) -> None:
    # MSA-2 echoes MSH-10: answered `MSA|AA|`, the sender could not tell which message the ACK
    # was for, while its admission was published.
    raw = HAPI_A01_WITHOUT_MSH10.encode()

    ack, publisher = answered(raw, tmp_path)

    assert [str(ack.segment("MSA")(n)) for n in (1, 2)] == ["AR", ""]
    assert str(ack.segment("ERR")(2)) == "MSH^1^10^1"
    assert str(ack.segment("ERR")(3)) == "101^Required field missing^HL70357"
    assert publisher.published == []
    ((dead, headers),) = publisher.dead
    assert dead == raw
    assert (headers["reason"], headers["field"]) == ("hl7_missing_control_id", "MSH-10")


#: Saga, the PAS of Landspítali (Iceland): an A02 as published in a public repository's markdown
#: (search index file id 51790150846, block 2), declaring 8859/1 and naming the receiving
#: application `RAFÖRNINN` in MSH-5, which the ACK returns in its MSH-3.
SAGA_A02 = "\r".join(
    [
        "MSH|^~\\&|SAGA|LANDSPITALI|RAF\u00d6RNINN|LANDSPITALI|20260302140000||ADT^A02|MSG00002|P|"
        "2.4|||AL|NE||8859/1",
        "EVN|A02|20260302140000",
        "PID|1||1102864507^^^SAGA^PI||Vilbergsson^H\u00e1kon^^^Hr||19860211|M|||"
        "Lautasm\u00e1ri 14^^K\u00f3pavogur^^201^IS||^PRN^PH^^354^5671984",
        "PV1|1|I|ICU^305^1^^^LANDSPITALI||||38462^Hr\u00f3\u00f0marsson^J\u00f6kull^^^Dr|||MED||||7|||"
        "38462^Hr\u00f3\u00f0marsson^J\u00f6kull^^^Dr|IP||||||||||||||||||LANDSPITALI|||"
        "20260301091500",
        "PV2|||^Br\u00e1\u00f0am\u00f3ttaka - flutningur \u00e1 gj\u00f6rg\u00e6slu",
        "",
    ]
)


def ack_bytes(raw: bytes, directory: Path) -> bytes:
    """The ACK's bytes as a listener for RR8 sends them."""
    handler = listener_for(RecordingPublisher(settings(directory)))
    return asyncio.run(handler.acknowledge(raw)).ack


def test_an_ack_declares_the_character_set_the_message_declared_and_it_is_written_in(
    tmp_path: Path,
) -> None:
    # Written in ISO 8859-1 with no MSH-18, the sender had to guess what `RAF\xd6RNINN` was.
    reply = ack_bytes(SAGA_A02.encode("latin-1"), tmp_path)

    msh = hl7.parse(reply.decode("latin-1")).segment("MSH")
    assert str(msh(18)) == "8859/1"
    assert reply.startswith(b"MSH|^~\\&|RAF\xd6RNINN|LANDSPITALI|SAGA|LANDSPITALI|")


def test_a_message_that_cannot_be_read_is_answered_in_the_character_set_it_declared(
    tmp_path: Path,
) -> None:
    # Past the separators flowsight reads (a PV1-7 of 2,000 carets): refused unread, its ACK was
    # written in UTF-8 without saying so, and the Latin-1 sender read `RAF\xc3\x96RNINN` back.
    unreadable = SAGA_A02.replace("||||38462^", "||||" + "^" * 2_000 + "38462^", 1)

    reply = ack_bytes(unreadable.encode("latin-1"), tmp_path)

    msh = hl7.parse(reply.decode("latin-1")).segment("MSH")
    assert str(msh(18)) == "8859/1"
    assert reply.startswith(b"MSH|^~\\&|RAF\xd6RNINN|LANDSPITALI|SAGA|LANDSPITALI|")
    assert str(hl7.parse(reply.decode("latin-1")).segment("MSA")(1)) == "CR"  # enhanced mode


@pytest.mark.parametrize(
    ("declared", "encoded"),
    [("", "utf-8"), ("UNICODE UTF-8", "utf-8"), ("ISO-8859-99", "latin-1")],
    ids=["undeclared", "utf-8", "unknown"],
)
def test_an_ack_declares_no_character_set_it_is_not_written_in(
    declared: str, encoded: str, tmp_path: Path
) -> None:
    # An unknown MSH-18 is refused AR, its ACK written in UTF-8: it must not claim the sender's.
    raw = SAGA_A02.replace("|8859/1\r", f"|{declared}\r").encode(encoded)

    msh = hl7.parse(ack_bytes(raw, tmp_path).decode(encoded)).segment("MSH")

    said = str(msh(18)) if len(msh) > 18 else ""
    assert said == ("UNICODE UTF-8" if declared == "UNICODE UTF-8" else "")


#: NHS Wales PIMS: an A04 of HL7 v2.3.1, from DHCW-Digital-Health-and-Care-Wales/Integration-Hub-Beta
#: @0f0164b7ecd7b46a4cc8020bd422dd3daffca6, hl7_pims_transformer/tests/pims_messages.py. Its
#: PV1 (`PV1||NA`) names no visit, so it is refused AE at PV1-19.
PIMS_A04 = "\r".join(
    [
        "MSH|^~\\&|PIMS|BroMor HL7Sender|EMPI|EMPI|20250702085450+0000||ADT^A04^ADT_A01|73726643|P|"
        "2.3.1",
        "EVN||20250702085440+0000||||20250702085450+0000",
        'PID|||N4000000001^03^^^NI~N1000001^^^^PI||TEST^TEST-TEST^""^^MISS||20000101+^D|F|||'
        '1 TEST^TEST^TEST^""^CF11 9AD||07000000001^PRN^PH~07000000001^ORN^CP|07000000001^WPN^PH||'
        "S|||||||||||||^D||||20250702085440+0000",
        "PD1||||G7000001~W90001",
        "PV1||NA",
        "",
    ]
)


def test_an_error_before_v25_is_said_in_err1_its_only_field(tmp_path: Path) -> None:
    # ERR-2 to ERR-12 are v2.5's; a v2.3.1 receiver reads ERR-1 (ELD) alone, which was empty.
    ack, _ = answered(PIMS_A04.encode(), tmp_path)

    assert str(ack.segment("MSA")(1)) == "AE"
    assert str(ack.segment("ERR")(1)) == "PV1^1^19^101&Required field missing&HL70357"
    assert str(ack.segment("ERR")(2)) == "PV1^1^19^1"  # as v2.5 says it, for those reading it


def test_an_error_from_v25_leaves_err1_empty(tmp_path: Path) -> None:
    ack, _ = answered(PIMS_A04.replace("|P|2.3.1", "|P|2.5").encode(), tmp_path)

    assert (str(ack.segment("ERR")(1)), str(ack.segment("ERR")(2))) == ("", "PV1^1^19^1")
