"""HL7 v2 acknowledgements: the ACK (AA) or NAK (AE, AR with an ERR segment) for one message,
or, in enhanced mode, the accept acknowledgement (CA, CE, CR) the sender asked for.

A refusal, whether the mapping's or the contract validation's, is a
`flowsight.services.validation.Rejected`; its reason decides the HL7 error condition code
(table 0357, ERR-3) the ACK carries, and its field (an HL7 field such as `PV1-3`) the ERR-2
location. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

import hl7

from flowsight.adapters.hl7 import parse
from flowsight.adapters.hl7.charsets import codec_of
from flowsight.adapters.hl7.parse import control_id, text
from flowsight.services import validation
from flowsight.services.pseudonym import without_nhs_numbers
from flowsight.services.validation import Rejected

_UNKNOWN_SENDER = "MSH|^~\\&|||||||ACK^||P|2.5"
#: The most of a refusal's text an ACK carries: MSA-3 (ST, 80 in HL7 v2.5) and ERR-8 (TX, 250).
#: The text may quote the value refused, a field of any length the sender chose.
MSA_TEXT_CHARS, ERR_TEXT_CHARS = 80, 250
#: HL7 v2's minor version in MSH-12 (`2.3.1` is 3).
_VERSION = re.compile(r"^2\.(\d+)")


class ErrorCode(IntEnum):
    """HL7 table 0357, message error condition codes (ERR-3)."""

    SEGMENT_SEQUENCE_ERROR = 100
    REQUIRED_FIELD_MISSING = 101
    DATA_TYPE_ERROR = 102
    TABLE_VALUE_NOT_FOUND = 103
    UNSUPPORTED_MESSAGE_TYPE = 200
    UNSUPPORTED_EVENT_CODE = 201
    UNSUPPORTED_PROCESSING_ID = 202
    APPLICATION_INTERNAL_ERROR = 207


_CODE_TEXT = {
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    201: "Unsupported event code",
    202: "Unsupported processing id",
    207: "Application internal error",
}

#: The error condition of each refusal reason; any other (a message too large, Kafka not taking
#: it, an internal error) is an application internal error.
ERROR_CODE_OF: dict[str, ErrorCode] = {
    # The contract's own reasons: a value the event cannot hold, unless named below.
    **dict.fromkeys(validation.REASONS - {validation.UNPROCESSABLE}, ErrorCode.DATA_TYPE_ERROR),
    validation.MISSING_FIELD: ErrorCode.REQUIRED_FIELD_MISSING,
    validation.UNKNOWN_SERVICE: ErrorCode.TABLE_VALUE_NOT_FOUND,
    validation.SERVICE_NOT_OWNED: ErrorCode.TABLE_VALUE_NOT_FOUND,
    parse.UNPARSEABLE: ErrorCode.SEGMENT_SEQUENCE_ERROR,
    parse.UNSUPPORTED_MESSAGE_TYPE: ErrorCode.UNSUPPORTED_MESSAGE_TYPE,
    parse.UNSUPPORTED_TRIGGER: ErrorCode.UNSUPPORTED_EVENT_CODE,
    parse.UNSUPPORTED_PROCESSING_ID: ErrorCode.UNSUPPORTED_PROCESSING_ID,
    parse.MISSING_CONTROL_ID: ErrorCode.REQUIRED_FIELD_MISSING,
    parse.MISSING_SEGMENT: ErrorCode.SEGMENT_SEQUENCE_ERROR,
    parse.MISSING_FIELD: ErrorCode.REQUIRED_FIELD_MISSING,
    parse.INVALID_FIELD: ErrorCode.DATA_TYPE_ERROR,
    parse.UNMAPPED_LOCATION: ErrorCode.TABLE_VALUE_NOT_FOUND,
    # MSH-18 names no character set of table 0211 flowsight reads (0357 has no closer code).
    parse.UNSUPPORTED_CHARACTER_SET: ErrorCode.TABLE_VALUE_NOT_FOUND,
}


#: HL7 table 0155, the conditions MSH-15 (accept) and MSH-16 (application acknowledgement) name:
#: the outcomes (A accepted, E error, R rejected) each asks an acknowledgement for. An empty
#: field asks for none; a code not in the table is taken as AL, so the sender is answered.
_ASKED_FOR = {"AL": "AER", "NE": "", "ER": "ER", "SU": "A", "": ""}


def acknowledgement_code(source: Any, verdict: str) -> str | None:
    """The MSA-1 of the answer to `source` whose outcome, in original mode, is `verdict` (AA, AE
    or AR); None when the sender asked for no answer to it.

    Original mode (MSH-15 and MSH-16 empty, HL7 v2.5 2.9.2): `verdict`. Enhanced mode (2.9.3):
    the accept acknowledgement, CA, CE or CR, when MSH-15 asks for one: it is sent only once
    Kafka has the events, as a commit to safe storage is. flowsight sends no application
    acknowledgement after it (it opens no connection to the sender, and a CE already carries
    the content's error), unless MSH-15 asks for no accept acknowledgement and MSH-16 asks for
    an application one: that is then the answer (AA, AE, AR), as it is all the sender waits for.
    MSH-15 and MSH-16 both `NE` (or conditions not met): no answer, as the sender declared.
    """
    if source is None:
        return verdict
    accept, application = (text(source, "MSH", n).upper() for n in (15, 16))
    if not accept and not application:
        return verdict
    outcome = verdict[1]
    if outcome in _ASKED_FOR.get(accept, "AER"):
        return "C" + outcome
    if outcome in _ASKED_FOR.get(application, "AER"):
        return verdict
    return None


def error_code(reason: str) -> ErrorCode:
    """The HL7 error condition (ERR-3) of a refusal reason."""
    return ERROR_CODE_OF.get(reason, ErrorCode.APPLICATION_INTERNAL_ERROR)


def in_hl7_terms(
    verdict: Rejected, event: Mapping[str, Any], times: Mapping[str, str] | None = None
) -> Rejected:
    """A contract rejection of `event`, told in HL7 terms: the field it came from (a time by
    `times`, the field each time was read from, `outcome.Mapped`), the contract field named
    (once: the contract's messages mostly name it already)."""
    named = not verdict.field or verdict.message.startswith(f"{verdict.field}:")
    message = verdict.message if named else f"{verdict.field}: {verdict.message}"
    read_from = (times or {}).get(str(event.get(verdict.field, ""))) if verdict.field else None
    where = read_from or hl7_field_of(verdict.field, event["event_type"])
    return Rejected(verdict.reason, where, message)


def hl7_field_of(contract_field: str, event_type: str) -> str:
    """Where in the HL7 message a contract field usually comes from, to name it in an ACK's
    ERR when the mapping did not note where it read it."""
    if contract_field.startswith("patient"):
        return "PID-3.4" if contract_field.endswith("id_system") else "PID-3"
    if contract_field in {"service", "from_service"}:
        return "PV1-6" if event_type == "transfer" else "PV1-3"
    return {
        "event_id": "PV1-19",
        "episode_id": "PV1-19",
        "source": "MSH-3",
        "occurred_at": "EVN-2" if event_type == "cancellation" else "EVN-6",
        "arrived_at": "PV1-44",
        "departed_at": "EVN-6",
        "to_service": "PV1-3",
        "to_unit": "PV1-3.1",
        "unit": "PV1-3.1",
        "admission_method": "PV1-4",
        "destination": "PV1-37",
        "cancels_event_id": "EVN-6",
        "recorded_at": "EVN-2",
    }.get(contract_field, "")


def build_ack(
    source: Any,
    ack_code: str,
    *,
    application: str,
    facility: str,
    error: Rejected | None = None,
    encoding: str = "utf-8",
) -> Any:
    """An ACK (hl7.Message) for `source` (None when unreadable), with MSA and, on error, ERR.

    `encoding` is the codec the ACK's bytes will be written in: the ACK declares it in MSH-18
    as `source` did when `source` declared that one (`declared_character_set`)."""
    header = source if source is not None else hl7.parse(_UNKNOWN_SENDER)
    msh = header.segment("MSH")
    sender = {n: str(msh(n)) if n < len(msh) else "" for n in (5, 6)}
    try:
        ack = header.create_ack(
            ack_code, application=sender[5] or application, facility=sender[6] or facility
        )
    except (TypeError, AttributeError, IndexError):
        # create_ack needs MSH-9 with components; answer a bare "ADT" in our own header.
        ack = hl7.parse(_UNKNOWN_SENDER).create_ack(
            ack_code, application=application, facility=facility
        )
        if source is not None:
            ack.segment("MSA").assign_field(ack.escape(control_id(source)), 2)
    # The library stamps MSH-7 in UTC without saying so; HL7 lets us say it.
    ack.segment("MSH").assign_field(datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000"), 7)
    if character_set := declared_character_set(source, encoding):
        ack.segment("MSH").assign_field(ack.escape(character_set), 18)
    if error is None:
        return ack
    code = error_code(error.reason)
    text = without_nhs_numbers(
        error.message
    )  # a refusal may quote a value; no answer an NHS number
    ack.segment("MSA").assign_field(ack.escape(text[:MSA_TEXT_CHARS]), 3)
    err = ack.create_segment([ack.create_field(["ERR"])])
    for position, part in enumerate(_error_location(error.field), start=1):
        err.assign_field(part, 2, 1, position)
    err.assign_field(str(int(code)), 3, 1, 1)
    err.assign_field(_CODE_TEXT.get(int(code), ""), 3, 1, 2)
    err.assign_field("HL70357", 3, 1, 3)
    err.assign_field("E", 4)
    err.assign_field(ack.escape(error.reason), 5, 1, 1)
    err.assign_field(ack.escape(text[:ERR_TEXT_CHARS]), 8)
    if _before_v25(str(ack.segment("MSH")(12))):
        _assign_error_code_and_location(err, error.field, code)
    ack.append(err)
    return ack


def _before_v25(version: str) -> bool:
    """Whether MSH-12 (`2.3.1`, `2.4`) names a version before 2.5, whose ERR has ERR-1 alone."""
    found = _VERSION.match(version)
    return found is not None and int(found[1]) < 5


def _assign_error_code_and_location(err: Any, field: str, code: ErrorCode) -> None:
    """ERR-1 (ELD, the only field of ERR before v2.5, kept for them since): segment, sequence,
    field and the error code as a CE, `PV1^1^19^101&Required field missing&HL70357`."""
    for position, part in enumerate(_error_location(field)[:3], start=1):
        err.assign_field(part, 1, 1, position)
    for position, part in enumerate((str(int(code)), _CODE_TEXT.get(int(code), ""), "HL70357"), 1):
        err.assign_field(part, 1, 1, 4, position)


def declared_character_set(source: Any, encoding: str) -> str:
    """The MSH-18 of an ACK written in `encoding`: `source`'s own MSH-18 when it names that
    codec, else none. The ACK echoes the sender's MSH-3 to MSH-6, so it holds the sender's
    characters (`RAF\u00d6RNINN` in 8859/1) and says so, as the sender writes; a character set
    flowsight does not know, or bytes read in another, is not claimed for an ACK written in
    UTF-8."""
    declared = text(source, "MSH", 18) if source is not None else ""
    return declared if declared and codec_of(declared) == encoding else ""


def _error_location(path: str) -> list[str]:
    """`PV1-3.1` as an ERL: segment, sequence, field, repetition, component."""
    if not path:
        return []
    segment, _, rest = path.partition("-")
    number, _, component = rest.partition(".")
    parts = [segment, "1"]
    if number:
        parts += [number, "1"] + ([component] if component else [])
    return parts
