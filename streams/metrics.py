"""The worker's Prometheus metrics. Labels are bounded: event types, reasons, service ids."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class WorkerMetrics:
    """Metrics of one worker, in their own registry so tests and processes do not share counts."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.events = Counter(
            "flowsight_events",
            "Events the validator and the state agent handled, by type and outcome.",
            ["event_type", "outcome"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "flowsight_dead_letters",
            "Events sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.queue_length = Gauge(
            "flowsight_queue_length",
            "Patients waiting for each service (open referral, not yet admitted).",
            ["service"],
            registry=self.registry,
        )
        self.sink_seconds = Histogram(
            "flowsight_sink_batch_seconds",
            "Time to write one batch of state changes to the read model.",
            registry=self.registry,
        )
        self.sink_batch_size = Histogram(
            "flowsight_sink_batch_events",
            "Events in one batch written to the read model.",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 5000),
            registry=self.registry,
        )
