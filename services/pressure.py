"""Pressure, OPEL levels and escalation (SPEC section 6). Pure: no I/O.

Scoring. An indicator scores the highest level (2, 3 or 4) whose threshold its value reaches
(`>=` for indicators where higher is worse, `<=` where lower is worse), else level 1. A service's
score is the weighted mean of its indicators' levels,

    score = sum(weight_i * level_i) / sum(weight_i)    over indicators that have a value,

so it lies in 1..4 whatever the weights, and its OPEL level is 1 plus the number of cut-offs
(default 1.5, 2.5, 3.5) the score reaches. Example (lth-ed): queue 95 against 60/90/120 is
level 3 (weight 1), four-hour breaches 30 % against 25/35/45 is level 2 (weight 2):
(1*3 + 2*2) / 3 = 2.333333, below 2.5, so OPEL 2.

A rate (a % over a period) is scored only on a sample of at least `MIN_SAMPLE` (its `sample`
figure, e.g. departures for the four-hour breach %): one breach out of one departure is not a
100 % breach rate worth escalating.

The system. Its score is the weighted mean of the services' levels (weight per service, default
1), mapped by the same cut-offs; its level is never below the acute pillar's: the level of the
acute services (front door and inpatients) combined the same way. NHS England's integrated OPEL
framework 2024-26 builds the ICS level from its providers' pillars and asks the system to act
on a provider's escalation: an acute trust at OPEL 4 with six quiet community services must not
come out as a system OPEL 2. Escalation over time is services.escalation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flowsight.schemas.catalogue import Catalogue, Service, Threshold
from flowsight.schemas.codes import ServiceKind
from flowsight.services.delays import DELAYED_DAYS_HOME_BASED, LOST_BED_DAYS, delay_days_figure
from flowsight.services.escalation import DEFAULT_HOLD, LEVELS, Escalation, LevelChange
from flowsight.services.indicators import (
    INDICATORS_BY_KIND,
    KNOWN_INDICATORS,
    MIN_SAMPLE,
    Indicator,
)

__all__ = [
    "DEFAULT_HOLD",
    "INDICATORS_BY_KIND",
    "KNOWN_INDICATORS",
    "LEVELS",
    "MIN_SAMPLE",
    "SYSTEM_SCOPE",
    "Cutoffs",
    "Escalation",
    "Indicator",
    "IndicatorScore",
    "LevelChange",
    "PressureConfigError",
    "ServiceScore",
    "SystemScore",
    "WeightedService",
    "check_thresholds",
    "indicator_level",
    "not_an_indicator",
    "require_valid",
    "score_service",
    "score_system",
    "weighted_level",
]

SYSTEM_SCOPE = "system"
#: The two names of a service's delayed days: one of them is its figure, by its capacity unit.
DELAY_DAYS_FIGURES = frozenset({LOST_BED_DAYS, DELAYED_DAYS_HOME_BASED})
ACUTE_KINDS = frozenset({ServiceKind.ACUTE_FRONT_DOOR, ServiceKind.ACUTE_INPATIENT})
#: Within a service (or the system) no weight may outweigh another more than this many times:
#: past that the lighter indicator barely moves the mean, which is a configuration mistake.
MAX_WEIGHT_RATIO = 100.0


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """The scores at which a weighted mean of levels becomes OPEL 2, 3 and 4."""

    level2: float = 1.5
    level3: float = 2.5
    level4: float = 3.5

    def level(self, score: float) -> int:
        """The OPEL level of `score`: 1 plus the number of cut-offs it reaches."""
        return 1 + sum(score >= cutoff for cutoff in (self.level2, self.level3, self.level4))


@dataclass(frozen=True, slots=True)
class IndicatorScore:
    """One indicator's value, its thresholds and weight, and the level it scored."""

    name: str
    unit: str
    value: float | None
    threshold: Threshold
    higher_is_worse: bool
    level: int | None  # None when there is no value to score

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "unit": self.unit,
            "value": self.value,
            "level": self.level,
            "weight": self.threshold.weight,
            "higher_is_worse": self.higher_is_worse,
            "thresholds": {
                "level2": self.threshold.level2,
                "level3": self.threshold.level3,
                "level4": self.threshold.level4,
            },
        }


@dataclass(frozen=True, slots=True)
class ServiceScore:
    """A service's score and OPEL level with every indicator that produced them."""

    service_id: str
    score: float | None  # None when no indicator had a value
    level: int | None
    indicators: tuple[IndicatorScore, ...]
    kind: ServiceKind | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "scope": self.service_id,
            "score": self.score,
            "level": self.level,
            "indicators": [indicator.to_dict() for indicator in self.indicators],
        }


@dataclass(frozen=True, slots=True)
class WeightedService:
    """A service's score as it counts towards the system level."""

    service: ServiceScore
    weight: float


@dataclass(frozen=True, slots=True)
class SystemScore:
    """The system's score and OPEL level with every service's contribution."""

    score: float | None
    level: int | None
    services: tuple[WeightedService, ...]
    acute_level: int | None = None  # the floor under the system level

    def to_dict(self) -> dict[str, object]:
        return {
            "scope": SYSTEM_SCOPE,
            "score": self.score,
            "level": self.level,
            "acute_level": self.acute_level,
            "services": [
                {"weight": entry.weight, **entry.service.to_dict()} for entry in self.services
            ],
        }


def indicator_level(value: float, threshold: Threshold, higher_is_worse: bool = True) -> int:
    """The highest level whose threshold `value` reaches, else 1."""
    for level, limit in ((4, threshold.level4), (3, threshold.level3), (2, threshold.level2)):
        if (value >= limit) if higher_is_worse else (value <= limit):
            return level
    return 1


def weighted_level(
    pairs: Iterable[tuple[int, float]], cutoffs: Cutoffs
) -> tuple[float | None, int | None]:
    """The weighted mean of (level, weight) pairs and its OPEL level; None for no pairs."""
    scored = list(pairs)
    total = sum(weight for _, weight in scored)
    if not scored or total <= 0:
        return None, None
    # Rounded so that a tie computed in floating point (2.4999999999) reaches its cut-off.
    score = round(sum(level * weight for level, weight in scored) / total, 6)
    return score, cutoffs.level(score)


def score_service(
    service: Service,
    indicators: Mapping[str, float | None],
    cutoffs: Cutoffs | None = None,
    min_sample: int = MIN_SAMPLE,
) -> ServiceScore:
    """Score each configured indicator of `service` and combine them into its OPEL level."""
    cutoffs = cutoffs or Cutoffs()
    known = INDICATORS_BY_KIND[service.kind]
    scores: list[IndicatorScore] = []
    for name, threshold in sorted(service.thresholds.items()):
        indicator = known.get(name)
        if indicator is None:
            raise ValueError(f"service {service.id!r}: {not_an_indicator(name, service.kind)}")
        value = indicators.get(name)
        # A missing or non-finite figure (no capacity, no departures yet) is not scored at all,
        # rather than scored as level 1 and diluting the indicators that do have values.
        if value is None or not math.isfinite(value):
            value, level = None, None
        elif _too_few(indicator, indicators, min_sample):
            level = None  # shown, not scored: too few cases for the rate to mean anything
        else:
            level = indicator_level(value, threshold, indicator.higher_is_worse)
        scores.append(
            IndicatorScore(name, indicator.unit, value, threshold, indicator.higher_is_worse, level)
        )
    score, level = weighted_level(
        ((s.level, s.threshold.weight) for s in scores if s.level is not None), cutoffs
    )
    return ServiceScore(service.id, score, level, tuple(scores), service.kind)


def _too_few(indicator: Indicator, figures: Mapping[str, float | None], least: int) -> bool:
    cases = figures.get(indicator.sample) if indicator.sample else None
    return cases is not None and cases < least


def score_system(
    service_scores: Iterable[ServiceScore],
    cutoffs: Cutoffs | None = None,
    weights: Mapping[str, float] | None = None,
) -> SystemScore:
    """Combine the services' levels (weight per service id, default 1) into the system level.

    The level is the weighted mean's, floored at the acute services' combined level.
    """
    weights, cutoffs = weights or {}, cutoffs or Cutoffs()
    entries = tuple(WeightedService(s, weights.get(s.service_id, 1.0)) for s in service_scores)
    scored = [
        (e.service.level, e.weight, e.service.kind) for e in entries if e.service.level is not None
    ]
    score, level = weighted_level(((lv, w) for lv, w, _k in scored), cutoffs)
    _acute_score, acute = weighted_level(
        ((lv, w) for lv, w, k in scored if k in ACUTE_KINDS), cutoffs
    )
    if level is not None and acute is not None:
        level = max(level, acute)
    return SystemScore(score, level, entries, acute)


class PressureConfigError(ValueError):
    """Thresholds, weights or cut-offs that cannot be scored; the message lists every problem."""


def check_thresholds(
    catalogue: Catalogue,
    cutoffs: Cutoffs | None = None,
    service_weights: Mapping[str, float] | None = None,
) -> list[str]:
    """Every problem with the catalogue's thresholds, weights and the cut-offs, one per line."""
    problems = _check_cutoffs(cutoffs or Cutoffs())
    for service in catalogue.services:
        where = f"service {service.id!r}"
        if service.id == SYSTEM_SCOPE:
            problems.append(f"{where}: the id {SYSTEM_SCOPE!r} is reserved for the system level")
        for name, threshold in sorted(service.thresholds.items()):
            indicator = INDICATORS_BY_KIND[service.kind].get(name)
            if indicator is None:
                problems.append(f"{where}: {not_an_indicator(name, service.kind)}")
                continue
            if name in DELAY_DAYS_FIGURES and name != delay_days_figure(service):
                problems.append(
                    f"{where}: {name!r} is never a figure of a service whose capacity is in "
                    f"{service.capacity_unit.value}; its delayed days are "
                    f"{delay_days_figure(service)!r}"
                )
                continue
            problems.extend(
                f"{where}, indicator {name!r}: {p}" for p in _check(threshold, indicator)
            )
        weights = {name: t.weight for name, t in service.thresholds.items()}
        problems.extend(f"{where}: {p}" for p in _check_weights(weights, "indicator"))
    if service_weights:
        for service_id in sorted(set(service_weights) - catalogue.service_ids):
            problems.append(f"system weights: service {service_id!r} is not in the catalogue")
        problems.extend(
            f"system weights: {p}" for p in _check_weights(dict(service_weights), "service")
        )
    return problems


def require_valid(
    catalogue: Catalogue,
    cutoffs: Cutoffs | None = None,
    service_weights: Mapping[str, float] | None = None,
) -> None:
    """Raise PressureConfigError listing every problem `check_thresholds` finds."""
    problems = check_thresholds(catalogue, cutoffs, service_weights)
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise PressureConfigError(f"pressure thresholds cannot be used:\n{listed}")


def not_an_indicator(name: str, kind: ServiceKind) -> str:
    """Why `name` cannot be scored for a service of `kind`."""
    known = ", ".join(sorted(INDICATORS_BY_KIND[kind]))
    if name in KNOWN_INDICATORS:
        return f"indicator {name!r} is not measured for a {kind.value} service (known: {known})"
    return f"unknown indicator {name!r} (known for a {kind.value} service: {known})"


def _check(threshold: Threshold, indicator: Indicator) -> list[str]:
    values = (threshold.level2, threshold.level3, threshold.level4)
    if not all(math.isfinite(value) for value in values):
        return [f"thresholds must be finite numbers, got {_listed(values)}"]
    most = 100.0 if indicator.unit == "%" else math.inf  # every indicator counts or measures
    if not all(0 <= value <= most for value in values):
        within = "from 0 to 100" if indicator.unit == "%" else "0 or more"
        return [
            f"{indicator.name} is in {indicator.unit}: thresholds must be {within}, got {_listed(values)}"
        ]
    if indicator.higher_is_worse and not values[0] <= values[1] <= values[2]:
        return [f"higher is worse, so thresholds must rise level2 to level4: {_listed(values)}"]
    if not indicator.higher_is_worse and not values[0] >= values[1] >= values[2]:
        return [f"lower is worse, so thresholds must fall level2 to level4: {_listed(values)}"]
    return []


def _check_weights(weights: dict[str, float], what: str) -> list[str]:
    problems = [
        f"{what} {name!r}: weight must be a positive finite number, got {weight!r}"
        for name, weight in sorted(weights.items())
        if not (math.isfinite(weight) and weight > 0)
    ]
    usable = {name: w for name, w in weights.items() if math.isfinite(w) and w > 0}
    if problems or len(usable) < 2:
        return problems
    heaviest, lightest = max(usable, key=usable.__getitem__), min(usable, key=usable.__getitem__)
    if usable[heaviest] > MAX_WEIGHT_RATIO * usable[lightest]:
        problems.append(
            f"{what} {heaviest!r} weighs {usable[heaviest]:g}, more than "
            f"{MAX_WEIGHT_RATIO:g} times {what} {lightest!r} ({usable[lightest]:g}), "
            f"which would barely count"
        )
    return problems


def _check_cutoffs(cutoffs: Cutoffs) -> list[str]:
    values = (cutoffs.level2, cutoffs.level3, cutoffs.level4)
    if all(math.isfinite(v) for v in values) and 1 < values[0] < values[1] < values[2] <= 4:
        return []
    return [f"OPEL cut-offs must rise strictly within (1, 4], got {_listed(values)}"]


def _listed(values: Iterable[float]) -> str:
    return ", ".join(f"{value:g}" for value in values)
