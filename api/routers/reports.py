"""The weekly system report, as HTML for people and CSV for spreadsheets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from flowsight.api.deps import ApiState, ConnectionDep, StateDep, Viewer
from flowsight.api.models import PROBLEM_RESPONSES
from flowsight.api.places import NoPlace, Places
from flowsight.api.problems import Problem, problem
from flowsight.api.weekly import gather_weekly_report, report_csv, report_html
from flowsight.services.report import iso_week, week_period

router = APIRouter(prefix="/v1/reports", tags=["reports"])

#: How long a caller refused a report for want of a place is asked to wait before asking again.
RETRY_AFTER_SECONDS = 10


async def report_place(request: Request, _: Viewer) -> AsyncIterator[None]:
    """One of the process's places for computing a report (FLOWSIGHT_REPORTS_AT_ONCE), taken
    once the caller is known and before the report's database connection, held until the
    report is computed. When none is free within FLOWSIGHT_REPORT_WAIT_SECONDS: a 503 with
    Retry-After, the process being busy, not the caller wrong."""
    state: ApiState = request.app.state.flowsight
    places: Places = request.app.state.reports
    try:
        async with places.place_within(state.settings.report_wait_seconds):
            yield
    except NoPlace as full:
        raise Problem(
            503,
            "Too many reports at once",
            f"{full.most} weekly reports are being computed already, the most this API process "
            f"computes at once: try again in {RETRY_AFTER_SECONDS} seconds",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            limit="FLOWSIGHT_REPORTS_AT_ONCE",
            most=full.most,
        ) from None


@router.get(
    "/weekly",
    summary="The weekly system report (HTML or CSV), compared with the 8 weeks before",
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "the report: printable HTML with inline charts, or CSV (one row per "
            "week, scope and figure, oldest week first, then the pressure section: hours and "
            "shares of the week at each OPEL level and not scored; `provisional` is yes on a "
            "readmission rate whose 30-day follow-up has not ended)",
            "content": {
                "text/html": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        **PROBLEM_RESPONSES,
        503: problem(
            "the read model could not answer, or FLOWSIGHT_REPORTS_AT_ONCE reports were being "
            "computed and none ended within FLOWSIGHT_REPORT_WAIT_SECONDS (`limit` names it); "
            "Retry-After says when to ask again"
        ),
    },
    # Before the route's own: a report waiting for a place holds no database connection.
    dependencies=[Depends(report_place, scope="function")],
)
async def weekly(
    state: StateDep,
    connection: ConnectionDep,
    _: Viewer,
    # ASCII digits only: \d and int() take Arabic-Indic or full-width ones too, and the CSV's
    # file name, a Latin-1 header, is built from the week as sent.
    week: Annotated[
        str | None, Query(pattern=r"^[0-9]{4}-W[0-9]{2}$", description="ISO week, e.g. 2026-W47")
    ] = None,
    format: Annotated[Literal["html", "csv"], Query()] = "html",
) -> Response:
    """Queues, efficiency and outcomes of every service for one ISO week (default: this week),
    each against the 8 weeks before, the system's summary first and a pressure section last.

    A report reads many days of figures: each API process computes at most
    `FLOWSIGHT_REPORTS_AT_ONCE` (2) at once; one more waits up to
    `FLOWSIGHT_REPORT_WAIT_SECONDS` (10) for a place, then is a 503 with `Retry-After`."""
    now = datetime.now(UTC)
    week = week or iso_week(now)
    try:
        first, end = week_period(week)
        # A week at the edge of the calendar, or whose comparison weeks are, has no UTC instant.
        (first - (end - first) * 9).astimezone(UTC)
    except ValueError as error:
        raise Problem(422, "Invalid week", str(error), errors=[_week_error(str(error))]) from None
    except OverflowError:
        message = f"week {week} is outside the dates this report can cover"
        raise Problem(422, "Invalid week", message, errors=[_week_error(message)]) from None
    if first > now:
        message = f"week {week} has not started yet"
        raise Problem(422, "Invalid week", message, errors=[_week_error(message)])
    report = await gather_weekly_report(connection, state.catalogue, week, now)
    if format == "csv":
        return Response(
            report_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="flowsight-{week}.csv"'},
        )
    return HTMLResponse(report_html(report, state.catalogue))


def _week_error(message: str) -> dict[str, str]:
    """The `errors` entry naming the `week` query parameter, as request validation does."""
    return {"field": "query.week", "message": message}
