"""Times without an offset are the sender's local time (HL7 v2.5 2.A.77): London, unless MSH-7
says the sender keeps another offset than London's at that moment."""

from __future__ import annotations

import pytest

from flowsight.adapters.hl7.mapping import Mapped, map_message
from tests.adapters.hl7.test_mapping import LOCATIONS, PID, mapped, message, pv1


def a01(sent: str, admitted: str) -> str:
    header = f"MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|{sent}||ADT^A01^ADT_A01|C1|P|2.5"
    segment = pv1(f3="WARD7", f44=admitted)
    return mapped(message(header, f"EVN|A01|{admitted}", PID, segment))["occurred_at"]


@pytest.mark.parametrize(
    ("sent", "admitted", "at"),
    [
        # A London PAS: its offset is London's, summer and winter, and so are its times.
        ("20260701101500+0100", "20260701093000", "2026-07-01T09:30:00+01:00"),
        ("20261123101500+0000", "20261123093000", "2026-11-23T09:30:00+00:00"),
        ("20260701101500", "20260701093000", "2026-07-01T09:30:00+01:00"),  # no offset: London
        # A PAS whose server runs on UTC: +0000 all summer. Read as London, 09:30 was 08:30 UTC.
        ("20260701101500+0000", "20260701093000", "2026-07-01T09:30:00+00:00"),
        # The HL7 standard's own examples are US Eastern.
        ("20260701101500-0500", "20260701093000", "2026-07-01T09:30:00-05:00"),
        # A time with its own offset is that time, whatever MSH-7 says.
        ("20260701101500+0000", "20260701093000+0100", "2026-07-01T09:30:00+01:00"),
    ],
)
def test_a_time_without_an_offset_is_in_the_senders_zone(sent: str, admitted: str, at: str) -> None:
    assert a01(sent, admitted) == at


def test_a_day_with_no_time_is_read_as_its_midnight_with_a_warning() -> None:
    header = "MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|20261101101500||ADT^A01^ADT_A01|C1|P|2.5"
    hl7 = message(header, "EVN|A01|20261101101000", PID, pv1(f3="WARD7", f44="20261101"))
    result = map_message(hl7, organisation="RR8", locations=LOCATIONS)

    assert isinstance(result, Mapped)
    assert result.event["occurred_at"] == "2026-11-01T00:00:00+00:00"
    assert any(w.startswith("PV1-44: a day with no time") for w in result.warnings)


@pytest.mark.parametrize(
    ("left", "said"),
    [
        ("20261025013000", "happened twice (clocks went back): read as the first, BST"),
        ("20260329013000", "never happened (clocks went forward): read as GMT"),
    ],
)
def test_a_london_time_in_an_hour_clocks_change_is_read_with_a_warning(
    left: str, said: str
) -> None:
    header = "MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|20261101101500||ADT^A03^ADT_A03|C1|P|2.5"
    segment = pv1(f3="WARD7", f37="19", f44="20260301090000", f45=left)
    result = map_message(
        message(header, "EVN|A03|20261101101000", PID, segment),
        organisation="RR8",
        locations=LOCATIONS,
    )

    assert isinstance(result, Mapped)
    assert any(w.startswith(f"PV1-45 ({left}): a London time that {said}") for w in result.warnings)
    # An offset names the moment: nothing to say.
    plain = pv1(f3="WARD7", f37="19", f44="20260301090000", f45=left + "+0000")
    again = map_message(
        message(header, "EVN|A03|20261101101000", PID, plain),
        organisation="RR8",
        locations=LOCATIONS,
    )
    assert isinstance(again, Mapped) and not any("London time" in w for w in again.warnings)
