"""A caller who is known but lacks the role for a patient-level list or an admin change leaves
a line in the audit log, as a read does: who, what, when, from where, and that it was refused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from flowsight.adapters.readmodel.tables import audit_log
from flowsight.api.auth import new_api_key
from flowsight.api.keys_in_force import ACTION
from flowsight.api.refusals import WRITTEN_A_MINUTE
from flowsight.context import build_api
from tests.security.test_api_hardening import (
    CASELOAD_ENTRY,
    CASELOAD_KEY,
    METRICS_ENTRY,
    METRICS_KEY,
    VIEWER_ENTRY,
    VIEWER_KEY,
    bearer,
    settings,
)

ADMIN_KEY, ADMIN_ENTRY = new_api_key("it-lead", ["admin"])
ONCALL_KEY, ONCALL_ENTRY = new_api_key("on-call", ["viewer", "oncall"])


@pytest.fixture
def production(tmp_path: Path) -> Iterator[TestClient]:
    keys = ",".join([VIEWER_ENTRY, CASELOAD_ENTRY, METRICS_ENTRY, ADMIN_ENTRY, ONCALL_ENTRY])
    with TestClient(build_api(settings(tmp_path, "production", api_keys=keys))) as client:
        yield client


def audit(client: TestClient) -> list[dict[str, object]]:
    answer = client.get("/v1/audit", headers=bearer(ADMIN_KEY))
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, object]] = answer.json()["entries"]
    return [entry for entry in entries if entry["action"] != ACTION]  # requests' lines only


@pytest.mark.parametrize(
    ("method", "path", "needs"),
    [
        ("GET", "/v1/delays/patients?service=lth-wards&limit=5&token=9434765919", "caseload"),
        ("GET", "/v1/services/lth-wards/caseload", "caseload"),
        ("PUT", "/v1/thresholds/lth-wards/queue_length", "admin"),
        ("POST", "/v1/alerts/a1/ack", "oncall"),
    ],
)
def test_a_known_caller_refused_a_patient_list_or_a_change_is_audited(
    production: TestClient, method: str, path: str, needs: str
) -> None:
    body = {"level2": 10, "level3": 20, "level4": 30} if method == "PUT" else None
    refused = production.request(method, path, headers=bearer(VIEWER_KEY), json=body)
    assert refused.status_code == 403

    [line] = audit(production)
    assert line["principal"] == "key:dashboard"
    assert line["action"] == "refused"
    assert line["resource"] == path.split("&token")[0], "only the parameters the route takes"
    assert line["client"] == "not an address", "the test client's host is not an address"
    assert line["detail"] == {"status": 403, "needs": needs}


def test_an_unauthenticated_refusal_is_logged_not_audited(production: TestClient) -> None:
    # No one to name: a line per anonymous request would let anyone fill the audit table.
    assert production.get("/v1/delays/patients").status_code == 401
    assert audit(production) == []


def test_a_refusal_is_audited_beside_the_reads(production: TestClient) -> None:
    assert production.get("/v1/delays/patients", headers=bearer(CASELOAD_KEY)).status_code == 200
    assert production.get("/v1/delays/patients", headers=bearer(VIEWER_KEY)).status_code == 403
    assert production.post("/v1/alerts/a1/ack", headers=bearer(ONCALL_KEY)).status_code == 404

    lines = [(line["principal"], line["action"]) for line in audit(production)]
    assert lines == [("key:dashboard", "refused"), ("key:discharge-team", "read_delayed_patients")]


def test_a_refusal_whose_path_holds_a_control_character_is_audited_with_it_escaped(
    production: TestClient,
) -> None:
    # PostgreSQL's text holds no NUL: the line was not written, and a known caller could ask
    # for patient-level lists, refused, without a trace in the audit log.
    path = "/v1/services/lth-wards%00/caseload"
    assert production.get(path, headers=bearer(VIEWER_KEY)).status_code == 403

    [line] = audit(production)
    assert (line["action"], line["resource"]) == ("refused", path)


def test_an_audited_read_fits_the_audit_log_whatever_its_query(production: TestClient) -> None:
    # A number may be written with as many leading zeros as a caller likes: the line must still
    # fit its column, which PostgreSQL enforces (a longer one was a 503 and no read at all).
    padded = "/v1/delays/patients?limit=" + "0" * 400 + "5"
    assert production.get(padded, headers=bearer(CASELOAD_KEY)).status_code == 200

    [line] = audit(production)
    assert isinstance(line["resource"], str)
    assert len(line["resource"]) <= audit_log.c.resource.type.length  # type: ignore[attr-defined]


def test_refusals_at_once_are_each_audited_promptly(tmp_path: Path) -> None:
    # Each route holds a read-model connection while its role is checked: a refusal that took a
    # second one for its audit line waited on the pool that its own kind held (30 s, then 503s).
    keys = ",".join([VIEWER_ENTRY, CASELOAD_ENTRY, METRICS_ENTRY, ADMIN_ENTRY, ONCALL_ENTRY])
    app = build_api(settings(tmp_path, "production", api_keys=keys))

    async def refuse_many() -> tuple[set[int], int]:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as client,
        ):
            refused = await asyncio.wait_for(
                asyncio.gather(
                    *(
                        # Two callers: each has its minute's refusals written one by one.
                        client.get("/v1/delays/patients", headers=bearer(key))
                        for key in [VIEWER_KEY, METRICS_KEY] * WRITTEN_A_MINUTE
                    )
                ),
                10,
            )
            lines = await client.get("/v1/audit?what=refused", headers=bearer(ADMIN_KEY))
        return {answer.status_code for answer in refused}, lines.json()["total"]

    assert asyncio.run(refuse_many()) == ({403}, 2 * WRITTEN_A_MINUTE)
