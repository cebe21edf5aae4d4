"""A long-lived process's heap once loaded: what it loaded is out of the collector's reach."""

from __future__ import annotations

import json
import subprocess
import sys

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from flowsight.heap import YOUNG_THRESHOLD, watch_heap

# Run in a process of its own: freezing the test runner's heap would leak into other tests.
LOADED_WORKER = """
import gc, json
import flowsight.streams.app  # what the worker loads: faust, aiokafka, SQLAlchemy, the domain
from flowsight.heap import settle_heap
before = len(gc.get_objects())
settle_heap()
made_since = [[n] for n in range(1000)]  # what a batch makes once the worker runs
print(json.dumps({
    "before": before,
    "walked": len(gc.get_objects()),
    "frozen": gc.get_freeze_count(),
    "threshold": gc.get_threshold(),
}))
"""


def test_what_the_worker_loaded_is_not_walked_by_later_collections() -> None:
    run = subprocess.run(
        [sys.executable, "-c", LOADED_WORKER], capture_output=True, text=True, check=True
    )
    heap = json.loads(run.stdout)

    assert heap["before"] > 50_000  # modules, classes, functions
    assert heap["frozen"] >= heap["before"] * 0.9  # less what the first collection freed
    # A full collection now walks what was made since, not the whole process.
    assert heap["walked"] < 5_000
    assert heap["threshold"][0] == YOUNG_THRESHOLD


def test_the_metrics_show_the_frozen_objects_and_the_collector_s_counts() -> None:
    registry = CollectorRegistry()
    watch_heap(registry)

    families = {
        family.name: family
        for family in text_string_to_metric_families(generate_latest(registry).decode())
    }

    assert {"flowsight_frozen_objects", "python_gc_collections", "process_cpu_seconds"} <= set(
        families
    )
