"""A scope never scored with a level reads as not scored, with why, not as OPEL 1.

Through the worker's real refresh and pressure step: the emergency department has a patient,
urgent community response 40 referrals waiting for nine hours (OPEL 4), and every other service
of the catalogue has thresholds and has reported nothing. A bed manager read their 'OPEL 1' as
steady when nothing was known, and the system was scored as if they were."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flowsight.adapters.readmodel import pressure as pressure_store
from flowsight.api.auth import new_api_key
from flowsight.context import build_api
from flowsight.services.escalation import Escalation
from flowsight.services.pressure import Cutoffs, score_service
from flowsight.streams.pressure import PressurePolicy, assess_pressure
from tests.adapters.readmodel.model import CATALOGUE, Feed, ReadModel
from tests.api.read_model_api import api_settings

KEY, KEY_ENTRY = new_api_key("bed-manager", ["viewer"])
NOW = datetime.now(UTC)
POLICY = PressurePolicy(Cutoffs(), timedelta(minutes=30), {}, [])


async def fill(path: Path) -> str:
    """A read model where only the emergency department and urgent community response
    reported, its pressure scored by the worker's refresh; and one row as an earlier flowsight
    saved a scope it never scored: at level 1."""
    feed = Feed()
    feed.visit("lth-ed", 1, NOW - timedelta(hours=1))
    for patient in range(2, 42):
        feed.publish("referral", "lch-ucr", NOW - timedelta(hours=9), patient,
                     to_service="lch-ucr", status="new")  # fmt: skip
    model = await ReadModel.open(path / "read-model.db")
    await model.fold(feed.events)
    daily = await model.refresh(NOW)
    await assess_pressure(model.engine, CATALOGUE, daily.pressure, POLICY, NOW)
    hub = CATALOGUE.service("lth-toc-hub")
    assert hub is not None
    async with model.engine.begin() as connection:
        stored = score_service(hub, {}).to_dict()
        await pressure_store.save_states(connection, [(hub.id, Escalation(hub.id), stored)], NOW)
    await model.close()
    return model.url


@pytest.fixture(scope="module")
def pressure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path = tmp_path_factory.mktemp("never-scored")
    settings = api_settings(asyncio.run(fill(path)), path, KEY_ENTRY)
    with TestClient(build_api(settings), headers={"Authorization": f"Bearer {KEY}"}) as client:
        answer = client.get("/v1/pressure")
        assert answer.status_code == 200, answer.text
        yield answer.json()


def by_id(pressure: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {service["id"]: service for service in pressure["services"]}


def test_a_service_that_has_reported_nothing_has_no_level_and_says_why(
    pressure: dict[str, Any],
) -> None:
    beds = by_id(pressure)["lch-community-beds"]
    assert (beds["level"], beds["scored_level"]) == (None, None)
    assert beds["not_scored_reason"] == "no figures yet"
    # Its indicators are listed with their thresholds, and no value: nothing was reported.
    assert beds["indicators"] and all(i["value"] is None for i in beds["indicators"])


def test_a_scope_an_earlier_version_stored_at_level_1_unscored_reads_as_not_scored(
    pressure: dict[str, Any],
) -> None:
    hub = by_id(pressure)["lth-toc-hub"]
    assert (hub["level"], hub["not_scored_reason"]) == (None, "no figures yet")


def test_a_service_that_reported_is_scored_and_the_system_only_on_scored_services(
    pressure: dict[str, Any],
) -> None:
    ed, ucr = by_id(pressure)["lth-ed"], by_id(pressure)["lch-ucr"]
    assert (ed["level"], ed["not_scored_reason"]) == (1, None)
    assert (ucr["level"], ucr["not_scored_reason"]) == (4, None)
    # The mean of the two scored services, 2.5: OPEL 3. The six that reported nothing counted
    # as level 1 made it 1.375, OPEL 1, with urgent community response at OPEL 4.
    system = pressure["system"]
    assert (system["score"], system["level"], system["not_scored_reason"]) == (2.5, 3, None)


def test_the_answer_documents_the_reason() -> None:
    settings = api_settings("sqlite+aiosqlite:///:memory:", Path("."), KEY_ENTRY)
    schema = build_api(settings).openapi()["components"]["schemas"]
    for model in ("ServicePressure", "SystemPressure"):
        field = schema[model]["properties"]["not_scored_reason"]
        assert "no figures yet" in field["description"], model
