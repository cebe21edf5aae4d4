"""The simulated city looks real from its first hour: its figures, computed by the domain core as
the worker computes them, fall inside the realistic ranges documented in docs/simulator.md."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest

from flowsight.adapters.catalogue import load_catalogue
from flowsight.devtools.simulator.model import City
from flowsight.schemas.codes import ServiceKind
from flowsight.services.batch import apply_batch
from flowsight.services.journey import Event, JourneyState, ServiceMap
from flowsight.services.kpis import (
    Figures,
    ServiceFacts,
    pressure_period,
    service_figures,
    system_figures,
)
from flowsight.services.validation import Accepted, ValidationContext, validate_document
from flowsight.settings import DEFAULT_CATALOGUE

CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FIRST_HOUR = START + timedelta(hours=1)
#: `flowsight simulate` replays 7 days of history by default: the demo's first minute.
A_WEEK_ON = START + timedelta(days=7)
BATCH = 500


class Worker:
    """The simulator's events validated, pseudonymised and folded as the worker folds them."""

    def __init__(self) -> None:
        self.context = ValidationContext(
            CATALOGUE, b"steady-state-key-0123456789abcdef", timedelta(0)
        )
        self.services = ServiceMap.of(CATALOGUE)
        self.journeys: dict[str, list[Event]] = {}
        self.capacity: dict[str, Event] = {}
        self.states: dict[str, JourneyState] = {}

    def fold(self, events: Iterable[dict[str, object]], now: datetime) -> None:
        accepted = []
        for document in events:
            outcome = validate_document(
                document,
                organisation=str(document["source"]).split("/")[0],
                context=self.context,
                now=now,
            )
            assert isinstance(outcome, Accepted), outcome
            accepted.append(outcome.event)
        for start in range(0, len(accepted), BATCH):
            changes = apply_batch(
                accepted[start : start + BATCH],
                self.journeys.get,
                self.capacity.get,
                timedelta(days=7),
                self.services,
            )
            assert not changes.refusals
            self.journeys.update((p, j.to_stored()) for p, j in changes.journeys.items())
            self.capacity.update(changes.capacity)
            self.states.update((state.pseudonym, state) for state in changes.states)

    def facts(self) -> dict[str, ServiceFacts]:
        facts = {service.id: ServiceFacts() for service in CATALOGUE.services}
        for state in self.states.values():
            for stay in state.stays:
                facts[stay.service].stays.append(stay)
            for delay in state.delays:
                facts[delay.service].delays.append(delay)
            for referral in state.referrals:
                facts[referral.to_service].referrals.append(referral)
            for attendance in state.attendances:
                facts[attendance.service].attendances.append(attendance)
            for assessment in state.assessments:
                facts[assessment.service].assessments.append(assessment)
        return facts

    def figures(self, now: datetime) -> tuple[dict[str, Figures], Figures]:
        """Each service's figures and the system's, over the 24 hours pressure is scored on."""
        facts, period = self.facts(), pressure_period(now)
        by_service = {
            service.id: service_figures(
                service,
                facts[service.id],
                period,
                now,
                int(self.capacity[service.id]["open"]) if service.id in self.capacity else None,
            )
            for service in CATALOGUE.services
        }
        return by_service, system_figures(CATALOGUE.services, facts, period, now)

    def delays(self, service: str, now: datetime) -> Counter[tuple[str | None, str | None]]:
        """Running delays in `service` by (reason, pathway)."""
        stamp = now.isoformat()
        return Counter(
            (d.reason, d.pathway)
            for state in self.states.values()
            for d in state.delays
            if d.service == service and d.started_at <= stamp and d.ended_at is None
        )


def service_of(kind: ServiceKind) -> str:
    return next(s.id for s in CATALOGUE.services if s.kind == kind)


ED, WARDS, HUB = (
    service_of(ServiceKind.ACUTE_FRONT_DOOR),
    service_of(ServiceKind.ACUTE_INPATIENT),
    service_of(ServiceKind.TRANSFERS_OF_CARE),
)
COMMUNITY_BEDS, REABLEMENT = (
    service_of(ServiceKind.SHORT_TERM_BEDS),
    service_of(ServiceKind.REABLEMENT),
)


@dataclass(frozen=True)
class Snapshot:
    """What the worker would show at one moment."""

    services: dict[str, Figures]
    system: Figures
    ward_delays: Counter[tuple[str | None, str | None]]


def snapshot_of(worker: Worker, now: datetime) -> Snapshot:
    services, system = worker.figures(now)
    return Snapshot(services, system, worker.delays(WARDS, now))


@cache
def snapshots(seed: int = 11) -> dict[datetime, Snapshot]:
    """The city of `seed` after its first hour, and after the week `flowsight simulate` replays."""
    city, worker, taken = City(CATALOGUE, START, seed=seed, volume=1), Worker(), {}
    for now in (FIRST_HOUR, A_WEEK_ON):
        worker.fold(city.events_until(now), now)
        taken[now] = snapshot_of(worker, now)
    return taken


@pytest.mark.parametrize("now", [FIRST_HOUR, A_WEEK_ON], ids=["first hour", "a week on"])
def test_the_hospital_looks_like_an_nhs_acute_trust(now: datetime) -> None:
    taken = snapshots()[now]
    services, system = taken.services, taken.system
    wards, ed = services[WARDS], services[ED]
    beds = CATALOGUE.service(WARDS).capacity  # type: ignore[union-attr]
    assert beds
    # KH03 / UEC sitrep: general and acute beds run 90-95 % full.
    assert 90 <= (wards["occupancy_pct"] or 0) <= 95, wards
    # HES: a mean stay of 5-8 days, with a long tail (sitrep long-stay patients).
    assert 5 <= (wards["los_days_mean"] or 0) <= 8, wards
    assert (wards["long_stay_21_plus"] or 0) > 0, wards
    # Discharge sitrep: 10-15 % of beds held by patients with no criteria to reside.
    assert 10 <= 100 * int(wards["delayed_count"] or 0) / beds <= 15, wards
    # Discharge pathways: P0 most (75-85 %); P1-P3 the complex discharges.
    assert 12 <= (wards["complex_discharge_pct"] or 0) <= 30, wards
    assert 70 <= (wards["pathway_p0_pct"] or 0) <= 88, wards
    assert all((wards[f"pathway_p{n}_pct"] or 0) > 0 for n in (1, 2, 3)), wards
    # A&E: 65-85 % leave within four hours (76-78 % the 2024-25 ambition).
    assert 65 <= 100 - (ed["four_hour_breach_pct"] or 100) <= 85, ed
    assert (ed["attendances"] or 0) > 300 and (ed["queue_length"] or 0) > 0, ed
    # The transfer-of-care hub is assessing; long-term care is being placed.
    assert (services[HUB]["open_assessments"] or 0) > 0, services[HUB]
    assert (system["long_term_placements_started"] or 0) > 0, system


@pytest.mark.parametrize("now", [FIRST_HOUR, A_WEEK_ON], ids=["first hour", "a week on"])
def test_delays_have_reasons_and_pathways_and_intermediate_care_runs_near_capacity(
    now: datetime,
) -> None:
    services, delays = snapshots()[now].services, snapshots()[now].ward_delays
    pathways = Counter(pathway for (_reason, pathway), n in delays.items() for _ in range(n))
    assert {"P0", "P1", "P2", "P3"} <= set(pathways), delays
    # Sitrep reasons: waiting for the next service (P1-P3) are most of the delayed.
    assert pathways["P1"] + pathways["P2"] + pathways["P3"] > pathways["P0"], delays
    assert len({reason for reason, _pathway in delays}) >= 5, delays
    beds, reablement = services[COMMUNITY_BEDS], services[REABLEMENT]
    assert 88 <= (beds["occupancy_pct"] or 0) <= 100, beds
    assert (beds["queue_length"] or 0) > 0 and (reablement["queue_length"] or 0) > 0
    assert (reablement["in_service"] or 0) > 300, reablement
