"""`bench scale`: the pipeline with 1, 2 and 4 partitions and as many workers, each against the
raw aiokafka rate of its own topics and the single worker's rate of the same run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowsight.devtools.bench.harness import Advance, machine_load, stage
from flowsight.devtools.bench.pipeline import PipelineRun, run_pipeline
from flowsight.devtools.bench.report import Report, rate


async def bench_scale(
    bootstrap: str,
    directory: Path,
    events: list[dict[str, Any]],
    widths: list[int],
    database_url: str | None,
    on_commit: Advance | None = None,
) -> Report:
    """One stage per width: `width` partitions per topic, `width` workers in one group."""
    runs: list[PipelineRun] = []
    for width in widths:
        with stage(bootstrap, directory / f"width-{width}", database_url, partitions=width) as fs:
            runs.append(await run_pipeline(fs, events, workers=width, on_commit=on_commit))
    return scale_report(runs, "PostgreSQL" if database_url else "SQLite")


def scale_report(runs: list[PipelineRun], database: str) -> Report:
    """The printed result of `bench scale`."""
    first = runs[0]
    report = Report(
        f"scale: {first.events:,} simulated events per run, {database}; {machine_load()}"
    )
    for run in runs:
        width = f"{run.partitions} partition(s), {run.workers} worker(s)"
        report.figure(f"baseline {width}: aiokafka", rate(run.events, run.raw_seconds))
        report.figure(f"pipeline {width}", rate(run.events, run.wall_seconds - run.startup_seconds))
    for run in runs[1:]:
        if run.timed and first.timed:
            report.ratio(f"{run.workers} workers / 1 worker", run.rate / first.rate)
    for run in runs:
        if run.timed:
            report.ratio(f"{run.workers} worker(s) / raw aiokafka", run.rate / run.raw_rate)
    return report
