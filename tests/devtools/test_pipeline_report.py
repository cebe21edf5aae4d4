"""What `bench pipeline` and `bench scale` print when the whole backlog was in the worker's first
commit: no span to time, so no rate, ratio or target met (a run of 100 events printed
"-4,761,905 /s" and "target ≥ 25,000 events/s: met (100,000,000,000)")."""

from __future__ import annotations

from dataclasses import replace

from flowsight.devtools.bench.pipeline import PipelineRun, pipeline_report
from flowsight.devtools.bench.scale import scale_report


def run(wall_seconds: float, startup_seconds: float) -> PipelineRun:
    return PipelineRun(
        events=100,
        workers=1,
        partitions=3,
        wall_seconds=wall_seconds,
        startup_seconds=startup_seconds,
        ingest_seconds=startup_seconds,
        raw_seconds=0.05,
        floor_rate=0.0,
        floor_per_cpu=0.0,
        worker_cpu=3.3,
        raw_cpu=0.01,
    )


def test_a_backlog_all_in_the_first_commit_is_not_timed_and_meets_no_target() -> None:
    printed = "\n".join(pipeline_report(run(3.93, 3.93), "SQLite").lines())

    assert "worker: first commit to all" in printed
    assert "too few events to time" in printed
    assert "-" not in printed.split("first commit to all", 1)[1].splitlines()[0]
    assert "met" not in printed.replace("not shown", "")
    assert "target ≥ 25,000 events/s: not shown (the first commit held every record" in printed
    assert "ratio worker / baseline:" not in printed


def test_a_timed_backlog_gets_its_rate_ratio_and_verdict() -> None:
    printed = "\n".join(pipeline_report(run(5.0, 4.0), "SQLite").lines())

    assert "100 /s   (100 in 1.00 s)" in printed
    assert "ratio worker / baseline: 0.050" in printed
    assert "target ≥ 25,000 events/s: MISSED (100)" in printed


def test_scale_leaves_out_the_ratios_of_an_untimed_width() -> None:
    wider = replace(run(6.0, 4.0), workers=2, partitions=2)
    printed = "\n".join(scale_report([run(3.0, 3.0), wider], "SQLite").lines())

    assert "too few events to time" in printed
    assert "2 workers / 1 worker" not in printed
    assert "ratio 1 worker(s) / raw aiokafka" not in printed
    assert "ratio 2 worker(s) / raw aiokafka: 0.025" in printed
