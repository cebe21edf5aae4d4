"""One caller with a valid viewer key must not starve the API process: live streams are bounded
per caller and in all (one more is a 429 naming the limit, and everyone else's stream stays
open), and weekly reports computed at once are bounded (one more waits for a place, then is a
503 with Retry-After). Settings `FLOWSIGHT_STREAM_CLIENTS`, `FLOWSIGHT_STREAM_CLIENTS_PER_CALLER`,
`FLOWSIGHT_REPORTS_AT_ONCE`, `FLOWSIGHT_REPORT_WAIT_SECONDS` (docs/security.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from flowsight.api.auth import new_api_key
from flowsight.api.routers import reports
from flowsight.context import build_api
from tests.api.read_model_api import api_settings, bearer

WARD_KEY, WARD_ENTRY = new_api_key("ward-display", ["viewer"])
BUREAU_KEY, BUREAU_ENTRY = new_api_key("bed-bureau", ["viewer"])
LEAD_KEY, LEAD_ENTRY = new_api_key("on-call-lead", ["viewer", "oncall"])
KEYS = ",".join([WARD_ENTRY, BUREAU_ENTRY, LEAD_ENTRY])


@asynccontextmanager
async def running_api(database: str, tmp_path: Path, **limits: Any) -> AsyncIterator[FastAPI]:
    settings = api_settings(database, tmp_path, KEYS).model_copy(update=limits)
    app = build_api(settings)
    async with app.router.lifespan_context(app):
        yield app


class Stream:
    """One `GET /v1/stream` held open, driven at the ASGI level: its answer's start, its body so
    far, and a disconnection when the client leaves."""

    def __init__(self, app: FastAPI, key: str) -> None:
        self.start: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.body = bytearray()
        self._asked = False
        self._gone = asyncio.Event()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/v1/stream",
            "raw_path": b"/v1/stream",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"api"), (b"authorization", f"Bearer {key}".encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("api", 80),
        }
        self.task = asyncio.create_task(app(scope, self._receive, self._send))

    async def _receive(self) -> dict[str, Any]:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.start.set_result(message)
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    async def status(self) -> int:
        return int((await asyncio.wait_for(self.start, 10))["status"])

    async def headers(self) -> dict[str, str]:
        start = await asyncio.wait_for(self.start, 10)
        return {name.decode(): value.decode() for name, value in start["headers"]}

    async def problem(self) -> dict[str, Any]:
        await asyncio.wait_for(self.task, 10)  # a refusal is answered whole
        problem: dict[str, Any] = orjson.loads(bytes(self.body))
        return problem

    async def leave(self) -> None:
        self._gone.set()
        await asyncio.wait_for(self.task, 10)


async def test_a_caller_past_its_streams_is_refused_429_and_others_keep_theirs(
    database: str, tmp_path: Path
) -> None:
    async with running_api(
        database, tmp_path, stream_clients=10, stream_clients_per_caller=3
    ) as app:
        ward = [Stream(app, WARD_KEY) for _ in range(3)]
        assert [await s.status() for s in ward] == [200, 200, 200]

        refused = Stream(app, WARD_KEY)
        assert await refused.status() == 429
        assert (await refused.headers())["content-type"] == "application/problem+json"
        assert int((await refused.headers())["retry-after"]) > 0
        problem = await refused.problem()
        assert (problem["title"], problem["limit"], problem["most"]) == (
            "Too many live streams",
            "FLOWSIGHT_STREAM_CLIENTS_PER_CALLER",
            3,
        )
        assert "key:ward-display has 3 live streams open" in problem["detail"]

        # Another caller is served, and the refused caller's streams carry on.
        bureau = Stream(app, BUREAU_KEY)
        assert await bureau.status() == 200
        assert not any(s.task.done() for s in ward)

        # A tab closed gives its place back.
        await ward[0].leave()
        again = Stream(app, WARD_KEY)
        assert await again.status() == 200
        for stream in [*ward[1:], bureau, again]:
            await stream.leave()


async def test_streams_past_the_process_s_most_are_refused_429_naming_it(
    database: str, tmp_path: Path
) -> None:
    async with running_api(
        database, tmp_path, stream_clients=4, stream_clients_per_caller=2
    ) as app:
        open_ = [Stream(app, key) for key in (WARD_KEY, WARD_KEY, BUREAU_KEY, BUREAU_KEY)]
        assert [await s.status() for s in open_] == [200] * 4

        refused = Stream(app, LEAD_KEY)
        assert await refused.status() == 429
        problem = await refused.problem()
        assert (problem["limit"], problem["most"]) == ("FLOWSIGHT_STREAM_CLIENTS", 4)

        await open_[0].leave()
        lead = Stream(app, LEAD_KEY)
        assert await lead.status() == 200
        for stream in [*open_[1:], lead]:
            await stream.leave()


class HeldReports:
    """Weekly reports held in their computation until released, counting those computing."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.computing = 0
        self.release = asyncio.Event()
        self._started = asyncio.Condition()
        real = reports.gather_weekly_report

        async def held(*args: Any) -> Any:
            async with self._started:
                self.computing += 1
                self._started.notify_all()
            await self.release.wait()
            return await real(*args)

        monkeypatch.setattr(reports, "gather_weekly_report", held)

    async def until_computing(self, count: int) -> None:
        async with self._started:
            await asyncio.wait_for(self._started.wait_for(lambda: self.computing >= count), 30)


def weekly(client: httpx.AsyncClient, key: str) -> asyncio.Task[httpx.Response]:
    return asyncio.create_task(client.get("/v1/reports/weekly", headers=bearer(key)))


@asynccontextmanager
async def report_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


async def test_a_report_past_the_most_at_once_waits_for_a_place_and_is_computed(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldReports(monkeypatch)
    async with (
        running_api(database, tmp_path, reports_at_once=2, report_wait_seconds=60) as app,
        report_client(app) as client,
    ):
        first = [weekly(client, WARD_KEY), weekly(client, BUREAU_KEY)]
        await held.until_computing(2)
        waiting = weekly(client, LEAD_KEY)
        await asyncio.sleep(0.1)
        assert held.computing == 2 and not waiting.done(), "the third waits for a place"

        held.release.set()
        answers = await asyncio.gather(*first, waiting)

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert held.computing == 3


async def test_a_report_without_a_place_in_time_is_a_503_with_retry_after(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldReports(monkeypatch)
    async with (
        running_api(database, tmp_path, reports_at_once=2, report_wait_seconds=0) as app,
        report_client(app) as client,
    ):
        first = [weekly(client, WARD_KEY), weekly(client, WARD_KEY)]
        await held.until_computing(2)

        refused = await asyncio.wait_for(
            client.get("/v1/reports/weekly", headers=bearer(BUREAU_KEY)), 30
        )

        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) > 0
        problem = refused.json()
        assert (problem["title"], problem["limit"], problem["most"]) == (
            "Too many reports at once",
            "FLOWSIGHT_REPORTS_AT_ONCE",
            2,
        )
        # The API still answers everything else meanwhile.
        assert (await client.get("/v1/services", headers=bearer(BUREAU_KEY))).status_code == 200

        held.release.set()
        assert [answer.status_code for answer in await asyncio.gather(*first)] == [200, 200]
        after = await client.get("/v1/reports/weekly", headers=bearer(BUREAU_KEY))
        assert after.status_code == 200, "the places are free again"


async def test_a_caller_without_a_credential_takes_no_report_place(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldReports(monkeypatch)
    held.release.set()
    async with (
        running_api(database, tmp_path, reports_at_once=1, report_wait_seconds=0) as app,
        report_client(app) as client,
    ):
        refused = [await client.get("/v1/reports/weekly") for _ in range(3)]
        answered = await client.get("/v1/reports/weekly", headers=bearer(WARD_KEY))

    assert [answer.status_code for answer in refused] == [401, 401, 401]
    assert answered.status_code == 200
