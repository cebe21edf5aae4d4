"""What a caller is told when a dependency fails: that it failed and what to do, never where the
dependency lives (a broker's host and port are the network's map, for the log only)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flowsight.context import build_api
from tests.api.gateway import RR8_ENTRY, RR8_KEY, auth, encounter, event
from tests.integration.stack import free_port
from tests.security.test_api_hardening import VIEWER_ENTRY, settings


def test_a_503_for_kafka_does_not_name_the_broker(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    app = build_api(
        settings(
            tmp_path,
            "production",
            api_keys=",".join([RR8_ENTRY, VIEWER_ENTRY]),
            kafka_bootstrap=f"127.0.0.1:{port}",
        )
    )
    caplog.set_level(logging.WARNING, logger="flowsight.api")
    with TestClient(app) as client:
        events = client.post("/v1/events", json=event(), headers=auth(RR8_KEY))
        fhir = client.post("/fhir/Encounter", json=encounter(), headers=auth(RR8_KEY))

    assert (events.status_code, fhir.status_code) == (503, 503)
    assert "cannot reach Kafka" in events.json()["detail"]
    for answer in (events.text, fhir.text):
        assert str(port) not in answer and "127.0.0.1" not in answer
    # The operator still reads the cause.
    assert str(port) in caplog.text
