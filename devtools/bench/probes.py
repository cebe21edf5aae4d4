"""The probes of `bench freshness` (`freshness.py`) and what each view showed of them: a
probe is one capacity report of the probed service, and it is seen in a view once the view shows
the occupancy level it brings (the rules in `Probes.match`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flowsight.schemas.catalogue import Service

INDICATOR = "occupancy_pct"
#: The occupancy levels the two kinds of probe bring.
FULL, EMPTY = 4, 1


@dataclass
class Probe:
    """One capacity report sent, and when (wall-clock seconds) each stage and view had it."""

    open: int
    level: int
    sent: float
    acked: float = 0.0
    validated: float | None = None
    in_capacity: float | None = None
    refresh_began: float | None = None
    published: float | None = None
    in_pressure: float | None = None
    on_stream: float | None = None

    @property
    def occurred_at(self) -> str:
        return datetime.fromtimestamp(self.sent, UTC).isoformat()


@dataclass(frozen=True)
class Seen:
    """A view of the probed service's score: when seen, scored as of when, at which level; for
    a pressure record, when it was published."""

    at: float
    scored: float
    level: int | None
    published: float = 0.0


@dataclass
class Probes:
    """The probes of a run and what each view showed of the probed service."""

    service: Service
    sent: list[Probe] = field(default_factory=list)
    pressure: list[Seen] = field(default_factory=list)
    stream: list[Seen] = field(default_factory=list)
    records: list[Seen] = field(default_factory=list)
    ids: dict[str, Probe] = field(default_factory=dict)
    #: CPU seconds each process used from its start to the end of the offered events.
    cpu: dict[str, float] = field(default_factory=dict)
    #: The census taken in before the probes: its events, and the seconds it took.
    census: tuple[int, float] = (0, 0.0)
    #: The worker's refreshes of figures and pressure (its metrics), and their seconds in all.
    refreshes: tuple[float, float] = (0.0, 0.0)
    #: The tracker's batches written to the read model (its metrics), and their seconds in all.
    writes: tuple[float, float] = (0.0, 0.0)
    #: The worker's rescores of pressure on a capacity report (its metrics), and their seconds.
    rescores: tuple[float, float] = (0.0, 0.0)
    #: Probes the stream showed without an event: their score was the one it showed already.
    unrepeated: int = 0
    #: Why each connection to the stream (or a watcher) ended before the run did.
    stream_ends: list[str] = field(default_factory=list)

    def see_pressure(self, body: dict[str, Any], now: float) -> None:
        shown = next((s for s in body["services"] if s["id"] == self.service.id), None)
        if shown is None:
            return
        reported = (shown.get("capacity") or {}).get("as_of")
        if reported is not None:
            at = _seconds(reported)
            for probe in self.sent:
                if probe.in_capacity is None and abs(at - probe.sent) < 1e-5:
                    probe.in_capacity = now
        if shown.get("scored_at"):
            seen = Seen(now, _seconds(shown["scored_at"]), _level(shown.get("indicators")))
            self.pressure.append(seen)

    def see_score(self, body: dict[str, Any], now: float, published: float = 0.0) -> Seen | None:
        """A pressure record's or a stream event's score of the probed service."""
        if body.get("scope") != self.service.id or not body.get("as_of"):
            return None
        return Seen(now, _seconds(body["as_of"]), _level(body.get("indicators")), published)

    def match(self) -> None:
        """When each view first showed each probe (module docstring)."""
        self.unrepeated = 0
        for probe in self.sent:
            found = _first(probe, self.records)
            if found is not None:
                probe.refresh_began, probe.published = found.scored, found.published
            probe.in_pressure = _at(_first(probe, self.pressure))
            probe.on_stream = _at(_first(probe, self.stream))
            shown = [s.level for s in self.stream if found and s.at <= found.published]
            if probe.on_stream is None and shown and shown[-1] == probe.level:
                # Its score the stream already showed: the probe before it was never scored
                # (both came in one refresh), and the stream sends changes only.
                probe.on_stream = probe.published
                self.unrepeated += 1
        for name in ("refresh_began", "published", "in_pressure", "on_stream"):
            later: float | None = None
            for probe in reversed(self.sent):
                mine = getattr(probe, name)
                if later is not None and (mine is None or later < mine):
                    setattr(probe, name, later)
                later = getattr(probe, name)


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _level(indicators: Any) -> int | None:
    found = next((i for i in indicators or [] if i.get("name") == INDICATOR), None)
    return None if found is None else found.get("level")


def _first(probe: Probe, seen: list[Seen]) -> Seen | None:
    # Scored after the validator passed the probe on: a score from before it reached the read
    # model may show the same level (from the probe before the last).
    since = max(probe.sent, probe.validated or probe.sent)
    return next((s for s in seen if s.scored >= since and s.level == probe.level), None)


def _at(seen: Seen | None) -> float | None:
    return None if seen is None else seen.at
