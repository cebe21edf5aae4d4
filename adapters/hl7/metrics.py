"""The MLLP listener's Prometheus metrics, in the registry it is given."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from flowsight.adapters.hl7.limits import CLOSED_WHY


class ListenerMetrics:
    """Messages by trigger and outcome, framing errors, connections and why they were closed."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "flowsight_hl7_messages",
            "HL7 v2 messages received over MLLP, by trigger and outcome",
            ["trigger", "outcome"],
            registry=registry,
        )
        self.framing_errors = Counter(
            "flowsight_hl7_framing_errors",
            "MLLP bytes that were not a whole message: garbage, incomplete, oversize, empty",
            ["kind"],
            registry=registry,
        )
        self.ignored = Counter(
            "flowsight_hl7_ignored",
            "HL7 v2 messages acknowledged AA that change nothing, by why",
            ["why"],
            registry=registry,
        )
        self.unmatched_cancellations = Counter(
            "flowsight_hl7_unmatched_cancellations",
            "HL7 cancels (A11-A13) whose target this listener has not published since it started",
            registry=registry,
        )
        self.connections = Gauge(
            "flowsight_hl7_connections", "Open MLLP connections", registry=registry
        )
        self.closed = Counter(
            "flowsight_hl7_connections_closed",
            "MLLP connections refused or closed by a limit, by why: " + ", ".join(CLOSED_WHY),
            ["why"],
            registry=registry,
        )
