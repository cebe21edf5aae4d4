"""Which of an Encounter's moves can be published: a move between locations is a transfer at the
`period.start` of the location moved into (else the `period.end` of the one left), and a move
nothing dates is left out, not the Encounter. Pure: no I/O.

HL7 v2 conversions (microsoft/FHIR-Converter, HL7's V2-to-FHIR IG) give no location a period:
PV1-3, where the patient is (`active`, `completed` once discharged), and PV1-6, the prior
location (`completed`), listed after it. Refused for want of the move's time, the admission
never reached the board, or the discharge was lost and the patient kept the bed for good. The
admission (Encounter.period.start) and the discharge (Encounter.period.end) are dated, so they
are published in the location the patient is in, with a warning naming the missing time.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

from fhir.resources.R4B.period import Period

from flowsight.adapters.fhir.elements import Note, instant
from flowsight.adapters.fhir.stay import Stay


def dated_moves(found: list[Stay], notes: list[Note], period: Period | None = None) -> list[Stay]:
    """`found` (in time order) when every move to another service or unit has its time; else
    the one stay the patient is in, the others left out, and a warning for each untimed move
    naming its `Encounter.location[n].period.start`. A move into a location without a start is
    dated by the `period.end` of the location before it, when that says when the patient left:
    the same moment, stated by the sender, if it is within the Encounter's `period`. No other
    time is made up for a move: guessed, a transfer would be replayed out of order and could
    leave the patient in a bed for good."""
    found = _dated_by_leaving(found, period)
    untimed = [
        stay
        for previous, stay in pairwise(found)
        if stay.start is None and (previous.service, previous.unit) != (stay.service, stay.unit)
    ]
    if not untimed:
        return found
    current = _where_the_patient_is(found)
    others = [f"Encounter.location[{s.index}]" for s in found if s is not current]
    left_out = f"{', '.join(others)} {'is' if len(others) == 1 else 'are'} left out"
    for stay in untimed:
        element = f"Encounter.location[{stay.index}].period.start"
        notes.append(
            Note(
                element,
                f"{element} is missing, and no period.end of the location before it says "
                "when the patient moved: the move into "
                f"Encounter.location[{stay.index}] is not published, and {left_out}. "
                f"The patient is placed in Encounter.location[{current.index}] "
                f"({current.service!r}), the location they are in, from the admission at "
                "Encounter.period.start until the discharge. Send each location's period.start "
                "for its transfers to be published",
            )
        )
    return [replace(current, ordinal=0)]


def _dated_by_leaving(found: list[Stay], period: Period | None) -> list[Stay]:
    """`found` with each stay that has no start dated by the end of the stay before it, when
    that end is an instant within the Encounter's period (a move after the discharge would
    reopen the stay)."""
    begins, ends = (period.start, period.end) if period else (None, None)
    dated = found[:1]
    for previous, stay in pairwise(found):
        left = previous.end
        if stay.start is None and instant(left):
            early = instant(begins) and left < begins
            late = instant(ends) and left > ends
            if not early and not late:
                stay = replace(stay, start=left, left_from=previous.index)
        dated.append(stay)
    return dated


def _where_the_patient_is(found: list[Stay]) -> Stay:
    """The location the patient is in: the last one read that they have not left (R4 forbids
    `completed` for the current location); when they have left every one (the Encounter
    finished), the first listed, as HL7 v2 conversions list PV1-3, where the discharge was
    from, ahead of PV1-6, the prior location."""
    if not found[-1].left:
        return found[-1]
    return min(found, key=lambda stay: stay.index)
