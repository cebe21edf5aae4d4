"""A synthetic but plausible city: patients flowing through the catalogue's services.

Rates and durations are per simulated day at `volume=1`, of the order of a city of 800,000
people (an emergency department of ~400 attendances a day, ~1,450 acute beds). The model is a
discrete-event simulation: each patient's next step is scheduled at a time drawn from a
distribution, and every step yields the events the owning organisation's systems would publish.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flowsight.schemas.catalogue import Catalogue, Service
from flowsight.schemas.codes import ServiceKind
from flowsight.schemas.nhs_number import with_check_digit

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

#: Arrivals per simulated day at volume 1.
ED_ATTENDANCES_PER_DAY = 400
ELECTIVE_ADMISSIONS_PER_DAY = 60
UCR_REFERRALS_PER_DAY = 60

#: Where complex discharges go: pathway, share of complex discharges, receiving kind, delay reason.
PATHWAYS = (
    ("P1", 0.50, ServiceKind.REABLEMENT, "p1_awaiting_resource"),
    ("P1", 0.15, ServiceKind.HOME_CARE, "p1_awaiting_resource"),
    ("P2", 0.25, ServiceKind.SHORT_TERM_BEDS, "p2_awaiting_bed"),
    ("P3", 0.10, ServiceKind.RESIDENTIAL_NURSING, "p3_awaiting_care_home"),
)
#: Median days waiting for the receiving service to start, by kind.
WAIT_DAYS = {
    ServiceKind.REABLEMENT: 2.0,
    ServiceKind.HOME_CARE: 4.0,
    ServiceKind.SHORT_TERM_BEDS: 3.0,
    ServiceKind.RESIDENTIAL_NURSING: 9.0,
}
DESTINATION = {
    ServiceKind.REABLEMENT: "usual_residence_with_support",
    ServiceKind.HOME_CARE: "usual_residence_with_support",
    ServiceKind.SHORT_TERM_BEDS: "short_term_bed",
    ServiceKind.RESIDENTIAL_NURSING: "care_home_residential",
}


@dataclass
class Patient:
    nhs_number: str
    episode: str
    ward_admitted: bool = False


@dataclass(order=True)
class _Step:
    at: datetime
    order: int
    action: Any = field(compare=False)
    patient: Patient | None = field(compare=False, default=None)
    extra: dict[str, Any] = field(compare=False, default_factory=dict)


class City:
    """Generates the events of a city's patient flow, in event-time order."""

    def __init__(self, catalogue: Catalogue, start: datetime, *, seed: int | None, volume: float):
        self.rng = random.Random(seed)
        self.volume = volume
        self.clock = start
        self._steps: list[_Step] = []
        self._counter = itertools.count()
        self._ids = itertools.count(1)
        self.by_kind: dict[ServiceKind, Service] = {}
        for service in catalogue.services:
            self.by_kind.setdefault(service.kind, service)
        for arrival, per_day in (
            (self._ed_arrival, ED_ATTENDANCES_PER_DAY),
            (self._elective_arrival, ELECTIVE_ADMISSIONS_PER_DAY),
            (self._ucr_referral, UCR_REFERRALS_PER_DAY),
        ):
            self._schedule(start + self._interarrival(per_day), arrival, extra={"per_day": per_day})
        self._schedule(start, self._capacity_report)

    # Scheduling -----------------------------------------------------------------------------

    def _schedule(
        self,
        at: datetime,
        action: Any,
        patient: Patient | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        heapq.heappush(self._steps, _Step(at, next(self._counter), action, patient, extra or {}))

    def _interarrival(self, per_day: float) -> timedelta:
        rate = max(per_day * self.volume, 1e-6) / DAY.total_seconds()
        return timedelta(seconds=self.rng.expovariate(rate))

    def _after(self, median: timedelta, spread: float = 0.6) -> datetime:
        # Durations in care are right-skewed: lognormal around a median.
        factor = self.rng.lognormvariate(0, spread)
        return self.clock + median * factor

    def next_time(self) -> datetime:
        return self._steps[0].at

    def events_until(self, until: datetime) -> Iterator[dict[str, Any]]:
        """Advance the simulation to `until`, yielding each event as published by its source."""
        while self._steps and self._steps[0].at <= until:
            step = heapq.heappop(self._steps)
            self.clock = step.at
            yield from step.action(step.patient, **step.extra)

    # Patients and events --------------------------------------------------------------------

    def _new_patient(self) -> Patient:
        while True:
            number = with_check_digit(f"{self.rng.randint(400_000_000, 799_999_999)}")
            if number:
                return Patient(number, f"E{next(self._ids):08d}")

    def _event(
        self, event_type: str, service: Service, patient: Patient | None, **fields: Any
    ) -> dict[str, Any]:
        system = {"RR8": "pas", "RY6": "systmone", "LCC": "mosaic"}.get(service.organisation, "ehr")
        event: dict[str, Any] = {
            "event_id": f"{event_type[:3]}-{next(self._ids)}",
            "schema_version": "1",
            "event_type": event_type,
            "source": f"{service.organisation}/{system}",
            "occurred_at": self.clock.isoformat(),
            "service": service.id,
        }
        if patient is not None:
            event["patient"] = {"nhs_number": patient.nhs_number}
            event["episode_id"] = patient.episode
        event.update({key: value for key, value in fields.items() if value is not None})
        return event

    def _ed_arrival(self, _: Patient | None, per_day: float) -> Iterator[dict[str, Any]]:
        self._schedule(
            self.clock + self._interarrival(per_day), self._ed_arrival, extra={"per_day": per_day}
        )
        ed = self.by_kind.get(ServiceKind.ACUTE_FRONT_DOOR)
        if ed is None:
            return
        patient = self._new_patient()
        arrived = self.clock
        yield self._event("attendance", ed, patient, arrived_at=arrived.isoformat())
        self._schedule(
            self._after(3.5 * HOUR, 0.45), self._ed_departure, patient, extra={"arrived": arrived}
        )

    def _ed_departure(self, patient: Patient, arrived: datetime) -> Iterator[dict[str, Any]]:
        ed = self.by_kind[ServiceKind.ACUTE_FRONT_DOOR]
        admitted = self.rng.random() < 0.28 and ServiceKind.ACUTE_INPATIENT in self.by_kind
        yield self._event(
            "attendance",
            ed,
            patient,
            arrived_at=arrived.isoformat(),
            departed_at=self.clock.isoformat(),
            outcome="admitted" if admitted else "discharged",
        )
        if admitted:
            yield from self._ward_admission(patient, "emergency")

    def _elective_arrival(self, _: Patient | None, per_day: float) -> Iterator[dict[str, Any]]:
        self._schedule(
            self.clock + self._interarrival(per_day),
            self._elective_arrival,
            extra={"per_day": per_day},
        )
        if ServiceKind.ACUTE_INPATIENT in self.by_kind:
            yield from self._ward_admission(self._new_patient(), "elective")

    def _ward_admission(self, patient: Patient, method: str) -> Iterator[dict[str, Any]]:
        ward = self.by_kind[ServiceKind.ACUTE_INPATIENT]
        patient.ward_admitted = True
        yield self._event(
            "admission",
            ward,
            patient,
            admission_method=method,
            unit=self.rng.choice(["Ward 12", "Ward 23", "Ward 31", "AMU"]),
        )
        complex_discharge = method == "emergency" and self.rng.random() < 0.3
        medically_fit = self._after((5 if complex_discharge else 3) * DAY)
        self._schedule(
            medically_fit, self._ward_ready, patient, extra={"complex": complex_discharge}
        )

    def _ward_ready(self, patient: Patient, complex: bool) -> Iterator[dict[str, Any]]:
        ward = self.by_kind[ServiceKind.ACUTE_INPATIENT]
        if not complex:
            yield self._event(
                "discharge", ward, patient, destination="usual_residence", pathway="P0"
            )
            return
        choice = self._pick_pathway()
        if choice is None:
            yield self._event(
                "discharge", ward, patient, destination="usual_residence", pathway="P0"
            )
            return
        pathway, kind, reason = choice
        target = self.by_kind[kind]
        yield self._event(
            "assessment",
            ward,
            patient,
            kind="ctr_review",
            status="completed",
            meets_criteria_to_reside=False,
            discharge_ready_at=self.clock.isoformat(),
            delay_reason=reason,
            pathway=pathway,
        )
        yield self._event(
            "referral",
            ward,
            patient,
            to_service=target.id,
            pathway=pathway,
            status="new",
            priority="routine",
        )
        self._schedule(
            self._after(4 * HOUR), self._referral_accepted, patient, extra={"target": target}
        )
        self._schedule(
            self._after(WAIT_DAYS[kind] * DAY),
            self._start_downstream,
            patient,
            extra={"target": target, "pathway": pathway},
        )

    def _pick_pathway(self) -> tuple[str, ServiceKind, str] | None:
        draw, cumulative = self.rng.random(), 0.0
        for pathway, share, kind, reason in PATHWAYS:
            cumulative += share
            if draw <= cumulative:
                return (pathway, kind, reason) if kind in self.by_kind else None
        return None

    def _referral_accepted(self, patient: Patient, target: Service) -> Iterator[dict[str, Any]]:
        yield self._event("referral", target, patient, to_service=target.id, status="accepted")

    def _start_downstream(
        self, patient: Patient, target: Service, pathway: str
    ) -> Iterator[dict[str, Any]]:
        ward = self.by_kind[ServiceKind.ACUTE_INPATIENT]
        destination = DESTINATION[target.kind]
        if target.kind == ServiceKind.RESIDENTIAL_NURSING and self.rng.random() < 0.4:
            destination = "care_home_nursing"
        yield self._event("discharge", ward, patient, destination=destination, pathway=pathway)
        # Transport and handover: care starts an hour or so after the patient leaves the ward.
        self._schedule(
            self._after(HOUR, 0.3),
            self._arrive_downstream,
            patient,
            extra={"target": target, "destination": destination},
        )

    def _arrive_downstream(
        self, patient: Patient, target: Service, destination: str
    ) -> Iterator[dict[str, Any]]:
        hours = (
            round(self.rng.uniform(7, 21), 1)
            if target.kind in (ServiceKind.REABLEMENT, ServiceKind.HOME_CARE)
            else None
        )
        unit = {"care_home_nursing": "Nursing", "care_home_residential": "Residential"}.get(
            destination
        )
        yield self._event(
            "admission",
            target,
            patient,
            admission_method="start_of_care",
            care_hours_per_week=hours,
            unit=unit,
        )
        if target.kind == ServiceKind.REABLEMENT:
            self._schedule(
                self._after(21 * DAY, 0.4),
                self._end_reablement,
                patient,
                extra={"target": target, "hours": hours},
            )
        elif target.kind == ServiceKind.SHORT_TERM_BEDS:
            self._schedule(
                self._after(28 * DAY, 0.4),
                self._end_community_bed,
                patient,
                extra={"target": target},
            )

    def _end_reablement(
        self, patient: Patient, target: Service, hours: float
    ) -> Iterator[dict[str, Any]]:
        independent = self.rng.random() < 0.55
        end_hours = 0.0 if independent else round(hours * self.rng.uniform(0.3, 0.9), 1)
        yield self._event(
            "discharge",
            target,
            patient,
            destination="usual_residence",
            care_hours_per_week=end_hours,
            independent=independent,
        )

    def _end_community_bed(self, patient: Patient, target: Service) -> Iterator[dict[str, Any]]:
        home = self.rng.random() < 0.65
        yield self._event(
            "discharge",
            target,
            patient,
            destination="usual_residence" if home else "care_home_residential",
            pathway="P0" if home else "P3",
        )

    def _ucr_referral(self, _: Patient | None, per_day: float) -> Iterator[dict[str, Any]]:
        self._schedule(
            self.clock + self._interarrival(per_day), self._ucr_referral, extra={"per_day": per_day}
        )
        ucr = self.by_kind.get(ServiceKind.UCR)
        if ucr is None:
            return
        patient = self._new_patient()
        yield self._event(
            "referral", ucr, patient, to_service=ucr.id, status="new", priority="2-hour"
        )
        self._schedule(
            self._after(1.2 * HOUR, 0.5), self._ucr_response, patient, extra={"ucr": ucr}
        )

    def _ucr_response(self, patient: Patient, ucr: Service) -> Iterator[dict[str, Any]]:
        if self.rng.random() < 0.12:
            yield self._event("referral", ucr, patient, to_service=ucr.id, status="declined")
            return
        yield self._event("referral", ucr, patient, to_service=ucr.id, status="accepted")
        yield self._event("admission", ucr, patient, admission_method="start_of_care")
        self._schedule(self._after(2 * DAY), self._ucr_discharge, patient, extra={"ucr": ucr})

    def _ucr_discharge(self, patient: Patient, ucr: Service) -> Iterator[dict[str, Any]]:
        yield self._event(
            "discharge",
            ucr,
            patient,
            destination="usual_residence",
            pathway="P0" if self.rng.random() < 0.7 else "P1",
        )

    def _capacity_report(self, _: Patient | None) -> Iterator[dict[str, Any]]:
        self._schedule(self.clock + HOUR, self._capacity_report)
        for service in self.by_kind.values():
            if service.capacity:
                open_now = round(service.capacity * self.rng.uniform(0.93, 1.0))
                yield self._event(
                    "capacity",
                    service,
                    None,
                    open=open_now,
                    total=service.capacity,
                    unit=service.capacity_unit.value,
                )
