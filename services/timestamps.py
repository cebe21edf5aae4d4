"""Timestamps as they travel after the validator: fixed-width UTC strings that sort in time order."""

from __future__ import annotations

from datetime import UTC, datetime

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_timestamp(moment: datetime) -> str:
    """`moment` as a fixed-width UTC timestamp string."""
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """A timestamp written by `utc_timestamp` (or any RFC 3339 one) as an aware datetime."""
    return datetime.fromisoformat(text)
