"""An event id seen again: the same event delivered again is a duplicate, another event under it
is refused `event_id_reused`. What the gateways send again (an updated FHIR Encounter, an HL7
message resent) and events moved on to the NHS pseudonym stay duplicates.

Gateway output is validated as the worker validates it, then folded as the tracker folds it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from fhir.resources.R4B.encounter import Encounter

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.fhir.mapping import encounter_events
from flowsight.adapters.hl7.mapping import Mapped, map_message
from flowsight.api.routers.fhir import GATEWAY as FHIR_GATEWAY
from flowsight.services.batch import BatchChanges
from flowsight.services.gateways import GATEWAY_HEADER, seal
from flowsight.services.identities import MOVED_FROM, link
from flowsight.services.journey import Event
from flowsight.services.repeats import SNAPSHOT_GATEWAY, differing_fields, is_repeat
from flowsight.services.validation import (
    EVENT_ID_REUSED,
    Accepted,
    ValidationContext,
    validate_document,
    validate_event,
)
from flowsight.settings import DEFAULT_CATALOGUE
from tests.adapters.fhir.encounters import NOW, encounter, finished
from tests.adapters.hl7.test_mapping import LOCATIONS, PID, message, msh, pv1
from tests.services.test_batch import Worker, admission, patient_event

KEY = b"k" * 32
CONTEXT = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), KEY, timedelta(minutes=5))
LOCAL, NHS = "1" * 64, "9" * 64
ADMITTED = "2026-05-01T10:00:00.000000Z"


def validated(document: dict[str, Any], organisation: str = "RR8") -> Event:
    """`document` as the validator hands it on: normalised and pseudonymised."""
    outcome = validate_document(document, organisation=organisation, context=CONTEXT, now=NOW)
    assert isinstance(outcome, Accepted), outcome
    return outcome.event


def through_gateway(gateway: str, document: dict[str, Any]) -> Event:
    """`document` as the validator hands it on when `gateway` wrote and sealed its record."""
    raw = orjson.dumps(document)
    headers = {GATEWAY_HEADER: seal(gateway, raw, KEY)}
    outcome = validate_event(raw, organisation="RR8", context=CONTEXT, now=NOW, headers=headers)
    assert isinstance(outcome, Accepted), outcome
    return outcome.event


def reasons(changes: BatchChanges) -> list[str]:
    return [refusal.rejected.reason for refusal in changes.refusals]


# -- what the same event is --------------------------------------------------------------------


def test_an_identical_resend_is_a_duplicate_and_nothing_is_dead_lettered() -> None:
    worker = Worker()
    worker.fold(admission("a1", ADMITTED))

    again = worker.fold(admission("a1", ADMITTED))

    assert again.outcomes == {("admission", "duplicate"): 1}
    assert reasons(again) == []


def test_another_body_under_the_same_id_is_refused_and_the_first_event_stays() -> None:
    worker = Worker()
    worker.fold(admission("a1", ADMITTED))

    again = worker.fold(admission("a1", "2026-05-02T10:00:00.000000Z"))

    assert reasons(again) == [EVENT_ID_REUSED]
    assert again.outcomes == {("admission", "event_id_reused"): 1}
    assert worker.journeys["a" * 64] == [admission("a1", ADMITTED)]


def test_the_same_event_is_compared_as_validated_not_as_sent() -> None:
    sent = {
        "event_id": "adm-1",
        "schema_version": "1",
        "event_type": "admission",
        "source": "RR8/pas",
        "occurred_at": "2025-03-10T10:40:00+01:00",
        "service": "lth-wards",
        "episode_id": "SPELL-1",
        "patient": {"nhs_number": "9434765919"},
        "admission_method": "emergency",
    }
    # The same moment in UTC, a null field, the NHS number spaced, another correlation id.
    resent = {
        **sent,
        "occurred_at": "2025-03-10T09:40:00Z",
        "unit": None,
        "patient": {"nhs_number": "943 476 5919"},
        "correlation_id": "retry-2",
    }
    worker = Worker()
    worker.fold(validated(sent))

    again = worker.fold(validated(resent))

    assert again.outcomes == {("admission", "duplicate"): 1}
    assert reasons(again) == []


def test_a_cancellation_sent_again_at_another_time_retracts_the_same_event() -> None:
    first = patient_event("cancellation", "c1", ADMITTED, cancels_event_id="a1")
    resent = {**first, "occurred_at": "2026-05-01T10:05:00.000000Z"}
    other = {**first, "cancels_event_id": "a2"}

    assert is_repeat(first, resent)
    assert not is_repeat(first, other)
    assert differing_fields(first, other) == ["cancels_event_id"]


def test_a_cancellation_sent_with_if_present_false_is_the_one_sent_without_it() -> None:
    sent = {
        "event_id": "c1",
        "event_type": "cancellation",
        "source": "RR8/pas",
        "occurred_at": "2025-03-10T10:00:00+00:00",
        "service": "lth-wards",
        "patient": {"local_id": "MRN-1", "id_system": "https://rr8.example/mrn"},
        "episode_id": "EP-1",
        "cancels_event_id": "a1",
    }

    assert validated({**sent, "if_present": False}) == validated(sent)
    assert validated({**sent, "if_present": True})["if_present"] is True


def test_another_event_type_under_the_id_of_a_cancellation_is_not_the_same_event() -> None:
    cancelled = patient_event("cancellation", "x1", ADMITTED, cancels_event_id="a1")

    assert not is_repeat(cancelled, {**admission("x1", ADMITTED)})


# -- events moved on to the NHS pseudonym ------------------------------------------------------


def test_an_event_moved_on_to_the_nhs_pseudonym_that_was_already_there_is_a_duplicate() -> None:
    worker = Worker()
    worker.fold(admission("a1", ADMITTED, LOCAL))
    # The source sends the admission again once the NHS number is traced, naming both.
    named_by_both = admission("a1", ADMITTED, NHS)
    worker.fold(named_by_both, link(LOCAL, named_by_both))
    (moved,) = [{**admission("a1", ADMITTED, NHS), MOVED_FROM: LOCAL}]

    arrived = worker.fold(moved)  # back from the events topic

    assert arrived.outcomes == {("admission", "duplicate"): 1}
    assert reasons(arrived) == []
    assert worker.journeys[NHS] == [named_by_both]


def test_a_moved_event_that_differs_from_the_one_recorded_under_its_id_is_refused() -> None:
    worker = Worker()
    worker.fold(admission("a1", "2026-05-02T10:00:00.000000Z", NHS))
    moved = {**admission("a1", ADMITTED, NHS), MOVED_FROM: LOCAL}

    arrived = worker.fold(moved)

    assert reasons(arrived) == [EVENT_ID_REUSED]
    assert "differ in occurred_at)" in arrived.refusals[0].rejected.message


# -- FHIR: each version of an Encounter restates its events ------------------------------------


def fhir_events(document: dict[str, Any]) -> list[Event]:
    """The events of an Encounter as the FHIR gateway publishes them and the validator hands
    them on."""
    mapped = encounter_events(Encounter.model_validate(document), organisation="RR8", now=NOW)
    assert isinstance(mapped, list), mapped
    return [through_gateway(FHIR_GATEWAY, each.event) for each in mapped]


def test_an_updated_fhir_encounter_restating_its_admission_changed_is_absorbed() -> None:
    worker = Worker()
    worker.fold(*fhir_events(encounter()))
    # The next version corrects the admission's time and the ward's name and adds a move.
    updated = encounter(
        meta={"versionId": "2", "lastUpdated": "2025-03-11T08:00:00+00:00"},
        period={"start": "2025-03-10T09:10:00+00:00"},
        location=[
            {
                "location": {"identifier": {"value": "lth-wards"}, "display": "Ward 12A"},
                "period": {"start": "2025-03-10T09:10:00+00:00"},
            },
            {
                "location": {"identifier": {"value": "lth-wards"}, "display": "Ward 14"},
                "period": {"start": "2025-03-11T07:00:00+00:00"},
            },
        ],
    )

    changes = worker.fold(*fhir_events(updated))

    assert reasons(changes) == []
    # A dated version the patient has not left also withdraws a discharge, had one been said.
    assert changes.outcomes == {
        ("admission", "duplicate"): 1,
        ("transfer", "applied"): 1,
        ("cancellation", "applied"): 1,
    }
    assert [state.anomalies for state in changes.states] == [[]]


def test_a_discharge_disposition_filled_in_after_the_fhir_discharge_is_absorbed() -> None:
    worker = Worker()
    no_disposition = finished()
    del no_disposition["hospitalization"]["dischargeDisposition"]
    worker.fold(*fhir_events(no_disposition))  # discharged to `other`, with a warning

    changes = worker.fold(*fhir_events(finished()))

    assert reasons(changes) == []
    assert changes.outcomes == {("admission", "duplicate"): 1, ("discharge", "duplicate"): 1}


def test_a_retracted_fhir_encounter_sent_again_later_is_absorbed() -> None:
    worker = Worker()
    retracted = encounter(status="entered-in-error", meta={"lastUpdated": "2025-03-11T08:00:00Z"})
    worker.fold(*fhir_events(encounter()), *fhir_events(retracted))

    again = {**retracted, "meta": {"lastUpdated": "2025-03-12T08:00:00Z"}}
    changes = worker.fold(*fhir_events(again))

    assert reasons(changes) == []
    assert {outcome for _, outcome in changes.outcomes} == {"duplicate"}


def test_an_encounter_sent_again_after_its_entered_in_error_takes_effect_again() -> None:
    # The retraction was itself the error: a later version says the spell happened after all.
    worker = Worker()
    retracted = encounter(status="entered-in-error", meta={"lastUpdated": "2025-03-11T08:00:00Z"})
    worker.fold(*fhir_events(encounter()), *fhir_events(retracted))

    changes = worker.fold(*fhir_events(finished(meta={"lastUpdated": "2025-03-15T08:00:00Z"})))

    assert reasons(changes) == []
    (state,) = changes.states
    (stay,) = state.stays
    assert (stay.started_at, stay.ended_at) == (
        "2025-03-10T09:40:00.000000Z",
        "2025-03-14T15:00:00.000000Z",
    )


def test_a_version_older_than_the_entered_in_error_arriving_after_it_stays_retracted() -> None:
    worker = Worker()
    retracted = encounter(status="entered-in-error", meta={"lastUpdated": "2025-03-11T08:00:00Z"})
    worker.fold(*fhir_events(encounter()), *fhir_events(retracted))
    # A client retrying the first version, and another version it sent before the retraction.
    stale = finished(meta={"lastUpdated": "2025-03-10T12:00:00Z"})

    changes = worker.fold(*fhir_events(encounter()), *fhir_events(stale))

    assert reasons(changes) == []
    (state,) = changes.states
    assert (state.stays, state.in_services) == ([], {})


def dated(document: dict[str, Any], at: str) -> dict[str, Any]:
    return {**document, "meta": {"lastUpdated": at}}


def test_a_discharge_cancelled_by_sending_the_encounter_back_in_progress_is_undone() -> None:
    # HL7's A13 over FHIR (Microsoft's FHIR-Converter): the next version is in-progress again.
    worker = Worker()
    worker.fold(*fhir_events(dated(finished(), "2025-03-14T15:05:00Z")))

    changes = worker.fold(*fhir_events(dated(encounter(), "2025-03-14T16:00:00Z")))

    assert reasons(changes) == []
    (state,) = changes.states
    (stay,) = state.stays
    assert (stay.ended_at, state.in_services) == (None, {"lth-wards": stay.started_at})
    assert state.anomalies == []

    # Discharged again later: the discharge is a new issue and takes effect.
    again = worker.fold(*fhir_events(dated(finished(), "2025-03-14T18:00:00Z")))
    (state,) = again.states
    assert [s.ended_at for s in state.stays] == ["2025-03-14T15:00:00.000000Z"]
    assert state.in_services == {}


def test_an_older_in_progress_version_arriving_after_the_discharge_does_not_undo_it() -> None:
    # A subscription delivers versions out of order: version 2 (in-progress) after version 3.
    worker = Worker()
    worker.fold(*fhir_events(dated(finished(), "2025-03-14T15:05:00Z")))

    changes = worker.fold(*fhir_events(dated(encounter(), "2025-03-12T08:00:00Z")))

    (state,) = changes.states
    assert [s.ended_at for s in state.stays] == ["2025-03-14T15:00:00.000000Z"]
    assert state.in_services == {} and state.anomalies == []


def test_the_snapshot_gateway_is_the_fhir_gateway() -> None:
    assert SNAPSHOT_GATEWAY == FHIR_GATEWAY


# -- HL7 v2: a message resent -----------------------------------------------------------------


def hl7_events(*segments: str) -> list[Event]:
    mapped = map_message(message(*segments), organisation="RR8", locations=LOCATIONS)
    assert isinstance(mapped, Mapped), mapped
    return [validated(event) for event in mapped.events]


A01_VISIT = pv1(f3="WARD7", f4="E", f44="20250310093000")


def test_an_hl7_message_resent_with_a_new_control_id_and_send_time_is_a_duplicate() -> None:
    worker = Worker()
    worker.fold(*hl7_events(msh("A01", "PAS001"), "EVN|A01|20250310093500", PID, A01_VISIT))

    resent = msh("A01", "PAS917").replace("20261123101500+0000", "20250310120000+0000")
    changes = worker.fold(*hl7_events(resent, "EVN|A01|20250310093500", PID, A01_VISIT))

    assert reasons(changes) == []
    assert changes.outcomes == {("admission", "duplicate"): 1}


def test_an_hl7_cancel_resent_without_its_recorded_time_is_a_duplicate() -> None:
    worker = Worker()
    worker.fold(*hl7_events(msh("A01", "PAS001"), "EVN|A01|20250310093500", PID, A01_VISIT))
    # No EVN-2: the cancellation is timed by MSH-7, which an engine sets anew on each resend.
    cancel = msh("A11", "PAS002").replace("20261123101500+0000", "20250310110000+0000")
    worker.fold(*hl7_events(cancel, "EVN|A11|", PID, A01_VISIT))

    resent = msh("A11", "PAS003").replace("20261123101500+0000", "20250310111500+0000")
    changes = worker.fold(*hl7_events(resent, "EVN|A11|", PID, A01_VISIT))

    assert reasons(changes) == []
    assert {outcome for _, outcome in changes.outcomes} == {"duplicate"}
