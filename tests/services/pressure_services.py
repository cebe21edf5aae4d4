"""Services with thresholds for pressure tests: the Leeds ED and wards, and builders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from flowsight.schemas.catalogue import Catalogue, Organisation, Service, Threshold

LEEDS = Path(__file__).resolve().parents[2] / "deploy" / "catalogue" / "leeds.yaml"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def service(service_id: str, kind: str, **thresholds: Threshold) -> Service:
    return Service(
        id=service_id,
        name=service_id,
        organisation="RR8",
        kind=kind,
        capacity_unit="beds",
        thresholds=thresholds,
    )


def catalogue(*services: Service) -> Catalogue:
    return Catalogue(
        system="test",
        organisations=[Organisation(code="RR8", name="Trust")],
        services=list(services),
    )


# The emergency department of deploy/catalogue/leeds.yaml.
ED = service(
    "lth-ed",
    "acute_front_door",
    queue_length=Threshold(level2=60, level3=90, level4=120),
    four_hour_breach_pct=Threshold(level2=25, level3=35, level4=45, weight=2),
)
WARDS = service(
    "lth-wards",
    "acute_inpatient",
    occupancy_pct=Threshold(level2=92, level3=95, level4=98, weight=2),
    delayed_count=Threshold(level2=150, level3=200, level4=250, weight=2),
)
