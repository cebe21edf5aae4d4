"""The Grafana dashboard's queries are valid PromQL and every flowsight series they (and the
alerting rules) name is one flowsight exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.debian import ensure_program

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
RULES = ROOT / "deploy" / "prometheus" / "rules" / "flowsight.yml"
#: Where metrics are declared: the worker, the API, its gateways, alert delivery, the HL7 listener.
SOURCES = ("streams", "api", "adapters")
SERIES = re.compile(r"\bflowsight_[a-z_]+\b")
#: Grafana's variables, replaced by something Prometheus understands.
VARIABLES = {"$__rate_interval": "5m", "$service": ".*"}


def queries(dashboard: Path) -> list[str]:
    panels: list[dict[str, Any]] = json.loads(dashboard.read_text(encoding="utf-8"))["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def exported_series() -> set[str]:
    """Every series name flowsight's code declares, with the suffixes Prometheus adds."""
    declared = {
        name
        for folder in SOURCES
        for path in (ROOT / folder).rglob("*.py")
        for name in re.findall(r'"(flowsight_[a-z_]+)"', path.read_text(encoding="utf-8"))
    }
    suffixes = ("", "_total", "_bucket", "_count", "_sum", "_created")
    return {name + suffix for name in declared for suffix in suffixes}


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda path: path.name)
def test_dashboard_queries_are_valid_promql(dashboard: Path, tmp_path: Path) -> None:
    try:
        promtool = ensure_program("promtool", "prometheus")
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    expressions = queries(dashboard)
    for variable, value in VARIABLES.items():
        expressions = [expr.replace(variable, value) for expr in expressions]
    # promtool parses expressions only in rule files: each query becomes a recording rule.
    rules = [{"record": f"dashboard:query_{n}", "expr": e} for n, e in enumerate(expressions)]
    rule_file = tmp_path / "dashboard.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "q", "rules": rules}]}))
    done = subprocess.run(
        [promtool, "check", "rules", str(rule_file)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "where", [*DASHBOARDS, RULES], ids=lambda path: path.relative_to(ROOT).as_posix()
)
def test_every_series_queried_is_exported(where: Path) -> None:
    text = where.read_text(encoding="utf-8")
    named = set(SERIES.findall(text))
    assert named, f"{where} names no flowsight series"
    missing = named - exported_series()
    assert not missing, f"{where.name} queries series flowsight does not export: {missing}"


def test_dashboard_covers_lag_dead_letters_latency_and_deliveries() -> None:
    text = " ".join(expr for dashboard in DASHBOARDS for expr in queries(dashboard))
    for series in (
        "flowsight_consumer_lag",
        "flowsight_dead_letters_total",
        "flowsight_api_request_seconds_bucket",
        "flowsight_alert_deliveries_total",
    ):
        assert series in text, f"no panel shows {series}"


def test_dashboard_and_rules_cover_processing_latency_and_state_sizes() -> None:
    text = " ".join(expr for dashboard in DASHBOARDS for expr in queries(dashboard))
    rules = RULES.read_text(encoding="utf-8")
    for series in (
        "flowsight_processing_latency_seconds_bucket",
        "flowsight_readmodel_rows",
        "flowsight_state_entries",
        "flowsight_silent_open_journeys",
    ):
        assert series in text, f"no panel shows {series}"
    for series in ("flowsight_processing_latency_seconds_bucket", "flowsight_purge_rounds_total"):
        assert series in rules, f"no alerting rule watches {series}"
