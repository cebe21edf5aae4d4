"""What mapping one HL7 v2 message gives: events to publish, or nothing that changes the flow.

Its own module so that a trigger mapped outside `mapping` (`swap`) can build and join them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Mapped:
    """Contract events to validate and publish, in order, and what was let through.

    `times`: the HL7 field each of their times was read from, by its ISO text (`fields.Reading`),
    for a refusal of one to name where the sender keyed it."""

    events: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    times: dict[str, str] = field(default_factory=dict)

    @property
    def event(self) -> dict[str, Any]:
        """The first event (most messages become exactly one)."""
        return self.events[0]


@dataclass(frozen=True, slots=True)
class NoChange:
    """A message understood and acknowledged that changes nothing flowsight tracks.

    `kind` (a bounded metric label): `no_flow_change`, `not_taken`, `not_in_a_bed`, `same_place`.
    """

    why: str
    kind: str = "no_flow_change"
    warnings: list[str] = field(default_factory=list)
