"""A caller refused again and again fills the audit log no faster than a line every three
seconds: its first refusals of each minute are written, the rest counted and the count written
with its next line. A stolen viewer key wrote 3,000 lines in 29 s."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flowsight.api.auth import new_api_key
from flowsight.api.refusals import WRITTEN_A_MINUTE, RefusalLog
from flowsight.context import build_api
from tests.api.audit_trail import audit_lines
from tests.api.read_model_api import api_settings

VIEWER, VIEWER_ENTRY = new_api_key("ward-screen", ["viewer"])
CASELOAD, CASELOAD_ENTRY = new_api_key("discharge-team", ["caseload"])


@pytest.fixture
def client(database: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = api_settings(database, tmp_path, f"{VIEWER_ENTRY},{CASELOAD_ENTRY}")
    with TestClient(build_api(settings)) as test_client:
        yield test_client


def test_a_key_refused_again_and_again_writes_a_minute_s_lines_and_no_more(
    client: TestClient, database: str
) -> None:
    for _ in range(WRITTEN_A_MINUTE * 5):
        refused = client.get("/v1/delays/patients", headers={"X-API-Key": VIEWER})
        assert refused.status_code == 403  # every one is still refused
    # Another caller's refusals and reads are written as ever.
    caseload = {"X-API-Key": CASELOAD}
    assert client.get("/v1/audit", headers=caseload).status_code == 403
    assert client.get("/v1/delays/patients", headers=caseload).status_code == 200

    lines = audit_lines(database)
    screen = [line for line in lines if line[0] == "key:ward-screen"]
    assert len(screen) == WRITTEN_A_MINUTE
    assert all(action == "refused" for _, action, _ in screen)
    assert [action for who, action, _ in lines if who == "key:discharge-team"] == [
        "refused",
        "read_delayed_patients",
    ]


def test_the_refusals_held_back_are_counted_on_the_caller_s_next_line() -> None:
    now = [0.0]
    refusals = RefusalLog(per_minute=3, clock=lambda: now[0])
    assert [refusals.take("key:ward-screen") for _ in range(5)] == [0, 0, 0, None, None]
    assert refusals.take("key:night-site") == 0  # each caller has its own minute
    now[0] = 59.9
    assert refusals.take("key:ward-screen") is None
    now[0] = 60.0
    assert refusals.take("key:ward-screen") == 3  # three held back, written with this line
    assert refusals.take("key:ward-screen") == 0
