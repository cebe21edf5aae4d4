"""Parsing is bounded: only known character sets (MSH-18), never a codec named by the sender, and
a separator budget, so no message holds the event loop for long (issue 13, item 4)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.hl7.ack import ErrorCode, build_ack, error_code
from flowsight.adapters.hl7.charsets import CHARACTER_SETS, codec_of
from flowsight.adapters.hl7.check import Checker
from flowsight.adapters.hl7.framing import DEFAULT_MAX_MESSAGE_BYTES
from flowsight.adapters.hl7.mapping import MESSAGE_REJECTIONS, LocationMap
from flowsight.adapters.hl7.parse import (
    TOO_COMPLEX,
    UNSUPPORTED_CHARACTER_SET,
    Unparseable,
    parse_message,
    split_messages,
)
from flowsight.services.validation import Rejected, ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE
from tests.adapters.hl7.listening import adt

#: Far above what these take (a few ms), far below what the unbounded parser took (seconds).
QUICK = 0.5
HEADER = adt().split(b"\r", 1)[0] + b"\r"


def timed(raw: bytes) -> tuple[object, float]:
    """What parse_message gives (or raises) and the least time of three tries: what the work
    costs, not how busy the machine was (these guard against costs growing with the square of
    the input, seconds where a few milliseconds are right)."""
    took = []
    for _ in range(3):
        started = time.perf_counter()
        try:
            result: object = parse_message(raw)
        except Unparseable as error:
            result = error
        took.append(time.perf_counter() - started)
    return result, min(took)


def split_timed(frame: bytes) -> tuple[list[bytes], float]:
    """The messages of `frame` and the least time of three splits (as `timed`)."""
    took = []
    for _ in range(3):
        started = time.perf_counter()
        messages = split_messages(frame)
        took.append(time.perf_counter() - started)
    return messages, min(took)


@pytest.mark.parametrize("declared", ["PUNYCODE", "IDNA", "ROT13", "UTF-7", "X-NOT-A-CHARSET"])
def test_a_character_set_outside_table_0211_is_refused_quickly(declared: str) -> None:
    # PUNYCODE decoding is quadratic: 500 KB of it took 18 s before MSH-18 was checked.
    body = adt(charset=declared) + b"ZXX|" + b"\xc3\xa9" * 200_000 + b"\r"
    refused, took = timed(body)
    assert isinstance(refused, Unparseable)
    assert (refused.reason, refused.field) == (UNSUPPORTED_CHARACTER_SET, "MSH-18")
    assert str(refused.header.segment("MSH")(10)) == "C1", "the ACK can still name the message"
    assert took < QUICK


def test_the_refusal_is_an_ar_naming_msh_18() -> None:
    refused, _ = timed(adt(charset="PUNYCODE"))
    assert isinstance(refused, Unparseable)
    assert refused.reason in MESSAGE_REJECTIONS
    assert error_code(refused.reason) is ErrorCode.TABLE_VALUE_NOT_FOUND
    error = Rejected(refused.reason, refused.field, str(refused))
    ack = str(build_ack(refused.header, "AR", application="FS", facility="RR8", error=error))
    assert "MSA|AR|C1|unsupported character set" in ack and "ERR||MSH^1^18" in ack


@pytest.mark.parametrize("declared", sorted(set(CHARACTER_SETS) - {""}))
def test_every_known_character_set_decodes_a_message_of_the_size_limit_quickly(
    declared: str,
) -> None:
    codec = codec_of(declared)
    assert codec
    filler = b"ZXX|" + b"A" * (DEFAULT_MAX_MESSAGE_BYTES - 600) + b"\r"
    parsed, took = timed(adt(charset=declared) + filler)
    assert not isinstance(parsed, Unparseable), parsed
    assert took < QUICK


def test_known_character_sets_are_read_whatever_their_case_and_spacing() -> None:
    assert codec_of("unicode  utf-8") == "utf-8" and codec_of("8859/15") == "iso8859-15"
    assert codec_of("") == "" and codec_of("punycode") is None


@pytest.mark.parametrize(
    "hostile",
    [
        "PID|1||" + "~" * 500_000,  # deep repetition
        "PID|1||" + "^" * 500_000,
        "PID|1||" + "a^b&c~" * 80_000,
        "PID" + "|" * 500_000,
        "PV1|1|I|" + "\\T\\" * 150_000,
    ],
    ids=["repetitions", "components", "mixed", "fields", "escapes"],
)
def test_a_message_with_too_many_separators_in_a_segment_read_is_refused_quickly(
    hostile: str,
) -> None:
    refused, took = timed(HEADER + hostile.encode() + b"\r")
    assert isinstance(refused, Unparseable) and refused.reason == TOO_COMPLEX
    assert refused.reason in MESSAGE_REJECTIONS
    assert took < QUICK


def test_segments_flowsight_does_not_read_cost_nothing_however_many() -> None:
    many = adt() + b"ZXX|" + b"a^b~" * 1_000 + b"\r" + b"NK1|1\r" * 60_000
    parsed, took = timed(many)
    assert not isinstance(parsed, Unparseable), parsed
    assert took < QUICK


def test_a_frame_of_many_short_segments_or_messages_splits_quickly() -> None:
    for frame in (HEADER + b"Z\r" * 250_000, b"\n" * 500_000, adt() * 2_000):
        messages, took = split_timed(frame)
        assert took < QUICK
        assert sum(len(m) for m in messages) <= len(frame)
    assert len(split_messages(adt() * 2_000)) == 2_000


def test_every_message_of_a_frame_is_bounded_on_its_own() -> None:
    hostile = HEADER + b"PID|1||" + b"~" * 100_000 + b"\r"
    frame = (adt() + hostile) * 3
    outcomes = [timed(message) for message in split_messages(frame)]
    assert [isinstance(result, Unparseable) for result, _ in outcomes] == [False, True] * 3
    assert all(took < QUICK for _, took in outcomes)


def test_the_dry_run_refuses_an_unknown_character_set_as_the_listener_does() -> None:
    context = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))
    checker = Checker("RR8", LocationMap("lth-wards").profile("RR8"), context)
    (outcome,) = checker.check_bytes(adt(charset="IDNA"))
    assert outcome.ack == "AR" and outcome.refusal is not None
    assert (outcome.refusal.reason, outcome.refusal.field) == (UNSUPPORTED_CHARACTER_SET, "MSH-18")


def test_separators_the_parser_cannot_tell_apart_are_named_in_the_refusal() -> None:
    # python-hl7 fails on them with a bare AssertionError: the refusal said "cannot be parsed: "
    # and nothing after it.
    raw = (
        b"MSH|^^~\\&|PAS|RR8|FS|RR8|20261123101500||ADT^A01|1|P|2.5\r"
        b"EVN|A01|20261123101500\rPID|1||123^^^RR8^MR\rPV1|1|I|W1"
    )
    with pytest.raises(Unparseable) as refused:
        parse_message(raw)
    assert refused.value.field == "MSH-2"
    assert "'|^^~\\\\&'" in str(refused.value)
    assert "each must be a character of its own" in str(refused.value)


def test_the_dry_run_refuses_a_message_over_the_listeners_limit_as_the_listener_does() -> None:
    # 600 KiB was AA in `hl7 check` and AR over MLLP: the dry run is to say what the listener does.
    context = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))
    checker = Checker("RR8", LocationMap("lth-wards").profile("RR8"), context)
    big = adt(extra="ZPV|" + "x" * DEFAULT_MAX_MESSAGE_BYTES)
    (outcome,) = checker.check_bytes(big)
    assert outcome.ack == "AR" and outcome.refusal is not None
    assert outcome.refusal.reason == "hl7_message_too_large"
    assert f"{len(big)} bytes" in outcome.refusal.message
    (fits,) = checker.check_bytes(adt(extra="ZPV|" + "x" * (DEFAULT_MAX_MESSAGE_BYTES - 2_000)))
    assert fits.ack == "AA"
