"""The worker's gauges of a service's figures, as Prometheus scrapes them."""

from __future__ import annotations

from flowsight.streams.metrics import WorkerMetrics


def test_delayed_days_go_to_the_gauge_of_the_figure_the_service_has() -> None:
    """A ward's delays lose bed days; a reablement service's wait at home and lose none: each
    is on its own gauge, and the reablement service shows no lost bed days, not a zero."""
    metrics = WorkerMetrics()
    metrics.publish_service_figures("lth-wards", {"delayed_count": 2, "lost_bed_days": 5})
    metrics.publish_service_figures(
        "lcc-reablement", {"delayed_count": 1, "delayed_days_home_based": 3}
    )
    value = metrics.registry.get_sample_value
    assert value("flowsight_lost_bed_days", {"service": "lth-wards"}) == 5
    assert value("flowsight_delayed_days_home_based", {"service": "lcc-reablement"}) == 3
    assert value("flowsight_lost_bed_days", {"service": "lcc-reablement"}) is None
    assert value("flowsight_delayed_days_home_based", {"service": "lth-wards"}) is None
    assert value("flowsight_delayed_patients", {"service": "lcc-reablement"}) == 1


def test_a_scope_scored_with_no_level_has_no_opel_sample() -> None:
    """A service scored at OPEL 3 whose figures then give nothing to score is not scored: its
    gauge goes, rather than reading 3 (or 1) for as long as it has no level."""
    metrics = WorkerMetrics()
    value = metrics.registry.get_sample_value
    metrics.publish_pressure("lch-ucr", 3, 2.75)
    assert value("flowsight_opel_level", {"scope": "lch-ucr"}) == 3
    assert value("flowsight_pressure_score", {"scope": "lch-ucr"}) == 2.75

    metrics.publish_pressure("lch-ucr", None, None)

    assert value("flowsight_opel_level", {"scope": "lch-ucr"}) is None
    assert value("flowsight_pressure_score", {"scope": "lch-ucr"}) is None
    metrics.publish_pressure("system", None, None)  # never scored: nothing to remove
    assert value("flowsight_opel_level", {"scope": "system"}) is None
