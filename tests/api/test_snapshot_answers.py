"""The pressure and queue answers served from the snapshot ahead of the routes
(`api/shortcut.py`): the routes' own bytes and headers, counted under the route, and every
other request (refused, odd, patient-level) still answered and audited by the route."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

from flowsight.adapters.readmodel.tables import audit_log
from flowsight.api.auth import new_api_key
from tests.adapters.readmodel.model import Feed
from tests.api.audit_trail import KEYS_LINE
from tests.api.read_model_api import api_over, bearer

VIEWER_KEY, VIEWER_ENTRY = new_api_key("wall-screen", ["viewer"])
CASELOAD_KEY, CASELOAD_ENTRY = new_api_key("ward-lead", ["viewer", "caseload"])
METRICS_KEY, METRICS_ENTRY = new_api_key("scraper", ["metrics"])
NOW = datetime.now(UTC)
QUEUE = "/v1/services/lcc-reablement/queue"


def one_patient_waiting() -> Feed:
    """A patient on the wards, referred to reablement four days ago and still waiting."""
    feed = Feed()
    feed.publish("admission", "lth-wards", NOW - timedelta(days=6), 0, admission_method="emergency")
    feed.publish(
        "referral",
        "lth-wards",
        NOW - timedelta(days=4),
        0,
        to_service="lcc-reablement",
        status="new",
        pathway="P1",
    )
    return feed


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    events = one_patient_waiting().events
    with api_over(tmp_path, events, VIEWER_ENTRY, CASELOAD_ENTRY, METRICS_ENTRY) as test_client:
        # One snapshot for the whole test: answers compared byte for byte read the same one.
        test_client.app.state.pressure.max_age = 3600  # type: ignore[attr-defined]
        yield test_client


@pytest.mark.parametrize("path", ["/v1/pressure", QUEUE])
def test_the_snapshot_answer_is_the_routes_own_bytes_and_headers(
    client: TestClient, path: str
) -> None:
    served = client.get(path, headers=bearer(VIEWER_KEY))
    # A query (one the route ignores, or the defaults spelled out) goes to the route itself.
    query = "limit=100&offset=0" if path == QUEUE else "from=route"
    routed = client.get(f"{path}?{query}", headers=bearer(VIEWER_KEY))
    assert served.status_code == routed.status_code == 200
    assert served.content == routed.content
    assert dict(served.headers) == dict(routed.headers)
    assert served.headers["cache-control"] == "no-store"
    assert "content-security-policy" in served.headers


def test_the_viewers_queue_has_no_patients_and_the_api_key_header_is_a_credential(
    client: TestClient,
) -> None:
    answer = client.get(QUEUE, headers={"X-API-Key": VIEWER_KEY})
    assert answer.status_code == 200
    assert answer.json()["length"] == 1
    assert answer.json()["longest_wait_minutes"] >= 4 * 24 * 60
    assert answer.json()["entries"] is None


def test_a_caseload_callers_queue_lists_patients_and_is_audited(
    client: TestClient, tmp_path: Path
) -> None:
    answer = client.get(QUEUE, headers=bearer(CASELOAD_KEY))
    assert answer.status_code == 200
    assert [entry["pathway"] for entry in answer.json()["entries"]] == ["P1"]
    engine = create_engine(f"sqlite:///{tmp_path / 'read-model.db'}")
    with engine.connect() as connection:
        audited = [
            (row.principal, row.action, row.detail)
            for row in connection.execute(select(audit_log).where(KEYS_LINE))
        ]
    # It named no patient: an audit line must say whose records the answer showed.
    shown = [entry["pseudonym"] for entry in answer.json()["entries"]]
    assert audited == [("key:ward-lead", "read_queue_entries", {"patients": shown})]


@pytest.mark.parametrize("path", ["/v1/pressure", QUEUE])
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        (bearer("fs_not-a-key"), 401),
        ({"Authorization": f"Basic {VIEWER_KEY}"}, 401),
        (bearer(METRICS_KEY), 403),
    ],
)
def test_a_caller_without_the_viewer_role_is_refused_by_the_route(
    client: TestClient, path: str, headers: dict[str, str], status: int
) -> None:
    answer = client.get(path, headers=headers)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["instance"] == path


def test_an_unknown_services_queue_is_not_found(client: TestClient) -> None:
    answer = client.get("/v1/services/nowhere/queue", headers=bearer(VIEWER_KEY))
    assert answer.status_code == 404


def test_snapshot_answers_are_counted_under_their_route(client: TestClient) -> None:
    for _ in range(3):
        assert client.get(QUEUE, headers=bearer(VIEWER_KEY)).status_code == 200
    metrics = client.get("/metrics", headers=bearer(METRICS_KEY)).text
    counted = (
        'flowsight_api_requests_total{method="GET",route="/v1/services/{service_id}/queue",'
        'status="200"} 3.0'
    )
    assert counted in metrics
