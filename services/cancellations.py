"""Cancellations: which of a patient's events are retracted, following chains of cancellations."""

from __future__ import annotations

from typing import Any


def cancelled_events(events: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """The events retracted by cancellations that are not themselves retracted."""
    retracted_by: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for event in events:
        if event["event_type"] == "cancellation":
            target = (event["source"], event["cancels_event_id"])
            retracted_by.setdefault(target, []).append((event["source"], event["event_id"]))
    if not retracted_by:
        return set()
    settled: dict[tuple[str, str], bool] = {}

    def is_cancelled(key: tuple[str, str], visiting: frozenset[tuple[str, str]]) -> bool:
        if key in settled:
            return settled[key]
        if key in visiting:  # a cancellation cycle, entered in error: it retracts nothing
            return False
        result = any(not is_cancelled(by, visiting | {key}) for by in retracted_by.get(key, ()))
        settled[key] = result
        return result

    return {key for key in retracted_by if is_cancelled(key, frozenset())}


def unmatched(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cancellations naming an event the journey does not hold: not arrived yet (it may
    come later, and is then retracted), refused, or never sent. Each is shown as an anomaly
    while so, rather than kept without a trace."""
    keys = {(event["source"], event["event_id"]) for event in events}
    return [
        event
        for event in events
        if event["event_type"] == "cancellation"
        and (event["source"], event["cancels_event_id"]) not in keys
    ]
