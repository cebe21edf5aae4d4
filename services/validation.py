"""Validate a raw published event, then normalise and pseudonymise it, or say why not."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from flowsight.schemas.catalogue import Catalogue, Service
from flowsight.schemas.codes import ServiceKind
from flowsight.schemas.events import (
    EVENT_TYPES,
    SCHEMA_VERSION,
    Envelope,
    PatientEvent,
    Transfer,
    event_adapter,
)
from flowsight.services.decoding import NotJson, decoded
from flowsight.services.gateways import GATEWAY, GATEWAY_HEADER, sealed_by
from flowsight.services.pseudonym import (
    local_pseudonym,
    pseudonymise,
    without_nhs_numbers_in_text,
)
from flowsight.services.timestamps import utc_timestamp

# Machine-readable reasons a dead letter carries in its `error.reason` header.
MALFORMED_JSON = "malformed_json"
NOT_AN_OBJECT = "not_an_object"
MISSING_FIELD = "missing_field"
INVALID_FIELD = "invalid_field"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
INVALID_NHS_NUMBER = "invalid_nhs_number"
UNKNOWN_SERVICE = "unknown_service"
SOURCE_MISMATCH = "source_mismatch"
SERVICE_NOT_OWNED = "service_not_owned"
IN_THE_FUTURE = "in_the_future"
TOO_LATE = "too_late"
#: Another event under a (source, event_id) already recorded (`services/repeats.py`).
EVENT_ID_REUSED = "event_id_reused"
UNPROCESSABLE = "unprocessable"
#: The integer range events may carry (a signed 64-bit integer).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Every reason a dead letter can carry.
REASONS = frozenset(
    {
        MALFORMED_JSON,
        NOT_AN_OBJECT,
        MISSING_FIELD,
        INVALID_FIELD,
        UNKNOWN_EVENT_TYPE,
        UNSUPPORTED_SCHEMA_VERSION,
        INVALID_NHS_NUMBER,
        UNKNOWN_SERVICE,
        SOURCE_MISMATCH,
        SERVICE_NOT_OWNED,
        IN_THE_FUTURE,
        TOO_LATE,
        EVENT_ID_REUSED,
        UNPROCESSABLE,
    }
)


class TimestampOutOfRange(ValueError):
    """A timestamp that cannot be expressed in UTC (e.g. 0001-01-01T00:30+01:00)."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid event, normalised: `patient` replaced by its `pseudonym`."""

    key: str
    event: dict[str, Any]
    #: The pseudonym of the patient's local identifier when the event names their NHS number
    #: as well: the validator links the two (`services/identities.py`).
    alias: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why something was refused: a reason code, the offending field and a sentence.

    The one refusal of every way in: contract validation names a contract field (`service`);
    the HL7 gateway an HL7 field (`PV1-3`); the FHIR gateway an element (`Encounter.status`).
    """

    reason: str
    field: str
    message: str


class Refused(Exception):
    """Raised by a gateway's mapping to stop at the first problem; carries the rejection."""

    def __init__(self, reason: str, field: str, message: str) -> None:
        super().__init__(message)
        self.rejected = Rejected(reason, field, message)


@dataclass(frozen=True, slots=True)
class ValidationContext:
    """What validation needs to know beyond the event itself."""

    catalogue: Catalogue
    pseudonym_key: bytes
    clock_skew: timedelta
    services: Mapping[str, Service] = field(init=False)
    #: Emergency departments: where the gateways map an arrival to an attendance.
    front_door: frozenset[str] = field(init=False)
    #: Services whose capacity is beds: where a patient's stay occupies one.
    bedded: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "services", {s.id: s for s in self.catalogue.services})
        departments = (
            s.id for s in self.catalogue.services if s.kind is ServiceKind.ACUTE_FRONT_DOOR
        )
        object.__setattr__(self, "front_door", frozenset(departments))
        beds = (s.id for s in self.catalogue.services if s.has_beds)
        object.__setattr__(self, "bedded", frozenset(beds))

    def departments_of(self, organisation: str) -> frozenset[str]:
        """The emergency departments (front-door services) of `organisation`."""
        return frozenset(
            s for s in self.front_door if self.services[s].organisation == organisation
        )


def validate_event(
    raw: bytes,
    *,
    organisation: str,
    context: ValidationContext,
    now: datetime,
    headers: Mapping[str, bytes] | None = None,
) -> Accepted | Rejected:
    """Check `raw` against the contract and the catalogue for an event `organisation` sent.

    With CloudEvents 1.0 binary-mode headers (`ce_specversion`, `ce_id`, ...), the envelope
    may come from the headers and the body carries the rest. A record a gateway sealed
    (`services/gateways.py`) is marked with that gateway's name.
    """
    document = decoded(raw)
    if isinstance(document, NotJson):
        return Rejected(MALFORMED_JSON, "", document.why)
    outcome = _validate_decoded(document, organisation, context, now, headers)
    if headers and GATEWAY_HEADER in headers and isinstance(outcome, Accepted):
        gateway = sealed_by(raw, headers, context.pseudonym_key)
        if gateway is not None:
            return replace(outcome, event={**outcome.event, GATEWAY: gateway})
    return outcome


def _validate_decoded(
    document: object,
    organisation: str,
    context: ValidationContext,
    now: datetime,
    headers: Mapping[str, bytes] | None,
) -> Accepted | Rejected:
    if headers and "ce_specversion" in headers:
        merged = from_cloudevent(headers, document)
        if isinstance(merged, Rejected):
            return merged
        document = merged
    elif type(document) is dict and "specversion" in document and "data" in document:
        # CloudEvents' structured mode (the CloudEvents SDKs' default for Kafka): the attributes
        # beside the event's `data` in the body, read as the binary mode's headers are.
        attributes = {
            f"ce_{name}": str(document[name]).encode()
            for name in ("specversion", *CLOUDEVENT_NAMES)
            if document.get(name) is not None
        }
        merged = from_cloudevent(attributes, document["data"])
        if isinstance(merged, Rejected):
            return merged
        document = merged
    return validate_document(document, organisation=organisation, context=context, now=now)


#: CloudEvents attributes (Kafka binary content mode) and the contract fields they carry.
CLOUDEVENT_ATTRIBUTES = {
    "ce_id": "event_id",
    "ce_source": "source",
    "ce_type": "event_type",
    "ce_time": "occurred_at",
}
#: The attributes' names, as a structured-mode event carries them in its body.
CLOUDEVENT_NAMES = tuple(header.removeprefix("ce_") for header in CLOUDEVENT_ATTRIBUTES)
CLOUDEVENT_TYPE_PREFIX = "org.flowsight."
CLOUDEVENT_TYPE_SUFFIX = ".v1"


def from_cloudevent(headers: Mapping[str, bytes], document: object) -> object | Rejected:
    """Merge CloudEvents attributes into the body; a header and a body field must agree."""
    version = headers["ce_specversion"].decode(errors="replace")
    if version != "1.0":
        return Rejected(
            UNSUPPORTED_SCHEMA_VERSION, "ce_specversion", f"CloudEvents {version!r} is not 1.0"
        )
    if not isinstance(document, dict):
        return document
    merged = dict(document)
    for header, name in CLOUDEVENT_ATTRIBUTES.items():
        if header not in headers:
            continue
        value = headers[header].decode(errors="replace")
        if name == "event_type":
            # Accept both "admission" and the reverse-DNS form "org.flowsight.admission.v1".
            value = value.removeprefix(CLOUDEVENT_TYPE_PREFIX).removesuffix(CLOUDEVENT_TYPE_SUFFIX)
        if name in merged and merged[name] != value:
            return Rejected(
                INVALID_FIELD,
                name,
                f"the CloudEvents attribute {header.removeprefix('ce_')} ({value!r}) and {name} "
                "in the event's data differ",
            )
        merged[name] = value
    merged.setdefault("schema_version", SCHEMA_VERSION)
    return merged


def validate_document(
    document: object, *, organisation: str, context: ValidationContext, now: datetime
) -> Accepted | Rejected:
    """As `validate_event`, for a document already parsed from JSON."""
    if not isinstance(document, dict):
        return Rejected(NOT_AN_OBJECT, "", "an event must be a JSON object")
    try:
        event = event_adapter.validate_python(document)
    except ValidationError as error:
        return _rejection_from(error)
    return check_event(event, organisation=organisation, context=context, now=now)


def check_event(
    event: Envelope, *, organisation: str, context: ValidationContext, now: datetime
) -> Accepted | Rejected:
    """The rules beyond the schema: who may publish what, for which service, and when."""
    if event.organisation != organisation:
        return Rejected(
            SOURCE_MISMATCH,
            "source",
            f"source {event.source!r} is not organisation {organisation!r}, "
            "which this topic or credential belongs to",
        )
    service = context.services.get(event.service)
    if service is None:
        return Rejected(
            UNKNOWN_SERVICE, "service", f"no service {event.service!r} in the catalogue"
        )
    if service.organisation != organisation:
        return Rejected(
            SERVICE_NOT_OWNED,
            "service",
            f"service {event.service!r} belongs to {service.organisation!r}, not {organisation!r}",
        )
    # The fields as stored: pydantic's own iteration and getattr fallbacks cost more per event.
    fields = event.__dict__
    for name in ("to_service", "from_service"):
        other = fields.get(name)
        if other is not None and context.services.get(other) is None:
            return Rejected(UNKNOWN_SERVICE, name, f"no service {other!r} in the catalogue")
    if isinstance(event, Transfer) and event.from_service != event.service:
        return Rejected(
            INVALID_FIELD, "from_service", "a transfer's from_service must be its service"
        )
    for name, value in fields.items():
        # Kafka's writers (orjson) and every database column take 64-bit integers at most.
        if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            return Rejected(INVALID_FIELD, name, f"{name} is beyond the 64-bit integer range")
    # What happened has happened: an arrival or a departure in the future would hold a patient
    # in the department until then (a Discharge Ready Date may be planned ahead).
    for name in ("occurred_at", "arrived_at", "departed_at"):
        moment = fields.get(name)
        if moment is not None and moment > now + context.clock_skew:
            return Rejected(IN_THE_FUTURE, name, f"{name} {moment.isoformat()} is in the future")
    try:
        return Accepted(*normalise(event, context.pseudonym_key))
    except TimestampOutOfRange as error:
        return Rejected(INVALID_FIELD, error.field, f"{error.field} is out of range in UTC")


#: What the validator takes out of an event: the patient, replaced by the pseudonym.
NOT_NORMALISED: set[str] = {"patient"}


def normalise(event: Envelope, pseudonym_key: bytes) -> tuple[str, dict[str, Any], str | None]:
    """The event as it travels after the validator, its key (pseudonym or service), and the
    pseudonym of the patient's local identifier when the NHS number is there too."""
    body = event.model_dump(mode="json", exclude=NOT_NORMALISED, exclude_none=True)
    moments = set()
    for name, value in event.__dict__.items():
        if isinstance(value, datetime):
            moments.add(name)
            try:
                body[name] = utc_timestamp(value)
            except OverflowError:
                raise TimestampOutOfRange(name) from None
    # No NHS number past the validator, even where a source keys its ids by it or a team writes
    # it in a unit or a next step: every text leaves with each one as a keyed token.
    for name, value in body.items():
        if isinstance(value, str) and name not in moments:
            body[name] = without_nhs_numbers_in_text(value, pseudonym_key)
    if isinstance(event, PatientEvent):
        pseudonym = pseudonymise(event.patient, pseudonym_key)
        body["pseudonym"] = pseudonym
        return pseudonym, body, local_pseudonym(event.patient, pseudonym_key)
    return f"service:{event.service}", body, None


def _rejection_from(error: ValidationError) -> Rejected:
    first = error.errors()[0]
    kind = first["type"]
    if kind == "union_tag_invalid":
        return Rejected(UNKNOWN_EVENT_TYPE, "event_type", first["msg"])
    if kind == "union_tag_not_found":
        return Rejected(MISSING_FIELD, "event_type", "event_type is required")
    # The discriminated union puts the event type first in the location of every error.
    location = list(first["loc"])
    if location and location[0] in EVENT_TYPES:
        location = location[1:]
    path = ".".join(str(part) for part in location)
    message = str(first["msg"]).removeprefix("Value error, ")
    if path == "schema_version":
        return Rejected(UNSUPPORTED_SCHEMA_VERSION, path, 'schema_version must be "1"')
    if kind == "missing":
        return Rejected(MISSING_FIELD, path, f"{path} is required")
    if path == "patient.nhs_number":
        return Rejected(INVALID_NHS_NUMBER, path, message)
    if path in _SERVICE_FIELDS and kind == "string_pattern_mismatch":
        # `LTH-WARDS`, a ward's name: no service's id has that shape, so none is in the catalogue.
        return Rejected(
            UNKNOWN_SERVICE,
            path,
            f"no service {str(first['input'])[:64]!r} in the catalogue (a service id is lower-case "
            "letters, digits and hyphens, e.g. lth-wards; a gateway's sender maps its own names "
            "in its mapping profile)",
        )
    return Rejected(INVALID_FIELD, path, f"{path or 'event'}: {message}")


#: The fields that name a catalogue service.
_SERVICE_FIELDS = frozenset({"service", "from_service", "to_service"})
