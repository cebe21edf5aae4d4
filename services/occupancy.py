"""A bed-based service's occupancy: the beds its patients fill, of the beds open.

One rule, used where figures are computed from the facts (`services.kpis`) and where the
newest capacity report is laid over figures computed before it arrived (the worker's rescore
after a capacity report, `streams/tasks/refresh.py`).
"""

from __future__ import annotations

from collections.abc import Mapping

from flowsight.schemas.catalogue import Service
from flowsight.services.flow_figures import Figures, percent


def capacity_open(service: Service, reported: int | None) -> int | None:
    """The capacity a service has open: the capacity report in force's (`reported`), else the
    catalogue's; None with neither."""
    return reported if reported is not None else service.capacity


def occupancy(service: Service, occupied: int, open_capacity: int | None) -> Figures:
    """`occupied_beds` and `occupancy_pct` of a bed-based service (none for the others):
    `occupied` beds of the capacity open, the report in force's, else the catalogue's."""
    if not service.has_beds:
        return {}
    capacity = capacity_open(service, open_capacity)
    return {"occupied_beds": occupied, "occupancy_pct": percent(occupied, capacity)}


def with_capacity(
    service: Service, figures: Mapping[str, float | int | None], open_capacity: int
) -> Figures:
    """`figures` with the occupancy of `open_capacity` beds open instead of the capacity they
    were computed with; the occupied beds are theirs."""
    occupied = figures.get("occupied_beds")
    if not isinstance(occupied, int):
        return dict(figures)
    return {**figures, **occupancy(service, occupied, open_capacity)}
