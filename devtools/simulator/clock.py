"""The simulation's clock: steps scheduled in time, random draws, and the events they publish.

Each patient's next step is scheduled at a time drawn from a distribution; every step publishes
the events the owning organisation's systems would. Before the city's start (the warm-up), the
events go to the census, which keeps those of patients still in care (simulator.census).
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flowsight.devtools.simulator.parameters import RECENT, Spread
from flowsight.schemas.catalogue import Catalogue, Service
from flowsight.schemas.codes import ServiceKind
from flowsight.schemas.nhs_number import with_check_digit

Event = dict[str, Any]
#: An event held back while warming up: time, sequence, type, service, patient, extra fields.
Held = tuple[datetime, int, str, Service, "Patient | None", dict[str, Any]]
DAY = timedelta(days=1)
_SYSTEMS = {"RR8": "pas", "RY6": "systmone", "LCC": "mosaic"}
_IN_OUT = {"admission": 1, "discharge": -1}


@dataclass(eq=False)
class Patient:
    """A simulated person: what they would be known by, and their events while warming up."""

    episode: str
    nhs_number: str = ""  # drawn when first published
    #: Events published before the start, in time order, not yet built (see Clock.publish).
    history: list[Held] = field(default_factory=list)


#: A scheduled step: when, a tie-breaking sequence number, what to run and with what. A plain
#: tuple, because the heap compares steps millions of times in a warm-up.
_Step = tuple[datetime, int, Callable[..., None], tuple[Any, ...]]


class Clock:
    """Scheduled steps in time order, the draws they make and the events they publish."""

    def __init__(self, catalogue: Catalogue, start: datetime, *, seed: int | None, volume: float):
        self.rng = random.Random(seed)  # nosec B311 # a reproducible simulation, not a secret
        self.volume = volume
        self.start = start
        self.clock = start
        self.by_kind: dict[ServiceKind, Service] = {}
        for service in catalogue.services:
            self.by_kind.setdefault(service.kind, service)
        self.published: list[Event] = []
        #: People in each service now (admitted and not yet discharged).
        self.occupied: Counter[str] = Counter()
        #: Patients met while warming up, until they settle: the census is drawn from them.
        self.warming: dict[int, Patient] = {}
        self._steps: list[_Step] = []
        self._order = itertools.count()
        self._ids = itertools.count(1)

    # Time ---------------------------------------------------------------------------------------

    def at(self, when: datetime, action: Callable[..., None], *arguments: Any) -> None:
        """Run `action(*arguments)` at `when`."""
        heapq.heappush(self._steps, (when, next(self._order), action, arguments))

    def after(self, spread: Spread) -> datetime:
        """A moment a lognormal time from now."""
        return self.clock + spread.median * self.rng.lognormvariate(0, spread.sigma)

    def every(self, per_day: float, action: Callable[[], None]) -> None:
        """Run `action` as a Poisson process of `per_day` (scaled by volume) from now on."""

        def arrive() -> None:
            self.at(self.clock + self._interarrival(per_day), arrive)
            action()

        self.at(self.clock + self._interarrival(per_day), arrive)

    def _interarrival(self, per_day: float) -> timedelta:
        rate = max(per_day * self.volume, 1e-6) / DAY.total_seconds()
        return timedelta(seconds=self.rng.expovariate(rate))

    def next_time(self) -> datetime:
        """When the next step is due."""
        return self._steps[0][0]

    def run_until(self, until: datetime) -> None:
        """Run every step due by `until`, in time order."""
        steps = self._steps
        while steps and steps[0][0] <= until:
            self.clock, _order, action, arguments = heapq.heappop(steps)
            action(*arguments)

    @property
    def warming_up(self) -> bool:
        """Before the start: events go to the census, not out."""
        return self.clock < self.start

    # Draws --------------------------------------------------------------------------------------

    def chance(self, share: float) -> bool:
        """True with probability `share`."""
        return self.rng.random() < share

    def pick(self, weighted: Sequence[tuple[str, float]], otherwise: str = "") -> str:
        """One of the weighted names; `otherwise` when the weights sum below 1 and miss."""
        draw = self.rng.random()
        for name, share in weighted:
            draw -= share
            if draw < 0:
                return name
        return otherwise

    # Patients and events ------------------------------------------------------------------------

    def new_patient(self) -> Patient:
        """Someone new to the simulation, with their own episode (and, once seen, NHS number)."""
        patient = Patient(f"E{next(self._ids):08d}")
        if self.warming_up:
            self.warming[id(patient)] = patient
        return patient

    def settle(self, patient: Patient) -> None:
        """The patient's journey is over: if it ended before the last day, the census drops them."""
        if self.clock < self.start - RECENT:
            self.warming.pop(id(patient), None)

    def publish(
        self, event_type: str, service: Service, patient: Patient | None, **fields: Any
    ) -> None:
        """Publish one event as the service's organisation would, occurring now."""
        if event_type in _IN_OUT:
            self.occupied[service.id] += _IN_OUT[event_type]
        if not self.warming_up:
            self.published.append(self.event((self.clock, 0, event_type, service, patient, fields)))
        elif patient is not None:
            # Most warm-up events are dropped with their settled patient: build them only if kept.
            patient.history.append(
                (self.clock, next(self._order), event_type, service, patient, fields)
            )

    def event(self, held: Held) -> Event:
        """The event as its source publishes it."""
        at, _order, event_type, service, patient, fields = held
        event: Event = {
            "event_id": f"{event_type[:3]}-{next(self._ids)}",
            "schema_version": "1",
            "event_type": event_type,
            "source": f"{service.organisation}/{_SYSTEMS.get(service.organisation, 'ehr')}",
            "occurred_at": at.isoformat(),
            "service": service.id,
        }
        if patient is not None:
            event["patient"] = {"nhs_number": self._nhs_number(patient)}
            event["episode_id"] = patient.episode
        event.update({key: value for key, value in fields.items() if value is not None})
        return event

    def _nhs_number(self, patient: Patient) -> str:
        while not patient.nhs_number:
            number = with_check_digit(f"{self.rng.randint(400_000_000, 799_999_999)}")
            patient.nhs_number = number or ""
        return patient.nhs_number

    def service(self, kind: ServiceKind) -> Service | None:
        """The catalogue's (first) service of `kind`, if it has one."""
        return self.by_kind.get(kind)
