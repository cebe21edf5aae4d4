"""The weekly system report, as HTML for people and CSV for spreadsheets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from flowsight.api.deps import ConnectionDep, StateDep, Viewer
from flowsight.api.models import PROBLEM_RESPONSES
from flowsight.api.problems import Problem
from flowsight.api.weekly import gather_weekly_report, report_csv, report_html
from flowsight.services.report import iso_week, week_period

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get(
    "/weekly",
    summary="The weekly system report (HTML or CSV), compared with the 8 weeks before",
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "the report: printable HTML with inline charts, or CSV (one row per "
            "week, scope and figure, oldest week first, then the pressure section)",
            "content": {
                "text/html": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        **PROBLEM_RESPONSES,
    },
)
async def weekly(
    state: StateDep,
    connection: ConnectionDep,
    _: Viewer,
    week: Annotated[
        str | None, Query(pattern=r"^\d{4}-W\d{2}$", description="ISO week, e.g. 2026-W47")
    ] = None,
    format: Annotated[Literal["html", "csv"], Query()] = "html",
) -> Response:
    """Queues, efficiency and outcomes of every service for one ISO week (default: this week),
    each against the 8 weeks before, the system's summary first and a pressure section last."""
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
