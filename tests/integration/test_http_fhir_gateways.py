"""The HTTP and FHIR ways in on real parts: a real `flowsight api` and `flowsight worker` on the
test broker. What a publisher POSTs reaches the events topic (or the DLQ) and the queues."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from flowsight.adapters.fhir.elements import NHS_NUMBER_SYSTEM
from flowsight.adapters.fhir.terminology import HL7_ACT_CODE
from flowsight.api.auth import new_api_key
from tests.integration.stack import TEST_PSEUDONYM_KEY, Stack, running_stack, stack_env

pytestmark = pytest.mark.integration

NHS_NUMBER = "9434765919"
RR8_KEY, RR8_ENTRY = new_api_key("rr8-pas", ["publisher:RR8"])
LCC_KEY, LCC_ENTRY = new_api_key("lcc-mosaic", ["publisher:LCC"])
FIXED_WIDTH_UTC = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"


@pytest.fixture
def gateway_stack(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Stack]:
    """The conftest `stack`, with publisher keys for RR8 and LCC beside the test viewer key."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}"
    env = stack_env(kafka_bootstrap, database_url, tmp_path, api_keys=[RR8_ENTRY, LCC_ENTRY])
    with running_stack(env, tmp_path) as stack:
        stack.start_worker()
        stack.start_api()
        yield stack


def pseudonym_of(nhs_number: str) -> str:
    """What the validator must turn this NHS number into, computed independently of its code."""
    return hmac.new(
        TEST_PSEUDONYM_KEY.encode(), f"nhs:{nhs_number}".encode(), hashlib.sha256
    ).hexdigest()


def hours_ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


def referral(event_id: str | None = None, **changes: Any) -> dict[str, Any]:
    body = {
        "event_id": event_id or f"ref-{uuid.uuid4().hex[:12]}",
        "schema_version": "1",
        "event_type": "referral",
        "source": "RR8/pas",
        "occurred_at": hours_ago(2),
        "service": "lth-wards",
        "patient": {"nhs_number": NHS_NUMBER},
        "episode_id": "SPELL-0001",
        "to_service": "lcc-reablement",
        "pathway": "P1",
        "status": "new",
    }
    body.update(changes)
    return body


def encounter(**changes: Any) -> dict[str, Any]:
    unique = uuid.uuid4().hex[:12]
    document: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": f"enc-{unique}",
        "meta": {"versionId": "1"},
        "identifier": [{"system": "https://fhir.rr8.example/Id/spell", "value": f"SPELL-{unique}"}],
        "status": "in-progress",
        "class": {"system": HL7_ACT_CODE, "code": "EMER"},
        "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": NHS_NUMBER}},
        "period": {"start": hours_ago(3)},
        "serviceProvider": {"identifier": {"value": "RR8"}},
        "location": [{"location": {"identifier": {"value": "lth-wards"}, "display": "Ward 12"}}],
    }
    document.update(changes)
    return document


def spell(document: dict[str, Any]) -> str:
    """The key of an Encounter's events: its spell identifier."""
    return str(document["identifier"][0]["value"])


def post(stack: Stack, path: str, body: Any, key: str, content_type: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type}
    return httpx.post(f"{stack.api_url}{path}", content=content, headers=headers, timeout=30)


def post_events(stack: Stack, body: Any, key: str = RR8_KEY) -> httpx.Response:
    return post(stack, "/v1/events", body, key, "application/json")


def post_encounter(stack: Stack, body: Any, key: str = RR8_KEY) -> httpx.Response:
    return post(stack, "/fhir/Encounter", body, key, "application/fhir+json")


def records(
    stack: Stack, topic: str, until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool]
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read `topic` from the start until `until(records so far)` holds (or fail after 60 s)."""

    async def read() -> list[ConsumerRecord[bytes, bytes]]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=stack.settings.kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        seen: list[ConsumerRecord[bytes, bytes]] = []
        try:
            async with asyncio.timeout(60):
                while not until(seen):
                    for batch in (await consumer.getmany(timeout_ms=500)).values():
                        seen.extend(batch)
        except TimeoutError:
            values = [record.value for record in seen]
            raise AssertionError(f"{topic} never held what was expected: {values}") from None
        finally:
            await consumer.stop()
        return seen

    return asyncio.run(read())


def with_event_id(event_id: str, count: int = 1) -> Callable[[list[Any]], bool]:
    return lambda seen: sum(json.loads(r.value)["event_id"] == event_id for r in seen) >= count


def queue_length(stack: Stack, service: str) -> int:
    response = stack.get(f"/v1/services/{service}/queue")
    assert response.status_code == 200, response.text
    return int(response.json()["length"])


def test_a_valid_event_is_acknowledged_then_normalised_and_pseudonymised(
    gateway_stack: Stack,
) -> None:
    event = referral()

    response = post_events(gateway_stack, event)

    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 1, "event_ids": [event["event_id"]]}
    topic = gateway_stack.settings.events_topic
    (record,) = records(gateway_stack, topic, with_event_id(event["event_id"]))
    normalised = json.loads(record.value)
    assert record.key == pseudonym_of(NHS_NUMBER).encode()
    assert normalised["pseudonym"] == pseudonym_of(NHS_NUMBER)
    assert "patient" not in normalised
    assert NHS_NUMBER.encode() not in record.value
    assert (normalised["source"], normalised["to_service"]) == ("RR8/pas", "lcc-reablement")
    assert normalised["occurred_at"].endswith("Z")


def test_an_invalid_event_gets_a_422_naming_the_field_and_is_dead_lettered(
    gateway_stack: Stack,
) -> None:
    raw = json.dumps(referral(patient={"nhs_number": "9434765918"})).encode()

    response = post_events(gateway_stack, raw)

    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["reason"], error["field"]) == ("invalid_nhs_number", "patient.nhs_number")
    settings = gateway_stack.settings
    (letter,) = records(gateway_stack, settings.dlq_topic, lambda seen: len(seen) >= 1)
    headers = {name: value.decode() for name, value in letter.headers}
    assert letter.value == raw
    assert headers["error.reason"] == "invalid_nhs_number"
    assert headers["error.field"] == "patient.nhs_number"
    assert headers["error.gateway"] == "http"
    assert headers["error.topic"] == settings.ingest_topic("RR8")
    assert headers["error.offset"] == "-1"


def test_a_key_for_rr8_posting_an_ry6_event_gets_a_source_mismatch(
    gateway_stack: Stack,
) -> None:
    community = referral(source="RY6/systmone", service="lch-ucr")

    response = post_events(gateway_stack, community)

    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["reason"], error["field"]) == ("source_mismatch", "source")
    settings = gateway_stack.settings
    (letter,) = records(gateway_stack, settings.dlq_topic, lambda seen: len(seen) >= 1)
    assert dict(letter.headers)["error.reason"] == b"source_mismatch"
    assert json.loads(letter.value) == community


def test_a_fhir_encounter_becomes_the_expected_admission(gateway_stack: Stack) -> None:
    document = encounter()

    response = post_encounter(gateway_stack, document)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    assert response.json()["issue"][0]["severity"] == "information"
    event_id = f"{spell(document)}:admission"
    topic = gateway_stack.settings.events_topic
    (record,) = records(gateway_stack, topic, with_event_id(event_id))
    admission = json.loads(record.value)
    assert admission == {
        "event_id": event_id,
        "schema_version": "1",
        "event_type": "admission",
        "source": "RR8/fhir",
        "occurred_at": admission["occurred_at"],
        "service": "lth-wards",
        "episode_id": spell(document),
        "unit": "Ward 12",
        "admission_method": "emergency",
        "pseudonym": pseudonym_of(NHS_NUMBER),
        "gateway": "fhir",  # the gateway's seal held: its restatements are snapshots
    }
    assert re.match(FIXED_WIDTH_UTC, admission["occurred_at"])


def test_an_invalid_encounter_gets_an_operation_outcome_and_a_dead_letter(
    gateway_stack: Stack,
) -> None:
    raw = json.dumps(encounter(status="finished", period={"start": hours_ago(5)})).encode()

    response = post_encounter(gateway_stack, raw)

    assert response.status_code == 422
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    (issue,) = outcome["issue"]
    assert (issue["severity"], issue["code"], issue["expression"]) == (
        "error",
        "required",
        ["Encounter.period.end"],
    )
    (letter,) = records(
        gateway_stack, gateway_stack.settings.dlq_topic, lambda seen: len(seen) >= 1
    )
    headers = {name: value.decode() for name, value in letter.headers}
    assert letter.value == raw
    assert (headers["error.reason"], headers["error.field"], headers["error.gateway"]) == (
        "missing_field",
        "Encounter.period.end",
        "fhir",
    )


def test_the_same_event_posted_three_times_changes_state_once(gateway_stack: Stack) -> None:
    event = referral()
    for _ in range(3):
        response = post_events(gateway_stack, event)
        assert response.status_code == 202, response.text

    gateway_stack.wait_until(
        lambda: queue_length(gateway_stack, "lcc-reablement") == 1,
        timeout=90,
        what="the referred patient in the reablement queue",
    )
    topic = gateway_stack.settings.events_topic
    copies = records(gateway_stack, topic, with_event_id(event["event_id"], count=3))
    assert len(copies) == 3, "every resend reaches the events topic; the journey absorbs them"
    assert queue_length(gateway_stack, "lcc-reablement") == 1

    # The council starts the care package; its EPR sends the Encounter three times, as new
    # versions: one admission, which ends the wait.
    start = encounter(
        serviceProvider={"identifier": {"value": "LCC"}},
        **{"class": {"system": HL7_ACT_CODE, "code": "HH"}},
        period={"start": hours_ago(1)},
        location=[{"location": {"identifier": {"value": "lcc-reablement"}}}],
    )
    for version in ("1", "2", "3"):
        resent = {**start, "meta": {"versionId": version}}
        response = post_encounter(gateway_stack, resent, key=LCC_KEY)
        assert response.status_code == 200, response.text
    # Every version maps to one event id, so the journey absorbs the resends.
    seen = records(gateway_stack, topic, with_event_id(f"{spell(start)}:admission", 3))
    admissions = [json.loads(r.value) for r in seen if b'"admission"' in r.value]
    assert [a["event_id"] for a in admissions] == [f"{spell(start)}:admission"] * 3
    gateway_stack.wait_until(
        lambda: queue_length(gateway_stack, "lcc-reablement") == 0,
        timeout=60,
        what="the admitted patient to leave the queue",
    )
