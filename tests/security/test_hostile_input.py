"""Hostile input outside FHIR is a 4xx naming what is wrong, never a 500 (issue 13, item 5), and the
worker's validator refuses it as a dead letter instead of crashing on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.readmodel.migrate import upgrade
from flowsight.api.auth import new_api_key
from flowsight.api.deps import event_writer
from flowsight.context import build_api
from flowsight.services.validation import (
    INVALID_FIELD,
    MALFORMED_JSON,
    Rejected,
    ValidationContext,
    validate_event,
)
from flowsight.settings import DEFAULT_CATALOGUE, Settings
from tests.api.gateway import RecordingWriter

NOW = datetime(2025, 3, 16, 12, 0, tzinfo=UTC)
BEYOND_64_BITS = 2**64
PUBLISHER_KEY, PUBLISHER_ENTRY = new_api_key("rr8-pas", ["publisher:RR8"])
READER_KEY, READER_ENTRY = new_api_key("bed-bureau", ["viewer", "caseload", "oncall"])


def capacity(**changes: Any) -> dict[str, Any]:
    body = {
        "event_id": "cap-1",
        "schema_version": "1",
        "event_type": "capacity",
        "source": "RR8/pas",
        "occurred_at": "2025-03-10T09:30:00+00:00",
        "service": "lth-wards",
        "open": 12,
        "unit": "beds",
    }
    return body | changes


@pytest.fixture(scope="module")
def context() -> ValidationContext:
    return ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))


# -- the worker's validator ---------------------------------------------------------------------


def test_a_deeply_nested_event_is_a_dead_letter_not_a_crash(context: ValidationContext) -> None:
    raw = b'{"patient": ' * 100_000 + b"{}" + b"}" * 100_000

    outcome = validate_event(raw, organisation="RR8", context=context, now=NOW)

    assert outcome == Rejected(MALFORMED_JSON, "", "not valid JSON: nested too deeply")


@pytest.mark.parametrize("value", [1e30, BEYOND_64_BITS, -(2**63) - 1])
def test_an_integer_beyond_64_bits_is_refused_naming_the_field(
    context: ValidationContext, value: float
) -> None:
    raw = json.dumps(capacity(open=value)).encode()

    outcome = validate_event(raw, organisation="RR8", context=context, now=NOW)

    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == (INVALID_FIELD, "open")


def test_the_largest_64_bit_count_is_still_accepted(context: ValidationContext) -> None:
    raw = json.dumps(capacity(open=2**63 - 1)).encode()

    assert not isinstance(
        validate_event(raw, organisation="RR8", context=context, now=NOW), Rejected
    )


# -- the HTTP API -------------------------------------------------------------------------------


@pytest.fixture
def writer() -> RecordingWriter:
    return RecordingWriter()


@pytest.fixture
def client(tmp_path: Path, writer: RecordingWriter) -> Iterator[TestClient]:
    database = f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}"
    upgrade(database)
    settings = Settings(
        _env_file=None,
        environment="production",
        pseudonym_key="0123456789abcdef" * 2,
        api_keys=f"{PUBLISHER_ENTRY},{READER_ENTRY}",
        database_url=database,
        data_dir=tmp_path,
        kafka_bootstrap="127.0.0.1:1",
    )
    app = build_api(settings)
    app.dependency_overrides[event_writer] = lambda: writer
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def as_reader() -> dict[str, str]:
    return {"Authorization": f"Bearer {READER_KEY}"}


@pytest.mark.parametrize("value", ["1e30", str(BEYOND_64_BITS)])
def test_a_published_integer_beyond_64_bits_is_a_422_naming_the_field(
    client: TestClient, writer: RecordingWriter, value: str
) -> None:
    body = json.dumps(capacity(open=0)).replace('"open": 0', f'"open": {value}')

    response = client.post(
        "/v1/events",
        content=body,
        headers={"Authorization": f"Bearer {PUBLISHER_KEY}", "Content-Type": "application/json"},
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "open"
    assert writer.published == [] and len(writer.dead_letters) == 1


@pytest.mark.parametrize("week", ["9999-W52", "9999-W01"])
def test_a_week_at_the_end_of_the_calendar_is_a_422_naming_the_week(
    client: TestClient, week: str
) -> None:
    response = client.get(f"/v1/reports/weekly?week={week}", headers=as_reader())

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "query.week"


@pytest.mark.parametrize("week", ["\u0662\u0660\u0662\u0665-W\u0660\u0661", "2025-W0\uff11"])
@pytest.mark.parametrize("format", ["csv", "html"])
def test_a_week_written_in_other_digits_is_a_422_naming_the_week(
    client: TestClient, week: str, format: str
) -> None:
    # Arabic-Indic and full-width digits are digits to a regular expression's \d and to int(),
    # and the CSV's file name (a header, Latin-1 only) is built from the week as sent.
    response = client.get(
        "/v1/reports/weekly", params={"week": week, "format": format}, headers=as_reader()
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "query.week"


@pytest.mark.parametrize(
    "path", ["/v1/alerts", "/v1/delays/patients", "/v1/services/lth-wards/queue"]
)
@pytest.mark.parametrize("name", ["offset", "limit"])
@pytest.mark.parametrize("value", [BEYOND_64_BITS, 2**63, -1])
def test_paging_beyond_64_bits_is_a_422_naming_the_parameter(
    client: TestClient, path: str, name: str, value: int
) -> None:
    response = client.get(f"{path}?{name}={value}", headers=as_reader())

    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [f"query.{name}"]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/v1/alerts?scope=lch-ucr%00", None, "query.scope"),
        ("POST", "/v1/alerts/a%00b/ack", {}, "path.alert_id"),
        ("POST", "/v1/alerts/a/ack", {"note": "crew\u0000sent"}, "body.note"),
    ],
)
def test_a_control_character_in_what_reaches_the_database_is_a_422_naming_it(
    client: TestClient, method: str, path: str, body: dict[str, str] | None, field: str
) -> None:
    # PostgreSQL's text holds no NUL: the read model refused the query, and the caller was told
    # the database was unavailable (503) in a log and a 5xx rate that said the same.
    response = client.request(method, path, json=body, headers=as_reader())

    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert "U+0000" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "path", ["/v1/alerts", "/v1/delays/patients", "/v1/services/lth-wards/queue"]
)
def test_the_furthest_page_is_an_empty_page(client: TestClient, path: str) -> None:
    response = client.get(f"{path}?offset={2**31 - 1}", headers=as_reader())

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"note": ' + b"9" * 5_000 + b"}", "a number of more than"),
        (b'{"note": "\xff"}', "not UTF-8"),
    ],
)
def test_a_json_body_python_cannot_read_is_a_422_naming_the_body(
    client: TestClient, body: bytes, says: str
) -> None:
    # As a body that is not JSON at all is: before, a 400 "There was an error parsing the body".
    response = client.post(
        "/v1/alerts/a1/ack",
        content=body,
        headers={**as_reader(), "Content-Type": "application/json"},
    )

    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "body"
    assert says in error["message"]


def test_an_event_with_a_key_twice_is_refused_naming_the_key(
    client: TestClient, writer: RecordingWriter
) -> None:
    # Which of the two a sender (or a proxy in front) meant is unknowable: the standard library
    # kept the last, so `"open": 0, ..., "open": 12` published 12 without a word.
    body = json.dumps(capacity(open=0)).replace('"unit"', '"open": 12, "unit"')

    response = client.post(
        "/v1/events",
        content=body,
        headers={"Authorization": f"Bearer {PUBLISHER_KEY}", "Content-Type": "application/json"},
    )

    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert (error["field"], error["reason"]) == ("body", MALFORMED_JSON)
    assert "'open' appears twice" in error["message"]
    assert writer.published == [] and [d["raw"] for d in writer.dead_letters] == [body.encode()]


@pytest.mark.parametrize(
    ("path", "content_type", "body", "says"),
    [
        ("/v1/events", "application/json", b'{"note": ' + b"9" * 5_000 + b"}", "a number of more than"),
        ("/fhir/Encounter", "application/fhir+json", b'{"n": ' + b"9" * 5_000 + b"}", "a number of more than"),
        ("/fhir/Encounter", "application/fhir+json", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        ("/fhir/Encounter", "application/fhir+xml", b"<a>" * 300 + b"</a>" * 300, "Excessive depth"),
    ],
)  # fmt: skip
def test_a_gateway_says_why_it_cannot_read_a_body_in_words_not_python_s_or_libxml2_s(
    client: TestClient, path: str, content_type: str, body: bytes, says: str
) -> None:
    response = client.post(
        path,
        content=body,
        headers={"Authorization": f"Bearer {PUBLISHER_KEY}", "Content-Type": content_type},
    )

    assert response.status_code in (400, 422), response.text
    assert says in response.text, response.text
    for internal in ("sys.set_int_max_str_digits", "recursion depth", "XML_PARSE_HUGE", "<string>"):
        assert internal not in response.text, response.text
