"""When a retraction (HL7 A11, A12, A13; a FHIR Encounter entered-in-error) was recorded: never
after flowsight received it.

A cancellation's `occurred_at` is when the source recorded the retraction (HL7 EVN-2, FHIR
meta.lastUpdated). A source whose clock runs ahead of flowsight's puts that in the future, which
the validator refuses (`in_the_future`), and the admission, transfer or discharge it retracts,
timed in the past and accepted, would stay in effect for ever. No retraction was recorded after
it reached flowsight, so it is timed by the earlier of the two, with a warning.

Its `recorded_at` keeps the source's own time: the tracker compares it only with the same source's
other `recorded_at` (services/cancellations.py), all read from one clock, so the retraction still
reaches the events it cancels and an issue keyed in after it is still a new one. Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def retraction_time(said: datetime, received: datetime, element: str) -> tuple[datetime, str]:
    """The time of a retraction the source timed `said` (in `element`) and flowsight received
    at `received`: the earlier of the two; and a warning when it is `received`, else ''."""
    if said <= received:
        return said, ""
    ahead = timedelta(seconds=int((said - received).total_seconds()))
    return received, (
        f"{element} is {ahead} (h:mm:ss) after the message was received (the sender's clock "
        "runs ahead?): the cancellation is timed when it was received"
    )
