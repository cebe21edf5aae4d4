"""The data-lifecycle rule: closed journeys go after the retention; open ones are kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flowsight.services.retention import Retention, retention_of, select_purged
from flowsight.services.timestamps import utc_timestamp

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
KEEP_FOR = timedelta(days=90)
PSEUDONYM = "b" * 64


def event(event_type: str, days_ago: float, service: str = "lth-wards", **extra: Any) -> Any:
    return {
        "event_id": f"{event_type}-{days_ago}",
        "schema_version": "1",
        "event_type": event_type,
        "source": "RR8/pas",
        "occurred_at": utc_timestamp(NOW - timedelta(days=days_ago)),
        "service": service,
        "episode_id": "EP-1",
        "pseudonym": PSEUDONYM,
        **extra,
    }


def stay(admitted: float, discharged: float | None) -> list[Any]:
    events = [event("admission", admitted, admission_method="emergency")]
    if discharged is not None:
        events.append(event("discharge", discharged, destination="usual_residence"))
    return events


def verdict(events: list[Any]) -> Retention:
    return retention_of(PSEUDONYM, events, NOW, KEEP_FOR)


def test_a_closed_journey_is_purged_once_its_last_event_is_older_than_the_retention() -> None:
    assert verdict(stay(admitted=120, discharged=91)) is Retention.PURGE


def test_a_closed_journey_within_the_retention_is_kept() -> None:
    assert verdict(stay(admitted=120, discharged=89)) is Retention.KEEP


def test_an_open_stay_is_never_purged_however_long_it_is_silent() -> None:
    assert verdict(stay(admitted=400, discharged=None)) is Retention.SILENT_OPEN
    assert verdict(stay(admitted=30, discharged=None)) is Retention.KEEP


def test_a_waiting_referral_keeps_the_journey_and_its_queue_place() -> None:
    waiting = [event("referral", 200, "lth-toc-hub", to_service="lcc-reablement", status="new")]
    declined = [
        *waiting,
        event("referral", 199, "lth-toc-hub", to_service="lcc-reablement", status="declined"),
    ]

    assert verdict(waiting) is Retention.SILENT_OPEN
    assert verdict(declined) is Retention.PURGE


def test_an_attendance_still_in_the_department_is_open() -> None:
    arrived = (NOW - timedelta(days=100)).isoformat()
    assert verdict([event("attendance", 100, "lth-ed", arrived_at=arrived)]) is (
        Retention.SILENT_OPEN
    )


def test_a_round_lists_the_purged_and_counts_the_silent_open_ones() -> None:
    journeys = [
        ("closed-long-ago", stay(admitted=300, discharged=200)),
        ("closed-lately", stay(admitted=20, discharged=10)),
        ("open-and-silent", stay(admitted=300, discharged=None)),
        ("open", stay(admitted=5, discharged=None)),
    ]

    selection = select_purged(journeys, NOW, KEEP_FOR)

    assert selection.purge == ["closed-long-ago"]
    assert selection.silent_open == 1
