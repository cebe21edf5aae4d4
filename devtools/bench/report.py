"""What a benchmark prints: its figures, its ratio to the same run's baseline, its targets."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile (0..1) of `values`, nearest rank; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(values: list[float]) -> float:
    """The median of `values`; NaN when there are none."""
    return statistics.median(values) if values else float("nan")


@dataclass(frozen=True)
class Target:
    """A target of issue 14 and whether this run met it."""

    wanted: str
    measured: str
    #: None: the run could not tell (`measured` says why).
    met: bool | None

    def line(self) -> str:
        said = "not shown" if self.met is None else "met" if self.met else "MISSED"
        return f"target {self.wanted}: {said} ({self.measured})"


@dataclass
class Report:
    """One benchmark's result: figure lines, the ratio against its baseline, targets."""

    title: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    ratios: list[tuple[str, float]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def figure(self, name: str, value: str) -> None:
        self.figures.append((name, value))

    def ratio(self, name: str, value: float) -> None:
        self.ratios.append((name, value))

    def target(self, wanted: str, measured: str, met: bool | None) -> None:
        self.targets.append(Target(wanted, measured, met))

    def lines(self) -> list[str]:
        """The report as printed, one figure, ratio or target a line."""
        width = max((len(name) for name, _ in self.figures), default=0)
        out = [self.title]
        out += [f"  {name:<{width}}  {value}" for name, value in self.figures]
        out += [f"  ratio {name}: {value:.3f} ({value:.1%})" for name, value in self.ratios]
        out += [f"  {target.line()}" for target in self.targets]
        out += [f"  note: {note}" for note in self.notes]
        return out


#: What a rate line says of a span too short to time.
UNTIMED = "too few events to time (all done at the first look)"


def rate(count: float, seconds: float) -> str:
    """A throughput, for a figure line; `UNTIMED` for a span of no time (a backlog smaller than
    what the first commit or poll already took)."""
    if seconds <= 0:
        return UNTIMED
    return f"{count / seconds:>12,.0f} /s   ({count:,.0f} in {seconds:.2f} s)"
