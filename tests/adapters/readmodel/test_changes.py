"""The read model written as the worker writes it, change by change: what goes away leaves it,
a correction re-marks the days it moves, a batch written twice leaves one copy, and the marks
of days to compute survive being set again while they are computed. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flowsight.adapters.readmodel import daily_rows
from flowsight.services.facts import LONDON, Stay
from flowsight.services.journey import JourneyState
from tests.adapters.readmodel.model import Feed, ReadModel, midnight

NOW = datetime.now(UTC)
TODAY = NOW.astimezone(LONDON).date()
D0 = TODAY - timedelta(days=12)


def at(day: int, hour: int) -> datetime:
    """`hour`:00 (Europe/London) on day `day`, twelve days before today being day 0."""
    return midnight(D0 + timedelta(days=day)) + timedelta(hours=hour)


async def test_a_cancelled_admission_leaves_the_read_model_and_its_figures(
    database_url: str,
) -> None:
    feed = Feed()
    admitted = feed.publish("admission", "lth-wards", at(2, 10), 0, admission_method="emergency")
    model = await ReadModel.at(database_url)
    try:
        await model.fold(feed.events)
        await model.refresh(NOW)
        assert len((await model.patient_rows())["stays"]) == 1
        ward_days = {day for service, day in await model.rows() if service == "lth-wards"}
        assert ward_days == {D0 + timedelta(days=n) for n in range(2, 13)}

        cancelled = feed.publish(
            "cancellation", "lth-wards", at(2, 12), 0, cancels_event_id=admitted["event_id"]
        )
        await model.fold([cancelled])
        await model.refresh(NOW)
        assert (await model.patient_rows())["stays"] == []
        # The ward has no fact left: no day of figures either.
        assert not [day for service, day in await model.rows() if service == "lth-wards"]
    finally:
        await model.close()


async def test_a_corrected_discharge_ready_date_corrects_the_figures_from_its_new_start(
    database_url: str,
) -> None:
    feed = Feed()
    feed.publish("admission", "lth-wards", at(0, 10), 0, admission_method="emergency")
    feed.ready("lth-wards", at(6, 9), 0, at(6, 8), delay_reason="p2_awaiting_bed", pathway="P2")
    model = await ReadModel.at(database_url)
    try:
        await model.fold(feed.events)
        await model.refresh(NOW)
        delayed = {(d - D0).days: f["delayed_count"] for (s, d), f in (await model.rows()).items()}
        assert [delayed[n] for n in range(13)] == [0] * 6 + [1] * 7

        # Two days later the team corrects it: ready since day 2, not day 6.
        correction = feed.ready(
            "lth-wards", at(8, 9), 0, at(2, 8), delay_reason="p2_awaiting_bed", pathway="P2"
        )
        await model.fold([correction])
        await model.refresh(NOW)
        rows = {(d - D0).days: f for (s, d), f in (await model.rows()).items() if s == "lth-wards"}
        assert [rows[n]["delayed_count"] for n in range(13)] == [0] * 2 + [1] * 11
        # Lost bed days count the midnights since ready: those of days 3 to 12.
        assert sum(rows[n]["period_lost_bed_days"] for n in range(13)) == 10
    finally:
        await model.close()


async def test_batches_written_again_after_a_crash_leave_exactly_one_copy_of_the_latest(
    database_url: str,
) -> None:
    feed = Feed()
    first = [
        feed.publish("admission", "lth-wards", at(1, 10), 0, admission_method="emergency"),
        feed.publish("referral", "lth-ed", at(1, 11), 1, to_service="lch-ucr", status="new"),
    ]
    second = [
        feed.ready("lth-wards", at(3, 9), 0, at(3, 8), delay_reason="p1_awaiting_resource"),
        feed.publish("admission", "lch-ucr", at(3, 10), 1, admission_method="start_of_care"),
    ]
    third = [feed.publish("discharge", "lth-wards", at(5, 11), 0, destination="usual_residence")]
    model = await ReadModel.at(database_url)
    try:
        await model.fold(first)
        journeys = dict(model.journeys)  # what the worker's table holds when it restarts
        await model.fold(second)
        await model.fold(third)
        written = await model.patient_rows()
        # The worker dies: the read model holds every batch, its table and offsets only the
        # first. A new worker reads both later batches and writes them again.
        model.restart(journeys)
        await model.fold(second)
        await model.fold(third)
        assert await model.patient_rows() == written
        assert [row[:2] for row in written["stays"]] == sorted(
            (stay[0], 0) for stay in written["stays"]
        )
        assert written["queue_entries"] == []  # the referral was taken up: nobody waits
        assert len(written["stays"]) == 2 and len(written["delays"]) == 1
    finally:
        await model.close()


async def test_a_service_marked_again_while_its_figures_are_computed_stays_marked(
    database_url: str,
) -> None:
    model = await ReadModel.at(database_url)
    try:
        day = D0 + timedelta(days=5)
        async with model.engine.begin() as connection:
            await daily_rows.mark_dirty(connection, {"lth-wards": (day, TODAY)}, "first")
        async with model.engine.connect() as connection:
            (read,) = await daily_rows.dirty_marks(connection)
        # A batch touching an earlier day lands while the refresh computes from day 5.
        async with model.engine.begin() as connection:
            await daily_rows.mark_dirty(connection, {"lth-wards": (D0, day)}, "second")
        async with model.engine.begin() as connection:
            await daily_rows.clear_marks(connection, [read])
            await daily_rows.move_marks(connection, [(read, TODAY)])
        async with model.engine.connect() as connection:
            marks = await daily_rows.dirty_marks(connection)
        # The second batch's mark stays, over its own days only: the first one's were computed.
        assert marks == [daily_rows.DirtyMark("lth-wards", D0, day, frozenset({"second"}))]

        await model.refresh(NOW)  # nothing to compute (no fact): the mark is cleared
        async with model.engine.connect() as connection:
            assert await daily_rows.dirty_marks(connection) == []
    finally:
        await model.close()


async def test_under_steady_batches_a_service_s_marks_shrink_to_what_the_batches_touch(
    database_url: str,
) -> None:
    # A refresh computes from day 0 while batches touching only today keep landing: what waits
    # for the next refresh is today, not the fortnight again.
    model = await ReadModel.at(database_url)
    try:
        async with model.engine.begin() as connection:
            await daily_rows.mark_dirty(connection, {"lth-wards": (D0, TODAY)}, "backlog")
        async with model.engine.connect() as connection:
            (read,) = await daily_rows.dirty_marks(connection)
        for batch in ("b1", "b2"):
            async with model.engine.begin() as connection:
                await daily_rows.mark_dirty(connection, {"lth-wards": (TODAY, TODAY)}, batch)
        async with model.engine.begin() as connection:
            # A batch written again (after a crash) widens its own mark, no other.
            await daily_rows.mark_dirty(connection, {"lth-wards": (TODAY, TODAY)}, "b2")
            await daily_rows.move_marks(connection, [(read, TODAY - timedelta(days=3))])
        async with model.engine.connect() as connection:
            (waiting,) = await daily_rows.dirty_marks(connection)
        assert waiting == daily_rows.DirtyMark(
            "lth-wards", TODAY - timedelta(days=3), TODAY, frozenset({"backlog", "b1", "b2"})
        )
        async with model.engine.begin() as connection:
            await daily_rows.clear_marks(connection, [waiting])
            await daily_rows.mark_dirty(connection, {"lth-wards": (TODAY, TODAY)}, "b3")
        async with model.engine.connect() as connection:
            assert await daily_rows.dirty_marks(connection) == [
                daily_rows.DirtyMark("lth-wards", TODAY, TODAY, frozenset({"b3"}))
            ]
    finally:
        await model.close()


async def test_the_queue_length_gauge_follows_the_refresh(database_url: str) -> None:
    feed = Feed()
    feed.publish("referral", "lth-ed", at(11, 9), 1, to_service="lch-ucr", status="new")
    feed.publish("referral", "lth-ed", at(11, 10), 2, to_service="lch-ucr", status="new")
    model = await ReadModel.at(database_url)
    try:
        await model.fold(feed.events)
        await model.refresh(NOW)
        sample = model.metrics.registry.get_sample_value
        assert sample("flowsight_queue_length", {"service": "lch-ucr"}) == 2
        assert sample("flowsight_queue_length", {"service": "lth-wards"}) == 0
    finally:
        await model.close()


async def test_a_patient_whose_rows_were_refused_is_written_whole_with_their_next_batch(
    database_url: str,
) -> None:
    ann, bob = "a" * 64, "b" * 64
    admitted = at(1, 10).astimezone(UTC).isoformat()
    home = at(3, 10).astimezone(UTC).isoformat()
    again = at(4, 10).astimezone(UTC).isoformat()

    def state(pseudonym: str, *stays: Stay) -> JourneyState:
        return JourneyState(pseudonym, stays=list(stays))

    model = await ReadModel.at(database_url)
    try:
        first = state(ann, Stay("lth-wards", admitted))
        await model.sink.write([first])
        # Ann's next state has a row the database refuses (no service): Bob's still lands.
        ended = Stay("lth-wards", admitted, ended_at=home)
        refused = state(ann, ended, Stay(None, again))  # type: ignore[arg-type]
        await model.sink.write(
            [refused, state(bob, Stay("lth-wards", admitted))], before=[first, state(bob)]
        )
        assert [row[0] for row in (await model.patient_rows())["stays"]] == [ann, bob]
        # Her next batch finds the refused state as before; her rows are replaced whole.
        fixed = state(ann, ended, Stay("lth-wards", again))
        await model.sink.write([fixed], before=[refused])
        stays = [row for row in (await model.patient_rows())["stays"] if row[0] == ann]
        assert [(row[2], row[3], row[4]) for row in stays] == [
            ("lth-wards", admitted, home),
            ("lth-wards", again, None),
        ]
    finally:
        await model.close()


async def test_a_change_undone_in_the_backlog_after_a_restart_leaves_no_trace(
    database_url: str,
) -> None:
    feed = Feed()
    admitted = feed.publish("admission", "lth-wards", at(1, 10), 0, admission_method="emergency")
    discharged = feed.publish("discharge", "lth-wards", at(2, 10), 0, destination="usual_residence")
    model = await ReadModel.at(database_url)
    try:
        await model.fold([admitted])
        journeys = dict(model.journeys)
        await model.fold([discharged])  # written; the worker dies before its table or offset
        model.restart(journeys)
        # The backlog read by the new worker: the discharge again, and its cancellation.
        undone = feed.publish(
            "cancellation", "lth-wards", at(2, 11), 0, cancels_event_id=discharged["event_id"]
        )
        await model.fold([discharged, undone])
        (stay,) = (await model.patient_rows())["stays"]
        assert stay[4] is None, "still in the ward: the discharge was cancelled"
    finally:
        await model.close()
