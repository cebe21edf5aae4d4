"""Alerts and thresholds through the HTTP API, on a real (SQLite) read model: who may do what,
what an on-call lead's acknowledgement records, and how an unusable threshold is refused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from flowsight.adapters.readmodel.database import create_engine
from flowsight.adapters.readmodel.outbox import Alert, claim_due, mark_failed, record_alert
from flowsight.adapters.readmodel.tables import threshold_overrides
from flowsight.api.auth import new_api_key
from flowsight.context import build_api
from flowsight.settings import Settings
from tests.api.audit_trail import (
    audit_lines,
)
from tests.api.conftest import oidc_settings
from tests.api.identity import IdentityProvider

KEYS = {role: new_api_key(f"{role}-lead", [role]) for role in ("viewer", "oncall", "admin")}


@pytest.fixture
def client(database: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        pseudonym_key="0123456789abcdef" * 2,
        database_url=database,
        data_dir=tmp_path,
        api_keys=",".join(entry for _key, entry in KEYS.values()),
        kafka_bootstrap="127.0.0.1:1",
    )
    with TestClient(build_api(settings)) as test_client:
        yield test_client


def as_role(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role][0]}"}


def seed_alert(database: str, number: int = 1) -> str:
    alert = Alert(
        id=f"7d1f0d52-0000-5000-8000-{number:012d}",
        scope="lch-ucr",
        level_from=1,
        level_to=3,
        at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        reason="rose to level 3 from 1",
        score=3.0,
        evidence={"indicators": [{"name": "queue_length", "value": 26, "level": 3}]},
    )

    async def record() -> None:
        engine = create_engine(database)
        async with engine.begin() as connection:
            await record_alert(connection, alert, ["oncall"], datetime.now(UTC))
        await engine.dispose()

    asyncio.run(record())
    return alert.id


def test_an_on_call_lead_acknowledges_an_alert_once(client: TestClient, database: str) -> None:
    alert_id = seed_alert(database)
    listed = client.get("/v1/alerts?state=open&scope=lch-ucr", headers=as_role("viewer")).json()
    assert [a["id"] for a in listed["alerts"]] == [alert_id]
    assert listed["alerts"][0]["deliveries"] == [
        {
            "route": "oncall",
            "state": "pending",
            "attempts": 0,
            "last_error": None,
            "delivered_at": None,
        }
    ]

    refused = client.post(f"/v1/alerts/{alert_id}/ack", headers=as_role("viewer"), json={})
    assert refused.status_code == 403 and "oncall" in refused.json()["detail"]

    done = client.post(
        f"/v1/alerts/{alert_id}/ack", headers=as_role("oncall"), json={"note": "extra UCR crew"}
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["state"], body["acknowledged_by"], body["acknowledged_note"]) == (
        "acknowledged",
        "key:oncall-lead",
        "extra UCR crew",
    )
    again = client.post(f"/v1/alerts/{alert_id}/ack", headers=as_role("oncall"), json={})
    assert again.status_code == 409 and "by key:oncall-lead at" in again.json()["detail"]
    assert client.get("/v1/alerts?state=open", headers=as_role("viewer")).json()["total"] == 0
    assert ("key:oncall-lead", "acknowledge_alert", None) in audit_lines(database)
    assert client.post("/v1/alerts/nope/ack", headers=as_role("oncall"), json={}).status_code == 404


def test_an_nhs_number_in_an_acknowledgement_note_is_blanked_before_it_is_kept(
    client: TestClient, database: str
) -> None:
    alert_id = seed_alert(database)
    note = "bed found for 943 476 5919; 9434765919 waits for UCR"

    done = client.post(f"/v1/alerts/{alert_id}/ack", headers=as_role("oncall"), json={"note": note})

    assert done.status_code == 200, done.text
    kept = "bed found for [nhs-number?]; [nhs-number?] waits for UCR"
    assert done.json()["acknowledged_note"] == kept
    listed = client.get("/v1/alerts", headers=as_role("viewer")).json()["alerts"]
    assert [alert["acknowledged_note"] for alert in listed] == [kept]
    stored = sa.create_engine(database.replace("+aiosqlite", ""))
    with stored.connect() as connection:
        notes = connection.execute(sa.text("SELECT acknowledged_note FROM alerts")).scalars()
        assert list(notes) == [kept]
    stored.dispose()


def test_an_nhs_number_written_across_lines_or_spaced_out_in_a_note_is_blanked_too(
    client: TestClient, database: str
) -> None:
    # A note may keep its line breaks: one group a line, tabs or double spaces passed the
    # blanking, and every viewer read the number.
    alert_id = seed_alert(database)
    note = "for 943\n476\n5919, then 943\t476\t5919 and 943  476  5919; bed 12, 4 staff"

    done = client.post(f"/v1/alerts/{alert_id}/ack", headers=as_role("oncall"), json={"note": note})

    assert done.status_code == 200, done.text
    kept = "for [nhs-number?], then [nhs-number?] and [nhs-number?]; bed 12, 4 staff"
    assert done.json()["acknowledged_note"] == kept


def test_an_admin_changes_a_threshold_and_the_change_is_audited(
    client: TestClient, database: str
) -> None:
    before = client.get("/v1/thresholds", headers=as_role("viewer")).json()
    assert before["services"]["lch-ucr"]["queue_length"] == {
        "level2": 15.0,
        "level3": 25.0,
        "level4": 40.0,
        "weight": 1.0,
    }
    new = {"level2": 10, "level3": 20, "level4": 30, "weight": 2}
    assert (
        client.put(
            "/v1/thresholds/lch-ucr/queue_length", headers=as_role("viewer"), json=new
        ).status_code
        == 403
    )
    changed = client.put("/v1/thresholds/lch-ucr/queue_length", headers=as_role("admin"), json=new)
    assert changed.status_code == 200, changed.text
    assert changed.json()["services"]["lch-ucr"]["queue_length"]["level3"] == 20.0
    assert (
        client.get("/v1/thresholds", headers=as_role("viewer")).json()["services"]["lch-ucr"][
            "queue_length"
        ]["weight"]
        == 2.0
    )
    (line,) = [line for line in audit_lines(database) if line[1] == "set_threshold"]
    assert line[0] == "key:admin-lead"
    assert changed_by(database) == [("lch-ucr", "queue_length", "key:admin-lead")]
    assert line[2]["before"]["level3"] == 25.0 and line[2]["after"]["level3"] == 20.0


def changed_by(database: str) -> list[tuple[str, str, str]]:
    """Who changed each threshold, as the read model keeps it."""
    engine = sa.create_engine(database.replace("+aiosqlite", ""))
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                threshold_overrides.c.service_id,
                threshold_overrides.c.indicator,
                threshold_overrides.c.updated_by,
            )
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_an_oidc_subject_and_an_api_key_of_one_name_acknowledge_as_two_callers(
    idp: IdentityProvider, database: str, tmp_path: Path
) -> None:
    key, entry = new_api_key("oncall-lead", ["oncall"])
    settings = oidc_settings(idp, database, tmp_path, entry)
    by_key, by_token = seed_alert(database, 1), seed_alert(database, 2)
    token = idp.token(sub="oncall-lead", realm_access={"roles": ["viewer", "oncall"]})

    with TestClient(build_api(settings)) as client:
        client.post(f"/v1/alerts/{by_key}/ack", headers={"Authorization": f"Bearer {key}"})
        client.post(f"/v1/alerts/{by_token}/ack", headers={"Authorization": f"Bearer {token}"})
        again = client.post(
            f"/v1/alerts/{by_token}/ack", headers={"Authorization": f"Bearer {key}"}
        )
        alerts = client.get("/v1/alerts", headers={"Authorization": f"Bearer {token}"}).json()

    assert {a["id"]: a["acknowledged_by"] for a in alerts["alerts"]} == {
        by_key: "key:oncall-lead",
        by_token: "oidc:oncall-lead",
    }
    assert again.status_code == 409 and "by oidc:oncall-lead at" in again.json()["detail"]


def test_an_indicator_where_lower_is_worse_takes_falling_thresholds(client: TestClient) -> None:
    # Fewer patients discharged home from community beds is worse: 70 %, 60 %, 50 %.
    path = "/v1/thresholds/lch-community-beds/discharged_home_pct"
    falling = {"level2": 70, "level3": 60, "level4": 50}
    changed = client.put(path, headers=as_role("admin"), json=falling)
    assert changed.status_code == 200, changed.text
    beds = client.get("/v1/thresholds", headers=as_role("viewer")).json()["services"]
    assert beds["lch-community-beds"]["discharged_home_pct"]["level4"] == 50.0

    rising = client.put(
        path, headers=as_role("admin"), json={"level2": 50, "level3": 60, "level4": 70}
    )
    assert rising.status_code == 422
    assert "lower is worse, so thresholds must fall" in rising.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        (
            "/v1/thresholds/lch-ucr/queue_length",
            {"level2": 30, "level3": 20, "level4": 40},
            ["lch-ucr", "queue_length", "rise"],
        ),
        (
            "/v1/thresholds/lch-ucr/four_hour_breach_pct",
            {"level2": 1, "level3": 2, "level4": 3},
            ["lch-ucr", "four_hour_breach_pct"],
        ),
        (
            "/v1/thresholds/lch-ucr/queue_length",
            {"level2": 1, "level3": 2, "level4": 3, "weight": 0},
            ["weight"],
        ),
        (
            "/v1/thresholds/lch-ucr/queue_length",
            {"level2": 1, "level3": 2, "level4": 3, "levle4": 30},  # a field it does not take
            ["levle4"],
        ),
        (  # a queue below 0 patients: escalated for ever
            "/v1/thresholds/lch-ucr/queue_length",
            {"level2": -1e308, "level3": 0, "level4": 1e308},
            ["queue_length", "patients", "0 or more"],
        ),
        (
            "/v1/thresholds/lth-ed/four_hour_breach_pct",
            {"level2": 50, "level3": 90, "level4": 150},
            ["four_hour_breach_pct", "from 0 to 100"],
        ),
    ],
)
def test_an_unusable_threshold_is_refused_naming_the_service_and_indicator(
    client: TestClient, path: str, body: dict[str, float], words: list[str]
) -> None:
    refused = client.put(path, headers=as_role("admin"), json=body)
    assert refused.status_code == 422, refused.text
    text = str(refused.json())
    assert all(word in text for word in words), text
    assert (
        client.get("/v1/thresholds", headers=as_role("viewer")).json()["services"]["lch-ucr"][
            "queue_length"
        ]["level3"]
        == 25.0
    ), "nothing was changed"


def test_viewers_see_a_delivery_failed_but_not_the_receivers_answer(
    client: TestClient, database: str
) -> None:
    alert_id = seed_alert(database)
    answer = "HTTP 500: Traceback (most recent call last): File /srv/hooks/app.py, password=x"

    async def fail_delivery() -> None:
        engine = create_engine(database)
        async with engine.begin() as connection:
            claims = await claim_due(
                connection, datetime.now(UTC), limit=10, lease=timedelta(minutes=1)
            )
            await mark_failed(connection, claims[0], answer)
        await engine.dispose()

    asyncio.run(fail_delivery())

    def delivery(role: str) -> dict[str, object]:
        listed = client.get("/v1/alerts", headers=as_role(role)).json()
        (found,) = [a for a in listed["alerts"] if a["id"] == alert_id]
        return dict(found["deliveries"][0])

    assert (delivery("viewer")["state"], delivery("viewer")["last_error"]) == ("failed", None)
    assert delivery("admin")["last_error"] == answer  # on-call (with viewer) and admins see it


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/thresholds/lch-ucr/queue_length",
            '{"level2": 60, "level3": 90, "level4": 120, "level2": 1}',
        ),
        ("/v1/alerts/a1/ack", '{"note": "on it", "note": "nothing to see"}'),
    ],
)
def test_a_body_with_a_key_twice_is_refused_naming_the_key(
    client: TestClient, path: str, body: str
) -> None:
    # Python kept the last value, a proxy reading the first would see another change; the event
    # and FHIR gateways refused such bodies already.
    method = client.put if "thresholds" in path else client.post
    refused = method(
        path, headers={**as_role("admin"), "Content-Type": "application/json"}, content=body
    )

    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["field"] == "body" and "appears twice" in error["message"]
    assert (
        client.get("/v1/thresholds", headers=as_role("viewer")).json()["services"]["lch-ucr"][
            "queue_length"
        ]["level2"]
        != 1
    )


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_a_threshold_that_is_not_a_finite_number_is_refused_naming_its_field(
    client: TestClient, number: str
) -> None:
    body = f'{{"level2": {number}, "level3": 30, "level4": 45}}'
    refused = client.put(
        "/v1/thresholds/lch-ucr/queue_length",
        headers={**as_role("admin"), "Content-Type": "application/json"},
        content=body,
    )

    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "body.level2", "message": "Input should be a finite number"}
    ]


def test_an_acknowledgement_note_with_a_lone_surrogate_is_a_422_naming_it(
    client: TestClient,
) -> None:
    # Half a UTF-16 pair is no character: the database could not store it, and it was a 500.
    answer = client.post(
        "/v1/alerts/nope/ack",
        headers={**as_role("oncall"), "Content-Type": "application/json"},
        content=b'{"note": "x\\udfff"}',
    )
    assert answer.status_code == 422, answer.text
    assert "lone surrogate" in answer.text
