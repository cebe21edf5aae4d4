"""The HTTP gateways under test without Kafka: a recording writer, keys of each role, events and
Encounters as publishers send them, and the client that posts them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from flowsight.adapters.fhir.elements import NHS_NUMBER_SYSTEM
from flowsight.adapters.fhir.outcome import FHIR_JSON
from flowsight.adapters.fhir.terminology import HL7_ACT_CODE
from flowsight.api.auth import new_api_key
from flowsight.api.deps import KafkaUnavailable
from flowsight.settings import Settings
from tests.integration.stack import free_port

NHS_NUMBER = "9434765919"
RR8_KEY, RR8_ENTRY = new_api_key("rr8-pas", ["publisher:RR8"])
TRUSTS_KEY, TRUSTS_ENTRY = new_api_key("trusts", ["publisher:RR8", "publisher:RY6"])
VIEWER_KEY, VIEWER_ENTRY = new_api_key("dashboard", ["viewer"])
ADMIN_KEY, ADMIN_ENTRY = new_api_key("admin", ["admin"])


@dataclass
class RecordingWriter:
    """Stands in for Kafka: records what would be written, or fails like an unreachable broker."""

    published: list[tuple[str, str, list[dict[str, Any]]]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    unavailable: bool = False

    async def publish(
        self, gateway: str, organisation: str, events: Sequence[dict[str, Any]]
    ) -> None:
        if self.unavailable:
            raise KafkaUnavailable("cannot reach Kafka")
        self.published.append((gateway, organisation, list(events)))

    async def dead_letter(
        self, raw: bytes, *, organisation: str, gateway: str, reason: str, field: str, message: str
    ) -> None:
        if self.unavailable:
            raise KafkaUnavailable("cannot reach Kafka")
        self.dead_letters.append(
            {
                "raw": raw,
                "organisation": organisation,
                "gateway": gateway,
                "reason": reason,
                "field": field,
                "message": message,
            }
        )

    def events(self) -> list[dict[str, Any]]:
        return [event for _, _, events in self.published for event in events]


def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        api_keys=",".join([RR8_ENTRY, TRUSTS_ENTRY, VIEWER_ENTRY, ADMIN_ENTRY]),
        pseudonym_key="0123456789abcdef" * 2,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}",
        # Nothing listens here: any real Kafka write fails fast.
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
    )


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def event(event_id: str = "ref-1", **changes: Any) -> dict[str, Any]:
    body = {
        "event_id": event_id,
        "schema_version": "1",
        "event_type": "referral",
        "source": "RR8/pas",
        "occurred_at": "2025-03-10T09:30:00+00:00",
        "service": "lth-wards",
        "patient": {"nhs_number": NHS_NUMBER},
        "episode_id": "SPELL-1",
        "to_service": "lcc-reablement",
        "pathway": "P1",
        "status": "new",
    }
    body.update(changes)
    return body


async def post_events(
    client: httpx.AsyncClient, body: bytes | Any, key: str = RR8_KEY
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(
        "/v1/events",
        content=content,
        headers={**auth(key), "Content-Type": "application/json"},
    )


# -- POST /v1/events: accepted -----------------------------------------------------------------


def encounter(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": "enc-1",
        "identifier": [{"value": "SPELL-9"}],
        "status": "in-progress",
        "class": {"system": HL7_ACT_CODE, "code": "EMER"},
        "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": NHS_NUMBER}},
        "period": {"start": "2025-03-10T09:40:00+00:00"},
        "serviceProvider": {"identifier": {"value": "RR8"}},
        "location": [{"location": {"identifier": {"value": "lth-wards"}}}],
    }
    document.update(changes)
    return document


async def post_fhir(
    client: httpx.AsyncClient, path: str, body: bytes | Any, key: str = RR8_KEY
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(
        path, content=content, headers={**auth(key), "Content-Type": FHIR_JSON}
    )


Said = tuple[str, str, str | None, str | None]


def issues(response: httpx.Response) -> list[Said]:
    """(severity, code, expression, reason) of each OperationOutcome issue."""
    assert response.headers["content-type"] == FHIR_JSON
    document = response.json()
    assert document["resourceType"] == "OperationOutcome"
    return _said(document)


def accepted_issues(response: httpx.Response) -> list[Said]:
    """The issues of a 200: an Encounter's OperationOutcome, each entry's outcome of a
    transaction-response in turn (an issue of the Bundle as a whole, which every entry's outcome
    carries, once), or the OperationOutcome of a response message."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == FHIR_JSON
    document = response.json()
    if document["resourceType"] == "OperationOutcome":
        return _said(document)
    assert document["resourceType"] == "Bundle"
    if document["type"] == "message":
        return _said(document["entry"][1]["resource"])
    assert document["type"] == "transaction-response"
    said: list[Said] = []
    for entry in document["entry"]:
        outcome = entry["response"].get("outcome", {"issue": []})
        said.extend(issue for issue in _said(outcome) if issue not in said)
    return said


def _said(outcome: dict[str, Any]) -> list[Said]:
    return [
        (
            issue["severity"],
            issue["code"],
            (issue.get("expression") or [None])[0],
            (issue.get("details") or {"coding": [{"code": None}]})["coding"][0]["code"],
        )
        for issue in outcome["issue"]
    ]


def bundle(*resources: Any, kind: str = "transaction") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"resource": resource, "request": {"method": "POST", "url": "Encounter"}}
            for resource in resources
        ],
    }
