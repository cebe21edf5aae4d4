"""A time whose fraction of a second comes without its point (`20261123101500250`, Java's
`yyyyMMddHHmmssSSS`, as interface engines built on it send, Mirth Connect's samples among them)
is read as that fraction. HL7's TS puts at most 14 digits before the point, so nothing else can
be meant; such a message was refused AE at the first time it read.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flowsight.adapters.hl7.clock import parse_time
from flowsight.adapters.hl7.mapping import Mapped, map_message
from flowsight.adapters.profile import MappingProfile
from tests.adapters.hl7.test_mapping import PID, message, msh, pv1

PROFILE = MappingProfile(organisation="RR8", default_service="lth-wards")


def test_milliseconds_without_the_point_are_the_fraction_of_the_second() -> None:
    assert parse_time("20261123101500250", "PV1-44") == datetime(
        2026, 11, 23, 10, 15, 0, 250_000, tzinfo=UTC
    )
    assert parse_time("20260613101500250+0100", "PV1-44") == datetime(
        2026, 6, 13, 9, 15, 0, 250_000, tzinfo=UTC
    )


def test_an_admission_timed_so_is_admitted_at_that_time() -> None:
    result = map_message(
        message(
            msh("A01"),
            "EVN|A01|20261123101500250||||20261123101000125",
            PID,
            pv1(f3="WARD7", f44="20261123101000125"),
        ),
        organisation="RR8",
        profile=PROFILE,
    )

    assert isinstance(result, Mapped), result
    (admission,) = result.events
    assert admission["event_type"] == "admission"
    assert admission["occurred_at"] == "2026-11-23T10:10:00.125000+00:00"
