"""End to end on real parts: ingest topic → validator → events topic → state → database → API."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.feeds import (
    NHS_NUMBER,
    event,
    pseudonym_of,
    publish,
    queue_entries,
    read_topic,
)
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration


def test_referred_patient_appears_in_the_queue_then_leaves_it_on_admission(stack: Stack) -> None:
    settings = stack.settings
    expected = pseudonym_of(NHS_NUMBER)
    referral = event("referral", to_service="lcc-reablement", pathway="P1", status="new")
    asyncio.run(
        publish(
            settings.kafka_bootstrap, settings.ingest_topic("RR8"), json.dumps(referral).encode()
        )
    )

    entries = stack.wait_until(
        lambda: [e for e in queue_entries(stack, "lcc-reablement") if e["pseudonym"] == expected],
        timeout=90,
        what="the referred patient in the reablement queue",
    )
    assert entries[0]["pathway"] == "P1"
    assert entries[0]["referring_service"] == "lth-wards"
    # On the events topic: the normalised event, keyed and identified by the pseudonym only.
    (record,) = asyncio.run(read_topic(settings.kafka_bootstrap, settings.events_topic, expected=1))
    normalised = json.loads(record.value)
    assert record.key == expected.encode()
    assert {k: v for k, v in normalised.items() if k != "occurred_at"} == {
        **{k: v for k, v in referral.items() if k not in ("patient", "occurred_at")},
        "pseudonym": expected,
    }
    assert normalised["occurred_at"].endswith("Z") and len(normalised["occurred_at"]) == 27
    assert 119 <= entries[0]["waiting_minutes"] <= 125  # referred two hours ago

    pressure = stack.get("/v1/pressure").json()
    reablement = next(s for s in pressure["services"] if s["id"] == "lcc-reablement")
    assert reablement["queue_length"] == 1
    assert pressure["system"]["queue_length"] == 1

    # The council starts the package of care: the patient leaves the queue.
    admission = event(
        "admission",
        source="LCC/mosaic",
        service="lcc-reablement",
        admission_method="start_of_care",
        occurred_at=(datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    )
    asyncio.run(
        publish(
            settings.kafka_bootstrap, settings.ingest_topic("LCC"), json.dumps(admission).encode()
        )
    )
    stack.wait_until(
        lambda: stack.get("/v1/services/lcc-reablement/queue").json()["length"] == 0,
        timeout=60,
        what="the admitted patient to leave the queue",
    )
    # No raw NHS number reaches the read model the API serves.
    assert NHS_NUMBER not in stack.get("/v1/pressure").text


def test_bad_events_are_dead_lettered_with_reasons_and_the_worker_keeps_going(
    stack: Stack,
) -> None:
    settings = stack.settings
    bad = [
        b'{"event_id": "broken", ',
        json.dumps(
            event("admission", admission_method="emergency", patient={"nhs_number": "9434765918"})
        ).encode(),
        json.dumps(event("referral", to_service="no-such-service", status="new")).encode(),
        json.dumps(event("discharge")).encode(),  # destination missing
        json.dumps(
            event("admission", source="RY6/systmone", admission_method="emergency")
        ).encode(),
    ]
    good = event("referral", to_service="lch-community-beds", pathway="P2", status="new")
    asyncio.run(
        publish(
            settings.kafka_bootstrap, settings.ingest_topic("RR8"), *bad, json.dumps(good).encode()
        )
    )

    dead = asyncio.run(read_topic(settings.kafka_bootstrap, settings.dlq_topic, expected=len(bad)))
    by_value = {record.value: dict(record.headers) for record in dead}
    assert set(by_value) == set(bad), "each bad event is dead-lettered with its original bytes"
    reasons = [by_value[value]["error.reason"].decode() for value in bad]
    assert reasons == [
        "malformed_json",
        "invalid_nhs_number",
        "unknown_service",
        "missing_field",
        "source_mismatch",
    ]
    fields = [by_value[value]["error.field"].decode() for value in bad]
    assert fields == ["", "patient.nhs_number", "to_service", "destination", "source"]
    for value in bad:
        headers = by_value[value]
        assert headers["error.topic"].decode() == settings.ingest_topic("RR8")
        assert int(headers["error.offset"]) >= 0

    # The valid event published after the bad ones was still processed.
    expected = pseudonym_of(NHS_NUMBER)
    stack.wait_until(
        lambda: [
            e for e in queue_entries(stack, "lch-community-beds") if e["pseudonym"] == expected
        ],
        timeout=90,
        what="the valid event after the bad ones",
    )
    metrics = stack.wait_until(
        lambda: _metric_lines(stack, "flowsight_dead_letters_total"),
        timeout=10,
        what="dead-letter metrics",
    )
    assert 'flowsight_dead_letters_total{reason="malformed_json"} 1.0' in metrics


def _metric_lines(stack: Stack, name: str) -> str:
    text = httpx.get(stack.worker_metrics_url, timeout=5).text
    return "\n".join(line for line in text.splitlines() if line.startswith(name))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_same_event_delivered_three_times_by_kafka_changes_state_once(stack: Stack) -> None:
    settings = stack.settings
    referral = json.dumps(event("referral", to_service="lcc-home-care", pathway="P1", status="new"))
    # A producer retry and a consumer redelivery look the same downstream: the bytes again.
    asyncio.run(
        publish(settings.kafka_bootstrap, settings.ingest_topic("RR8"), *[referral.encode()] * 3)
    )
    stack.wait_until(
        lambda: (
            'outcome="duplicate"} 2.0' in _metric_lines(stack, "flowsight_events_applied_total")
        ),
        timeout=90,
        what="the second and third copies to be recognised as duplicates",
    )
    assert 'event_type="referral",outcome="applied"} 1.0' in _metric_lines(
        stack, "flowsight_events_applied_total"
    )
    home_care = stack.get("/v1/services/lcc-home-care").json()
    assert home_care["current"]["queue_length"] == 1
    assert len(queue_entries(stack, "lcc-home-care")) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_another_event_under_an_id_already_applied_is_dead_lettered_and_the_first_kept(
    stack: Stack,
) -> None:
    settings = stack.settings
    first = event("referral", to_service="lcc-home-care", pathway="P1", status="new")
    # The sender numbered another referral, to another service, as the first: not a resend.
    reused = {**first, "to_service": "lch-community-beds", "pathway": "P2"}
    topic = settings.ingest_topic("RR8")
    asyncio.run(publish(settings.kafka_bootstrap, topic, json.dumps(first).encode()))
    asyncio.run(publish(settings.kafka_bootstrap, topic, *[json.dumps(reused).encode()] * 2))

    (dead, _) = asyncio.run(read_topic(settings.kafka_bootstrap, settings.dlq_topic, expected=2))
    headers = dict(dead.headers)
    assert headers["error.reason"] == b"event_id_reused"
    assert headers["error.topic"].decode() == settings.events_topic, "refused by the tracker"
    assert first["event_id"].encode() in headers["error.message"]
    assert b"the first event was kept" in headers["error.message"]
    assert NHS_NUMBER.encode() not in dead.value + b"".join(headers.values())
    stack.wait_until(
        lambda: (
            'event_type="referral",outcome="event_id_reused"} 2.0'
            in _metric_lines(stack, "flowsight_events_applied_total")
        ),
        timeout=30,
        what="both copies of the reused id counted",
    )
    stack.wait_until(
        lambda: len(queue_entries(stack, "lcc-home-care")) == 1,
        timeout=30,
        what="the first referral in its queue",
    )
    assert queue_entries(stack, "lch-community-beds") == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_worker_and_the_api_keep_what_they_loaded_out_of_the_collector_s_reach(
    stack: Stack,
) -> None:
    """What each process loaded before serving is frozen (`flowsight.heap`): a full collection
    does not walk it. Their metrics show it beside the collector's own counts."""
    stack.wait_until(stack.worker_metrics, 120, "the worker's metrics")
    api = stack.get("/metrics").text
    for page in (stack.worker_metrics(), api):
        families = {f.name: f for f in text_string_to_metric_families(page)}
        # The worker loads ~170,000 objects and the API ~160,000 before they serve.
        assert families["flowsight_frozen_objects"].samples[0].value > 50_000
        collections = {s.labels["generation"] for s in families["python_gc_collections"].samples}
        assert collections == {"0", "1", "2"}
        assert families["process_resident_memory_bytes"].samples[0].value > 0
