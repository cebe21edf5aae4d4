"""The lateness window is measured per source episode: an event is too late only when it is
further behind its own source's newest event of the same episode than the window allows, so the
same events give the same journey whichever source's events the worker reads first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flowsight.services.journey import replay
from flowsight.services.recorded import Journey, Recorded
from flowsight.services.timestamps import utc_timestamp

PSEUDONYM = "a" * 64
BASE = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
LATENESS = timedelta(days=7)
HOSPITAL, COMMUNITY = "RR8/pas", "RY6/systmone"

Event = dict[str, Any]


def at(days: float) -> str:
    return utc_timestamp(BASE + timedelta(days=days))


def event(
    event_type: str,
    event_id: str,
    days: float,
    service: str,
    source: str,
    episode: str,
    **extra: Any,
) -> Event:
    """A validated event as the journey receives it from the events topic."""
    return {
        "event_id": event_id,
        "schema_version": "1",
        "event_type": event_type,
        "source": source,
        "occurred_at": at(days),
        "service": service,
        "episode_id": episode,
        "pseudonym": PSEUDONYM,
        **extra,
    }


def ward_admission(event_id: str, days: float, episode: str = "SPELL-1") -> Event:
    return event(
        "admission", event_id, days, "lth-wards", HOSPITAL, episode, admission_method="emergency"
    )


def ward_discharge(event_id: str, days: float, episode: str = "SPELL-1") -> Event:
    return event(
        "discharge", event_id, days, "lth-wards", HOSPITAL, episode, destination="usual_residence"
    )


def bed_admission(event_id: str, days: float) -> Event:
    return event(
        "admission",
        event_id,
        days,
        "lch-community-beds",
        COMMUNITY,
        "CB-1",
        admission_method="transfer_in",
    )


def bed_discharge(event_id: str, days: float) -> Event:
    return event(
        "discharge",
        event_id,
        days,
        "lch-community-beds",
        COMMUNITY,
        "CB-1",
        destination="usual_residence",
    )


def recorded(*events: Event, lateness: timedelta = LATENESS) -> tuple[Journey, list[Recorded]]:
    """The journey after `events` arrive in this order, and what became of each."""
    journey = Journey()
    return journey, [journey.record(each, lateness) for each in events]


def ids(journey: Journey) -> list[str]:
    return [e["event_id"] for e in journey.events]


# -- the same source's own events ---------------------------------------------------------------


def test_an_event_further_behind_its_sources_newest_event_than_the_window_is_too_late() -> None:
    journey, outcomes = recorded(ward_discharge("dis-1", 8), ward_admission("adm-1", 0))

    assert outcomes == [Recorded.APPLIED, Recorded.TOO_LATE]
    assert ids(journey) == ["dis-1"]


def test_an_event_inside_the_window_of_its_source_is_applied_in_its_place() -> None:
    journey, outcomes = recorded(ward_discharge("dis-1", 6), ward_admission("adm-1", 0))

    assert outcomes == [Recorded.APPLIED, Recorded.APPLIED]
    assert ids(journey) == ["adm-1", "dis-1"]
    assert replay(PSEUDONYM, journey.events).in_services == {}


def test_the_window_ends_exactly_a_window_behind_the_sources_newest_event() -> None:
    exactly = ward_admission("adm-1", 30 - 7)
    a_second_more = ward_admission("adm-2", 30 - 7 - 1 / 86_400)

    _, outcomes = recorded(ward_discharge("dis-1", 30), exactly, a_second_more)

    assert outcomes == [Recorded.APPLIED, Recorded.APPLIED, Recorded.TOO_LATE]


def test_a_shorter_window_is_honoured() -> None:
    hour = timedelta(hours=1)
    late = ward_admission("adm-1", 0)
    within = ward_admission("adm-2", 10 / 24 - 0.5 / 24)

    _, outcomes = recorded(ward_discharge("dis-1", 10 / 24), late, within, lateness=hour)

    assert outcomes == [Recorded.APPLIED, Recorded.TOO_LATE, Recorded.APPLIED]


def test_a_newer_event_of_the_source_moves_its_window_forward() -> None:
    _, outcomes = recorded(
        ward_admission("adm-1", 0), ward_discharge("dis-1", 10), ward_admission("adm-2", 1)
    )

    assert outcomes[-1] is Recorded.TOO_LATE


def test_a_backfill_of_an_old_period_is_not_too_late() -> None:
    # Against the source's own events, not the wall clock: 2019 replays fine.
    old = BASE.replace(year=2019)
    discharged = {**ward_discharge("dis-1", 0), "occurred_at": utc_timestamp(old)}
    admitted = {**ward_admission("adm-1", 0), "occurred_at": utc_timestamp(old - timedelta(6))}

    journey, outcomes = recorded(discharged, admitted)

    assert outcomes == [Recorded.APPLIED, Recorded.APPLIED]
    assert replay(PSEUDONYM, journey.events).in_services == {}


def test_a_duplicate_stays_a_duplicate_however_old() -> None:
    admitted = ward_admission("adm-1", 0)

    _, outcomes = recorded(admitted, ward_discharge("dis-1", 30), dict(admitted))

    assert outcomes == [Recorded.APPLIED, Recorded.APPLIED, Recorded.DUPLICATE]


def test_the_window_is_read_off_a_stored_journey_reloaded() -> None:
    journey, _ = recorded(ward_admission("adm-1", 10), bed_admission("bed-1", 20))
    reloaded = Journey.from_stored(journey.to_stored())

    # The hospital's newest event is 10 days in: 2 days in is too late for the hospital, and
    # the community's newer event (20 days in) does not move the hospital's window.
    assert reloaded.record(ward_admission("adm-0", 2), LATENESS) is Recorded.TOO_LATE
    assert reloaded.record(ward_discharge("dis-0", 4), LATENESS) is Recorded.APPLIED


# -- other sources and other episodes -----------------------------------------------------------


def test_another_sources_newer_events_do_not_make_an_event_too_late() -> None:
    # The community system's stay began a month before the hospital's newest event.
    journey, outcomes = recorded(ward_admission("adm-1", 40), bed_admission("bed-1", 10))

    assert outcomes == [Recorded.APPLIED, Recorded.APPLIED]
    assert ids(journey) == ["bed-1", "adm-1"]


def test_two_sources_events_read_in_either_order_give_the_same_journey() -> None:
    community = [bed_admission("bed-1", 0), bed_discharge("bed-2", 20)]
    hospital = [ward_admission("adm-1", 25), ward_discharge("dis-1", 40)]

    community_first, outcomes = recorded(*community, *hospital)
    hospital_first, reversed_outcomes = recorded(*hospital, *community)

    assert outcomes == reversed_outcomes == [Recorded.APPLIED] * 4
    assert ids(community_first) == ids(hospital_first) == ["bed-1", "bed-2", "adm-1", "dis-1"]
    state = replay(PSEUDONYM, hospital_first.events)
    assert state == replay(PSEUDONYM, community_first.events)
    assert [s.service for s in state.stays] == ["lch-community-beds", "lth-wards"]
    assert not state.anomalies


def test_a_source_down_for_a_week_backfills_its_events_in_full() -> None:
    hospital = [ward_admission("adm-1", 0), ward_discharge("dis-1", 12)]
    backlog = [bed_admission("bed-1", 1), bed_discharge("bed-2", 2)]  # sent 10 days late

    journey, outcomes = recorded(*hospital, *backlog)

    assert outcomes == [Recorded.APPLIED] * 4
    state = replay(PSEUDONYM, journey.events)
    assert sorted((s.service, s.ended_at) for s in state.stays) == [
        ("lch-community-beds", at(2)),
        ("lth-wards", at(12)),
    ]


def test_a_stale_event_is_refused_whatever_the_other_sources_sent_around_it() -> None:
    stale = bed_admission("bed-0", 0)
    community = [bed_discharge("bed-2", 20)]
    hospital = [ward_admission("adm-1", 1), ward_discharge("dis-1", 2)]

    for order in ([*community, *hospital, stale], [*hospital, *community, stale]):
        _, outcomes = recorded(*order)
        assert outcomes[-1] is Recorded.TOO_LATE


def test_each_episode_of_a_source_is_measured_on_its_own() -> None:
    # One source's spell and referral ids key different partitions of its ingest topic: a
    # replay may read the later episode first.
    later_spell = [ward_admission("adm-2", 30, "SPELL-2"), ward_discharge("dis-2", 35, "SPELL-2")]
    earlier_spell = [ward_admission("adm-1", 0), ward_discharge("dis-1", 5)]

    journey, outcomes = recorded(*later_spell, *earlier_spell)

    assert outcomes == [Recorded.APPLIED] * 4
    assert ids(journey) == ["adm-1", "dis-1", "adm-2", "dis-2"]


# -- any interleaving of the sources' own orders ------------------------------------------------

SOURCES = [
    (HOSPITAL, "lth-wards", "SPELL-1"),
    (HOSPITAL, "lth-wards", "SPELL-2"),
    (COMMUNITY, "lch-community-beds", "CB-1"),
    ("LCC/mosaic", "lcc-reablement", "REA-1"),
]


@st.composite
def published(draw: st.DrawFn) -> list[list[Event]]:
    """Each source episode's events in the order its source published them (times anywhere in
    40 days, so some are stale), as its own partition of an ingest topic keeps them."""
    streams = []
    for number, (source, service, episode) in enumerate(SOURCES):
        days = draw(st.lists(st.integers(0, 40 * 24), max_size=6))
        streams.append(
            [
                event(
                    "assessment",
                    f"{number}-{n}",
                    hours / 24,
                    service,
                    source,
                    episode,
                    kind="ctr_review",
                    meets_criteria_to_reside=True,
                )
                for n, hours in enumerate(days)
            ]
        )
    return streams


def interleaved(streams: list[list[Event]], picks: list[int]) -> list[Event]:
    """The streams read in the order `picks` draws from them, each stream's own order kept."""
    queues = [list(s) for s in streams if s]
    out: list[Event] = []
    for pick in picks:
        if not queues:
            break
        queue = queues[pick % len(queues)]
        out.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return out + [e for queue in queues for e in queue]


@settings(max_examples=200, deadline=None)
@given(published(), st.lists(st.integers(0, 3)), st.lists(st.integers(0, 3)))
def test_any_interleaving_of_the_sources_refuses_the_same_events_and_keeps_the_same_journey(
    streams: list[list[Event]], first: list[int], second: list[int]
) -> None:
    results = []
    for picks in (first, second):
        order = interleaved(streams, picks)
        journey, outcomes = recorded(*order)
        refused = {e["event_id"] for e, o in zip(order, outcomes, strict=True) if o is not APPLIED}
        results.append((journey.events, refused))

    assert results[0] == results[1]


APPLIED = Recorded.APPLIED
