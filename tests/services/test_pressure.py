"""Pressure scoring, OPEL levels and escalation (SPEC section 6), with hand-computed numbers."""

from __future__ import annotations

import pytest

from flowsight.adapters.catalogue import load_catalogue
from flowsight.schemas.catalogue import Catalogue, Service, Threshold
from flowsight.schemas.codes import CapacityUnit, ServiceKind
from flowsight.services.pressure import (
    KNOWN_INDICATORS,
    Cutoffs,
    Escalation,
    PressureConfigError,
    check_thresholds,
    indicator_level,
    require_valid,
    score_service,
    score_system,
)
from tests.services.pressure_services import ED, LEEDS, WARDS, catalogue, minutes, service

# --- indicators ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "level"),
    [(0, 1), (59.9, 1), (60, 2), (89.9, 2), (90, 3), (119, 3), (120, 4), (500, 4)],
)
def test_an_indicator_scores_the_highest_level_whose_threshold_it_reaches(
    value: float, level: int
) -> None:
    assert indicator_level(value, Threshold(level2=60, level3=90, level4=120)) == level


def test_where_lower_is_worse_a_value_reaches_a_threshold_by_falling_to_it() -> None:
    # % discharged home: 80 is fine, 70 is level 2, 60 level 3, 50 or less level 4. The schema
    # only accepts rising thresholds today, so this threshold is built without its validator.
    falling = Threshold.model_construct(level2=70, level3=60, level4=50, weight=1)
    assert [indicator_level(v, falling, higher_is_worse=False) for v in (80, 70, 65, 60, 10)] == [
        1,
        2,
        2,
        3,
        4,
    ]


# --- services -----------------------------------------------------------------------------------


def test_the_worked_example_a_busy_ed_is_opel_2() -> None:
    # queue 95 reaches 90 (level 3), weight 1; breaches 30 % reach 25 (level 2), weight 2.
    # score = (1*3 + 2*2) / (1 + 2) = 7/3 = 2.333333 -> below the 2.5 cut-off -> OPEL 2.
    score = score_service(ED, {"queue_length": 95, "four_hour_breach_pct": 30, "attendances": 400})
    assert (score.score, score.level) == (2.333333, 2)
    by_name = {i.name: i for i in score.indicators}
    assert set(by_name) == {"queue_length", "four_hour_breach_pct"}  # only configured ones
    breaches = by_name["four_hour_breach_pct"].to_dict()
    assert breaches == {
        "name": "four_hour_breach_pct",
        "unit": "%",
        "value": 30,
        "level": 2,
        "weight": 2,
        "higher_is_worse": True,
        "thresholds": {"level2": 25, "level3": 35, "level4": 45},
    }
    assert score.to_dict()["scope"] == "lth-ed"


def test_crossing_level_3_on_the_heavier_indicator_makes_the_ed_opel_3() -> None:
    # breaches 36 % reach 35 (level 3): (1*3 + 2*3) / 3 = 3.0 -> reaches 2.5, not 3.5 -> OPEL 3.
    score = score_service(ED, {"queue_length": 95, "four_hour_breach_pct": 36})
    assert (score.score, score.level) == (3.0, 3)


def test_an_indicator_without_a_value_is_left_out_rather_than_counted_as_level_1() -> None:
    # occupancy unknown (no capacity reported): delayed 210 reaches 200 -> level 3 on its own.
    score = score_service(WARDS, {"delayed_count": 210, "occupancy_pct": None})
    assert (score.score, score.level) == (3.0, 3)
    assert {i.name: i.level for i in score.indicators} == {
        "delayed_count": 3,
        "occupancy_pct": None,
    }
    nothing = score_service(WARDS, {"occupancy_pct": float("nan")})
    assert (nothing.score, nothing.level) == (None, None)


def test_a_score_exactly_on_a_cut_off_reaches_it_even_when_floating_point_falls_short() -> None:
    # Levels 1 (weight 0.1) and 3 (weight 0.3): (0.1*1 + 0.3*3) / 0.4 = 1.0 / 0.4 = 2.5 exactly,
    # which reaches the 2.5 cut-off -> OPEL 3. In floating point it is 2.4999999999999996.
    tied = service(
        "lth-ed",
        "acute_front_door",
        queue_length=Threshold(level2=60, level3=90, level4=120, weight=0.1),
        four_hour_breach_pct=Threshold(level2=25, level3=35, level4=45, weight=0.3),
    )
    score = score_service(tied, {"queue_length": 10, "four_hour_breach_pct": 40})
    assert (score.score, score.level) == (2.5, 3)


def test_cut_offs_are_configurable() -> None:
    # 7/3 = 2.333333 reaches a level-3 cut-off of 2.2.
    score = score_service(
        ED, {"queue_length": 95, "four_hour_breach_pct": 30}, Cutoffs(1.5, 2.2, 3.5)
    )
    assert score.level == 3


def test_the_system_combines_service_levels_with_per_service_weights() -> None:
    ed = score_service(ED, {"queue_length": 95, "four_hour_breach_pct": 36})  # OPEL 3
    wards = score_service(WARDS, {"occupancy_pct": 96, "delayed_count": 210})  # 3 and 3 -> 3
    ucr = score_service(
        service("lch-ucr", "ucr", queue_length=Threshold(level2=15, level3=25, level4=40)),
        {"queue_length": 3},
    )  # OPEL 1
    silent = score_service(service("quiet", "reablement"), {})  # no thresholds: not counted
    # Equal weights: (3 + 3 + 1) / 3 = 2.333333 -> OPEL 2 by the mean; but the acute services
    # combined are (3 + 3) / 2 = 3.0 -> OPEL 3, the floor under the system: OPEL 3.
    system = score_system([ed, wards, ucr, silent])
    assert (system.score, system.acute_level, system.level) == (2.333333, 3, 3)
    # The ED counted twice: (2*3 + 3 + 1) / 4 = 2.5 -> OPEL 3.
    weighted = score_system([ed, wards, ucr, silent], weights={"lth-ed": 2})
    assert (weighted.score, weighted.level) == (2.5, 3)
    evidence = weighted.to_dict()
    assert evidence["scope"] == "system"
    assert [(s["scope"], s["weight"], s["level"]) for s in evidence["services"]] == [  # type: ignore[attr-defined]
        ("lth-ed", 2, 3),
        ("lth-wards", 1.0, 3),
        ("lch-ucr", 1.0, 1),
        ("quiet", 1.0, None),
    ]


# --- over time ----------------------------------------------------------------------------------


def test_scenario_escalate_at_once_hold_before_de_escalating_one_alert_per_change() -> None:
    ed = Escalation("lth-ed")
    readings = [
        # minute, queue, breach % -> score -> OPEL
        (0, 95, 30),  # (3 + 2*2)/3 = 2.33 -> 2: rises from the initial 1 at once
        (10, 95, 36),  # (3 + 2*3)/3 = 3.00 -> 3: crosses level 3, escalates at once
        (15, 95, 30),  # 2.33 -> 2: lower for 0 min, no change
        (40, 95, 30),  # 2.33 -> 2: lower for 25 min, no change
        (42, 95, 36),  # 3.00 -> 3: back at 3, the hold starts again
        (50, 70, 30),  # (2 + 2*2)/3 = 2.00 -> 2: lower since minute 50
        (79, 70, 30),  # 2: 29 min, still no change
        (80, 70, 30),  # 2: 30 min = hold period: de-escalates to 2
        (81, 70, 30),  # 2: already 2, no change
    ]
    changes = []
    for minute, queue, breach in readings:
        level = score_service(ED, {"queue_length": queue, "four_hour_breach_pct": breach}).level
        assert level is not None
        change = ed.observe(level, minutes(minute))
        if change is not None:
            changes.append((change.from_level, change.to_level, change.at))
    assert changes == [(1, 2, minutes(0)), (2, 3, minutes(10)), (3, 2, minutes(80))]
    assert ed.level == 2


# --- configuration ------------------------------------------------------------------------------


def test_the_shipped_catalogue_is_scorable() -> None:
    assert check_thresholds(load_catalogue(LEEDS)) == []


def test_the_indicator_catalogue_covers_the_spec_indicators() -> None:
    spec = {
        "queue_length",
        "longest_wait_hours",
        "delayed_count",
        "lost_bed_days",
        "occupancy_pct",
        "four_hour_breach_pct",
        "open_assessments",
    }
    assert spec <= KNOWN_INDICATORS


def test_an_unknown_indicator_is_refused_naming_service_and_indicator() -> None:
    problems = check_thresholds(
        catalogue(
            service(
                "lth-ed", "acute_front_door", queue_lenght=Threshold(level2=1, level3=2, level4=3)
            )
        )
    )
    assert len(problems) == 1
    assert problems[0].startswith("service 'lth-ed': unknown indicator 'queue_lenght'")
    assert "queue_length" in problems[0]  # lists what is known


def test_an_indicator_of_another_kind_is_refused() -> None:
    problems = check_thresholds(
        catalogue(
            service(
                "lth-ed", "acute_front_door", occupancy_pct=Threshold(level2=1, level3=2, level4=3)
            )
        )
    )
    assert (
        problems == [problems[0]]
        and "indicator 'occupancy_pct' is not measured for a acute_front_door service"
        in problems[0]
    )


def test_a_threshold_on_the_delayed_days_the_service_does_not_count_is_refused() -> None:
    """A service's delays lose bed days only if its capacity is in beds; otherwise they are
    days delayed at home. A threshold on the other name would never score: refused, naming
    the figure the service has."""
    days = Threshold(level2=5, level3=10, level4=20)
    reablement = service("lcc-reablement", "reablement", lost_bed_days=days)
    at_home = reablement.model_copy(update={"capacity_unit": CapacityUnit.HOURS})
    wards = service("lth-wards", "acute_inpatient", delayed_days_home_based=days)
    problems = check_thresholds(catalogue(at_home, wards))
    assert problems == [
        "service 'lcc-reablement': 'lost_bed_days' is never a figure of a service whose "
        "capacity is in hours; its delayed days are 'delayed_days_home_based'",
        "service 'lth-wards': 'delayed_days_home_based' is never a figure of a service whose "
        "capacity is in beds; its delayed days are 'lost_bed_days'",
    ]
    fitting = reablement.model_copy(
        update={
            "capacity_unit": CapacityUnit.HOURS,
            "thresholds": {"delayed_days_home_based": days},
        }
    )
    assert (
        check_thresholds(catalogue(fitting, service("w", "acute_inpatient", lost_bed_days=days)))
        == []
    )


def test_thresholds_against_the_indicator_direction_are_refused() -> None:
    # The schema refuses falling thresholds today; these are built past it, as an admin's
    # run-time change or a relaxed schema could produce them.
    falling = Threshold.model_construct(level2=90, level3=80, level4=95, weight=1)
    rising_for_falling = Threshold.model_construct(level2=60, level3=70, level4=80, weight=1)
    beds = Service.model_construct(
        id="lch-community-beds",
        name="Community beds",
        organisation="RY6",
        kind=ServiceKind.SHORT_TERM_BEDS,
        capacity_unit=CapacityUnit.BEDS,
        thresholds={"occupancy_pct": falling, "discharged_home_pct": rising_for_falling},
    )
    unchecked = Catalogue.model_construct(system="test", organisations=[], services=[beds])
    assert check_thresholds(unchecked) == [
        "service 'lch-community-beds', indicator 'discharged_home_pct': lower is worse, so "
        "thresholds must fall level2 to level4: 60, 70, 80",
        "service 'lch-community-beds', indicator 'occupancy_pct': higher is worse, so "
        "thresholds must rise level2 to level4: 90, 80, 95",
    ]


def test_weights_that_do_not_sum_sensibly_are_refused() -> None:
    lopsided = service(
        "lth-wards",
        "acute_inpatient",
        occupancy_pct=Threshold(level2=92, level3=95, level4=98, weight=500),
        delayed_count=Threshold(level2=150, level3=200, level4=250, weight=1),
    )
    endless = service(
        "lth-ed",
        "acute_front_door",
        queue_length=Threshold(level2=60, level3=90, level4=120, weight=float("inf")),
    )
    problems = check_thresholds(catalogue(lopsided, endless))
    assert problems == [
        "service 'lth-wards': indicator 'occupancy_pct' weighs 500, more than 100 times "
        "indicator 'delayed_count' (1), which would barely count",
        "service 'lth-ed': indicator 'queue_length': weight must be a positive finite number, "
        "got inf",
    ]


def test_bad_cut_offs_and_system_weights_are_refused() -> None:
    problems = check_thresholds(
        catalogue(ED), Cutoffs(2.5, 1.5, 3.5), service_weights={"lth-ed": 0, "nowhere": 1}
    )
    assert problems == [
        "OPEL cut-offs must rise strictly within (1, 4], got 2.5, 1.5, 3.5",
        "system weights: service 'nowhere' is not in the catalogue",
        "system weights: service 'lth-ed': weight must be a positive finite number, got 0",
    ]


def test_a_service_may_not_take_the_system_scope() -> None:
    problems = check_thresholds(catalogue(service("system", "ucr")))
    assert problems == ["service 'system': the id 'system' is reserved for the system level"]


def test_require_valid_lists_every_problem_in_one_error() -> None:
    bad = service("lth-ed", "acute_front_door", bogus=Threshold(level2=1, level3=2, level4=3))
    with pytest.raises(PressureConfigError) as raised:
        require_valid(catalogue(bad), Cutoffs(1, 2, 3))
    message = str(raised.value)
    assert message.startswith("pressure thresholds cannot be used:\n  - OPEL cut-offs")
    assert "\n  - service 'lth-ed': unknown indicator 'bogus'" in message
    require_valid(catalogue(ED))  # a good catalogue passes


def test_scoring_an_unchecked_unknown_indicator_names_it() -> None:
    bad = service("lth-ed", "acute_front_door", bogus=Threshold(level2=1, level3=2, level4=3))
    with pytest.raises(ValueError, match="service 'lth-ed': unknown indicator 'bogus'"):
        score_service(bad, {"bogus": 3})
