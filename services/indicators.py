"""The pressure indicators each kind of service can be scored on: the figures of services.kpis.

Each has a unit and a direction (higher or lower is worse); a rate (a % over a period) also
names its sample, the figure counting the cases it is a rate of (its denominator), so that a
rate of too few cases is not scored (services.pressure). The leavers' rates of community services
are of every stay that ended, transfers out included (`discharges`), not of discharge events
alone (`discharged`): with the latter, a service whose leavers were mostly taken into hospital,
when such a rate is at its worst, went unscored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flowsight.schemas.codes import ServiceKind

#: A rate indicator needs at least this many cases in its period to be scored.
MIN_SAMPLE = 10


@dataclass(frozen=True, slots=True)
class Indicator:
    """A pressure indicator: a service figure with a unit and which way is worse."""

    name: str
    unit: str
    higher_is_worse: bool = True
    sample: str | None = None  # for a rate: the figure counting the cases it is a rate of


def _indicators(
    *items: tuple[str, str] | tuple[str, str, bool] | tuple[str, str, bool, str],
) -> dict[str, Indicator]:
    return {item[0]: Indicator(*item) for item in items}


_COMMON = _indicators(
    ("queue_length", "patients"),
    ("longest_wait_hours", "hours"),
    ("in_service", "patients"),
    ("los_days_mean", "days"),
    ("delayed_count", "patients"),
    ("lost_bed_days", "days"),  # bed-based services only (none without beds)
    ("delayed_days_home_based", "days"),  # services without beds only
    ("delayed_7_plus", "patients"),
    ("delayed_14_plus", "patients"),
    ("delayed_21_plus", "patients"),
)
_BEDS = _indicators(
    ("occupied_beds", "beds"),
    ("occupancy_pct", "%"),
    ("nctr_days_mean", "days"),
    ("ctr_days_mean", "days"),
)
_SOURCING = _indicators(("time_to_source_days_mean", "days"))

#: The indicators each kind of service can be scored on: the figures of services.kpis.
INDICATORS_BY_KIND: Mapping[ServiceKind, Mapping[str, Indicator]] = {
    ServiceKind.ACUTE_FRONT_DOOR: _COMMON
    | _indicators(
        ("attendances", "patients"),
        ("admissions_from_ed", "patients"),
        ("four_hour_breaches", "patients"),
        ("four_hour_breach_pct", "%", True, "departures"),
        ("in_department_over_4h", "patients"),
        ("in_department_over_12h", "patients"),
        ("twelve_hours_from_arrival_pct", "%", True, "departures"),
    ),
    ServiceKind.ACUTE_INPATIENT: _COMMON
    | _BEDS
    | _indicators(("complex_discharge_pct", "%", True, "hospital_discharges_with_pathway")),
    ServiceKind.TRANSFERS_OF_CARE: _COMMON
    | _indicators(
        ("open_assessments", "assessments"),
        ("assessments_completed", "assessments", False),
        ("assessment_hours_mean", "hours"),
    ),
    ServiceKind.UCR: _COMMON
    | _indicators(
        ("referrals", "referrals"),
        ("referrals_accepted_pct", "%", False, "referrals_decided"),
        ("no_further_action_pct", "%", False, "discharges"),
        ("ucr_2h_met_pct", "%", False, "ucr_2h_due"),
    ),
    # Readmissions within 30 days are not an indicator: pressure is scored on the last 24 hours,
    # whose discharges' readmissions have mostly not happened yet (an outcome, in the report).
    ServiceKind.REABLEMENT: _COMMON
    | _indicators(
        ("care_hours_change_mean", "hours/week"), ("independent_pct", "%", False, "discharges")
    ),
    ServiceKind.SHORT_TERM_BEDS: _COMMON
    | _BEDS
    | _indicators(("discharged_home_pct", "%", False, "discharges")),
    ServiceKind.HOME_CARE: _COMMON
    | _SOURCING
    | _indicators(("new_packages", "packages"), ("package_hours_mean", "hours/week")),
    ServiceKind.RESIDENTIAL_NURSING: _COMMON
    | _BEDS
    | _SOURCING
    | _indicators(("placements_started", "placements")),
}

#: Every indicator name any kind of service can be scored on.
KNOWN_INDICATORS: frozenset[str] = frozenset(
    name for indicators in INDICATORS_BY_KIND.values() for name in indicators
)
