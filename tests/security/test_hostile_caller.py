"""A caller who means harm, without a credential: one request must not hold the API, its memory
or its log, nor send its keys elsewhere; refusals are logged on every way in."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import sqlalchemy
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.types import Message

from flowsight.api.auth import new_api_key
from flowsight.api.deps import read_connection
from flowsight.api.hardening import BODY_MAX_BYTES
from flowsight.api.middleware import BodyBounds
from flowsight.api.routers import health
from flowsight.context import build_api
from tests.security.test_api_hardening import VIEWER_ENTRY, VIEWER_KEY, bearer, settings


@pytest.fixture
def production(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(build_api(settings(tmp_path, "production"))) as client:
        yield client


def test_redacting_a_long_line_a_caller_chose_takes_linear_time() -> None:
    # Before, the URL-credential pattern was tried at every letter of a run and scanned to the end
    # of the line each time: these lines took minutes, holding the event loop that logged them.
    script = (
        "from flowsight.logs import Redactor\n"
        "r = Redactor()\n"
        "for line in ('/' + 'a' * 300_000, 'a://x:' * 40_000, 'eyJ' * 100_000):\n"
        "    assert len(r(line)) == len(line)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


def test_a_refusal_for_a_huge_path_is_one_short_log_line(
    production: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    service = "a" * 60_000 + "%0Aforged line"
    with caplog.at_level(logging.WARNING, logger="flowsight.api"):
        assert production.get(f"/v1/services/{service}/queue").status_code == 401

    [denied] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("denied")]
    assert len(denied) < 600
    assert "\n" not in denied
    assert re.search(r"\(cut from 600\d\d characters\)", denied)


def test_a_refusal_from_a_huge_forwarded_address_is_one_short_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The client's address is what uvicorn was told by X-Forwarded-For when it trusts the sender
    # (FORWARDED_ALLOW_IPS=*, common behind an ingress): a caller's text, of any length.
    told = "203.0.113.9 " + "x" * 60_000
    with (
        TestClient(build_api(settings(tmp_path, "production")), client=(told, 50000)) as client,
        caplog.at_level(logging.WARNING, logger="flowsight.api"),
    ):
        assert client.get("/v1/delays").status_code == 401

    [denied] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("denied")]
    assert len(denied) < 600
    assert re.search(r"\(cut from 600\d\d characters\)", denied)


def _takes_a_connection(dependant: Any) -> bool:
    return any(
        child.call is read_connection or _takes_a_connection(child)
        for child in dependant.dependencies
    )


def test_a_request_without_a_credential_takes_no_database_connection(
    production: TestClient,
) -> None:
    # Each took one from the pool and began a transaction before its caller was refused: a flood
    # of them held the connections callers with a key waited for (and while the database was
    # down, they were answered 503 rather than 401).
    app = cast(FastAPI, production.app)
    taken: list[object] = []
    engine = app.state.flowsight.engine.sync_engine
    sqlalchemy.event.listen(engine, "checkout", lambda *args: taken.append(args))
    routes = [
        route
        for included in app.routes
        if hasattr(included, "original_router")
        for route in included.original_router.routes
        if isinstance(route, APIRoute) and _takes_a_connection(route.dependant)
    ]
    assert len(routes) >= 10
    for route in routes:
        path = re.sub(r"\{[^}]+\}", "lth-wards", route.path)
        for method in route.methods or ():
            answer = production.request(method, path, json={})
            assert answer.status_code == 401, (method, path, answer.text)
            assert taken == [], f"{method} {path} took a connection before its caller was known"


def test_a_body_declared_over_the_limit_is_refused_before_the_caller_is_asked_who_they_are(
    production: TestClient,
) -> None:
    body = b'{"levels": [' + b"1," * BODY_MAX_BYTES + b"1]}"

    answer = production.put("/v1/thresholds/lth-wards/queue_length", content=body)

    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_body_streamed_over_the_limit_is_refused_as_it_arrives(tmp_path: Path) -> None:
    # No Content-Length: counted as it arrives, once a caller who may send it is reading it.
    body = b'{"note": "' + b"x" * BODY_MAX_BYTES + b'"}'

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65_536):
            yield body[start : start + 65_536]

    lead, entry = new_api_key("on-call-lead", ["oncall"])
    keys = ",".join([VIEWER_ENTRY, entry])
    with TestClient(build_api(settings(tmp_path, "production", api_keys=keys))) as production:
        answer = production.post("/v1/alerts/a1/ack", content=chunks(), headers=bearer(lead))

    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/v1/thresholds/lth-wards/queue_length"), ("POST", "/v1/alerts/a1/ack")],
)
@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"note": "\\ud800', b"[" * 100_000, b"\xff\xfe", b'{"level2": 1e999999}'],
)
def test_a_body_without_a_credential_is_refused_401_unread(
    production: TestClient, caplog: pytest.LogCaptureFixture, method: str, path: str, body: bytes
) -> None:
    # Before, FastAPI decoded a declared body before the role was checked: malformed JSON was
    # answered 422 with the body's fields, and the refusal never reached the log.
    headers = {"content-type": "application/json"}
    with caplog.at_level(logging.WARNING, logger="flowsight.api"):
        answer = production.request(method, path, content=body, headers=headers)

    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert any(r.getMessage().startswith(f"denied {method} {path}") for r in caplog.records)


def test_a_body_that_trickles_in_is_answered_408() -> None:
    app = FastAPI()

    @app.post("/slow")
    async def slow(request: Request) -> dict[str, int]:
        return {"read": len(await request.body())}

    sent: list[Message] = []
    chunks = [{"type": "http.request", "body": b"{", "more_body": True}]

    async def receive() -> Message:
        if chunks:
            return chunks.pop()
        await asyncio.sleep(3600)  # the rest never comes
        raise AssertionError

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/slow",
        "raw_path": b"/slow",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    asyncio.run(BodyBounds(app, max_bytes=100, seconds=0.2)(scope, receive, send))

    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 408


def test_a_path_with_a_trailing_slash_is_not_redirected_to_the_host_the_caller_named(
    production: TestClient,
) -> None:
    answer = production.get(
        "/v1/services/", headers={"host": "evil.example"}, follow_redirects=False
    )

    assert answer.status_code == 404
    assert "location" not in answer.headers


def test_a_refused_fhir_publisher_is_logged_like_any_refusal(
    production: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="flowsight.api"):
        answer = production.post(
            "/fhir/Encounter",
            content=b"{}",
            headers={"X-API-Key": "fs_" + "w" * 43, "content-type": "application/fhir+json"},
        )

    assert answer.status_code == 401
    assert any(
        r.getMessage().startswith("denied POST /fhir/Encounter from testclient: 401")
        for r in caplog.records
    )


def test_a_fhir_caller_without_a_publisher_role_is_named_as_everywhere(
    production: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    # `key:<name>` or `oidc:<sub>`: a bare name could be either.
    with caplog.at_level(logging.WARNING, logger="flowsight.api"):
        answer = production.post(
            "/fhir/Encounter",
            content=b"{}",
            headers={**bearer(VIEWER_KEY), "content-type": "application/fhir+json"},
        )

    assert answer.status_code == 403
    [denied] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("denied")]
    assert denied.startswith("denied POST /fhir/Encounter from testclient: 403 key:dashboard (")


def test_calls_to_readyz_during_a_check_share_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each check opens database and broker connections, and anyone may ask.
    checks = 0

    async def slow_check(state: object) -> tuple[bool, dict[str, object]]:
        nonlocal checks
        checks += 1
        await asyncio.sleep(0.3)
        return True, {}

    monkeypatch.setattr(health, "_readiness", slow_check)
    app = build_api(settings(tmp_path, "production"))

    async def ask() -> tuple[list[int], int]:
        transport = httpx.ASGITransport(app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://api") as client,
        ):
            answers = await asyncio.gather(*(client.get("/readyz") for _ in range(20)))
            again = await client.get("/readyz")
        return [a.status_code for a in answers], again.status_code

    assert asyncio.run(ask()) == ([200] * 20, 200)
    assert checks == 2  # one for the twenty at once, one for the call after them
