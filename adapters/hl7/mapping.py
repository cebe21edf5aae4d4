"""Map one HL7 v2 ADT message to a flowsight contract event (v1), or say which field is wrong.

Segments it does not read (Z-segments, NK1, AL1, DG1, ...) are ignored. Nothing here does I/O.

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
- **Patient**: the PID-3 repetition with identifier type NH (or assigning authority NHS) is the NHS
  number; otherwise the first identifier is `local_id`, its system CX.4 (else MSH-4).
- **source** is `<organisation>/<MSH-3.1 lowercased>`; **episode_id** is PV1-19.1.
- **Services**: a point of care (PL.1 of PV1-3 or PV1-6) is looked up in the location map, else
  the default service; with neither the message is refused as `hl7_unmapped_location`.
- **Admission method** (PV1-4): HL7 table 0007 (E, A, U, L, N emergency, C, R elective) or an NHS
  Data Dictionary admission method (`flowsight.services.nhs_codes`). An empty PV1-4 with patient
  class E (PV1-2) is an emergency.
- **Discharge destination**: PV1-36 discharge method 4 or 5 (died, stillbirth) is `died`; else
  the NHS Data Dictionary discharge destination code (or a flowsight code word) in PV1-36 or
  PV1-37.1. Neither given: `other` (a discharge without destination must still end the stay).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from flowsight.adapters.hl7.parse import (
    INVALID_FIELD,
    MISSING_FIELD,
    MISSING_SEGMENT,
    UNMAPPED_LOCATION,
    UNPARSEABLE,
    UNSUPPORTED_MESSAGE_TYPE,
    UNSUPPORTED_PROCESSING_ID,
    UNSUPPORTED_TRIGGER,
    first_time,
    has_segment,
    id_time,
    message_trigger,
    occurred,
    repetitions,
    required,
    text,
)
from flowsight.schemas.catalogue import Catalogue
from flowsight.schemas.codes import AdmissionMethod, DischargeDestination
from flowsight.services import nhs_codes
from flowsight.services.validation import Refused, Rejected

#: Refusals of the message as a whole (HL7 v2.5 2.9.2.1): acknowledged AR, not AE.
MESSAGE_REJECTIONS = frozenset(
    {UNPARSEABLE, UNSUPPORTED_MESSAGE_TYPE, UNSUPPORTED_TRIGGER, UNSUPPORTED_PROCESSING_ID}
)
#: The fields of an event that depend on its trigger.
Fields = dict[str, Any]
#: Triggers that change nothing flowsight tracks: acknowledged AA and not published.
NO_FLOW_CHANGE = frozenset({"A08", "A28", "A31"})

_EMERGENCY = AdmissionMethod.EMERGENCY.value
_ADMISSION_METHODS: dict[str, str] = {
    **dict.fromkeys(["E", "A", "U", "L", "N"], _EMERGENCY),  # HL7 table 0007
    **dict.fromkeys(["C", "R"], AdmissionMethod.ELECTIVE.value),
    **{code: method.value for code, method in nhs_codes.ADMISSION_METHODS.items()},
}
#: Destinations by NHS Data Dictionary code or by flowsight code word.
_DESTINATIONS: dict[str, str] = {
    **{code: destination.value for code, destination in nhs_codes.DISCHARGE_DESTINATIONS.items()},
    **{destination.value: destination.value for destination in DischargeDestination},
}
#: Envelope fields first, in contract order, so published events read like the SPEC's.
_ENVELOPE = (
    "event_id schema_version event_type source occurred_at service patient episode_id"
).split()
_SYSTEM_NAME = re.compile(r"^[a-z0-9._-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Mapped:
    """A contract event to validate and publish."""

    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NoChange:
    """A message that is understood and acknowledged but changes nothing flowsight tracks."""

    why: str


@dataclass(frozen=True, slots=True)
class LocationMap:
    """Which catalogue service a point of care (PL.1) belongs to; `default_service` otherwise."""

    default_service: str | None = None
    services: Mapping[str, str] = field(default_factory=dict)

    def service_for(self, point_of_care: str) -> str | None:
        """The service of `point_of_care`, else the default service (None: neither)."""
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


def map_message(
    message: Any,
    *,
    organisation: str,
    locations: LocationMap,
    processing_ids: frozenset[str] = frozenset({"P"}),
) -> Mapped | NoChange | Rejected:
    """The contract event `message` stands for, NoChange, or a Rejected naming the HL7 field."""
    try:
        return _map(message, organisation, locations, processing_ids)
    except Refused as refused:
        return refused.rejected


def _map(
    message: Any, organisation: str, locations: LocationMap, processing_ids: frozenset[str]
) -> Mapped | NoChange:
    message_type = text(message, "MSH", 9).upper()
    if message_type != "ADT":
        raise Refused(
            UNSUPPORTED_MESSAGE_TYPE, "MSH-9", f"message type {message_type!r} is not ADT"
        )
    trigger = message_trigger(message)
    if trigger not in SUPPORTED_TRIGGERS:
        raise Refused(
            UNSUPPORTED_TRIGGER,
            "MSH-9.2",
            f"trigger {trigger!r} is not taken; flowsight takes "
            + ", ".join(sorted(SUPPORTED_TRIGGERS)),
        )
    processing_id = text(message, "MSH", 11)
    if processing_id not in processing_ids:
        raise Refused(
            UNSUPPORTED_PROCESSING_ID,
            "MSH-11",
            f"processing id {processing_id!r} is not accepted here (only "
            + ", ".join(sorted(processing_ids))
            + ")",
        )
    if trigger in NO_FLOW_CHANGE:
        return NoChange(f"{trigger} updates patient information only")
    for segment in ("PID", "PV1"):
        if not has_segment(message, segment):
            raise Refused(MISSING_SEGMENT, segment, f"an ADT^{trigger} needs a {segment} segment")

    visit = required(message, "PV1", 19)
    event: dict[str, Any] = {
        "schema_version": "1",
        "source": f"{organisation}/{_system_name(message)}",
        "patient": _patient(message),
        "episode_id": visit,
    }
    event |= _BY_TRIGGER[trigger](message, visit, locations)
    envelope_first = {name: event.pop(name) for name in _ENVELOPE}
    return Mapped(envelope_first | event)


def _admission(message: Any, visit: str, locations: LocationMap, *, method: str | None) -> Fields:
    """A01 (method from PV1-4) and A04 (`method` start of care): an admission."""
    moment = occurred(message, ("EVN", 6), ("PV1", 44), ("EVN", 2), ("MSH", 7))
    fields = {
        "event_type": "admission",
        "event_id": f"{visit}:admission:{id_time(moment)}",
        "occurred_at": moment.isoformat(),
        "service": _service(message, locations, 3, required=False),
        "admission_method": method or _admission_method(message),
    }
    return _with(fields, "unit", text(message, "PV1", 3, 1))


def _transfer(message: Any, visit: str, locations: LocationMap) -> Fields:
    """A02: a transfer from PV1-6 to PV1-3."""
    moment = occurred(message, ("EVN", 6), ("EVN", 2), ("MSH", 7))
    from_service = _service(message, locations, 6, required=True)
    fields = {
        "event_type": "transfer",
        "event_id": f"{visit}:transfer:{id_time(moment)}",
        "occurred_at": moment.isoformat(),
        "service": from_service,
        "from_service": from_service,
        "to_service": _service(message, locations, 3, required=True),
    }
    return _with(fields, "to_unit", text(message, "PV1", 3, 1))


def _discharge(message: Any, visit: str, locations: LocationMap) -> Fields:
    """A03: a discharge to the destination PV1-36/37 name."""
    moment = occurred(message, ("EVN", 6), ("PV1", 45), ("EVN", 2), ("MSH", 7))
    return {
        "event_type": "discharge",
        "event_id": f"{visit}:discharge:{id_time(moment)}",
        "occurred_at": moment.isoformat(),
        "service": _service(message, locations, 3, required=False),
        "destination": _destination(message),
    }


def _cancellation(
    message: Any,
    visit: str,
    locations: LocationMap,
    *,
    trigger: str,
    kind: str,
    fallback: tuple[str, int] | None = None,
) -> Fields:
    """A11, A12, A13: the cancellation of the `kind` event that occurred at EVN-6."""
    cancelled_at = first_time(message, ("EVN", 6), *([fallback] if fallback else []))
    if cancelled_at is None:
        raise Refused(
            MISSING_FIELD,
            "EVN-6",
            f"an {trigger} needs EVN-6, the time the cancelled {kind} occurred",
        )
    target = f"{visit}:{kind}:{id_time(cancelled_at)}"
    return {
        "event_type": "cancellation",
        "event_id": f"{target}:cancelled",
        "occurred_at": occurred(message, ("EVN", 2), ("MSH", 7)).isoformat(),
        "service": _service(message, locations, 3, required=False),
        "cancels_event_id": target,
    }


_BY_TRIGGER: dict[str, Callable[[Any, str, LocationMap], Fields]] = {
    "A01": partial(_admission, method=None),
    "A04": partial(_admission, method=AdmissionMethod.START_OF_CARE.value),
    "A02": _transfer,
    "A03": _discharge,
    "A11": partial(_cancellation, trigger="A11", kind="admission", fallback=("PV1", 44)),
    "A12": partial(_cancellation, trigger="A12", kind="transfer"),
    "A13": partial(_cancellation, trigger="A13", kind="discharge", fallback=("PV1", 45)),
}
SUPPORTED_TRIGGERS = frozenset(_BY_TRIGGER) | NO_FLOW_CHANGE


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


def _with(fields: Fields, name: str, value: str) -> Fields:
    return fields | {name: value} if value else fields


def _system_name(message: Any) -> str:
    name = re.sub(r"\s+", "-", required(message, "MSH", 3).lower())
    if not _SYSTEM_NAME.match(name):
        raise Refused(
            INVALID_FIELD,
            "MSH-3",
            f"sending application {name!r} cannot name a source system "
            "(letters, digits, '.', '_' and '-', at most 64)",
        )
    return name


def _patient(message: Any) -> dict[str, str]:
    first: dict[str, str] | None = None
    for number in range(1, repetitions(message, "PID", 3) + 1):
        identifier = text(message, "PID", 3, 1, number)
        if not identifier:
            continue
        kind = text(message, "PID", 3, 5, number).upper()
        authority = text(message, "PID", 3, 4, number)
        if kind == "NH" or authority.upper() == "NHS":
            return {"nhs_number": identifier}
        if first is None:
            system = authority or text(message, "MSH", 4)
            if not system:
                raise Refused(MISSING_FIELD, "PID-3.4", "a local identifier needs its authority")
            first = {"local_id": identifier, "id_system": system}
    if first is None:
        raise Refused(MISSING_FIELD, "PID-3", "PID-3 has no patient identifier")
    return first


def _service(message: Any, locations: LocationMap, number: int, *, required: bool) -> str:
    where = f"PV1-{number}"
    point_of_care = text(message, "PV1", number, 1)
    if required and not point_of_care:
        raise Refused(MISSING_FIELD, where, f"{where} (point of care) is required")
    service = locations.service_for(point_of_care)
    if service is None:
        raise Refused(
            UNMAPPED_LOCATION,
            where,
            f"point of care {point_of_care!r} is not in the location map and there is no "
            "default service",
        )
    return service


def _admission_method(message: Any) -> str:
    code = text(message, "PV1", 4).upper()
    if not code and text(message, "PV1", 2).upper() == "E":
        return _EMERGENCY
    if not code:
        raise Refused(MISSING_FIELD, "PV1-4", "PV1-4 (admission type) is required for an A01")
    method = _ADMISSION_METHODS.get(code)
    if method is None:
        raise Refused(
            INVALID_FIELD,
            "PV1-4",
            f"admission type {code!r} is neither an HL7 table 0007 nor an NHS Data Dictionary "
            "admission method code",
        )
    return method


def _destination(message: Any) -> str:
    method = text(message, "PV1", 36)
    if method in nhs_codes.DISCHARGE_METHODS_DIED:
        return DischargeDestination.DIED.value
    for where, value in (("PV1-36", method), ("PV1-37", text(message, "PV1", 37))):
        if not value or (where == "PV1-36" and value in nhs_codes.DISCHARGE_METHODS_ALIVE):
            continue
        destination = _DESTINATIONS.get(value) or _DESTINATIONS.get(value.lower())
        if destination is None:
            raise Refused(
                INVALID_FIELD,
                where,
                f"{value!r} is not an NHS Data Dictionary discharge destination code "
                "nor one of " + ", ".join(d.value for d in DischargeDestination),
            )
        return destination
    return DischargeDestination.OTHER.value
