"""`GET /v1/audit`: the audit log for admins, paged and filtered, problem details otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from flowsight.api.auth import new_api_key
from flowsight.api.keys_in_force import ACTION
from flowsight.context import build_api
from flowsight.settings import Settings

KEYS = {role: new_api_key(f"{role}-lead", [role]) for role in ("viewer", "caseload", "admin")}


def as_role(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role][0]}"}


def requests_lines(client: TestClient) -> list[dict[str, Any]]:
    """The audit log's lines callers' requests wrote, newest first (without the keys in force
    the API recorded at its start)."""
    entries = client.get("/v1/audit", headers=as_role("admin")).json()["entries"]
    return [entry for entry in entries if entry["action"] != ACTION]


@pytest.fixture
def client(database: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        _env_file=None,
        environment="test",
        pseudonym_key="0123456789abcdef" * 2,
        database_url=database,
        data_dir=tmp_path,
        api_keys=",".join(entry for _key, entry in KEYS.values()),
        kafka_bootstrap="127.0.0.1:1",
    )
    with TestClient(build_api(settings)) as test_client:
        yield test_client


def test_an_admin_reads_who_read_patient_lists_newest_first(client: TestClient) -> None:
    for _ in range(3):
        assert client.get("/v1/delays/patients", headers=as_role("caseload")).status_code == 200
    changed = client.put(
        "/v1/thresholds/lch-ucr/queue_length",
        headers=as_role("admin"),
        json={"level2": 20, "level3": 30, "level4": 45},
    )
    assert changed.status_code == 200, changed.text

    everything = client.get("/v1/audit", headers=as_role("admin")).json()
    assert everything["total"] == 4 + 1, "the four lines, and the keys in force at the start"
    assert everything["entries"][0]["principal"] == "key:admin-lead", "newest first"
    assert everything["entries"][0]["detail"] is not None, "an admin change says what changed"

    reads = client.get(
        "/v1/audit?who=key:caseload-lead&what=read_delayed_patients&limit=2&offset=1",
        headers=as_role("admin"),
    ).json()
    assert (reads["total"], reads["limit"], reads["offset"]) == (3, 2, 1)
    assert len(reads["entries"]) == 2
    assert {e["resource"] for e in reads["entries"]} == {"/v1/delays/patients"}
    first = everything["entries"][-1]["at"]
    since = client.get("/v1/audit", params={"since": first}, headers=as_role("admin")).json()
    assert since["total"] == 5 + 2, "the five lines, and the two reads of the log since"
    later = client.get(
        "/v1/audit", params={"since": "2999-01-01T00:00:00Z"}, headers=as_role("admin")
    ).json()
    assert later["total"] == 0


def test_reading_the_audit_log_is_audited_naming_the_lines_shown(client: TestClient) -> None:
    # Its lines name the patients other reads showed (SPEC section 9: every patient-level read).
    assert client.get("/v1/delays/patients", headers=as_role("caseload")).status_code == 200
    shown = client.get("/v1/audit?limit=5", headers=as_role("admin")).json()["entries"]

    reads = client.get("/v1/audit?what=read_audit_log", headers=as_role("admin")).json()
    [line] = reads["entries"]
    assert (line["principal"], line["action"]) == ("key:admin-lead", "read_audit_log")
    assert line["resource"] == "/v1/audit?limit=5"
    assert line["detail"] == {"lines": [entry["id"] for entry in shown]}


@pytest.mark.parametrize("role", ["viewer", "caseload"])
def test_only_admins_read_the_audit_log(client: TestClient, role: str) -> None:
    response = client.get("/v1/audit", headers=as_role(role))

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/audit").status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=yesterday", "query.since"),
        ("since=2026-11-16T00:00:00", "query.since"),
        ("limit=0", "query.limit"),
        ("offset=-1", "query.offset"),
        ("who=" + "x" * 129, "query.who"),
        # PostgreSQL's text holds no NUL: a 503 naming the database, not the parameter.
        ("who=key:a%00", "query.who"),
        ("what=read%00", "query.what"),
    ],
)
def test_bad_input_is_a_problem_naming_the_parameter(
    client: TestClient, query: str, field: str
) -> None:
    response = client.get(f"/v1/audit?{query}", headers=as_role("admin"))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_the_openapi_document_declares_every_answer(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/v1/audit"]["get"]
    assert {"200", "401", "403", "422"} <= set(operation["responses"])
    assert "application/problem+json" in operation["responses"]["403"]["content"]
    report = client.get("/openapi.json").json()["paths"]["/v1/reports/weekly"]["get"]
    assert {"text/html", "text/csv"} <= set(report["responses"]["200"]["content"])


def test_the_audit_log_keeps_the_parameters_a_read_takes_and_no_nhs_number(
    client: TestClient,
) -> None:
    nhs_number = "9434765919"
    read = client.get(
        f"/v1/delays/patients?service=lth-wards&nhs_number={nhs_number}&note=943.476.5919",
        headers=as_role("caseload"),
    )
    assert read.status_code == 200, read.text

    [entry] = requests_lines(client)
    # What the route took is kept; what it ignored (a caller's identifier in the URL) is not.
    assert entry["resource"] == "/v1/delays/patients?service=lth-wards"
    assert entry["client"] == "not an address"  # the test client's host is "testclient"
    assert nhs_number not in str(entry)


def test_a_number_split_by_underscores_is_kept_as_read_and_blanked(client: TestClient) -> None:
    read = client.get("/v1/delays/patients?offset=0_101_011_234", headers=as_role("caseload"))
    assert read.status_code == 200, read.text  # an integer may be written with underscores

    [entry] = requests_lines(client)
    assert entry["resource"] == "/v1/delays/patients?offset=[nhs-number?]"


@pytest.mark.parametrize(
    "read",
    [
        "/v1/delays/patients?service=943%20476%205919",
        "/v1/delays/patients?service=943+476+5919",
        "/v1/delays/patients?service=(943)%20476-5919",
        "/v1/delays/patients?service=943%2F476%2F5919",
        "/v1/delays/patients?service=943%09476%095919",
        "/v1/services/lth-wards/caseload?limit=943%20476%205919",
        "/v1/services/943%0B476%0B5919/caseload",
    ],
)
def test_an_nhs_number_in_the_url_is_blanked_however_it_was_encoded(
    client: TestClient, read: str
) -> None:
    # Blanked as the route read it, not as it is written back: `943+476+5919` is no NHS
    # number's shape, `943 476 5919` is.
    assert client.get(read, headers=as_role("viewer")).status_code == 403

    [entry] = requests_lines(client)
    assert entry["action"] == "refused"
    assert "[nhs-number?]" in entry["resource"]
    kept = unquote_plus(entry["resource"])
    assert "943" not in kept and "476" not in kept and "5919" not in kept, kept


@pytest.mark.parametrize("since", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_a_since_beyond_the_calendar_in_utc_is_a_422(client: TestClient, since: str) -> None:
    answer = client.get("/v1/audit", params={"since": since}, headers=as_role("admin"))

    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "query.since"


class CommitLost:
    """The API's engine, except that each transaction's COMMIT fails, as it does when the
    connection is lost at that moment (the statements before it ran)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Any]:
        async with self.engine.connect() as connection:
            await connection.begin()
            yield connection
            await connection.rollback()
            raise OperationalError("COMMIT", {}, ConnectionResetError("connection lost"))


def test_a_read_or_change_whose_audit_row_is_not_committed_is_answered_503_and_shows_nothing(
    client: TestClient,
) -> None:
    state = client.app.state.flowsight  # type: ignore[attr-defined]
    engine, state.engine = state.engine, CommitLost(state.engine)
    try:
        for path in ("/v1/delays/patients", "/v1/services/lth-wards/caseload"):
            response = client.get(path, headers=as_role("caseload"))
            assert response.status_code == 503, response.text
            assert "pseudonym" not in response.text
        changed = client.put(
            "/v1/thresholds/lch-ucr/queue_length",
            headers=as_role("admin"),
            json={"level2": 20, "level3": 30, "level4": 45},
        )
        assert changed.status_code == 503, "a change not committed is not answered as made"
    finally:
        state.engine = engine
    assert requests_lines(client) == []
