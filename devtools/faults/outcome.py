"""What one injected fault did, measured against an uninterrupted run of the same events, and the
table of every fault that `docs/reliability.md` shows."""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: A read model as `devtools.bench.replay.read_model` gives it: each table's rows, sorted.
Content = dict[str, list[tuple[Any, ...]]]


@dataclass
class Outcome:
    """One fault: how often it was injected and what the final read model and topics showed."""

    fault: str
    injected: int = 0
    #: The final figures equal the uninterrupted run's (None: not compared).
    identical: bool | None = None
    #: Read-model rows of the uninterrupted run missing after the fault (events lost).
    lost: int = 0
    #: Read-model rows beyond the uninterrupted run's (an event counted twice).
    applied_twice: int = 0
    alerts_delivered: int = 0
    #: Alerts a receiver got more than once under the same dedupe key.
    alerts_duplicated: int = 0
    #: Dead letters, one per original record, as `flowsight dlq` lists them.
    dead_letters: int = 0
    #: Originals `flowsight dlq` would list more than once (it lists each once: 0 unless broken).
    dead_letters_duplicated: int = 0
    #: Records on the dead-letter topic repeating an original (at-least-once redelivery).
    raw_dead_letter_repeats: int = 0
    seconds: float = 0.0
    #: Checks that failed, each a sentence; empty when the fault did no harm.
    problems: list[str] = field(default_factory=list)
    #: What else was seen (timings, answers while the fault lasted).
    notes: list[str] = field(default_factory=list)
    #: Why a failing case is not fixed yet, when the suite knows it (the row says it).
    known: str = ""

    @property
    def harmless(self) -> bool:
        """Nothing lost, nothing duplicated, figures identical and every check passed."""
        return (
            self.identical is not False
            and not (self.lost or self.applied_twice)
            and not (self.alerts_duplicated or self.dead_letters_duplicated)
            and not self.problems
        )

    def compare(self, baseline: Content, content: Content) -> None:
        """Record how `content` differs from the uninterrupted run's `baseline`, row by row."""
        self.identical = baseline == content
        for table, rows in baseline.items():
            want, got = Counter(rows), Counter(content.get(table, []))
            missing, extra = sum((want - got).values()), sum((got - want).values())
            self.lost += missing
            self.applied_twice += extra
            if missing or extra:
                said = f"{table}: {missing} row(s) of the uninterrupted run missing, {extra} extra"
                lost, added = sorted((want - got).elements()), sorted((got - want).elements())
                if lost and added:  # what the first pair differs in, to find the cause
                    said += f" (first: {_difference(lost[0], added[0])})"
                self.problems.append(said)

    def check(self, condition: bool, problem: str) -> None:
        """Record `problem` unless `condition` holds."""
        if not condition:
            self.problems.append(problem)

    def summary(self) -> str:
        """One line for a failing test's message."""
        state = "harmless" if self.harmless else "; ".join(self.problems) or "figures differ"
        return f"{self.fault}: {state} ({'; '.join(self.notes)})"


#: The most characters of a differing row a problem quotes.
DIFFERENCE_CHARS = 600


def _difference(lost: Sequence[str], added: Sequence[str]) -> str:
    """How a row of the uninterrupted run and the row found instead differ: the fields both
    share first, then each field that differs; a JSON field (a day's figures) by its keys."""
    same = [a for a, b in zip(lost, added, strict=False) if a == b][:2]
    changes = []
    for was, now in zip(lost, added, strict=False):
        if was == now:
            continue
        old, new = _figures(was), _figures(now)
        if old is not None and new is not None:
            changes += [
                f"{k}: {old.get(k)!r} -> {new.get(k)!r}"
                for k in sorted(old.keys() | new.keys())
                if old.get(k) != new.get(k)
            ]
        else:
            changes.append(f"{was} -> {now}")
    return (", ".join(same) + ": " + "; ".join(changes))[:DIFFERENCE_CHARS]


def _figures(field: str) -> dict[str, Any] | None:
    """A row's field (its repr) read back as a JSON object, or None."""
    try:
        value = ast.literal_eval(field)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, dict) else None


def _yes_no(value: bool | None) -> str:
    return "not compared" if value is None else ("yes" if value else "**NO**")


def _result(outcome: Outcome) -> str:
    if outcome.harmless:
        return "nothing lost, nothing duplicated"
    why = "; ".join(outcome.problems) or "the figures differ"
    return f"**NOT YET TRUE**: {why}" + (f" ({outcome.known})" if outcome.known else "")


def table(outcomes: Sequence[Outcome]) -> str:
    """The faults as a Markdown table, one row each."""
    lines = [
        "| fault | injected | figures identical | events lost | applied twice "
        "| alerts delivered (duplicated) | dead letters (duplicated; raw repeats on the topic) "
        "| result | seen |",
        "| --- | ---: | --- | ---: | ---: | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        cells = [
            o.fault,
            str(o.injected),
            _yes_no(o.identical),
            str(o.lost),
            str(o.applied_twice),
            f"{o.alerts_delivered} ({o.alerts_duplicated})",
            f"{o.dead_letters} ({o.dead_letters_duplicated}; {o.raw_dead_letter_repeats})",
            _result(o),
            "; ".join(o.notes),
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def write_report(
    path: Path, outcomes: Iterable[Outcome], *, how: str, seconds: float, context: str
) -> None:
    """Write `docs/reliability.md`: what was run, then the table."""
    rows = list(outcomes)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = f"""# Reliability: nothing lost, nothing doubled

Written by {how} ({when}; {seconds:.0f} s; {context}). Do not edit by hand: run it again.

Each fault is injected while the simulated city's events stream into an isolated flowsight (its
own topics, consumer group and read model, the worker and API as real processes on a real Kafka
broker). The final read model is then compared, table by table and row by row, with an
uninterrupted run of the same events (today's daily figures left out: they are as of the moment
each run last refreshed).

- **events lost**: rows of the uninterrupted run missing after the fault; **applied twice**: rows
  beyond it (an event counted twice shows as an extra stay, referral, delay or day's figure).
- **alerts**: escalations the worker delivered to a webhook receiver; duplicated = a dedupe key
  received more than once.
- **dead letters**: as `flowsight dlq list` shows them, one per original record (topic,
  partition, offset); duplicated = an original listed twice. A worker killed after dead-lettering
  a record but before committing its offset dead-letters it again on restart (delivery is at
  least once): those raw repeats on the topic are counted separately, never hidden.

How the faults are made, and what a row can and cannot show:

- Every stage runs with a lateness window longer than the simulated period (the census reaches
  two months back). Lateness is measured per source episode, whose order Kafka keeps, so the
  default 7 days would refuse the same events in any read order (docs/decisions.md); but the
  duplication stage shuffles deliveries, an episode's events among them, and with 7 days a
  shuffled event could be refused where the uninterrupted run took it: the rows would then show
  the window working, not a fault losing something.
- `kill -9`: each kill comes a random moment (up to 1.5 s) after the (re)started worker was seen
  processing, while the events keep streaming; "restart to processing" is how long a restarted
  worker took to process again (it waits out the killed member's 10 s session unless the group
  uses static membership).
- The broker outage uses a broker of its own (stopping the shared one would break everything
  else); "away" counts from the stop until the restarted broker answered.
- The SQLite outage is another connection holding an exclusive transaction for longer than the
  30 s busy timeout, so the sink's writes fail and are retried rather than merely wait. In WAL
  mode a writer's lock does not block readers, so the API goes on answering from the last
  committed state (200); a refusal would be a 503 problem, never a 500. `flowsight soak
  --postgres` stops the PostgreSQL cluster instead, where the API must answer 503.

{table(rows)}
"""
    path.write_text(text)
