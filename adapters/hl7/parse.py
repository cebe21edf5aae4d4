"""Reading one HL7 v2 message, whatever carried it: decoding, parsing, field access.

Parsing, unescaping (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\) and the message's own separators are the `hl7`
library's job; this module decodes the bytes (per MSH-18), reads hexadecimal escapes as bytes in
that character set and makes every other escape one the library reads as HL7 means it
(`charsets.escapes_read`), hands the text to the library and reads fields back. A field that is
missing or unreadable raises `flowsight.services.validation.Refused`, naming the HL7 field
(e.g. `PV1-3`). A message's times are read in `clock`. Nothing here does I/O.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from itertools import islice, pairwise
from typing import Any

import hl7

from flowsight.adapters.hl7.charsets import codec_of, escapes_read
from flowsight.services.validation import Refused

# Reasons a refused message carries in its dead letter's `error.reason` header.
UNPARSEABLE = "hl7_unparseable"
UNSUPPORTED_MESSAGE_TYPE = "hl7_unsupported_message_type"
UNSUPPORTED_TRIGGER = "hl7_unsupported_trigger"
UNSUPPORTED_PROCESSING_ID = "hl7_unsupported_processing_id"
MISSING_CONTROL_ID = "hl7_missing_control_id"
MISSING_SEGMENT = "hl7_missing_segment"
MISSING_FIELD = "hl7_missing_field"
INVALID_FIELD = "hl7_invalid_field"
UNMAPPED_LOCATION = "hl7_unmapped_location"
UNSUPPORTED_CHARACTER_SET = "hl7_unsupported_character_set"
TOO_COMPLEX = "hl7_message_too_complex"
#: Why bytes without an MSH segment (an empty frame's among them) are refused, in their ACK.
NO_MSH_SEGMENT = "the message does not start with an MSH segment"

#: The segments the mapping reads; only the first of each is parsed, the rest is never read.
READ_SEGMENTS = frozenset({"MSH", "EVN", "PID", "PV1", "MRG"})
#: Triggers with a PID and a PV1 per patient (A17 swaps two): the first two of each are parsed.
PAIRED_TRIGGERS = frozenset({"A17"})
#: Most separators (field, component, repetition, subcomponent, escape) those segments may hold.
#: A real ADT's hold a few hundred; the hl7 library's parse time grows faster than their number
#: (500 KB of `~` took 20 s), so this bounds the work, and the event loop's wait, per message.
MAX_SEPARATORS = 2_000
#: The fields the gateway reads, by segment (the ACK's MSH fields too): a byte the declared
#: character set cannot read refuses the message only in one of these.
READ_FIELDS: dict[str, frozenset[int]] = {
    "MSH": frozenset({3, 4, 5, 6, 7, 9, 10, 11, 12, 18}),
    "EVN": frozenset({1, 2, 6}),
    "PID": frozenset({2, 3, 30}),
    "PV1": frozenset({2, 3, 4, 6, 19, 36, 37, 44, 45}),
    "MRG": frozenset({5}),
}
#: C0 and C1 control characters and DEL. No identifier holds one; only an escape (`\X00\`,
#: `\X1B\`) decoded by the library can put one in a field.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: What `surrogateescape` makes of a byte a codec cannot read.
_UNDECODED = re.compile("[\udc80-\udcff]")


class Unparseable(ValueError):
    """Bytes not read as an HL7 v2 message; `header` is what could be read, for the ACK.

    `reason` and `field` say why, as a refusal does (unparseable unless told otherwise).
    """

    def __init__(
        self, message: str, header: Any = None, *, reason: str = UNPARSEABLE, field: str = ""
    ) -> None:
        super().__init__(message)
        self.header = header
        self.reason = reason
        self.field = field


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed message, the character set its bytes were decoded with, what was replaced."""

    message: Any  # hl7.Message
    encoding: str
    warnings: tuple[str, ...] = ()


#: Batch envelope segments (HL7 v2.5 2.10.3): file and batch header and trailer.
BATCH_SEGMENTS = (b"FHS", b"BHS", b"BTS", b"FTS")
_BATCH_SEGMENT = re.compile(rb"\r[ \t\x0b\x0c]*(?:" + b"|".join(BATCH_SEGMENTS) + rb")[^\r]*")
#: What may stand between two messages and is no content: a second file's byte-order mark, NUL
#: padding, spaces, tabs. A message starts at each MSH after a CR and any of these.
_GAP = rb"(?:\xef\xbb\xbf|[\x00 \t\x0b\x0c])*"
_MESSAGE_START = re.compile(rb"\r" + _GAP + rb"MSH")
_BETWEEN = re.compile(rb"(?:\r" + _GAP + rb")+\Z")
_LINE = re.compile(r"MSH[^\r]*")


def split_messages(raw: bytes) -> list[bytes]:
    """The messages in one MLLP frame or file: several MSHs, a FHS/BHS batch, a leading BOM.

    A UTF-8 byte-order mark is dropped; batch header and trailer segments are dropped too (each
    message in a batch is taken and acknowledged on its own); text before the first MSH is a
    message of its own, refused as unparseable, never lost. Each MSH after a CR starts a message,
    whatever of `_GAP` stands before it (two files joined, each with its byte-order mark; NUL
    padding): it was read as segments of the message before, and lost unanswered. Segments end
    in CR in what is returned. Regular expressions only, so a frame of many short segments
    costs no Python loop.
    """
    raw = _segment_ends_as_cr(raw.removeprefix(b"\xef\xbb\xbf"))
    raw = _BATCH_SEGMENT.sub(b"", b"\r" + raw).removeprefix(b"\r")  # each batch segment, its CR
    bounds = [0, *(found.end() - 3 for found in _MESSAGE_START.finditer(raw)), len(raw)]
    bounds[1:1] = [0] if raw.startswith(b"MSH") else []
    # What stood between two messages (a CR, a byte-order mark, padding) is no part of either.
    messages = [_BETWEEN.sub(b"", raw[start:end]) for start, end in pairwise(bounds[:-1])]
    messages.append(raw[bounds[-2] :])
    return [message for message in messages if message.strip()]


def _segment_ends_as_cr(raw: bytes) -> bytes:
    """Over MLLP segments end in CR; some senders end them in LF or CRLF, read as CR. An LF is a
    segment's end where a segment (its id and a field separator), a line end or the end follows
    it; elsewhere it is in a field (an address written on two lines), where HL7 allows none
    unescaped: kept, a control character an identifier refuses naming its field. Read as an end,
    it cut the segment there: an A03 whose PID-11 held one lost PID-30, its death."""
    raw = raw.replace(b"\r\n", b"\r")
    if b"\n" not in raw:
        return raw
    separator = re.escape(raw[3:4] if raw.startswith(b"MSH") else b"|")
    # A run of LFs at once (each but its last is followed by an LF): 512 KiB of blank lines
    # was half a million substitutions, 0.3 s of the listener's loop.
    ends = rb"\n+(?=[A-Z][A-Z0-9]{2}(?:" + separator + rb"|[\r\n]|$)|[\r\n]|$)"
    return re.sub(ends, lambda run: b"\r" * len(run[0]), raw)


def parse_message(raw: bytes) -> Parsed:
    """Decode (per MSH-18) and parse one message; raise Unparseable when it is not HL7 v2.

    Only the segments the mapping reads are parsed (`READ_SEGMENTS`), within `MAX_SEPARATORS`;
    MSH-18 must be a known character set (`charsets`), never a codec name taken on trust.
    """
    raw = _segment_ends_as_cr(raw.removeprefix(b"\xef\xbb\xbf"))  # a BOM some editors add
    header = _header(raw)
    declared = text(header, "MSH", 18)
    encoding = codec_of(declared)
    if encoding is None:
        raise Unparseable(
            "unsupported character set (MSH-18): see HL7 table 0211",
            header,
            reason=UNSUPPORTED_CHARACTER_SET,
            field="MSH-18",
        )
    warnings: tuple[str, ...] = ()
    try:
        decoded = raw.decode(encoding or "utf-8")
    except ValueError:  # undecodable
        if declared:
            decoded, warnings = _replacing(raw, encoding, declared, header)
        else:  # undeclared and not UTF-8: most likely a Windows or Latin-1 sender
            decoded, encoding = _undeclared(raw)
    encoding = encoding or "utf-8"
    pairs = 2 if text(header, "MSH", 9, 2).upper() in PAIRED_TRIGGERS else 1
    return Parsed(_parse(decoded, header, encoding=encoding, pairs=pairs), encoding, warnings)


def _header(raw: bytes) -> Any:
    """The MSH alone; Unparseable when there is none. Separators are ASCII, so a Latin-1 reading
    (which never fails) is enough to find MSH-18, and MSH-10 to answer with."""
    return _parse(raw.decode("latin-1"), read=frozenset({"MSH"}))


def answered_in(header: Any | None) -> str:
    """The codec to answer a message that could not be read in: the character set its MSH-18
    declares, when flowsight knows it, else UTF-8."""
    declared = text(header, "MSH", 18) if header is not None else ""
    return codec_of(declared) or "utf-8"


def header_of(raw: bytes) -> Any | None:
    """The MSH of a message that failed later, to answer it with its own MSH-10 (MSA-2); None
    when even its MSH cannot be read."""
    try:
        return _header(_segment_ends_as_cr(raw.removeprefix(b"\xef\xbb\xbf")))
    except Exception:  # any failure: the answer is then made without it
        return None


def _undeclared(raw: bytes) -> tuple[str, str]:
    """Bytes that declare no character set and are not UTF-8, decoded, and the codec used:
    Windows-1252 where it defines every byte, as a Windows sender meant (0x92 is U+2019, which
    Latin-1 reads as the control character U+0092, refused in contract text), else Latin-1,
    which reads any byte (Windows-1252 leaves 0x81, 0x8D, 0x8F, 0x90 and 0x9D undefined)."""
    try:
        return raw.decode("cp1252"), "cp1252"
    except ValueError:
        return raw.decode("latin-1"), "latin-1"


def _replacing(
    raw: bytes, encoding: str, declared: str, header: Any
) -> tuple[str, tuple[str, ...]]:
    """`raw` decoded with each byte `encoding` cannot read replaced by U+FFFD, and a warning per
    field that had one; Unparseable (`INVALID_FIELD`, answered AE) naming the field when it is
    one flowsight reads.

    A sender that declares UTF-8 and lets one Windows byte through (a name, an address) loses no
    admission for it: flowsight reads ids, places, codes and times, not names.
    """
    try:
        escaped = raw.decode(encoding, errors="surrogateescape")
    except ValueError:
        escaped = ""
    if not escaped.startswith("MSH"):
        raise Unparseable(f"the message cannot be decoded as {declared}", header, field="MSH-18")
    separator = escaped[3]
    fields: dict[str, None] = {}
    for bad in _UNDECODED.finditer(escaped):
        line = escaped[escaped.rfind("\r", 0, bad.start()) + 1 : bad.start()]
        number = line.count(separator) + (line[:3] == "MSH")
        where = f"{line[:3]}-{number}"
        if number in READ_FIELDS.get(line[:3], ()):
            raise Unparseable(  # an error in the content, the sender's to fix: AE
                f"{where} holds bytes that are not {declared} (MSH-18)",
                header,
                reason=INVALID_FIELD,
                field=where,
            )
        fields[where] = None
    warnings = tuple(
        f"{where}: bytes that are not {declared} (MSH-18) were replaced" for where in fields
    )
    return _UNDECODED.sub("\ufffd", escaped), warnings


def _parse(
    message: str,
    header: Any = None,
    *,
    read: frozenset[str] = READ_SEGMENTS,
    encoding: str = "",
    pairs: int = 1,
) -> Any:
    """The MSH and the first of each other segment `read` (the first `pairs` PIDs and PV1s),
    parsed; Unparseable when it is not.

    Escapes are made what the library reads as HL7 means them, hexadecimal ones as bytes in the
    message's `encoding` (`escapes_read`).

    Segments end in CR; blank lines before MSH are skipped. Segments are found by searching,
    never by splitting, so a message of many short segments costs no Python loop.
    """
    body = message.lstrip()
    skipped = message[: len(message) - len(body)]
    msh = _LINE.match(body)
    if (skipped and skipped[-1] != "\r") or msh is None or len(msh[0]) < 8:
        raise Unparseable(NO_MSH_SEGMENT, header)
    field_separator = msh[0][3]  # MSH-1; MSH-2 (below) holds the other separators
    encoding_characters = msh[0][4:].split(field_separator, 1)[0][:5]
    found = [msh]
    for name in read - {"MSH"}:
        pattern = rf"\r({name}(?:{re.escape(field_separator)}[^\r]*)?)(?=\r|$)"
        found += islice(re.finditer(pattern, body), pairs if name in {"PID", "PV1"} else 1)
    kept = [segment[segment.lastindex or 0] for segment in sorted(found, key=_start)]
    text = "\r".join(kept)
    separators = set(field_separator + encoding_characters)
    if sum(text.count(separator) for separator in separators) > MAX_SEPARATORS:
        names = ", ".join(segment[:3] for segment in kept)
        raise Unparseable(
            f"over {MAX_SEPARATORS} separators in its {names} segments", header, reason=TOO_COMPLEX
        )
    text = escapes_read(text, encoding)
    _quiet_library()
    try:
        return hl7.parse(text)
    except (hl7.ParseException, ValueError, IndexError, AssertionError) as error:
        if str(error):
            raise Unparseable(f"the message cannot be parsed: {error}", header) from None
        # python-hl7's bare AssertionError: separators it cannot tell apart (`MSH|^^~\&`).
        given = field_separator + encoding_characters
        raise Unparseable(
            f"the message cannot be parsed with the separators MSH-1 and MSH-2 give "
            f"({given!r}): each must be a character of its own",
            header,
            field="MSH-2",
        ) from None


def _quiet_library() -> None:
    """Silence the hl7 library's loggers: it logs the whole text of a field whose escape it
    cannot decode (`Error decoding value [Z01], field [9434765919\\Z01\\]`), an NHS number or a
    name. Every message is parsed here, whether the listener, `hl7 check` or a test reads it,
    and this runs each time, so logging configured since cannot bring them back."""
    for module in (hl7.util, hl7.containers):
        module.logger.setLevel(logging.CRITICAL)


def _start(found: re.Match[str]) -> int:
    return found.start()


def message_trigger(message: Any) -> str:
    """The trigger event (MSH-9.2, else EVN-1), e.g. `A01`; empty when there is none."""
    return (text(message, "MSH", 9, 2) or text(message, "EVN", 1)).upper()


def control_id(message: Any) -> str:
    """The message control id, MSH-10."""
    return text(message, "MSH", 10)


def has_segment(message: Any, segment: str) -> bool:
    """Whether `message` has a `segment` segment."""
    return any(str(s[0]) == segment for s in message)


def text(
    message: Any,
    segment: str,
    number: int,
    component: int = 1,
    repetition: int = 1,
    *,
    subcomponent: int = 1,
) -> str:
    """A field's (unescaped) text, empty when absent or the HL7 null `""`."""
    try:
        value = message.extract_field(segment, 1, number, repetition, component, subcomponent)
    except (KeyError, IndexError):
        return ""
    found = str(value).strip()
    return "" if found == '""' else found


def identifier(
    message: Any,
    segment: str,
    number: int,
    component: int = 1,
    repetition: int = 1,
    *,
    subcomponent: int = 1,
) -> str:
    """As `text`, for a field that identifies a patient or visit; Refused (invalid) when it
    holds a control character, which only an escape such as `\\X0\\` puts there: read without
    it, `RR8\\X0\\123` would name patient `RR8123`."""
    value = text(message, segment, number, component, repetition, subcomponent=subcomponent)
    if _CONTROL.search(value):
        where = f"{segment}-{number}" + (f".{component}" if component > 1 else "")
        raise Refused(
            INVALID_FIELD,
            where,
            f"{where} holds a control character (an escape such as \\X0\\ decoded to one) or an "
            "escape flowsight cannot read (\\Z01\\, an escape character alone): an identifier "
            "cannot",
        )
    return value


def repetitions(message: Any, segment: str, number: int) -> int:
    """How many repetitions a field has (0 when the segment or field is absent)."""
    try:
        return len(message.segment(segment)(number))
    except (KeyError, IndexError):
        return 0


def required(message: Any, segment: str, number: int, component: int = 1) -> str:
    """A field's text; Refused as missing when it is empty."""
    value = text(message, segment, number, component)
    if not value:
        where = f"{segment}-{number}" + (f".{component}" if component > 1 else "")
        raise Refused(MISSING_FIELD, where, f"{where} is required")
    return value
