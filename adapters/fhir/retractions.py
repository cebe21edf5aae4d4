"""What a version of an Encounter retracts of what earlier versions of it said: everything
(entered-in-error; a spell sent again as a visit that holds no bed), whatever was published of
an Encounter cancelled before it began, or the leaving a version the patient has not left undoes.
Pure: no I/O.

Each retraction is a cancellation timed `meta.lastUpdated`, never after flowsight received it
(`adapters/retraction.py`). Those that may name an event never sent carry `if_present` (contract
v1): a version back in-progress follows no discharge most of the time, and a cancelled Encounter
was most of the time never admitted.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from fhir.resources.R4B.encounter import Encounter

from flowsight.adapters.fhir.elements import Note, instant
from flowsight.adapters.fhir.references import BundleIndex
from flowsight.adapters.fhir.snapshot import MappedEvent, Snapshot
from flowsight.adapters.fhir.stay import Stay
from flowsight.adapters.retraction import retraction_time

UPDATED = "Encounter.meta.lastUpdated"  # when the server recorded the version: recorded_at

#: What a cancelled Encounter that nothing dates is answered with.
UNDATED_CANCEL = (
    "status 'cancelled' (the Encounter ended before it began) with no meta.lastUpdated, nor a "
    "Bundle.timestamp within the Encounter, to date it: nothing is withdrawn, for an undated "
    "withdrawal would also withdraw an admission of the same visit sent after it. Send "
    "meta.lastUpdated for what an earlier version published to be withdrawn, or the Encounter "
    "as entered-in-error to retract it"
)


def stated_at(encounter: Encounter, bundle: BundleIndex) -> datetime | None:
    """When the Bundle says this version was stated (`Bundle.timestamp`), unless before the
    Encounter began: no version of a stay is older than the stay (FHIR-Converter's samples
    stamp 1989 on a 2015 visit), and such a clock says nothing."""
    stated = bundle.timestamp
    began = encounter.period.start if encounter.period else None
    if stated is None or (instant(began) and stated < began):
        return None
    return stated


def _dated(snapshot: Snapshot, stated: datetime | None) -> Snapshot | None:
    """`snapshot` recorded at `meta.lastUpdated`, else at `stated`; None when neither says."""
    if "recorded_at" in snapshot.common:
        return snapshot
    if stated is None:
        return None
    return replace(snapshot, common={**snapshot.common, "recorded_at": stated.isoformat()})


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
    dated = _dated(snapshot, stated)
    if dated is None:
        return []
    return _retractions(dated, now, [(suffix, stay)], notes, if_present=True)


def withdrawable(encounter: Encounter, stated: datetime | None, notes: list[Note]) -> bool:
    """Whether a `cancelled` Encounter (FHIR R4: "ended before it has begun") is dated, by
    `meta.lastUpdated` else `stated` (the Bundle's timestamp, as `reopened` is dated), so that
    what it withdraws (`withdrawn`) is told from an admission of the same visit sent after it.
    Undated, it withdraws nothing, with a note: its withdrawals would reach that admission too."""
    if (encounter.meta and encounter.meta.lastUpdated) or stated is not None:
        return True
    notes.append(Note("Encounter.status", UNDATED_CANCEL))
    return False


def withdrawn(
    snapshot: Snapshot,
    now: datetime,
    in_department: list[Stay],
    notes: list[Note],
    stated: datetime | None,
) -> list[MappedEvent]:
    """What a dated `cancelled` Encounter (`withdrawable`) withdraws: each event an earlier
    version may have published, `if_present`, so reaching only what was recorded by its time,
    never an admission of the same visit recorded after it, as a retraction (entered-in-error)
    would."""
    dated = _dated(snapshot, stated)
    return [] if dated is None else cancellations(dated, now, in_department, notes, if_present=True)


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
