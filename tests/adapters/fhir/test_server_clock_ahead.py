"""A FHIR server whose clock runs ahead of flowsight's: an Encounter entered-in-error, its
meta.lastUpdated in the future here, still retracts the admission it said, and the Encounter sent
again after it (lastUpdated later still) admits the patient again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flowsight.adapters.catalogue import load_catalogue
from flowsight.services.journey import JourneyState, replay
from flowsight.services.validation import Accepted, ValidationContext, validate_document
from flowsight.settings import DEFAULT_CATALOGUE
from tests.adapters.fhir.encounters import NOW, encounter, mapped_of
from tests.services.test_batch import SERVICES, Worker

CONTEXT = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))
AHEAD = timedelta(minutes=30)  # the server's clock, against flowsight's (5 minutes' skew allowed)


def version(number: int, status: str, at: timedelta) -> dict[str, Any]:
    """The Encounter as the server records it `at` after NOW on flowsight's clock."""
    updated = (NOW + at + AHEAD).isoformat()
    return encounter(status=status, meta={"versionId": str(number), "lastUpdated": updated})


def accepted(document: dict[str, Any]) -> list[dict[str, Any]]:
    events = []
    for mapped in mapped_of(document).events:
        verdict = validate_document(mapped.event, organisation="RR8", context=CONTEXT, now=NOW)
        assert isinstance(verdict, Accepted), verdict
        events.append(verdict.event)
    return events


def patient(worker: Worker) -> JourneyState:
    ((pseudonym, events),) = worker.journeys.items()
    return replay(pseudonym, events, SERVICES)


def test_an_encounter_entered_in_error_by_a_server_whose_clock_runs_ahead_frees_the_bed() -> None:
    worker = Worker()
    worker.fold(*accepted(version(1, "in-progress", -timedelta(hours=2))))
    assert set(patient(worker).in_services) == {"lth-wards"}

    retracted = version(2, "entered-in-error", timedelta(0))
    worker.fold(*accepted(retracted))
    assert patient(worker).in_services == {}
    (note,) = mapped_of(retracted).notes
    assert note.element == "Encounter.meta.lastUpdated" and "clock runs ahead" in note.message

    # Sent again a minute later, recorded after the retraction: the patient is admitted again.
    worker.fold(*accepted(version(3, "in-progress", timedelta(minutes=1))))
    assert set(patient(worker).in_services) == {"lth-wards"}
