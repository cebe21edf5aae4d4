"""The heap of a long-lived flowsight process (the worker, the API), once it is loaded.

CPython's cyclic collector walks every object it tracks at each full collection. What a process
loads before it serves (modules, classes, the app, its routes and models: ~170,000 objects in
the worker) lives as long as the process, yet every full collection walked it again: in the
worker one took 180 to 280 ms of CPU, a stall of the agents' loop every ~2 s under load, and the
collector ~14 % of the worker's CPU (docs/benchmarks.md, tenth round). So once loaded:

- everything alive is moved out of the collector's reach (`gc.freeze`);
- the youngest generation is collected every YOUNG_THRESHOLD new containers rather than 700,
  so the short-lived objects of a batch or a request die young instead of being promoted and
  walked again. Full collections still come as CPython decides (when the old generation has
  grown by a quarter), so cyclic garbage is still reclaimed.

`watch_heap` publishes the collector's figures with the process's metrics.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, GCCollector, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

#: New container objects between two collections of the youngest generation (CPython: 700).
YOUNG_THRESHOLD = 10_000
#: Collections of a generation between two of the next (CPython's own).
OLDER_THRESHOLD = 10


def settle_heap() -> None:
    """Collect what loading left behind, then keep everything alive now out of the collector's
    reach; collect the youngest generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, OLDER_THRESHOLD, OLDER_THRESHOLD)


class _Frozen(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "flowsight_frozen_objects",
            "Objects kept out of the cyclic collector's reach since start-up (gc.freeze)",
            value=gc.get_freeze_count(),
        )


def watch_heap(registry: CollectorRegistry) -> None:
    """Publish in `registry` the collector's counts (`python_gc_*`), the objects frozen at
    start-up and the process's CPU and memory (`process_*`)."""
    GCCollector(registry=registry)
    ProcessCollector(registry=registry)
    registry.register(_Frozen())
