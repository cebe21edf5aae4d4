"""The city as it stands at its start: everyone in a bed, in care or waiting, as past events.

The simulation runs for a warm-up period before the start (parameters.WARM_UP) so that beds,
queues and delays reach their steady state. The census is what the organisations' systems
would already hold about the people still in that flow at the start, and about those who moved
through it in the last day: their admissions, reviews with Discharge Ready Dates, referrals and
assessments, published with their past times. The worker builds it like any other history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from flowsight.devtools.simulator.clock import Event, Held, Patient


def census_events(
    patients: Iterable[Patient], recent_from: datetime, build: Callable[[Held], Event]
) -> list[Event]:
    """The patients' warm-up events in time order; attendances only from `recent_from`.

    An attendance that ended long before the start changes no figure of the start: leaving it
    out keeps the census small (a patient admitted through the ED weeks ago keeps their stay).
    """
    kept = [
        held
        for patient in patients
        for held in patient.history
        if held[2] != "attendance" or held[0] >= recent_from
    ]
    kept.sort(key=lambda held: (held[0], held[1]))
    return [build(held) for held in kept]
