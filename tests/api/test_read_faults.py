"""With the read model unreachable, every read endpoint answers 503 with problem details that
name no cause beyond the database, never a 500 (issue 15): a PostgreSQL server that refuses the
connection (a closed port: asyncpg raises the socket's error unwrapped), and a SQLite file that
is not a database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flowsight.api.auth import new_api_key
from flowsight.context import build_api
from flowsight.devtools.bench.harness import free_port
from tests.api.read_model_api import api_settings

KEY, ENTRY = new_api_key("discharge-team", ["viewer", "caseload"])
VIEWER_KEY, VIEWER_ENTRY = new_api_key("dashboard", ["viewer"])

READS = [
    "/v1/pressure",
    "/v1/services",
    "/v1/services/lth-wards",
    "/v1/services/lth-wards/daily",
    "/v1/services/lth-wards/queue",
    "/v1/services/lth-wards/caseload",
    "/v1/services/lth-wards/pathways",
    "/v1/delays/patients",
    "/v1/alerts",
    "/v1/thresholds",
    "/v1/stream",
]

#: The reads a viewer is refused (403) whether or not the database answers.
CASELOAD_ONLY = {"/v1/services/lth-wards/caseload", "/v1/delays/patients"}


def closed_port() -> int:
    return free_port()  # nothing listens there


@pytest.fixture(params=["postgres-refusing", "sqlite-not-a-database"])
def unreachable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    if request.param == "postgres-refusing":
        url = f"postgresql+asyncpg://flowsight:secret@127.0.0.1:{closed_port()}/flowsight"
    else:
        path = tmp_path / "read-model.db"
        path.write_bytes(b"not a database " * 512)
        url = f"sqlite+aiosqlite:///{path}"
    settings = api_settings(url, tmp_path, f"{ENTRY},{VIEWER_ENTRY}")
    with TestClient(build_api(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("path", READS)
def test_a_read_without_the_database_is_a_503_problem(unreachable: TestClient, path: str) -> None:
    for key in (KEY, VIEWER_KEY):
        response = unreachable.get(path, headers={"Authorization": f"Bearer {key}"})

        if key == VIEWER_KEY and path in CASELOAD_ONLY:
            # The caller's role is checked before a connection is taken: a refusal stands without
            # the database (its audit line is logged as not written).
            assert response.status_code == 403, response.text
            continue
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["title"] == "Read model unavailable"
        assert problem["instance"] == path
        assert "secret" not in response.text and "127.0.0.1" not in response.text


def test_liveness_does_not_depend_on_the_database(unreachable: TestClient) -> None:
    assert unreachable.get("/healthz").status_code == 200
    assert unreachable.get("/readyz").status_code == 503
