"""What real senders put in a frame and a field that the hl7 library alone read wrongly.

- Two messages joined with something between them besides line ends (a second file's
  byte-order mark, NUL padding, an indent): the second was read as segments of the first, and
  lost with no answer, no dead letter and no log line.
- An escape the library cannot read in an identifier (HL7 v2.5 2.7): an escape character alone
  cut the rest of the component off (`RR8\\123456` and `RR8\\654321` both `RR8`, two patients
  merged); `\\Z01\\`, `\\C2842\\`, `\\XZZ\\`, `\\\\` were deleted; `\\.brx\\` failed the library and
  was answered with no MSA-2. Each is refused now, naming its field.
- Highlighting (`\\H\\`, `\\N\\`, 2.7.3) is how text is shown: the library wrote `_` for it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flowsight.adapters.hl7.mapping import Mapped, NoChange, map_message
from flowsight.adapters.hl7.parse import split_messages
from flowsight.services.validation import Rejected
from tests.adapters.hl7.listening import END, START, adt, exchange, listening, msa
from tests.adapters.hl7.test_mapping import LOCATIONS, PID, message, msh, pv1

BETWEEN = {
    "a second byte-order mark": b"\xef\xbb\xbf",
    "NUL padding": b"\x00\x00",
    "an indent": b"  ",
    "a tab": b"\t",
}


@pytest.mark.parametrize("between", BETWEEN.values(), ids=BETWEEN.keys())
def test_each_message_after_padding_or_a_second_byte_order_mark_is_one_of_its_own(
    between: bytes,
) -> None:
    first, second = adt("M1"), adt("M2")  # each carries the time it is made, to the second
    joined = first + between + second

    found = split_messages(joined)

    assert [m[:3] for m in found] == [b"MSH", b"MSH"]
    assert b"|M1|" in found[0] and b"|M2|" not in found[0]
    assert found[0] + b"\r" == first and found[1] == second


async def test_both_messages_of_a_frame_joined_with_padding_are_answered(tmp_path: Path) -> None:
    async with listening(tmp_path) as (listener, publisher):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(START + adt("M1") + b"\x00" + adt("M2") + END)
        await writer.drain()
        async with asyncio.timeout(10):
            replies = [await reader.readuntil(END) for _ in range(2)]
        writer.close()
    assert [msa(reply.removeprefix(START).removesuffix(END)) for reply in replies] == [
        ("AA", "M1"),
        ("AA", "M2"),
    ]
    assert sorted(event["episode_id"] for event in publisher.published) == ["SPELL-M1", "SPELL-M2"]


async def test_bytes_before_a_frames_message_are_dead_lettered_not_answered(
    tmp_path: Path,
) -> None:
    # They were answered AR (an empty MSA-2) before the message's AA: a sender pairing one ACK
    # with each message it sent took the AR for its message's, and each later ACK for the
    # message before.
    async with listening(tmp_path) as (listener, publisher):
        replies = await exchange(listener.port, b"GARBAGE LINE\r" + adt("M1"), adt("M2"))
    assert [msa(reply) for reply in replies] == [("AA", "M1"), ("AA", "M2")]
    assert [raw for raw, _ in publisher.dead] == [b"GARBAGE LINE"]


UNREADABLE = {
    "an escape character alone": "\\",
    "a locally defined escape": "\\Z01\\",
    "a character set switched": "\\C2842\\",
    "hexadecimal that is not": "\\XZZ\\",
    "an empty escape": "\\\\",
    "a formatting command with a bad count": "\\.brx\\",
}


def mapped(*segments: str) -> Mapped | Rejected:
    result = map_message(message(*segments), organisation="RR8", locations=LOCATIONS)
    assert not isinstance(result, NoChange), result
    return result


@pytest.mark.parametrize("escape", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_a_visit_number_with_an_escape_flowsight_cannot_read_is_refused_naming_it(
    escape: str,
) -> None:
    result = mapped(
        msh("A01"), "EVN|A01|20261123093000", PID, pv1(f3="WARD7", f19=f"SPELL{escape}55123")
    )

    assert isinstance(result, Rejected), result
    assert (result.reason, result.field) == ("hl7_invalid_field", "PV1-19")


@pytest.mark.parametrize("escape", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_a_hospital_number_with_an_escape_flowsight_cannot_read_is_refused_naming_it(
    escape: str,
) -> None:
    patient = f"PID|1||RR8{escape}123456^^^RR8^MR||Smith^John||19500101|M"

    result = mapped(msh("A01"), "EVN|A01|20261123093000", patient, pv1(f3="WARD7"))

    assert isinstance(result, Rejected), result
    assert (result.reason, result.field) == ("hl7_invalid_field", "PID-3")


def test_highlighting_is_no_part_of_a_ward_or_a_visit_number() -> None:
    result = mapped(
        msh("A01"),
        "EVN|A01|20261123093000",
        PID,
        pv1(f3="\\H\\WARD7\\N\\", f19="SPELL\\H\\55123^^^RR8^VN"),
    )

    assert isinstance(result, Mapped), result
    assert (result.event["unit"], result.event["episode_id"]) == ("WARD7", "SPELL55123")


async def test_a_message_flowsight_fails_on_is_answered_with_its_own_control_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Our failure costs one message, dead-lettered; its answer names it (MSA-2), or a sender
    # matching ACKs to messages cannot tell which one failed.
    async with listening(tmp_path) as (listener, publisher):

        async def failing(raw: bytes) -> None:
            raise RuntimeError("a bug")

        monkeypatch.setattr(listener.handler, "acknowledge", failing)
        message = adt("FAILS1")  # once: it carries the time it is made, to the second
        (reply,) = await exchange(listener.port, message)

    assert msa(reply) == ("AE", "FAILS1")
    assert [raw for raw, _headers in publisher.dead] == [message]


def test_a_line_break_inside_a_field_does_not_end_its_segment() -> None:
    # An address written on two lines (no \.br\): read as a segment's end, it cut PID there and
    # the death in PID-30 was lost, the patient discharged home.
    fields = ["1", "", "RR8123456^^^RR8^MR", "", "Smith^John", "", "19500101", "M", "", ""]
    fields += ["12 Park Lane\nLeeds", *[""] * 18, "Y"]  # PID-11, then PID-30 (death indicator)
    patient = "PID|" + "|".join(fields)
    raw = "\r".join(
        [msh("A03"), "EVN|A03|20261123150500", patient, pv1(f3="WARD7", f45="20261123150000")]
    )

    result = map_message(message(raw), organisation="RR8", locations=LOCATIONS)

    assert isinstance(result, Mapped), result
    assert result.event["destination"] == "died"


def test_segments_ending_in_line_feeds_alone_are_still_segments() -> None:
    raw = "\n".join(
        [msh("A03"), "EVN|A03|20261123150500", PID, pv1(f3="WARD7", f37="19", f45="20261123150000")]
    )

    result = map_message(message(raw), organisation="RR8", locations=LOCATIONS)

    assert isinstance(result, Mapped), result
    assert (result.event["event_type"], result.event["destination"]) == (
        "discharge",
        "usual_residence",
    )
