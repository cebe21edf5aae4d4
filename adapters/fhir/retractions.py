"""What a version of an Encounter retracts of what earlier versions of it said: everything
(entered-in-error, cancelled; a spell sent again as a visit that holds no bed), or the leaving a
version the patient has not left undoes. Pure: no I/O.

Each retraction is a cancellation timed `meta.lastUpdated`, never after flowsight received it
(`adapters/retraction.py`). Those that may name an event never sent carry `if_present` (contract
v1): a version back in-progress follows no discharge most of the time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from flowsight.adapters.fhir.elements import Note
from flowsight.adapters.fhir.snapshot import MappedEvent, Snapshot
from flowsight.adapters.fhir.stay import Stay
from flowsight.adapters.retraction import retraction_time

UPDATED = "Encounter.meta.lastUpdated"  # when the server recorded the version: recorded_at


def reopened(
    snapshot: Snapshot,
    now: datetime,
    suffix: str,
    stay: Stay,
    notes: list[Note],
    stated: datetime | None = None,
) -> list[MappedEvent]:
    """A dated version of an Encounter the patient has not left (in-progress, onleave; in the
    department) retracts the leaving (`suffix`) an earlier version may have said happened, if
    it did: a discharge cancelled (HL7's A13, FHIR-Converter's A13 sends the Encounter back
    in-progress). `if_present`, as most versions follow no such leaving; and only when dated,
    for the leaving said again in a later version is a new issue that takes effect.

    Dated is `meta.lastUpdated`, else `stated`, the Bundle's timestamp: FHIR-Converter sets no
    `meta.lastUpdated` but stamps its Bundle with the HL7 message's time (MSH-7)."""
    if "recorded_at" not in snapshot.common:
        if stated is None:
            return []
        common = {**snapshot.common, "recorded_at": stated.isoformat()}
        snapshot = replace(snapshot, common=common)
    return _retractions(snapshot, now, [(suffix, stay)], notes, if_present=True)


def cancellations(
    snapshot: Snapshot,
    now: datetime,
    in_department: list[Stay],
    notes: list[Note],
    *,
    if_present: bool = False,
) -> list[MappedEvent]:
    """Retract every event an earlier snapshot may have produced: its attendance (the part in
    `in_department`), admission, transfers and discharge."""
    targets: list[tuple[str, Stay]] = []
    if in_department:
        targets += [("attendance", in_department[0]), ("attendance:departure", in_department[0])]
        snapshot = replace(snapshot, stays=snapshot.stays[len(in_department) :])
    if snapshot.stays:
        targets += [
            ("admission", snapshot.stays[0]),
            *((suffix, previous) for suffix, previous, _ in snapshot.transfers()),
            ("discharge", snapshot.stays[-1]),
        ]
    return _retractions(snapshot, now, targets, notes, if_present=if_present)


def _retractions(
    snapshot: Snapshot,
    now: datetime,
    targets: list[tuple[str, Stay]],
    notes: list[Note],
    *,
    if_present: bool,
) -> list[MappedEvent]:
    """A cancellation of each (id suffix, stay) target, timed meta.lastUpdated, no later than
    now (`retraction_time`). Those `if_present` have ids of their own (`:withdrawn`): an
    entered-in-error version's `:cancelled` ones, which retract for certain, are other events."""
    said = snapshot.common.get("recorded_at")
    moment, ahead = retraction_time(datetime.fromisoformat(said) if said else now, now, UPDATED)
    notes.extend([Note(UPDATED, ahead)] if ahead else [])
    marker = {"if_present": True} if if_present else {}
    ending = "withdrawn" if if_present else "cancelled"
    return [
        snapshot.event(
            f"{suffix}:{ending}",
            "cancellation",
            stay,
            {
                "occurred_at": moment.isoformat(),
                "cancels_event_id": f"{snapshot.key}:{suffix}",
                **marker,
            },
            occurred_at=UPDATED,
            cancels_event_id="Encounter.status",
        )
        for suffix, stay in targets
    ]
