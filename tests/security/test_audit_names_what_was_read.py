"""The audit log names the list a caller was given: a query parameter sent twice is read once
(its last value, as every route reads it), and the audit line keeps that value, not both; a
number padded to the line's width (zeros, spaces) is kept as its value, and cannot push the
service read out of the line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flowsight.context import build_api
from tests.security.test_api_hardening import CASELOAD_ENTRY, CASELOAD_KEY, bearer, settings
from tests.security.test_refusals_audited import ADMIN_ENTRY, audit


@pytest.fixture
def production(tmp_path: Path) -> Iterator[TestClient]:
    keys = ",".join([CASELOAD_ENTRY, ADMIN_ENTRY])
    with TestClient(build_api(settings(tmp_path, "production", api_keys=keys))) as client:
        yield client


@pytest.mark.parametrize(
    ("query", "kept", "offset"),
    [
        ("service=lcc-reablement&service=lth-wards", "service=lth-wards", 0),
        ("offset=0&limit=5&offset=40", "offset=40&limit=5", 40),
        (f"offset={'0' * 240}40&service=lth-wards", "offset=40&service=lth-wards", 40),
        (f"offset=40{'%20' * 250}&service=lth-wards", "offset=40&service=lth-wards", 40),
        ("offset=0_101_011_234", "offset=[nhs-number?]", 101_011_234),  # as written, blanked
    ],
)
def test_each_parameter_is_audited_as_the_route_read_it(
    production: TestClient,
    query: str,
    kept: str,
    offset: int,
) -> None:
    read = production.get(f"/v1/delays/patients?{query}", headers=bearer(CASELOAD_KEY))
    assert read.status_code == 200
    assert read.json()["offset"] == offset  # the last value sent is the one read

    [line] = audit(production)
    assert line["resource"] == f"/v1/delays/patients?{kept}"
