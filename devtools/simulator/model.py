"""A synthetic but plausible city: patients flowing through the catalogue's services.

Rates and durations (simulator.parameters, sources in docs/simulator.md) are per simulated day
at `volume=1`, of the order of a city of 800,000 people: an emergency department of ~400
attendances a day, 1,450 acute beds about 92 % full. The city starts in steady state: its first
events are the census (simulator.census), then the flow follows from its start.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from flowsight.devtools.simulator.census import census_events
from flowsight.devtools.simulator.clock import Clock, Event, Patient
from flowsight.devtools.simulator.community import Community
from flowsight.devtools.simulator.hospital import Hospital
from flowsight.devtools.simulator.parameters import (
    OPEN_SHARE,
    RECENT,
    UCR_DECLINED_SHARE,
    UCR_NO_FURTHER_ACTION,
    UCR_REFERRALS_PER_DAY,
    UCR_RESPONSE,
    UCR_STAY,
    WARM_UP,
)
from flowsight.schemas.catalogue import Catalogue, Service
from flowsight.schemas.codes import ServiceKind

HOUR = timedelta(hours=1)
_INSTANT = timedelta(microseconds=1)
#: Urgent community responses last days: those referred in this window may still be open.
UCR_IN_CENSUS = timedelta(days=8)


class City:
    """Generates the events of a city's patient flow, in event-time order, census first."""

    def __init__(self, catalogue: Catalogue, start: datetime, *, seed: int | None, volume: float):
        self.clock = Clock(catalogue, start, seed=seed, volume=volume)
        self.clock.clock = start - WARM_UP
        Hospital(self.clock, Community(self.clock)).open()
        self.ucr = self.clock.service(ServiceKind.UCR)
        if self.ucr is not None:
            self.clock.every(UCR_REFERRALS_PER_DAY, self._ucr_referral)
        self.clock.at(start, self._capacity_report)
        self.clock.run_until(start - _INSTANT)
        self._census = census_events(self.clock.warming.values(), start - RECENT, self.clock.event)
        self.clock.warming.clear()
        self._census_at = 0

    def next_time(self) -> datetime:
        """When the next event is due."""
        if self._census_at < len(self._census):
            return datetime.fromisoformat(self._census[self._census_at]["occurred_at"])
        return self.clock.next_time()

    def events_until(self, until: datetime) -> Iterator[Event]:
        """Advance the simulation to `until`, yielding each event as published by its source."""
        census, at = self._census, self._census_at
        while at < len(census) and datetime.fromisoformat(census[at]["occurred_at"]) <= until:
            yield census[at]
            at += 1
        self._census_at = at
        if at < len(census):
            return
        self.clock.run_until(until)
        published, self.clock.published = self.clock.published, []
        yield from published

    # Urgent community response --------------------------------------------------------------

    def _ucr_referral(self) -> None:
        c, ucr = self.clock, self.ucr
        assert ucr is not None
        if c.clock < c.start - UCR_IN_CENSUS:
            return  # warming up: a response long over leaves nothing in the census
        patient = c.new_patient()
        c.publish("referral", ucr, patient, to_service=ucr.id, status="new", priority="2-hour")
        c.at(c.after(UCR_RESPONSE), self._ucr_response, patient, ucr)

    def _ucr_response(self, patient: Patient, ucr: Service) -> None:
        c = self.clock
        if c.chance(UCR_DECLINED_SHARE):
            c.publish("referral", ucr, patient, to_service=ucr.id, status="declined")
            c.settle(patient)
            return
        c.publish("referral", ucr, patient, to_service=ucr.id, status="accepted")
        c.publish("admission", ucr, patient, admission_method="start_of_care")
        c.at(c.after(UCR_STAY), self._ucr_discharge, patient, ucr)

    def _ucr_discharge(self, patient: Patient, ucr: Service) -> None:
        c = self.clock
        pathway = "P0" if c.chance(UCR_NO_FURTHER_ACTION) else "P1"
        c.publish("discharge", ucr, patient, destination="usual_residence", pathway=pathway)
        c.settle(patient)

    # Capacity -------------------------------------------------------------------------------

    def _capacity_report(self) -> None:
        c = self.clock
        c.at(c.clock + HOUR, self._capacity_report)
        for service in c.by_kind.values():
            if service.capacity:
                c.publish(
                    "capacity",
                    service,
                    None,
                    open=round(service.capacity * c.rng.uniform(*OPEN_SHARE)),
                    total=service.capacity,
                    unit=service.capacity_unit.value,
                )
