"""What the API tells browsers and proxies, who sees operational detail, what a refused or failed
request leaves in the log, and that a live stream ends with its credential (issue 13, item 6)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from flowsight.adapters.readmodel.migrate import upgrade
from flowsight.api.auth import new_api_key
from flowsight.api.live import Change
from flowsight.api.principal import Authenticator
from flowsight.api.routers.stream import CLOSED, live_changes, still_allowed
from flowsight.context import build_api
from flowsight.settings import Settings

VIEWER_KEY, VIEWER_ENTRY = new_api_key("dashboard", ["viewer"])
CASELOAD_KEY, CASELOAD_ENTRY = new_api_key("discharge-team", ["viewer", "caseload"])
METRICS_KEY, METRICS_ENTRY = new_api_key("prometheus", ["metrics"])


def settings(tmp_path: Path, environment: str, **extra: object) -> Settings:
    database = f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}"
    upgrade(database)
    values: dict[str, Any] = {
        "environment": environment,
        "pseudonym_key": "0123456789abcdef" * 2,
        "api_keys": ",".join([VIEWER_ENTRY, CASELOAD_ENTRY, METRICS_ENTRY]),
        "database_url": database,
        "data_dir": tmp_path,
        "kafka_bootstrap": "127.0.0.1:1",
    }
    return Settings(_env_file=None, **(values | extra))


@pytest.fixture
def production(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(build_api(settings(tmp_path, "production"))) as client:
        yield client


@pytest.fixture
def local(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(build_api(settings(tmp_path, "local", api_keys=""))) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_every_answer_carries_the_security_headers(production: TestClient) -> None:
    for path in ("/", "/v1/pressure", "/healthz"):
        headers = production.get(path, headers=bearer(VIEWER_KEY)).headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "script-src 'self';" in policy


def test_patient_level_answers_are_never_cached(production: TestClient) -> None:
    for path in ("/v1/delays/patients", "/v1/services/lth-wards/queue", "/v1/pressure"):
        response = production.get(path, headers=bearer(CASELOAD_KEY))
        assert response.status_code == 200, response.text
        assert response.headers["Cache-Control"] == "no-store"
    # A FHIR answer names the episodes it published (a refusal here: no publisher key).
    answer = production.post("/fhir/Encounter", headers=bearer(CASELOAD_KEY), content=b"{}")
    assert answer.status_code == 403
    assert answer.headers["Cache-Control"] == "no-store"
    # Nor what operations read: readiness with its checks and lag, the metrics.
    for path in ("/readyz", "/metrics", "/healthz"):
        response = production.get(path, headers=bearer(METRICS_KEY))
        assert response.headers["Cache-Control"] == "no-store", path


def test_the_pages_run_only_scripts_the_api_serves(production: TestClient) -> None:
    # No script inline, none from elsewhere: the policy runs the API's own files and nothing else.
    for path in ("/", "/services/lth-wards"):
        page = production.get(path)
        assert page.status_code == 200
        tags = re.findall(r"<script\b[^>]*>", page.text)
        assert tags == ['<script type="module" src="/assets/js/main.js">']
        assert not re.search(r"\son[a-z]+=", page.text), "no inline event handler"
    sources = {"main.js"}
    seen: set[str] = set()
    while sources - seen:  # every module the page's imports reach, served as JavaScript
        name = (sources - seen).pop()
        seen.add(name)
        script = production.get(f"/assets/js/{name}")
        assert script.status_code == 200, name
        assert script.headers["content-type"].startswith("text/javascript")
        assert script.headers["Cache-Control"] == "no-cache"
        assert "Content-Security-Policy" in script.headers
        sources |= set(re.findall(r'from "\./([\w-]+\.js)"', script.text))
    assert len(seen) > 1
    assert production.get("/assets/dashboard.css").headers["content-type"].startswith("text/css")
    assert production.get("/assets/js/nothing.js").status_code == 404
    assert production.get("/assets/js/main.js/").status_code == 404
    assert production.get("/assets/js/").status_code == 404
    assert production.get("/assets/../dashboard.html").status_code == 404


def test_the_api_docs_are_served_in_local_mode_only_and_load_nothing_from_elsewhere(
    production: TestClient, local: TestClient
) -> None:
    assert production.get("/docs").status_code == 404
    assert production.get("/redoc").status_code == 404
    assert production.get("/docs/assets/swagger-ui-bundle.js").status_code == 404
    assert production.get("/openapi.json").status_code == 200
    for page in ("/docs", "/redoc"):
        answer = local.get(page)
        assert answer.status_code == 200
        assert "Content-Security-Policy" not in answer.headers  # each starts itself inline
        # A machine without the internet still gets the page: all it loads, the API serves.
        loaded = re.findall(r'(?:src|href)=["\']([^"\']+)["\']', answer.text)
        assert loaded and all(url.startswith("/docs/assets/") for url in loaded), loaded
        assert "/openapi.json" in answer.text
        for url in loaded:
            served = local.get(url)
            assert served.status_code == 200 and len(served.content) > 1_000, url


def test_metrics_need_the_metrics_role_outside_local_mode(
    production: TestClient, local: TestClient
) -> None:
    assert production.get("/metrics").status_code == 401
    assert production.get("/metrics", headers=bearer(VIEWER_KEY)).status_code == 403
    scraped = production.get("/metrics", headers=bearer(METRICS_KEY))
    assert scraped.status_code == 200 and "flowsight_api_requests" in scraped.text
    assert local.get("/metrics").status_code == 200


def test_a_method_no_route_takes_is_counted_as_other(production: TestClient) -> None:
    # Each verb the HTTP parser takes was a label of its own, sent by anyone, signed in or not.
    for verb in ("PROPFIND", "PURGE", "MKCOL"):
        production.request(verb, "/v1/pressure")

    scraped = production.get("/metrics", headers=bearer(METRICS_KEY)).text

    assert 'method="other",route="/v1/pressure"' in scraped
    assert not any(verb in scraped for verb in ("PROPFIND", "PURGE", "MKCOL"))


def test_readiness_details_name_the_broker_only_for_the_metrics_role(
    production: TestClient, local: TestClient
) -> None:
    anonymous = production.get("/readyz")
    assert anonymous.status_code == 503  # no broker here
    assert anonymous.json() == {"ready": False}
    detailed = production.get("/readyz", headers=bearer(METRICS_KEY)).json()
    assert "127.0.0.1:1" in detailed["checks"]["kafka"]
    assert "checks" in local.get("/readyz").json()


def test_a_401_says_how_to_authenticate(production: TestClient) -> None:
    for answer in (
        production.get("/v1/pressure"),
        production.get("/v1/pressure", headers=bearer("fs_" + "w" * 43)),
        production.get("/metrics"),
        production.post("/fhir/Encounter", content=b"{}"),
        production.post("/fhir", content=b"{}", headers=bearer("fs_" + "w" * 43)),
    ):
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="flowsight"'
    assert (
        "WWW-Authenticate" not in production.get("/v1/pressure", headers=bearer(VIEWER_KEY)).headers
    )


def test_refused_requests_are_logged_without_the_credential(
    production: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "fs_" + "w" * 43
    with caplog.at_level(logging.WARNING, logger="flowsight.api"):
        assert production.get("/v1/delays/patients", headers=bearer(wrong)).status_code == 401
        refused = production.get("/v1/delays/patients", headers=bearer(VIEWER_KEY))
        assert refused.status_code == 403

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("denied")]
    assert lines == [
        "denied GET /v1/delays/patients from testclient: 401 unauthenticated "
        "(the API key is not recognised)",
        "denied GET /v1/delays/patients from testclient: 403 key:dashboard "
        "(this needs the 'caseload' role)",
    ]
    assert wrong not in caplog.text and VIEWER_KEY not in caplog.text


def test_an_unexpected_error_is_a_500_problem_that_says_nothing_of_its_cause(
    tmp_path: Path,
) -> None:
    app: FastAPI = build_api(settings(tmp_path, "production"))

    @app.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail 9434765919")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/v1/boom")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "9434765919" not in response.text and "secret" not in response.text


# -- /v1/stream ends with its credential --------------------------------------------------------


async def answer(allowed: bool) -> bool:
    return allowed


async def collect(changes: object) -> list[Change]:
    return [change async for change in changes]  # type: ignore[attr-defined]


async def test_a_stream_closes_once_its_credential_is_no_longer_valid() -> None:
    queue: asyncio.Queue[Change] = asyncio.Queue()
    first = Change("pressure", {"scope": "system"})
    valid = [True]
    queue.put_nowait(Change("alert", {"n": 1}))

    async def revoke_later() -> None:
        await asyncio.sleep(0.05)
        valid[0] = False  # the token expired; no change arrives meanwhile

    revoking = asyncio.create_task(revoke_later())
    received = await asyncio.wait_for(
        collect(live_changes([first], queue, lambda: answer(valid[0]), 0.01)), timeout=5
    )
    await revoking

    assert received == [first, Change("alert", {"n": 1}), CLOSED]


async def test_a_change_is_not_sent_to_a_caller_no_longer_allowed() -> None:
    queue: asyncio.Queue[Change] = asyncio.Queue()
    queue.put_nowait(Change("alert", {"n": 1}))

    received = await collect(live_changes([], queue, lambda: answer(False), 60))

    assert received == [CLOSED]


def test_the_recheck_asks_the_authenticator_again(tmp_path: Path) -> None:
    authenticator = Authenticator(settings(tmp_path, "production"))

    def allowed(key: str) -> bool:
        return asyncio.run(still_allowed(authenticator, key)())

    assert allowed(VIEWER_KEY)
    assert not allowed(METRICS_KEY)  # no viewer role
    assert not allowed("fs_revoked")


def test_a_refusal_sends_back_no_more_than_a_thousand_characters_of_what_the_caller_sent(
    production: TestClient,
) -> None:
    name = "x" * 20_000
    answer = production.get(f"/v1/services/{name}/queue", headers=bearer(VIEWER_KEY))
    assert answer.status_code == 404
    problem = answer.json()
    assert problem["detail"].startswith("no service 'xxx")
    assert problem["detail"].endswith("(cut from 20030 characters)"), problem["detail"][-60:]
    assert problem["instance"].startswith("/v1/services/xxx")
    assert len(answer.content) < 2_500
    # A short one is whole.
    assert (
        production.get("/v1/services/lth-edd/queue", headers=bearer(VIEWER_KEY)).json()["detail"]
        == "no service 'lth-edd' in the catalogue"
    )
