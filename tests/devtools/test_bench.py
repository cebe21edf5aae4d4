"""`flowsight bench`: each benchmark runs at the smallest size that still goes through its code
path (a worker, a baseline, the figures) and prints figures and a ratio.

No timing is asserted: the figures depend on the machine. The broker is the test session's.
"""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from flowsight.cli import app
from flowsight.devtools.bench.report import UNTIMED

RATIO = re.compile(r"^(\s*ratio .+: \d+\.\d{3} \(|core / baseline throughput: \d+\.\d\d$)", re.M)
FIGURE = re.compile(r"\d[\d,]*(\.\d+)? (/s|ms|s|req/s|events/s)\b")


def bench(*arguments: str) -> str:
    """Run `flowsight bench ...`; its output, once it succeeded."""
    result = CliRunner().invoke(app, ["bench", *arguments], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def assert_measured(output: str) -> None:
    assert FIGURE.search(output), output
    assert RATIO.search(output), output


def test_core_prints_both_rates_and_their_ratio() -> None:
    output = bench("core", "--days", "1", "--volume", "0.2", "--repeat", "1")
    assert "baseline: decode + group by patient" in output
    assert_measured(output)


@pytest.mark.integration
def test_pipeline_prints_worker_and_raw_consumer_rates(kafka_bootstrap: str) -> None:
    output = bench("pipeline", "--events", "100", "--bootstrap", kafka_bootstrap)
    assert "baseline: aiokafka read + decode" in output
    assert "baseline: faust agent doing nothing" in output
    assert "target ≥ 25,000 events/s" in output
    assert_measured(output)


@pytest.mark.integration
def test_freshness_prints_pressure_and_stream_latencies(kafka_bootstrap: str) -> None:
    output = bench(
        "freshness", "--rate", "50", "--seconds", "2", "--probe-every", "1", "--volume", "0.05",
        "--bootstrap", kafka_bootstrap,
    )  # fmt: skip
    assert "send → GET /v1/pressure" in output
    assert "send → /v1/stream" in output
    # A twentieth of a city's census, taken in before the flow.
    census = re.search(r"census taken in first \(a live system's state\) +([\d,]+) events", output)
    assert census and 100 < int(census[1].replace(",", "")) < 1_000, output
    refreshes = re.search(r"worker's refreshes \(figures, pressure\) +(\d+), mean (\d+) ms", output)
    assert refreshes and int(refreshes[1]) >= 1, output  # the probes were scored by refreshes
    writes = re.search(r"batches written to the read model +(\d+), mean (\d+) ms", output)
    assert writes and int(writes[1]) >= 1, output  # the probes reached the read model in batches
    # Rescores are counted (none while the worker is still behind the census on a busy host).
    assert re.search(r"worker's rescores \(a capacity report, at once\) +(\d+, mean|none)", output)
    # Every probe, the empty ward's too, is a report the validator accepts and hands on.
    validated = re.search(r"send → validator's record .*\((\d+) of (\d+) seen\)", output)
    assert validated and validated[1] == validated[2], output
    # The slowest probe is taken apart, stage by stage, to say where its time went.
    assert re.search(r"the slowest probe \(no\. \d+\), its stages +acked \d+, validated", output)
    assert_measured(output)


@pytest.mark.integration
def test_api_prints_each_endpoint_against_healthz(kafka_bootstrap: str) -> None:
    output = bench(
        "api", "--requests", "20", "--seconds", "1", "--concurrency", "2", "--events", "100",
        "--bootstrap", kafka_bootstrap,
    )  # fmt: skip
    assert "baseline: GET /healthz" in output
    assert "GET /v1/pressure" in output
    assert_measured(output)


@pytest.mark.integration
def test_recovery_prints_killed_against_clean_restart(kafka_bootstrap: str) -> None:
    output = bench("recovery", "--events", "100", "--backlog", "20", "--bootstrap", kafka_bootstrap)
    assert "kill -9" in output and "baseline: SIGTERM" in output
    assert_measured(output)


@pytest.mark.integration
def test_replay_prints_rate_and_compares_with_the_live_build(kafka_bootstrap: str) -> None:
    output = bench("replay", "--days", "0.1", "--volume", "0.03", "--bootstrap", kafka_bootstrap)
    assert "read model compared" in output
    assert "read model on SQLite" in output
    assert_measured(output)


@pytest.mark.integration
def test_scale_prints_a_rate_per_width(kafka_bootstrap: str) -> None:
    output = bench("scale", "--events", "100", "--widths", "1", "--bootstrap", kafka_bootstrap)
    (line,) = [x for x in output.splitlines() if "pipeline 1 partition(s), 1 worker(s)" in x]
    assert FIGURE.search(output), output  # the baseline's rate
    # 100 events may all be in the worker's first commit: then there is no span to time, and
    # the width says so rather than printing a rate and ratios of nothing
    # (tests/devtools/test_pipeline_report.py).
    if UNTIMED in line:
        assert "ratio" not in output, output
    else:
        assert FIGURE.search(line), output
        assert RATIO.search(output), output
