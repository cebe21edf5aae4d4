"""FHIR Encounters as an integration engineer sends them (UK Core style, JSON and XML) and the
mapping's answers for them, shared by the FHIR tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fhir.resources.R4B.encounter import Encounter

from flowsight.adapters.fhir.elements import NHS_NUMBER_SYSTEM
from flowsight.adapters.fhir.mapping import (
    MappedEncounter,
    MappedEvent,
    encounter_events,
    map_encounter,
)
from flowsight.adapters.fhir.terminology import (
    ADMISSION_METHOD_ENGLAND,
    ADMISSION_METHOD_EXTENSION,
    DISCHARGE_DESTINATION_ENGLAND,
    HL7_ACT_CODE,
)
from flowsight.services.validation import Rejected

NOW = datetime(2025, 3, 16, 12, 0, tzinfo=UTC)
NHS_NUMBER = "9434765919"


#: An Encounter's meta as a FHIR server records a version: when, `recorded_at` of its events.
DATED = {"versionId": "1", "lastUpdated": "2025-03-10T09:45:00+00:00"}


def encounter(**changes: Any) -> dict[str, Any]:
    """A UK Core-style inpatient Encounter of RR8, admitted through the emergency department."""
    document: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": "enc-7781",
        "meta": {"versionId": "1"},  # a client's POST; a server adds lastUpdated (DATED)
        "identifier": [{"system": "https://fhir.rr8.example/Id/spell", "value": "SPELL-55123"}],
        "status": "in-progress",
        "class": {"system": HL7_ACT_CODE, "code": "IMP"},
        "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": NHS_NUMBER}},
        "period": {"start": "2025-03-10T09:40:00+00:00"},
        "hospitalization": {
            "extension": [
                {
                    "url": ADMISSION_METHOD_EXTENSION,
                    "valueCodeableConcept": {
                        "coding": [{"system": ADMISSION_METHOD_ENGLAND, "code": "21"}]
                    },
                }
            ]
        },
        "serviceProvider": {
            "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RR8"}
        },
        "location": [
            {
                "location": {"identifier": {"value": "lth-wards"}, "display": "Ward 12"},
                "status": "active",
                "period": {"start": "2025-03-10T09:40:00+00:00"},
            }
        ],
    }
    document.update(changes)
    return document


def finished(disposition: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    period = {"start": "2025-03-10T09:40:00+00:00", "end": "2025-03-14T15:00:00+00:00"}
    document = encounter(**{"status": "finished", "period": period, **changes})
    document["hospitalization"]["dischargeDisposition"] = disposition or {
        "coding": [{"system": DISCHARGE_DESTINATION_ENGLAND, "code": "19"}]
    }
    return document


def events_of(
    document: dict[str, Any],
    organisation: str | None = "RR8",
    front_door: frozenset[str] = frozenset(),
) -> list[MappedEvent]:
    mapped = encounter_events(
        Encounter.model_validate(document),
        organisation=organisation,
        now=NOW,
        front_door=front_door,
    )
    assert not isinstance(mapped, Rejected), mapped
    return mapped


def problem_of(document: dict[str, Any], organisation: str | None = "RR8") -> Rejected:
    mapped = encounter_events(
        Encounter.model_validate(document), organisation=organisation, now=NOW
    )
    assert isinstance(mapped, Rejected), mapped
    return mapped


def mapped_of(document: dict[str, Any]) -> MappedEncounter:
    mapped = map_encounter(Encounter.model_validate(document), organisation="RR8", now=NOW)
    assert not isinstance(mapped, Rejected), mapped
    return mapped


def bodies(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [mapped.event for mapped in events_of(document)]


XML_ENCOUNTER = b"""<?xml version="1.0" encoding="UTF-8"?>
<Encounter xmlns="http://hl7.org/fhir">
  <id value="enc-x1"/>
  <status value="in-progress"/>
  <class><system value="http://terminology.hl7.org/CodeSystem/v3-ActCode"/><code value="EMER"/></class>
  <subject><identifier><system value="https://fhir.nhs.uk/Id/nhs-number"/><value value="9434765919"/></identifier></subject>
  <period><start value="2025-03-10T09:40:00+00:00"/></period>
  <location><location><identifier><value value="lth-wards"/></identifier></location></location>
</Encounter>
"""

#: The conformance corpus's FHIR files: real public resources, byte for byte.
CORPUS = Path(__file__).parents[2] / "conformance" / "corpus" / "fhir"


def corpus_transaction(*names: str) -> bytes:
    """The corpus's XML resources `names` as one XML transaction, as a sender posts it: each
    entry's fullUrl `<type>/<id>` and a POST of its type."""
    entries = b""
    for name in names:
        body = (CORPUS / name).read_bytes()
        kind = re.search(rb"<(\w+) xmlns", body)
        logical_id = re.search(rb'<id value="([^"]+)"', body)
        assert kind and logical_id, name
        full_url = kind.group(1) + b"/" + logical_id.group(1)
        entries += (
            b'<entry><fullUrl value="' + full_url + b'"/><resource>' + body + b"</resource>"
            b'<request><method value="POST"/><url value="' + kind.group(1) + b'"/></request>'
            b"</entry>"
        )
    return (
        b'<Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/>' + entries + b"</Bundle>"
    )
