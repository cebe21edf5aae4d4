"""What one Encounter snapshot's events are made of: each event with the Encounter element each
of its fields came from, and what every event of the snapshot shares. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from flowsight.adapters.fhir.elements import Note, location_element
from flowsight.adapters.fhir.stay import Stay
from flowsight.adapters.profile import MappingProfile


@dataclass(frozen=True, slots=True)
class MappedEvent:
    """A contract v1 event and, per event field, the Encounter element it came from."""

    event: dict[str, Any]
    elements: Mapping[str, str]

    def element_of(self, field: str) -> str:
        """The FHIR element an event field (e.g. `patient.nhs_number`) came from."""
        while field:
            if field in self.elements:
                return self.elements[field]
            field = field.rpartition(".")[0]
        return "Encounter"


@dataclass(frozen=True, slots=True)
class MappedEncounter:
    """The events an Encounter became, and the warnings a person should read."""

    events: list[MappedEvent]
    notes: list[Note]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What every event of one Encounter shares, and the elements each shared field came from."""

    key: str
    common: dict[str, Any]
    elements: dict[str, str]
    stays: list[Stay]
    profile: MappingProfile | None

    def event(
        self, suffix: str, event_type: str, stay: Stay, fields: dict[str, Any], **elements: str
    ) -> MappedEvent:
        """An event of this Encounter, its id `<key>:<suffix>`, in `stay`'s service."""
        body = {"event_id": f"{self.key}:{suffix}", "event_type": event_type, **self.common}
        where = {**self.elements, "service": location_element(stay.index), **elements}
        return MappedEvent(body | {"service": stay.service} | fields, where)

    def transfers(self) -> list[tuple[str, Stay, Stay]]:
        """(id suffix, from, to) for each move to another service or unit in the history."""
        return [
            (f"transfer:{stay.ordinal}", previous, stay)
            for previous, stay in pairwise(self.stays)
            if (previous.service, previous.unit) != (stay.service, stay.unit)
        ]
