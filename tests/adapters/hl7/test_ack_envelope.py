"""What an ACK's envelope says to the sender: the message it answers (MSA-2, from MSH-10).
Real public messages; each test fails on the old code."""

from __future__ import annotations

from pathlib import Path

from tests.adapters.hl7.test_sender_answers import answered

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
