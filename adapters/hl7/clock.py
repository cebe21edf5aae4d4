"""A message's times, and when the event it reports happened: read from the message's own times,
never its sending time.

**Times** are HL7 TS (`YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]`). Without an offset they are the
sender's local time (HL7 v2.5 2.A.77: "the time zone of the sender"): the zone its profile names
(`hl7.time_zone`), passed in as `zone`; without one it is guessed per message (`sender_zone`):
Europe/London, unless MSH-7 carries an offset London did not have at that moment (a PAS whose
server runs on UTC sends `+0000` all summer; the HL7 standard's own examples `-0500`): then the
sender is on MSH-7's offset, and so are the message's other times without one. The guess
changes with the season (a UTC server's `+0000` is London's in winter), which the setting does
not. In a zone's hour repeated when clocks go back the first reading is taken, and a time
skipped when they go forward is read with the offset before the change; the mapping warns of
either (`unclear`).

An event's id is `<visit>:<kind>:<time>` (`cancellation.event_id`), so its time must be the same
in every copy of the message. MSH-7 is when this copy was sent: an interface engine that resends
a message (its ACK lost, a queue replayed) stamps a new MSH-7, often keeping MSH-10, and an
event timed by MSH-7 would be another event, an admission or a discharge counted twice. EVN-2,
when the event was recorded, is required by HL7 v2.3 to v2.5.1 and stays the same on a resend, so
a message with neither an event time nor EVN-2 is refused naming EVN-2. Nothing here does I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import hl7

from flowsight.adapters.hl7.parse import INVALID_FIELD, MISSING_FIELD, message_trigger, text
from flowsight.services.validation import Refused

LONDON = ZoneInfo("Europe/London")

_TS = re.compile(
    r"^\d{4}(?:\d{2}(?:\d{2}(?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,4})?)?)?)?)?)?"
    r"(?:[+-](?:[01]\d|2[0-3])[0-5]\d)?$"
)

#: Seconds followed by their fraction without the point (`20110613122406637`): Java's
#: `yyyyMMddHHmmssSSS`, which interface engines built on it send. Never a valid TS otherwise
#: (at most 14 digits come before the point), so it is read as the fraction it plainly is.
_NO_POINT = re.compile(r"^(\d{14})(\d{1,4})((?:[+-]\d{4})?)$")
#: A TS's offset, at its end.
_OFFSET = re.compile(r"[+-]\d{4}$")

#: Where a message's times are (segment, field): the visit's admission (PV1-44) and discharge
#: (PV1-45), the event (EVN-6), its recording (EVN-2) and the message's sending (MSH-7).
ADMIT_TIME, DISCHARGE_TIME = ("PV1", 44), ("PV1", 45)
EVENT_TIME, RECORDED_TIME, SENT_TIME = ("EVN", 6), ("EVN", 2), ("MSH", 7)


def first_time(
    message: Any, *paths: tuple[str, int], zone: tzinfo | None = None
) -> datetime | None:
    """The first of the fields `paths` (segment, number) that holds a time, read as a time in
    the sender's `zone` when it has no offset (None: guessed, `sender_zone`)."""
    found = first_timed(message, *paths, zone=zone)
    return None if found is None else found[0]


def first_timed(
    message: Any, *paths: tuple[str, int], zone: tzinfo | None = None
) -> tuple[datetime, str] | None:
    """As `first_time`, with the field the time was read from (`PV1-45`), for a refusal of
    that time to name it."""
    for segment, number in paths:
        value, where = text(message, segment, number), f"{segment}-{number}"
        if value:
            return parse_time(value, where, zone or sender_zone(message)), where
    return None


def sender_zone(message: Any) -> tzinfo:
    """Where a time without an offset is, for a sender whose profile names no zone: MSH-7's offset when London did not have it at MSH-7's
    moment (the sender is not on London time), else Europe/London. An MSH-7 without an offset,
    or one that is no time, says nothing: London."""
    sent = _NO_POINT.sub(r"\1.\2\3", text(message, *SENT_TIME))
    if not _OFFSET.search(sent) or not _TS.match(sent):
        return LONDON
    try:
        moment = hl7.parse_datetime(sent)
        offset = moment.utcoffset()
        if offset is None or moment.astimezone(LONDON).utcoffset() == offset:
            return LONDON
    except (ValueError, OverflowError):
        return LONDON
    return timezone(offset)


def occurred(message: Any, *paths: tuple[str, int], zone: tzinfo | None = None) -> datetime:
    """As `first_time`, refusing a message in which none of the fields holds a time."""
    moment = first_time(message, *paths, zone=zone)
    if moment is None:
        names = ", ".join(f"{s}-{n}" for s, n in paths)
        raise Refused(MISSING_FIELD, f"{paths[0][0]}-{paths[0][1]}", f"no event time in {names}")
    return moment


def parse_time(value: str, where: str, zone: tzinfo = LONDON) -> datetime:
    """An HL7 TS as an aware datetime; no offset means local time in `zone`. A fraction of a
    second sent without its point (`_NO_POINT`) is read as one."""
    value = _NO_POINT.sub(r"\1.\2\3", value)
    if not _TS.match(value):
        raise Refused(
            INVALID_FIELD, where, f"{where} {value!r} is not an HL7 time (YYYYMMDDHHMMSS+ZZZZ)"
        )
    try:
        moment: datetime = hl7.parse_datetime(value)
        offset = moment.utcoffset()
        tz = zone if offset is None else timezone(offset)
        moment = moment.replace(tzinfo=tz)
        moment.astimezone(UTC)  # refuse instants UTC cannot hold (year 1 with an offset)
    except (ValueError, OverflowError):
        raise Refused(INVALID_FIELD, where, f"{where} {value!r} is not a real time") from None
    return moment


def named_span(value: str, moment: datetime) -> tuple[datetime, str]:
    """The end (exclusive) of the span of time the TS `value`, read as `moment`, names, and the
    span's name: a TS's precision is its number of digits (HL7 v2.5 2.A.74), so `201302111000`
    is the minute from 10:00 and `20130211` the whole day, in its own zone's wall clock."""
    body = _OFFSET.sub("", _NO_POINT.sub(r"\1.\2\3", value))
    digits = len(body)
    if "." in body:
        return moment + timedelta(microseconds=1), "instant"
    if digits >= 14:
        return moment + timedelta(seconds=1), "second"
    if digits >= 12:
        return moment + timedelta(minutes=1), "minute"
    if digits >= 10:
        return moment + timedelta(hours=1), "hour"
    if digits >= 8:
        return moment + timedelta(days=1), "day"
    if digits >= 6:
        following = moment.replace(day=28) + timedelta(days=4)
        return following.replace(day=1), "month"
    return moment.replace(year=moment.year + 1), "year"


def held_end(
    message: Any, left: datetime, field: tuple[str, int], zone: tzinfo | None = None
) -> tuple[datetime, str | None]:
    """When a visit ended that the time in `field`, read as `left`, ends: `left`, or PV1-44
    with the name of `field`'s span when `left` is before PV1-44 only within its own precision
    (`20101021`, a whole day, holds an admission at 10:00 that day), as the only moment of
    that span known to be in the visit. A time before PV1-44 beyond its precision, or a
    PV1-44 that is no time, is left to the caller."""
    try:
        admitted = first_time(message, ADMIT_TIME, zone=zone)
    except Refused:
        return left, None
    if admitted is None or left >= admitted:
        return left, None
    until, span = named_span(text(message, *field), left)
    return (admitted, span) if until > admitted else (left, None)


def unclear(moment: datetime) -> str | None:
    """Why a local time without an offset names no one moment, or None: it is in the hour
    clocks go back (it happened twice: the first is taken, BST in London) or the hour they go
    forward (it never happened: read with the offset before the change, GMT in London)."""
    zone = moment.tzinfo
    if not isinstance(zone, ZoneInfo):
        return None
    first, second = moment.replace(fold=0), moment.replace(fold=1)
    if first.utcoffset() == second.utcoffset():
        return None
    name = "a London time" if zone is LONDON else f"a {zone.key} time"
    wall = moment.replace(tzinfo=None)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        before = "GMT" if zone is LONDON else "the offset before"
        return f"{name} that never happened (clocks went forward): read as {before}"
    after = "BST" if zone is LONDON else "its first offset"
    return f"{name} that happened twice (clocks went back): read as the first, {after}"


def id_time(moment: datetime) -> str:
    """`moment` in UTC as it appears in an event id: `20261123T093000Z`."""
    utc = moment.astimezone(UTC)
    fraction = f".{utc.microsecond:06d}" if utc.microsecond else ""
    return (
        f"{utc.year:04d}{utc.month:02d}{utc.day:02d}T"
        f"{utc.hour:02d}{utc.minute:02d}{utc.second:02d}{fraction}Z"
    )


def own_time(
    message: Any, *paths: tuple[str, int], zone: tzinfo | None = None
) -> tuple[datetime, str]:
    """The first of `paths` (segment, field) holding a time, else EVN-2, and the field it was
    read from; refused without one."""
    found = first_timed(message, *paths, RECORDED_TIME, zone=zone)
    if found is None:
        named = ", ".join(f"{segment}-{number}" for segment, number in paths)
        raise Refused(
            MISSING_FIELD,
            "EVN-2",
            f"an {message_trigger(message) or 'ADT'} needs a time of its own: {named} or EVN-2 "
            "(required); MSH-7 is when this copy was sent, which a resend changes, so the event "
            "would be counted again",
        )
    return found
