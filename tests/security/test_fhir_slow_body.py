"""A FHIR client whose body trickles in is answered 408 as every FHIR answer is: an
OperationOutcome, not the problem document the rest of the API answers with."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from flowsight.adapters.fhir.outcome import FHIR_JSON
from flowsight.api import hardening
from flowsight.api.deps import event_writer
from flowsight.context import build_api
from tests.api.gateway import RR8_KEY, RecordingWriter, auth, settings


async def trickled() -> AsyncIterator[bytes]:
    yield b'{"resourceType": "Encounter", '
    await asyncio.sleep(5)  # the rest comes too late
    yield b"}"


async def test_a_fhir_body_that_trickles_in_is_a_408_operation_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hardening, "BODY_SECONDS", 0.3)
    app = build_api(settings(tmp_path))
    writer = RecordingWriter()
    app.dependency_overrides[event_writer] = lambda: writer
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as client,
    ):
        answer = await client.post(
            "/fhir/Encounter",
            content=trickled(),
            headers={**auth(RR8_KEY), "Content-Type": FHIR_JSON},
        )

    assert answer.status_code == 408
    assert answer.headers["content-type"] == FHIR_JSON
    [issue] = answer.json()["issue"]
    assert (answer.json()["resourceType"], issue["code"]) == ("OperationOutcome", "timeout")
    assert writer.published == [] and writer.dead_letters == []
