"""One place of an Encounter's history, a `Stay`, and the stays in the order the patient was
at them, each within the Encounter's period. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from fhir.resources.R4B.period import Period

from flowsight.adapters.fhir.elements import Note, instant
from flowsight.services.validation import INVALID_FIELD, Refused


@dataclass(frozen=True, slots=True)
class Stay:
    """One location of the Encounter's history: where (service, unit) and since when."""

    index: int  # in Encounter.location
    ordinal: int  # among the locations the patient has been at: what names a transfer
    service: str
    unit: str | None
    unit_element: str  # where the unit's name was read: a Location's name, or a display
    start: datetime | None
    left: bool = False  # status completed: the patient is no longer there
    # The entry whose period.start `start` is, when another level of the place than `index`
    # gave it (a ward listed without a period beside its timed room and bed).
    dated_by: int | None = None
    end: datetime | None = None  # period.end: when the patient left it
    left_from: int | None = None  # the stay before, whose period.end `start` is (`moves.py`)
    by_default: bool = False  # placed by the profile's default service: no rule knows the place

    @property
    def start_element(self) -> str:
        """The element `start` was read from."""
        if self.left_from is not None:
            return f"Encounter.location[{self.left_from}].period.end"
        index = self.index if self.dated_by is None else self.dated_by
        return f"Encounter.location[{index}].period.start"


#: How far before the Encounter a location may begin and be read as beginning with it.
_MINUTE = timedelta(minutes=1)


def in_time_order(found: list[Stay], period: Period | None, notes: list[Note]) -> list[Stay]:
    """The stays by when they began, each within the Encounter's period.

    FHIR does not order `Encounter.location`, and some senders list the newest first: when
    every stay has a start they are sorted by it (a stable sort, so a history already in order
    keeps its transfers' ids). A stay that begins before the Encounter, after it ended, or
    (when some starts are missing) before the stay listed ahead of it, is refused: published,
    its transfer would be replayed before the admission or after the discharge and leave the
    patient in a bed for good. One that begins less than a minute before the Encounter (Epic
    and Cerner keep a location's time to the minute, the Encounter's to the second) begins
    with it, with a note: refused, the whole stay was lost for a truncated time.

    Without a start for every stay, those the patient has left (`completed`: R4 forbids it for
    the current location) come first, as listed among themselves: HL7's V2-to-FHIR IG lists
    PV1-6, the prior location, completed after PV1-3, the current one."""
    starts = {stay.index: stay.start for stay in found if instant(stay.start)}
    if len(starts) == len(found):
        ordered = sorted(found, key=lambda stay: starts[stay.index])
    else:
        ordered = sorted(found, key=lambda stay: not stay.left)
    found = [replace(stay, ordinal=ordinal) for ordinal, stay in enumerate(ordered)]
    begins, ends = (period.start, period.end) if period else (None, None)
    latest: tuple[int, datetime] | None = None  # the stay listed last so far, and its start
    for place, stay in enumerate(found):
        start = starts.get(stay.index)
        if start is None:
            continue
        if instant(begins) and begins - _MINUTE < start < begins:
            notes.append(
                Note(
                    stay.start_element,
                    f"{start.isoformat()} is before Encounter.period.start "
                    f"({begins.isoformat()}): the stay is read as beginning with the Encounter",
                )
            )
            found[place] = replace(stay, start=begins)
            latest = stay.index, begins
            continue
        if instant(begins) and start < begins:
            why = f"before the Encounter's start, Encounter.period.start ({begins.isoformat()})"
        elif instant(ends) and start > ends:
            why = f"after the Encounter's end, Encounter.period.end ({ends.isoformat()})"
        elif latest is not None and start < latest[1]:
            why = f"before that of Encounter.location[{latest[0]}], listed ahead of it"
        else:
            latest = stay.index, start
            continue
        element = stay.start_element
        raise Refused(
            INVALID_FIELD,
            element,
            f"{element} ({start.isoformat()}) is {why}: each location the patient has been at "
            "begins within the Encounter",
        )
    return found
