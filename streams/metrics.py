"""The worker's Prometheus metrics. Labels are bounded: event types, reasons, service ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class WorkerMetrics:
    """Metrics of one worker, in their own registry so tests and processes do not share counts."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self._anomaly_kinds_seen: set[str] = set()
        self.validated = Counter(
            "flowsight_events_validated",
            "Published events the validator checked, by type and outcome (valid, dead_lettered).",
            ["event_type", "outcome"],
            registry=self.registry,
        )
        self.applied = Counter(
            "flowsight_events_applied",
            "Validated events the state agent handled, by type and outcome "
            "(applied, duplicate, event_id_reused, too_late, superseded, failed, moved).",
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
            "Each service's queue: waiting referrals; a front door's patients in the "
            "department; a transfer-of-care hub's open assessments.",
            ["service"],
            registry=self.registry,
        )
        self.sink_seconds = Histogram(
            "flowsight_sink_batch_seconds",
            "Time to write one batch of state changes to the read model.",
            registry=self.registry,
        )
        self.refresh_seconds = Histogram(
            "flowsight_refresh_seconds",
            "Time one refresh of the daily figures and pressure held the read model (its sends "
            "to Kafka not counted); a change shows in pressure about two refreshes later.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.rescore_seconds = Histogram(
            "flowsight_rescore_seconds",
            "Time one rescore of pressure took: a capacity report scored on the last refresh's "
            "figures at once, without waiting for the next refresh.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.sink_retries = Counter(
            "flowsight_sink_retries",
            "Read-model writes that failed and were retried (the database was unavailable).",
            registry=self.registry,
        )
        self.delayed = Gauge(
            "flowsight_delayed_patients",
            "Patients with no criteria to reside still in a bed of the service.",
            ["service"],
            registry=self.registry,
        )
        self.lost_bed_days = Gauge(
            "flowsight_lost_bed_days",
            "Lost bed days of the service's current delays (midnights since ready to go); "
            "bed-based services only.",
            ["service"],
            registry=self.registry,
        )
        self.delayed_days_home_based = Gauge(
            "flowsight_delayed_days_home_based",
            "Days the current delays of a service without beds have waited (midnights since "
            "ready to move on): no bed is lost.",
            ["service"],
            registry=self.registry,
        )
        self.opel_level = Gauge(
            "flowsight_opel_level",
            "OPEL level (1 steady to 4 extreme) flowsight publishes now for each service and "
            "the system, as the API and alerts give it (a fall waits out the hold period); no "
            "sample for a scope with no published level (not scored, or held behind a backlog).",
            ["scope"],
            registry=self.registry,
        )
        self.pressure_score = Gauge(
            "flowsight_pressure_score",
            "Weighted mean of indicator levels of each scope's latest score (before the hold "
            "period that delays a fall of its published OPEL level).",
            ["scope"],
            registry=self.registry,
        )
        self.anomalies = Gauge(
            "flowsight_anomalies",
            "Events that do not fit the journey as known, not yet reconciled, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.sink_failures = Counter(
            "flowsight_sink_failures",
            "Patients whose rows the read model refused (not an outage); written again later.",
            registry=self.registry,
        )
        self.sink_batch_size = Histogram(
            "flowsight_sink_batch_events",
            "Events in one batch written to the read model.",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
            registry=self.registry,
        )
        self.processing_latency = Histogram(
            "flowsight_processing_latency_seconds",
            "Seconds from an event's arrival on the events topic (its record timestamp) to its "
            "patient's or service's state written to the read model.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "flowsight_consumer_lag",
            "Records published to a topic the worker reads and not yet committed by it, "
            "as the broker reports them.",
            ["topic"],
            registry=self.registry,
        )
        # Data lifecycle and state sizes (streams/tasks/purge.py, streams/tasks/sizes.py).
        self.purged_patients = Counter(
            "flowsight_purged_patients",
            "Patients purged from the worker's state and the read model (retention passed).",
            registry=self.registry,
        )
        self.purge_rounds = Counter(
            "flowsight_purge_rounds",
            "Purge rounds the worker finished.",
            registry=self.registry,
        )
        self.silent_open_journeys = Gauge(
            "flowsight_silent_open_journeys",
            "Journeys of this worker's partitions with something open and no event for longer "
            "than the retention (a discharge likely never sent); kept, not purged.",
            registry=self.registry,
        )
        self.readmodel_rows = Gauge(
            "flowsight_readmodel_rows",
            "Rows in each read-model table.",
            ["table"],
            registry=self.registry,
        )
        self.state_entries = Gauge(
            "flowsight_state_entries",
            "Entries in each Faust table, for the partitions this worker holds.",
            ["table"],
            registry=self.registry,
        )

    def publish_pressure(self, scope: str, level: int | None, score: float | None) -> None:
        """Set the OPEL gauges of a scope (a service, or "system"). A scope scored with no level
        (nothing to score) has no sample: its last level kept would read as its level now."""
        for gauge, value in ((self.opel_level, level), (self.pressure_score, score)):
            if value is None:
                gauge.remove(scope)
            else:
                gauge.labels(scope).set(value)

    def publish_service_figures(self, service: str, figures: dict[str, Any]) -> None:
        """Set the service gauges from today's figures."""
        self.delayed.labels(service).set(figures.get("delayed_count") or 0)
        for figure, gauge in (
            ("lost_bed_days", self.lost_bed_days),
            ("delayed_days_home_based", self.delayed_days_home_based),
        ):
            if figure in figures:  # a service has one of the two, by its capacity unit
                gauge.labels(service).set(figures[figure] or 0)

    def publish_anomalies(self, counts: list[dict[str, Any]]) -> None:
        """Set the anomaly gauge from counts by service and kind."""
        by_kind: dict[str, int] = {}
        for row in counts:
            by_kind[row["kind"]] = by_kind.get(row["kind"], 0) + row["count"]
        # Kinds seen before and now reconciled drop to zero rather than keep a stale count.
        self._anomaly_kinds_seen |= set(by_kind)
        for kind in self._anomaly_kinds_seen:
            self.anomalies.labels(kind).set(by_kind.get(kind, 0))
