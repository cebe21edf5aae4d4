"""A city of the Leeds catalogue whose organisations publish events, folded as the worker folds
them (validation, pseudonyms, `apply_batch`), for scenario tests with hand-computed figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import count, islice
from typing import Any

from flowsight.adapters.catalogue import load_catalogue
from flowsight.services.batch import apply_batch
from flowsight.services.journey import Event, JourneyState, ServiceMap
from flowsight.services.kpis import Figures, Period, ServiceFacts, service_figures
from flowsight.services.validation import Accepted, ValidationContext, validate_document
from flowsight.settings import DEFAULT_CATALOGUE

CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)
SOURCE = {"RR8": "RR8/pas", "RY6": "RY6/systmone", "LCC": "LCC/mosaic"}


def _nhs_numbers(first_stem: int) -> Iterator[str]:
    """Valid NHS numbers (modulus 11), from the nine-digit stem `first_stem` on."""
    for stem in count(first_stem):
        digits = [int(d) for d in f"{stem:09d}"]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check != 10:
            yield f"{stem:09d}{check % 11}"


#: Valid NHS numbers (Modulus 11), one per patient of a scenario.
PATIENTS = [
    *("9434765919", "9434765870", "9434765838", "9434765811"),
    *islice(_nhs_numbers(943476600), 36),
]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


class City:
    """Events published by the organisations, folded exactly as the worker folds them."""

    def __init__(self) -> None:
        self.context = ValidationContext(
            CATALOGUE, b"scenario-key-0123456789abcdef0123", timedelta(0)
        )
        self.services = ServiceMap.of(CATALOGUE)
        self.journeys: dict[str, list[Event]] = {}
        self.capacity: dict[str, Event] = {}
        self.replayed: dict[str, JourneyState] = {}
        self.ids = count(1)

    def publish(
        self, event_type: str, service: str, when: str, patient: int = 0, **fields: Any
    ) -> str:
        organisation = CATALOGUE.service(service).organisation  # type: ignore[union-attr]
        document = {
            "event_id": fields.pop("event_id", f"{event_type}-{next(self.ids)}"),
            "schema_version": "1",
            "event_type": event_type,
            "source": SOURCE[organisation],
            "occurred_at": when,
            "service": service,
            "patient": {"nhs_number": PATIENTS[patient]},
            "episode_id": f"EP-{patient}",
            **fields,
        }
        outcome = validate_document(
            document,
            organisation=organisation,
            context=self.context,
            now=utc("2030-01-01T00:00:00+00:00"),
        )
        assert isinstance(outcome, Accepted), outcome
        changes = apply_batch(
            [outcome.event],
            self.journeys.get,
            self.capacity.get,
            timedelta(days=7),
            self.services,
        )
        assert dict(changes.outcomes) == {(event_type, "applied"): 1}
        self.journeys.update((p, j.to_stored()) for p, j in changes.journeys.items())
        self.capacity.update(changes.capacity)
        self.replayed.update((state.pseudonym, state) for state in changes.states)
        return str(document["event_id"])

    def states(self) -> list[JourneyState]:
        return list(self.replayed.values())

    def facts(self, service: str) -> ServiceFacts:
        facts = ServiceFacts()
        for state in self.states():
            facts.stays += [s for s in state.stays if s.service == service]
            facts.delays += [d for d in state.delays if d.service == service]
            facts.referrals += [r for r in state.referrals if r.to_service == service]
            facts.attendances += [a for a in state.attendances if a.service == service]
            facts.assessments += [a for a in state.assessments if a.service == service]
        return facts

    def figures(self, service: str, start: str, end: str, now: str | None = None) -> Figures:
        period = Period(utc(start), utc(end))
        return service_figures(
            CATALOGUE.service(service),  # type: ignore[arg-type]
            self.facts(service),
            period,
            utc(now or end),
        )


def no_criteria(
    city: City, when: str, ready: str | None = None, service: str = "lth-wards", patient: int = 0
) -> None:
    """Publish a review finding the patient no longer meets the criteria to reside."""
    city.publish(
        "assessment",
        service,
        when,
        patient,
        kind="ctr_review",
        status="completed",
        meets_criteria_to_reside=False,
        delay_reason="p1_awaiting_resource",
        pathway="P1",
        **({"discharge_ready_at": ready} if ready else {}),
    )
