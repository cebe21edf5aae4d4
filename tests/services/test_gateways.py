"""Only the FHIR gateway's own records are snapshots whose changed restatements are absorbed: a
Kafka or HTTP publisher that names its system `fhir` is refused `event_id_reused` like any other.

Each record is validated from its bytes and headers, as the validator reads the ingest topic,
then folded as the tracker folds it.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from flowsight.api.routers.events import GATEWAY as HTTP_GATEWAY
from flowsight.api.routers.fhir import GATEWAY as FHIR_GATEWAY
from flowsight.services.gateways import GATEWAY, GATEWAY_HEADER, seal
from flowsight.services.journey import Event
from flowsight.services.validation import EVENT_ID_REUSED, INVALID_FIELD, Accepted, validate_event
from tests.adapters.fhir.encounters import NOW
from tests.services.test_batch import Worker
from tests.services.test_repeats import CONTEXT, KEY, reasons

ADMISSION = {
    "event_id": "SPELL-55123:admission",
    "schema_version": "1",
    "event_type": "admission",
    "source": "RR8/fhir",  # the FHIR gateway's system name, which anyone may write
    "occurred_at": "2025-03-10T09:40:00+00:00",
    "service": "lth-wards",
    "episode_id": "SPELL-55123",
    "patient": {"nhs_number": "9434765919"},
    "admission_method": "emergency",
    "unit": "Ward 12",
}
#: The same admission restated with a corrected time and ward.
CHANGED = {**ADMISSION, "occurred_at": "2025-03-10T09:10:00+00:00", "unit": "Ward 12A"}


def record(document: dict[str, Any], headers: dict[str, bytes] | None = None) -> Event:
    """`document` published as a record with `headers`, as the validator hands it on."""
    outcome = validate_event(
        orjson.dumps(document), organisation="RR8", context=CONTEXT, now=NOW, headers=headers
    )
    assert isinstance(outcome, Accepted), outcome
    return outcome.event


def sealed(gateway: str, document: dict[str, Any], key: bytes = KEY) -> Event:
    """`document` as `gateway` writes it: its record sealed."""
    return record(document, {GATEWAY_HEADER: seal(gateway, orjson.dumps(document), key)})


def test_the_fhir_gateway_s_changed_restatement_is_absorbed() -> None:
    worker = Worker()
    worker.fold(sealed(FHIR_GATEWAY, ADMISSION))

    changes = worker.fold(sealed(FHIR_GATEWAY, CHANGED))

    assert changes.outcomes == {("admission", "duplicate"): 1}
    assert reasons(changes) == []


@pytest.mark.parametrize(
    "published",
    [
        pytest.param(lambda document: record(document), id="kafka"),
        pytest.param(lambda document: sealed(HTTP_GATEWAY, document), id="http"),
    ],
)
def test_a_publisher_naming_its_system_fhir_is_refused_event_id_reused(published: Any) -> None:
    worker = Worker()
    worker.fold(published(ADMISSION))

    changes = worker.fold(published(CHANGED))

    assert reasons(changes) == [EVENT_ID_REUSED]
    (journey,) = worker.journeys.values()
    assert [event["occurred_at"] for event in journey] == ["2025-03-10T09:40:00.000000Z"]


def test_a_seal_copied_from_a_gateway_record_onto_another_body_marks_nothing() -> None:
    # A publisher reading its ingest topic may copy the FHIR gateway's header; it seals one body.
    header = seal(FHIR_GATEWAY, orjson.dumps(ADMISSION), KEY)
    worker = Worker()
    worker.fold(sealed(FHIR_GATEWAY, ADMISSION))

    changes = worker.fold(record(CHANGED, {GATEWAY_HEADER: header}))

    assert reasons(changes) == [EVENT_ID_REUSED]


def test_a_seal_made_without_the_key_marks_nothing() -> None:
    assert GATEWAY not in sealed(FHIR_GATEWAY, CHANGED, key=b"guessed" * 5)
    assert GATEWAY not in record(CHANGED, {GATEWAY_HEADER: b"fhir"})
    assert sealed(FHIR_GATEWAY, CHANGED)[GATEWAY] == FHIR_GATEWAY


def test_a_publisher_cannot_send_the_mark_in_the_event() -> None:
    outcome = validate_event(
        orjson.dumps({**CHANGED, GATEWAY: FHIR_GATEWAY}),
        organisation="RR8",
        context=CONTEXT,
        now=NOW,
    )

    assert not isinstance(outcome, Accepted)
    assert (outcome.reason, outcome.field) == (INVALID_FIELD, GATEWAY)
