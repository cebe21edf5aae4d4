"""The ways in over HTTP, isolated from Kafka: what a publisher is answered (202 or FHIR's 200,
403, 413, 422, 503), what is written and what is dead-lettered, for `POST /v1/events` and the FHIR gateway.

Kafka is replaced ON PURPOSE by a recording writer, so each answer is checked against exactly
what was (or was not) handed to Kafka; tests/integration/test_http_fhir_gateways.py runs the
same paths against a real broker.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowsight.adapters.fhir.elements import NHS_NUMBER_SYSTEM
from flowsight.adapters.fhir.envelope import FHIR_BUNDLE_MAX
from flowsight.adapters.fhir.outcome import FHIR_JSON
from flowsight.api.routers.events import HTTP_BATCH_MAX, HTTP_BODY_MAX_BYTES
from flowsight.context import build_api
from tests.api.gateway import (
    ADMIN_KEY,
    NHS_NUMBER,
    RR8_KEY,
    TRUSTS_KEY,
    VIEWER_KEY,
    RecordingWriter,
    accepted_issues,
    auth,
    bundle,
    encounter,
    event,
    issues,
    post_events,
    post_fhir,
    settings,
)


async def test_a_valid_event_is_written_for_the_key_organisation_and_answered_202(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    response = await post_events(client, event())

    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 1, "event_ids": ["ref-1"]}
    assert writer.published == [("http", "RR8", [event()])]
    assert writer.dead_letters == []


async def test_a_batch_is_written_in_order(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    batch = [event(f"ref-{n}", episode_id=f"SPELL-{n}") for n in range(3)]

    response = await post_events(client, batch)

    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 3, "event_ids": ["ref-0", "ref-1", "ref-2"]}
    assert writer.events() == batch


async def test_a_key_for_two_trusts_publishes_each_event_for_its_source(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    community = event("ucr-1", source="RY6/systmone", service="lch-ucr", to_service="lcc-home-care")

    response = await post_events(client, [event(), community], key=TRUSTS_KEY)

    assert response.status_code == 202, response.text
    assert sorted(
        (org, [e["event_id"] for e in events]) for _, org, events in writer.published
    ) == [
        ("RR8", ["ref-1"]),
        ("RY6", ["ucr-1"]),
    ]


# -- POST /v1/events: invalid events -----------------------------------------------------------


async def test_an_invalid_event_is_a_422_naming_the_field_and_is_dead_lettered_as_sent(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    raw = json.dumps(event(patient={"nhs_number": "9434765918"}), indent=2).encode()

    response = await post_events(client, raw)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"] == [
        {
            "index": 0,
            "event_id": "ref-1",
            "reason": "invalid_nhs_number",
            "field": "patient.nhs_number",
            "message": problem["errors"][0]["message"],
        }
    ]
    assert "check digit" in problem["errors"][0]["message"]
    assert problem["accepted"] == 0
    assert writer.published == []
    assert writer.dead_letters == [
        {
            "raw": raw,
            "organisation": "RR8",
            "gateway": "http",
            "reason": "invalid_nhs_number",
            "field": "patient.nhs_number",
            "message": problem["errors"][0]["message"],
        }
    ]


@pytest.mark.parametrize(
    ("changes", "field", "said"),
    [
        ({"next_step": "Call\u0000 daughter"}, "next_step", "control character U+0000"),
        ({"priority": "urgent\u007f"}, "priority", "control character U+007F"),
        ({"episode_id": "SPELL\r\n1"}, "episode_id", "control character U+000D"),
    ],
)
async def test_a_control_character_in_a_text_field_is_a_422_naming_the_field(
    client: httpx.AsyncClient,
    writer: RecordingWriter,
    changes: dict[str, str],
    field: str,
    said: str,
) -> None:
    response = await post_events(client, event(**changes))

    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["reason"], error["field"]) == ("invalid_field", field)
    assert said in error["message"]
    assert writer.published == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"event_type": "discharge", "destination": "usual_residence", "independent": "no"},
            "independent",
        ),
        (
            {
                "event_type": "discharge",
                "destination": "usual_residence",
                "care_hours_per_week": "12",
            },
            "care_hours_per_week",
        ),
    ],
)
async def test_a_flag_or_hours_in_quotes_is_a_422_naming_the_field(
    client: httpx.AsyncClient, writer: RecordingWriter, changes: dict[str, str], field: str
) -> None:
    referral_only = ("to_service", "pathway", "status")
    body = {k: v for k, v in event(**changes).items() if k not in referral_only}

    response = await post_events(client, body)

    assert response.status_code == 422
    assert [(e["reason"], e["field"]) for e in response.json()["errors"]] == [
        ("invalid_field", field)
    ]
    assert writer.published == []


async def test_a_partly_invalid_batch_delivers_the_valid_events_and_names_each_invalid_one(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    missing_status = {k: v for k, v in event("ref-2").items() if k != "status"}
    body = (
        b'[\n  {"event_id": "no-type",   "source": "RR8/pas"},\n  '
        + json.dumps(event("ref-1")).encode()
        + b",\n"
        + json.dumps(missing_status).encode()
        + b",\n  42\n]\n"
    )

    response = await post_events(client, body)

    assert response.status_code == 422
    problem = response.json()
    assert [
        (e["index"], e.get("event_id"), e["reason"], e["field"]) for e in problem["errors"]
    ] == [
        (0, "no-type", "missing_field", "event_type"),
        (2, "ref-2", "missing_field", "status"),
        (3, None, "not_an_object", ""),
    ]
    assert (problem["accepted"], problem["event_ids"]) == (1, ["ref-1"])
    assert writer.events() == [event("ref-1")]
    # Each invalid event is dead-lettered with exactly the bytes it was sent as.
    assert [letter["raw"] for letter in writer.dead_letters] == [
        b'{"event_id": "no-type",   "source": "RR8/pas"}',
        json.dumps(missing_status).encode(),
        b"42",
    ]


async def test_an_event_of_another_organisation_is_a_source_mismatch(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    response = await post_events(client, event(source="RY6/systmone", service="lch-ucr"))

    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["reason"], error["field"]) == ("source_mismatch", "source")
    assert writer.published == []
    assert writer.dead_letters[0]["reason"] == "source_mismatch"


async def test_a_key_for_two_trusts_names_both_when_the_source_is_neither(
    client: httpx.AsyncClient,
) -> None:
    council = event(source="LCC/mosaic", service="lcc-reablement")

    response = await post_events(client, council, key=TRUSTS_KEY)

    (error,) = response.json()["errors"]
    assert error["reason"] == "source_mismatch"
    assert "(RR8, RY6)" in error["message"]


# -- POST /v1/events: the body itself ----------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"event_id": "broken", ',
        b"\xff\xfe not utf-8",
        b"[1, 2",
        b'{"a": NaN}',
        b"[{}] []",
        b"",
        b"[" * 100_000,
        # Half a UTF-16 pair, no character: it was a 500, and nothing dead-lettered.
        b'{"event_id": "id-\\udfff"}',
    ],
)
async def test_a_body_that_is_not_json_is_a_422_naming_the_body_and_dead_lettered(
    client: httpx.AsyncClient, writer: RecordingWriter, body: bytes
) -> None:
    response = await post_events(client, body)

    assert response.status_code == 422
    problem = response.json()
    assert problem["title"] == "Malformed body"
    assert problem["errors"][0]["field"] == "body"
    assert writer.published == []
    assert [(d["raw"], d["reason"]) for d in writer.dead_letters] == [(body, "malformed_json")]


async def test_an_empty_batch_is_refused(client: httpx.AsyncClient) -> None:
    response = await post_events(client, b"[ ]")

    assert response.status_code == 422
    assert "empty" in response.json()["detail"]


async def test_a_body_over_the_limit_is_a_413_and_nothing_is_written(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    padded = event(correlation_id="x" * 100)
    body = json.dumps([padded] * (HTTP_BODY_MAX_BYTES // 400 + 1)).encode()
    assert len(body) > HTTP_BODY_MAX_BYTES

    response = await post_events(client, body)

    assert response.status_code == 413
    assert str(HTTP_BODY_MAX_BYTES) in response.json()["detail"]
    assert (writer.published, writer.dead_letters) == ([], [])


async def test_a_batch_longer_than_the_limit_is_a_413_and_nothing_is_written(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    response = await post_events(client, [event(f"ref-{n}") for n in range(HTTP_BATCH_MAX + 1)])

    assert response.status_code == 413
    assert f"at most {HTTP_BATCH_MAX}" in response.json()["detail"]
    assert (writer.published, writer.dead_letters) == ([], [])


# -- POST /v1/events: who may publish, and Kafka down ------------------------------------------


# Ids name the role: the keys are random, and every xdist worker must collect the same ids.
@pytest.mark.parametrize(
    ("key", "status"),
    [(VIEWER_KEY, 403), (ADMIN_KEY, 403), (None, 401)],
    ids=["viewer", "admin", "no-key"],
)
async def test_only_a_publisher_key_may_publish(
    client: httpx.AsyncClient, writer: RecordingWriter, key: str | None, status: int
) -> None:
    headers = auth(key) if key else {}

    response = await client.post("/v1/events", json=event(), headers=headers)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    if status == 403:
        assert "publisher:<ORG>" in response.json()["detail"]
    assert (writer.published, writer.dead_letters) == ([], [])


async def test_kafka_not_acknowledging_is_a_503_to_retry(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    writer.unavailable = True

    response = await post_events(client, event())

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "send the same request again" in response.json()["detail"]


async def test_without_kafka_the_api_starts_reports_it_and_answers_503_to_publishers(
    tmp_path: Path,
) -> None:
    app = build_api(settings(tmp_path))  # the real gateway writer, and no broker
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as client,
    ):
        ready = await client.get("/readyz", headers=auth(ADMIN_KEY))  # details: metrics role
        published = await post_events(client, event())
        fhir = await client.post("/fhir/Encounter", json=encounter(), headers=auth(RR8_KEY))

    assert ready.json()["checks"]["kafka"].startswith("unreachable")
    assert published.status_code == 503
    assert "cannot reach Kafka" in published.json()["detail"]
    assert fhir.status_code == 503
    assert fhir.json()["issue"][0]["code"] == "transient"


# -- FHIR --------------------------------------------------------------------------------------


async def test_an_encounter_becomes_an_admission_answered_with_information(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    response = await post_fhir(client, "/fhir/Encounter", encounter())

    assert response.status_code == 200, response.text
    assert issues(response) == [("information", "informational", "Encounter", None)]
    assert "SPELL-9:admission" in response.json()["issue"][0]["diagnostics"]
    ((gateway, organisation, events),) = writer.published
    assert (gateway, organisation) == ("fhir", "RR8")
    assert [(e["event_type"], e["event_id"], e["admission_method"]) for e in events] == [
        ("admission", "SPELL-9:admission", "emergency")
    ]


async def test_an_encounter_at_the_emergency_department_becomes_an_attendance(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    # lth-ed is the catalogue's acute front door.
    at_the_door = encounter(location=[{"location": {"identifier": {"value": "lth-ed"}}}])

    response = await post_fhir(client, "/fhir/Encounter", at_the_door)

    assert response.status_code == 200, response.text
    ((_, _, events),) = writer.published
    assert [(e["event_type"], e["service"], e["arrived_at"]) for e in events] == [
        ("attendance", "lth-ed", "2025-03-10T09:40:00+00:00")
    ]


async def test_an_encounter_fhir_refuses_is_a_422_naming_the_element_and_dead_lettered(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    raw = json.dumps(encounter(period={"start": "10/03/2025 09:40"})).encode()

    response = await post_fhir(client, "/fhir/Encounter", raw)

    assert response.status_code == 422
    assert issues(response) == [("error", "structure", "Encounter.period.start", "invalid_fhir")]
    assert writer.published == []
    assert [(d["raw"], d["reason"], d["field"], d["gateway"]) for d in writer.dead_letters] == [
        (raw, "invalid_fhir", "Encounter.period.start", "fhir")
    ]


async def test_an_encounter_with_a_lone_surrogate_is_refused_and_dead_lettered(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    raw = b'{"resourceType": "Enc\\udc00"}'

    response = await post_fhir(client, "/fhir/Encounter", raw)

    assert response.status_code == 400, response.text  # it was a 500
    assert [(d["raw"], d["reason"]) for d in writer.dead_letters] == [(raw, "malformed_json")]


@pytest.mark.parametrize(
    ("changes", "code", "expression", "reason"),
    [
        (
            {"subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": "9434765918"}}},
            "value",
            "Encounter.subject.identifier.value",
            "invalid_nhs_number",
        ),
        (
            {"location": [{"location": {"identifier": {"value": "no-such-ward"}}}]},
            "code-invalid",
            "Encounter.location[0].location.identifier.value",
            "unknown_service",
        ),
        (
            {"serviceProvider": {"identifier": {"value": "RY6"}}},
            "business-rule",
            "Encounter.serviceProvider.identifier.value",
            "source_mismatch",
        ),
        (
            {
                "location": [
                    {"location": {"identifier": {"value": "lth-wards"}, "display": "W\x00"}}
                ]
            },
            "value",
            "Encounter.location[0].location.display",
            "invalid_field",
        ),
        (
            {"identifier": [{"value": "SPELL\x009"}]},
            "value",
            "Encounter.identifier[0].value",
            "invalid_field",
        ),
        ({"status": "unknown"}, "not-supported", "Encounter.status", "unsupported_encounter"),
        (
            {"period": {"start": "2099-01-01T00:00:00+00:00"}},
            "business-rule",
            "Encounter.period.start",
            "in_the_future",
        ),
    ],
    ids=[
        "nhs-number",
        "service",
        "other-trust",
        "control-in-unit",
        "control-in-spell",
        "unknown-status",
        "future",
    ],
)
async def test_an_encounter_breaking_a_rule_names_the_element_and_reason(
    client: httpx.AsyncClient,
    writer: RecordingWriter,
    changes: dict[str, Any],
    code: str,
    expression: str,
    reason: str,
) -> None:
    response = await post_fhir(client, "/fhir/Encounter", encounter(**changes))

    assert response.status_code == 422
    assert issues(response) == [("error", code, expression, reason)]
    assert writer.published == []
    assert [(d["reason"], d["field"]) for d in writer.dead_letters] == [(reason, expression)]


@pytest.mark.parametrize(
    "body",
    [
        b'{"resourceType": "Encounter", ',
        json.dumps({"resourceType": "Patient"}).encode(),
        b"[" * 100_000,
    ],
)
async def test_a_body_that_is_not_an_encounter_is_a_400_and_dead_lettered(
    client: httpx.AsyncClient, writer: RecordingWriter, body: bytes
) -> None:
    response = await post_fhir(client, "/fhir/Encounter", body)

    assert response.status_code == 400
    assert issues(response)[0][:3] == ("error", "structure", "Encounter")
    assert [d["raw"] for d in writer.dead_letters] == [body]


async def test_a_transaction_bundle_publishes_every_encounter(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    second = encounter(id="enc-2", identifier=[{"value": "SPELL-10"}])

    response = await post_fhir(client, "/fhir", bundle(encounter(), second))

    assert [issue[2] for issue in accepted_issues(response)] == [
        "Bundle.entry[0].resource",
        "Bundle.entry[1].resource",
    ]
    assert [e["event_id"] for e in writer.events()] == ["SPELL-9:admission", "SPELL-10:admission"]


async def test_a_bundle_with_an_invalid_entry_publishes_nothing_and_names_the_entry(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    invalid = encounter(id="enc-2", status="unknown")
    unreadable = {"resource": {"id": "no-type"}, "request": {"method": "POST", "url": "X"}}
    document = bundle(encounter(), invalid)
    document["entry"].append(unreadable)

    response = await post_fhir(client, "/fhir", document)

    assert response.status_code == 422
    assert issues(response) == [
        ("error", "not-supported", "Bundle.entry[1].resource.status", "unsupported_encounter"),
        ("error", "structure", "Bundle.entry[2].resource", "invalid_fhir"),
    ]
    assert writer.published == []
    assert [(json.loads(d["raw"]), d["field"]) for d in writer.dead_letters] == [
        (invalid, "Encounter.status"),
        (unreadable, "Encounter"),
    ]


@pytest.mark.parametrize(
    ("document", "expression"),
    [
        (bundle(encounter(), kind="batch"), "Bundle.type"),
        ({**bundle(encounter()), "type": 7}, "Bundle.type"),
        (
            {**bundle(encounter()), "entry": [{"request": {"method": "POST"}}]},
            "Bundle.entry[0].request.url",
        ),
    ],
    # An empty transaction is valid FHIR, answered with an empty response (test_fhir_answers.py).
    ids=["batch", "type-not-a-code", "entry-without-url"],
)
async def test_a_bundle_that_is_not_a_transaction_of_entries_is_refused_whole(
    client: httpx.AsyncClient, writer: RecordingWriter, document: dict[str, Any], expression: str
) -> None:
    response = await post_fhir(client, "/fhir", document)

    assert response.status_code == 422
    assert expression in [issue[2] for issue in issues(response)]
    assert writer.published == []
    assert len(writer.dead_letters) == 1


@pytest.mark.parametrize(
    ("path", "kind", "told"),
    [
        ("/fhir", "message", "a FHIR message goes to POST /fhir/$process-message"),
        ("/fhir/$process-message", "transaction", "a transaction goes to POST /fhir"),
        ("/fhir", "history", "a transaction at POST /fhir and a message at POST"),
        ("/fhir/$process-message", "history", "a transaction at POST /fhir and a message at POST"),
    ],
)
async def test_a_bundle_of_the_wrong_type_says_where_each_type_goes(
    client: httpx.AsyncClient, path: str, kind: str, told: str
) -> None:
    # A subscription notification (history) sent to either endpoint was told to go to the other.
    response = await post_fhir(client, path, bundle(encounter(), kind=kind))

    assert response.status_code == 422
    [issue] = response.json()["issue"]
    assert issue["expression"] == ["Bundle.type"] and told in issue["diagnostics"]


async def test_a_bundle_longer_than_the_limit_is_a_413(
    client: httpx.AsyncClient, writer: RecordingWriter
) -> None:
    response = await post_fhir(client, "/fhir", bundle(*[encounter()] * (FHIR_BUNDLE_MAX + 1)))

    assert response.status_code == 413
    assert issues(response)[0][1] == "too-long"
    assert writer.published == []


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [(VIEWER_KEY, 403, "forbidden"), (None, 401, "login")],
    ids=["viewer", "no-key"],
)
async def test_only_a_publisher_may_post_encounters(
    client: httpx.AsyncClient, writer: RecordingWriter, key: str | None, status: int, code: str
) -> None:
    headers = {**(auth(key) if key else {}), "Content-Type": FHIR_JSON}

    response = await client.post("/fhir/Encounter", json=encounter(), headers=headers)

    assert response.status_code == status
    assert issues(response)[0][:2] == ("error", code)
    assert (writer.published, writer.dead_letters) == ([], [])


async def test_the_openapi_document_lists_both_ways_in(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]

    assert {"/v1/events", "/fhir/Encounter", "/fhir"} <= set(paths)
    assert "requestBody" in paths["/v1/events"]["post"]


async def test_a_refusal_never_answers_with_an_nhs_number_the_caller_put_in_a_field(
    client: httpx.AsyncClient,
) -> None:
    misplaced = [
        event(service=NHS_NUMBER),
        event(source=f"{NHS_NUMBER}/pas"),
        {**event(), NHS_NUMBER: "x"},
    ]

    for body in misplaced:
        response = await post_events(client, [body])

        assert response.status_code == 422, response.text
        assert NHS_NUMBER not in response.text and "[nhs-number?]" in response.text
    missing = await client.get(f"/v1/services/{NHS_NUMBER}", headers=auth(VIEWER_KEY))
    assert missing.status_code == 404 and NHS_NUMBER not in missing.text


async def test_an_acceptance_never_answers_with_an_nhs_number_in_an_event_id(
    client: httpx.AsyncClient,
) -> None:
    # A care home keyed by the NHS number: its 202 echoed the number the 422 would blank.
    response = await post_events(client, [event(event_id=f"ctr-{NHS_NUMBER}")])

    assert response.status_code == 202, response.text
    assert response.json()["event_ids"] == ["ctr-[nhs-number?]"]
    assert NHS_NUMBER not in response.text
