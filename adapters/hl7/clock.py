"""When the event an ADT message reports happened: read from the message's own times, never its
sending time.

An event's id is `<visit>:<kind>:<time>` (`cancellation.event_id`), so its time must be the same
in every copy of the message. MSH-7 is when this copy was sent: an interface engine that resends
a message (its ACK lost, a queue replayed) stamps a new MSH-7, often keeping MSH-10, and an
event timed by MSH-7 would be another event, an admission or a discharge counted twice. EVN-2,
when the event was recorded, is required by HL7 v2.3 to v2.5.1 and stays the same on a resend, so
a message with neither an event time nor EVN-2 is refused naming EVN-2. Nothing here does I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowsight.adapters.hl7.parse import MISSING_FIELD, RECORDED_TIME, first_time, message_trigger
from flowsight.services.validation import Refused


def own_time(message: Any, *paths: tuple[str, int]) -> datetime:
    """The first of `paths` (segment, field) holding a time, else EVN-2; refused without one."""
    moment = first_time(message, *paths, RECORDED_TIME)
    if moment is None:
        named = ", ".join(f"{segment}-{number}" for segment, number in paths)
        raise Refused(
            MISSING_FIELD,
            "EVN-2",
            f"an {message_trigger(message) or 'ADT'} needs a time of its own: {named} or EVN-2 "
            "(required); MSH-7 is when this copy was sent, which a resend changes, so the event "
            "would be counted again",
        )
    return moment
