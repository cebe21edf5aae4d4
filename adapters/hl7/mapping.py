"""Map one HL7 v2 ADT message to a flowsight contract event (v1), or say which field is wrong.

Parsing, unescaping (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\) and the message's own separators are the `hl7`
library's job; this module only reads fields. Segments it does not read (Z-segments, NK1, AL1,
DG1, ...) are ignored. Nothing here does I/O.

| trigger | event | event_id | occurred_at (T) | service |
|---|---|---|---|---|
| A01 admit | admission (method: PV1-4) | `<visit>:admission:<T>` | EVN-6, PV1-44, EVN-2, MSH-7 | PV1-3 |
| A04 register | admission (`start_of_care`) | `<visit>:admission:<T>` | as A01 | PV1-3 |
| A02 transfer | transfer PV1-6 → PV1-3 | `<visit>:transfer:<T>` | EVN-6, EVN-2, MSH-7 | PV1-6 |
| A03 discharge | discharge (PV1-36/37) | `<visit>:discharge:<T>` | EVN-6, PV1-45, EVN-2, MSH-7 | PV1-3 |
| A11, A12, A13 | cancellation of `<visit>:<kind>:<T>` | that id + `:cancelled` | EVN-2, MSH-7 | PV1-3 |
| A08, A28, A31 | none: acknowledged AA, nothing published (demographics only) | | | |
| any other | refused | | | |

- **Event ids** are built from the visit (PV1-19.1), the kind and the event time T in UTC
  (`20261123T093000Z`), not from MSH-10: a resend of the same message, even re-generated with a
  new control id, gets the same id and is absorbed as a duplicate downstream; a second transfer,
  or a discharge after a cancelled one, gets a new id. A cancel message names its target through
  EVN-6, which HL7 v2.5 defines, on a cancellation, as "the date/time that the event being
  cancelled occurred" (A11 may fall back on PV1-44, A13 on PV1-45); without it the cancellation
  is refused, since cancelling a guessed id would silently do nothing.
- **Times** are HL7 TS (`YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]`). Without an offset they are local
  time in Europe/London: in the hour repeated when clocks go back the first (BST) reading is
  taken, and a time skipped when they go forward is read as GMT.
- **Patient**: the PID-3 repetition with identifier type NH (or assigning authority NHS) is the NHS
  number; otherwise the first identifier is `local_id`, its system CX.4 (else MSH-4).
- **source** is `<organisation>/<MSH-3.1 lowercased>`; **episode_id** is PV1-19.1.
- **Services**: a point of care (PL.1 of PV1-3 or PV1-6) is looked up in the location map, else
  the default service; with neither the message is refused as `hl7_unmapped_location`.
- **Admission method** (PV1-4): HL7 table 0007 (E, A, U, L, N emergency, C, R elective) or NHS
  Data Dictionary admission method (1x elective, 2x and maternity emergency, 2B and 81
  `transfer_in`). Labour and newborn count as emergency: unplanned, not from a waiting list. An
  empty PV1-4 with patient class E (PV1-2) is an emergency.
- **Discharge destination**: PV1-36 discharge method 4 or 5 (died, stillbirth) is `died`; else
  the NHS Data Dictionary discharge destination code (or a flowsight code word) in PV1-36 or
  PV1-37.1. Neither given: `other` (a discharge without destination must still end the stay).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timezone
from enum import IntEnum
from typing import Any
from zoneinfo import ZoneInfo

import hl7

from flowsight.schemas.catalogue import Catalogue
from flowsight.schemas.codes import AdmissionMethod, DischargeDestination

LONDON = ZoneInfo("Europe/London")

# Reasons a refused message carries in its dead letter's `error.reason` header.
UNPARSEABLE = "hl7_unparseable"
UNSUPPORTED_MESSAGE_TYPE = "hl7_unsupported_message_type"
UNSUPPORTED_TRIGGER = "hl7_unsupported_trigger"
UNSUPPORTED_PROCESSING_ID = "hl7_unsupported_processing_id"
MISSING_SEGMENT = "hl7_missing_segment"
MISSING_FIELD = "hl7_missing_field"
INVALID_FIELD = "hl7_invalid_field"
UNMAPPED_LOCATION = "hl7_unmapped_location"

#: Refusals of the message as a whole (HL7 v2.5 2.9.2.1): acknowledged AR, not AE.
MESSAGE_REJECTIONS = frozenset(
    {UNPARSEABLE, UNSUPPORTED_MESSAGE_TYPE, UNSUPPORTED_TRIGGER, UNSUPPORTED_PROCESSING_ID}
)


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


ERROR_CODE_OF: dict[str, ErrorCode] = {
    UNPARSEABLE: ErrorCode.SEGMENT_SEQUENCE_ERROR,
    UNSUPPORTED_MESSAGE_TYPE: ErrorCode.UNSUPPORTED_MESSAGE_TYPE,
    UNSUPPORTED_TRIGGER: ErrorCode.UNSUPPORTED_EVENT_CODE,
    UNSUPPORTED_PROCESSING_ID: ErrorCode.UNSUPPORTED_PROCESSING_ID,
    MISSING_SEGMENT: ErrorCode.SEGMENT_SEQUENCE_ERROR,
    MISSING_FIELD: ErrorCode.REQUIRED_FIELD_MISSING,
    INVALID_FIELD: ErrorCode.DATA_TYPE_ERROR,
    UNMAPPED_LOCATION: ErrorCode.TABLE_VALUE_NOT_FOUND,
}

ADMISSIONS = frozenset({"A01", "A04"})
CANCELLED_KIND = {"A11": "admission", "A12": "transfer", "A13": "discharge"}
#: Triggers that change nothing flowsight tracks: acknowledged AA and not published.
NO_FLOW_CHANGE = frozenset({"A08", "A28", "A31"})
SUPPORTED_TRIGGERS = ADMISSIONS | {"A02", "A03"} | CANCELLED_KIND.keys() | NO_FLOW_CHANGE

_EMERGENCY, _ELECTIVE = AdmissionMethod.EMERGENCY.value, AdmissionMethod.ELECTIVE.value
_ADMISSION_METHODS: dict[str, str] = {
    **dict.fromkeys(["E", "A", "U", "L", "N"], _EMERGENCY),  # HL7 table 0007
    **dict.fromkeys(["C", "R"], _ELECTIVE),
    **dict.fromkeys(["11", "12", "13"], _ELECTIVE),  # NHS Data Dictionary admission method
    **dict.fromkeys(["21", "22", "23", "24", "25", "28", "2A", "2C", "2D"], _EMERGENCY),
    **dict.fromkeys(["31", "32", "82", "83"], _EMERGENCY),
    **dict.fromkeys(["2B", "81"], AdmissionMethod.TRANSFER_IN.value),
}
_DIED_METHODS = frozenset({"4", "5"})  # NHS Data Dictionary discharge method: died, stillbirth
_OTHER_METHODS = frozenset({"1", "2", "3", "6", "7", "8", "9"})
_D = DischargeDestination
_DESTINATIONS: dict[str, str] = {  # NHS Data Dictionary discharge destination → code list 8.3
    "19": _D.USUAL_RESIDENCE,
    # 48 is a high-security psychiatric hospital (Scotland): a hospital, as over FHIR.
    **dict.fromkeys(["48", "49", "50", "51", "52", "53", "84", "87"], _D.OTHER_HOSPITAL),
    "54": _D.CARE_HOME_NURSING,
    **dict.fromkeys(["65", "85"], _D.CARE_HOME_RESIDENTIAL),
    "79": _D.DIED,
    "88": _D.HOSPICE,
    **dict.fromkeys(["29", "30", "37", "38", "66", "98", "99"], _D.OTHER),
    **{destination.value: destination.value for destination in _D},
}
_TS = re.compile(
    r"^\d{4}(?:\d{2}(?:\d{2}(?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,4})?)?)?)?)?)?"
    r"(?:[+-](?:[01]\d|2[0-3])[0-5]\d)?$"
)
#: Envelope fields first, in contract order, so published events read like the SPEC's.
_ENVELOPE = (
    "event_id schema_version event_type source occurred_at service patient episode_id"
).split()
_SYSTEM_NAME = re.compile(r"^[a-z0-9._-]{1,64}$")


class Unparseable(ValueError):
    """Bytes that are not an HL7 v2 message; `header` is what could be read, for the ACK."""

    def __init__(self, message: str, header: Any = None) -> None:
        super().__init__(message)
        self.header = header


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed message and the character set its bytes were decoded with."""

    message: Any  # hl7.Message
    encoding: str


@dataclass(frozen=True, slots=True)
class Mapped:
    """A contract event to validate and publish."""

    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NoChange:
    """A message that is understood and acknowledged but changes nothing flowsight tracks."""

    why: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a message cannot become an event: reason code, HL7 field (e.g. `PV1-3`), sentence."""

    reason: str
    field: str
    message: str

    @property
    def code(self) -> ErrorCode:
        return ERROR_CODE_OF.get(self.reason, ErrorCode.APPLICATION_INTERNAL_ERROR)


class _Refuse(Exception):
    def __init__(self, reason: str, where: str, message: str) -> None:
        super().__init__(message)
        self.refusal = Refusal(reason, where, message)


@dataclass(frozen=True, slots=True)
class LocationMap:
    """Which catalogue service a point of care (PL.1) belongs to; `default_service` otherwise."""

    default_service: str | None = None
    services: Mapping[str, str] = field(default_factory=dict)

    def service_for(self, point_of_care: str) -> str | None:
        return self.services.get(point_of_care, self.default_service)

    def problems(self, catalogue: Catalogue, organisation: str) -> list[str]:
        """Every service named here that is not a catalogue service of `organisation`."""
        named = [("--service", self.default_service)] if self.default_service else []
        named += [(f"location {code!r}", service) for code, service in self.services.items()]
        owned = {s.id for s in catalogue.services if s.organisation == organisation}
        return [
            f"{where}: {service!r} is not a service of {organisation} in the catalogue"
            for where, service in named
            if service not in owned
        ]


def parse_message(raw: bytes) -> Parsed:
    """Decode (per MSH-18) and parse one message; raise Unparseable when it is not HL7 v2."""
    # Separators are ASCII, so a Latin-1 reading (which never fails) is enough to find MSH-18.
    header = _parse(raw.decode("latin-1"))
    declared = _text(header, "MSH", 18).upper()
    encoding = _encoding_of(declared)
    try:
        text = raw.decode(encoding or "utf-8")
    except (ValueError, LookupError):  # undecodable, or no such codec
        if declared:
            raise Unparseable(
                f"the message cannot be decoded as {declared} (MSH-18)", header
            ) from None
        # Undeclared and not UTF-8: most likely a Windows or Latin-1 sender.
        return Parsed(header, "latin-1")
    return Parsed(_parse(text), encoding or "utf-8")


def _encoding_of(declared: str) -> str:
    """The Python codec of an HL7 character set (table 0211); empty when none is declared."""
    part = re.fullmatch(r"8859/(\d{1,2})", declared)
    if part:
        return f"iso8859-{part.group(1)}"
    return {"": "", "ASCII": "ascii", "UNICODE UTF-8": "utf-8", "UNICODE": "utf-8"}.get(
        declared, declared.lower()
    )


def _parse(text: str) -> Any:
    # Over MLLP segments end in CR; some senders end them in LF or CRLF, which HL7 text can
    # never contain unescaped, so they are read as CR. Blank segments would trip the library.
    lines = text.replace("\r\n", "\r").replace("\n", "\r").split("\r")
    text = "\r".join(line for line in lines if line.strip())
    if not text.startswith("MSH") or len(text) < 8:
        raise Unparseable("the message does not start with an MSH segment")
    try:
        return hl7.parse(text)
    except (hl7.ParseException, ValueError, IndexError, AssertionError) as error:
        raise Unparseable(f"the message cannot be parsed: {error}") from None


def message_trigger(message: Any) -> str:
    """The trigger event (MSH-9.2, else EVN-1), e.g. `A01`; empty when there is none."""
    return (_text(message, "MSH", 9, 2) or _text(message, "EVN", 1)).upper()


def control_id(message: Any) -> str:
    """The message control id, MSH-10."""
    return _text(message, "MSH", 10)


def map_message(
    message: Any,
    *,
    organisation: str,
    locations: LocationMap,
    processing_ids: frozenset[str] = frozenset({"P"}),
) -> Mapped | NoChange | Refusal:
    """The contract event `message` stands for, NoChange, or a Refusal naming the HL7 field."""
    try:
        return _map(message, organisation, locations, processing_ids)
    except _Refuse as refused:
        return refused.refusal


def _map(
    message: Any, organisation: str, locations: LocationMap, processing_ids: frozenset[str]
) -> Mapped | NoChange:
    message_type = _text(message, "MSH", 9).upper()
    if message_type != "ADT":
        raise _Refuse(
            UNSUPPORTED_MESSAGE_TYPE, "MSH-9", f"message type {message_type!r} is not ADT"
        )
    trigger = message_trigger(message)
    if trigger not in SUPPORTED_TRIGGERS:
        raise _Refuse(
            UNSUPPORTED_TRIGGER,
            "MSH-9.2",
            f"trigger {trigger!r} is not taken; flowsight takes "
            + ", ".join(sorted(SUPPORTED_TRIGGERS)),
        )
    processing_id = _text(message, "MSH", 11)
    if processing_id not in processing_ids:
        raise _Refuse(
            UNSUPPORTED_PROCESSING_ID,
            "MSH-11",
            f"processing id {processing_id!r} is not accepted here (only "
            + ", ".join(sorted(processing_ids))
            + ")",
        )
    if trigger in NO_FLOW_CHANGE:
        return NoChange(f"{trigger} updates patient information only")
    for segment in ("PID", "PV1"):
        if not _has(message, segment):
            raise _Refuse(MISSING_SEGMENT, segment, f"an ADT^{trigger} needs a {segment} segment")

    visit = _required(message, "PV1", 19)
    event: dict[str, Any] = {
        "schema_version": "1",
        "source": f"{organisation}/{_system_name(message)}",
        "patient": _patient(message),
        "episode_id": visit,
    }
    if trigger in CANCELLED_KIND:
        kind = CANCELLED_KIND[trigger]
        fallback = {"A11": ("PV1", 44), "A13": ("PV1", 45)}.get(trigger)
        cancelled_at = _first_time(message, ("EVN", 6), *([fallback] if fallback else []))
        if cancelled_at is None:
            raise _Refuse(
                MISSING_FIELD,
                "EVN-6",
                f"an {trigger} needs EVN-6, the time the cancelled {kind} occurred",
            )
        target = f"{visit}:{kind}:{_id_time(cancelled_at)}"
        event |= {
            "event_type": "cancellation",
            "event_id": f"{target}:cancelled",
            "occurred_at": _occurred(message, ("EVN", 2), ("MSH", 7)).isoformat(),
            "service": _service(message, locations, 3, required=False),
            "cancels_event_id": target,
        }
    elif trigger == "A02":
        moment = _occurred(message, ("EVN", 6), ("EVN", 2), ("MSH", 7))
        from_service = _service(message, locations, 6, required=True)
        event |= {
            "event_type": "transfer",
            "event_id": f"{visit}:transfer:{_id_time(moment)}",
            "occurred_at": moment.isoformat(),
            "service": from_service,
            "from_service": from_service,
            "to_service": _service(message, locations, 3, required=True),
        }
        _set_if(event, "to_unit", _text(message, "PV1", 3, 1))
    elif trigger == "A03":
        moment = _occurred(message, ("EVN", 6), ("PV1", 45), ("EVN", 2), ("MSH", 7))
        event |= {
            "event_type": "discharge",
            "event_id": f"{visit}:discharge:{_id_time(moment)}",
            "occurred_at": moment.isoformat(),
            "service": _service(message, locations, 3, required=False),
            "destination": _destination(message),
        }
    else:
        moment = _occurred(message, ("EVN", 6), ("PV1", 44), ("EVN", 2), ("MSH", 7))
        event |= {
            "event_type": "admission",
            "event_id": f"{visit}:admission:{_id_time(moment)}",
            "occurred_at": moment.isoformat(),
            "service": _service(message, locations, 3, required=False),
            "admission_method": (
                AdmissionMethod.START_OF_CARE.value
                if trigger == "A04"
                else _admission_method(message)
            ),
        }
        _set_if(event, "unit", _text(message, "PV1", 3, 1))
    envelope_first = {name: event.pop(name) for name in _ENVELOPE}
    return Mapped(envelope_first | event)


def hl7_field_of(contract_field: str, event_type: str) -> str:
    """Where in the HL7 message a contract field came from, to name it in an ACK's ERR."""
    if contract_field.startswith("patient"):
        return "PID-3.4" if contract_field.endswith("id_system") else "PID-3"
    if contract_field in {"service", "from_service"}:
        return "PV1-6" if event_type == "transfer" else "PV1-3"
    return {
        "event_id": "PV1-19",
        "episode_id": "PV1-19",
        "source": "MSH-3",
        "occurred_at": "EVN-2" if event_type == "cancellation" else "EVN-6",
        "to_service": "PV1-3",
        "to_unit": "PV1-3.1",
        "unit": "PV1-3.1",
        "admission_method": "PV1-4",
        "destination": "PV1-37",
        "cancels_event_id": "EVN-6",
    }.get(contract_field, "")


def _has(message: Any, segment: str) -> bool:
    return any(str(s[0]) == segment for s in message)


def _text(message: Any, segment: str, number: int, component: int = 1, repetition: int = 1) -> str:
    """A field's (unescaped) text, empty when absent or the HL7 null `""`."""
    try:
        value = message.extract_field(segment, 1, number, repetition, component, 1)
    except (KeyError, IndexError):
        return ""
    text = str(value).strip()
    return "" if text == '""' else text


def _required(message: Any, segment: str, number: int, component: int = 1) -> str:
    value = _text(message, segment, number, component)
    if not value:
        where = f"{segment}-{number}" + (f".{component}" if component > 1 else "")
        raise _Refuse(MISSING_FIELD, where, f"{where} is required")
    return value


def _set_if(event: dict[str, Any], name: str, value: str) -> None:
    if value:
        event[name] = value


def _system_name(message: Any) -> str:
    name = re.sub(r"\s+", "-", _required(message, "MSH", 3).lower())
    if not _SYSTEM_NAME.match(name):
        raise _Refuse(
            INVALID_FIELD,
            "MSH-3",
            f"sending application {name!r} cannot name a source system "
            "(letters, digits, '.', '_' and '-', at most 64)",
        )
    return name


def _patient(message: Any) -> dict[str, str]:
    try:
        repetitions = len(message.segment("PID")(3))
    except (KeyError, IndexError):
        repetitions = 0
    first: dict[str, str] | None = None
    for number in range(1, repetitions + 1):
        identifier = _text(message, "PID", 3, 1, number)
        if not identifier:
            continue
        kind = _text(message, "PID", 3, 5, number).upper()
        authority = _text(message, "PID", 3, 4, number)
        if kind == "NH" or authority.upper() == "NHS":
            return {"nhs_number": identifier}
        if first is None:
            system = authority or _text(message, "MSH", 4)
            if not system:
                raise _Refuse(MISSING_FIELD, "PID-3.4", "a local identifier needs its authority")
            first = {"local_id": identifier, "id_system": system}
    if first is None:
        raise _Refuse(MISSING_FIELD, "PID-3", "PID-3 has no patient identifier")
    return first


def _service(message: Any, locations: LocationMap, number: int, *, required: bool) -> str:
    where = f"PV1-{number}"
    point_of_care = _text(message, "PV1", number, 1)
    if required and not point_of_care:
        raise _Refuse(MISSING_FIELD, where, f"{where} (point of care) is required")
    service = locations.service_for(point_of_care)
    if service is None:
        raise _Refuse(
            UNMAPPED_LOCATION,
            where,
            f"point of care {point_of_care!r} is not in the location map and there is no "
            "default service",
        )
    return service


def _admission_method(message: Any) -> str:
    code = _text(message, "PV1", 4).upper()
    if not code and _text(message, "PV1", 2).upper() == "E":
        return _EMERGENCY
    if not code:
        raise _Refuse(MISSING_FIELD, "PV1-4", "PV1-4 (admission type) is required for an A01")
    method = _ADMISSION_METHODS.get(code)
    if method is None:
        raise _Refuse(
            INVALID_FIELD,
            "PV1-4",
            f"admission type {code!r} is neither an HL7 table 0007 nor an NHS Data Dictionary "
            "admission method code",
        )
    return method


def _destination(message: Any) -> str:
    method = _text(message, "PV1", 36)
    if method in _DIED_METHODS:
        return DischargeDestination.DIED.value
    for where, value in (("PV1-36", method), ("PV1-37", _text(message, "PV1", 37))):
        if not value or (where == "PV1-36" and value in _OTHER_METHODS):
            continue
        destination = _DESTINATIONS.get(value) or _DESTINATIONS.get(value.lower())
        if destination is None:
            raise _Refuse(
                INVALID_FIELD,
                where,
                f"{value!r} is not an NHS Data Dictionary discharge destination code "
                "nor one of " + ", ".join(d.value for d in DischargeDestination),
            )
        return str(destination)
    return DischargeDestination.OTHER.value


def _first_time(message: Any, *paths: tuple[str, int]) -> datetime | None:
    for segment, number in paths:
        value = _text(message, segment, number)
        if value:
            return _parse_time(value, f"{segment}-{number}")
    return None


def _occurred(message: Any, *paths: tuple[str, int]) -> datetime:
    moment = _first_time(message, *paths)
    if moment is None:
        names = ", ".join(f"{s}-{n}" for s, n in paths)
        raise _Refuse(MISSING_FIELD, f"{paths[0][0]}-{paths[0][1]}", f"no event time in {names}")
    return moment


def _parse_time(value: str, where: str) -> datetime:
    """An HL7 TS as an aware datetime; no offset means Europe/London local time."""
    if not _TS.match(value):
        raise _Refuse(
            INVALID_FIELD, where, f"{where} {value!r} is not an HL7 time (YYYYMMDDHHMMSS+ZZZZ)"
        )
    try:
        moment: datetime = hl7.parse_datetime(value)
        offset = moment.utcoffset()
        tz = LONDON if offset is None else timezone(offset)
        moment = moment.replace(tzinfo=tz)
        moment.astimezone(UTC)  # refuse instants UTC cannot hold (year 1 with an offset)
    except (ValueError, OverflowError):
        raise _Refuse(INVALID_FIELD, where, f"{where} {value!r} is not a real time") from None
    return moment


def _id_time(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    fraction = f".{utc.microsecond:06d}" if utc.microsecond else ""
    return (
        f"{utc.year:04d}{utc.month:02d}{utc.day:02d}T"
        f"{utc.hour:02d}{utc.minute:02d}{utc.second:02d}{fraction}Z"
    )
