"""Timestamps as they travel after the validator: fixed-width UTC strings that sort in time order."""

from __future__ import annotations

from datetime import UTC, datetime

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_timestamp(moment: datetime) -> str:
    """`moment` as a fixed-width UTC timestamp string; OverflowError if UTC cannot hold it."""
    utc = moment.astimezone(UTC)
    # strftime("%Y") does not pad years before 1000, which would break the string order.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}Z"
    )


def parse_timestamp(text: str) -> datetime:
    """A timestamp written by `utc_timestamp` (or any RFC 3339 one) as an aware datetime."""
    return datetime.fromisoformat(text)
