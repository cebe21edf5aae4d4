"""The weekly system report, as HTML for people and CSV for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from flowsight.adapters.readmodel import facts, store
from flowsight.api.deps import ConnectionDep, StateDep, Viewer
from flowsight.api.problems import Problem
from flowsight.services.kpis import Period
from flowsight.services.report import iso_week, period_moment, week_period, weekly_report

router = APIRouter(prefix="/v1/reports", tags=["reports"])
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


@router.get(
    "/weekly",
    summary="The weekly system report (HTML or CSV)",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}, "text/csv": {}}}},
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
    """Queues, efficiency and outcomes of every service for one ISO week (default: this week)."""
    now = datetime.now(UTC)
    week = week or iso_week(now)
    try:
        start, _end = week_period(week)
        start.astimezone(UTC)  # a week at the edge of the calendar has no UTC instant
    except ValueError as error:
        raise Problem(422, "Invalid week", str(error), errors=[_week_error(str(error))]) from None
    except OverflowError:
        message = f"week {week} is outside the dates this report can cover"
        raise Problem(422, "Invalid week", message, errors=[_week_error(message)]) from None
    if start > now:
        message = f"week {week} has not started yet"
        raise Problem(422, "Invalid week", message, errors=[_week_error(message)])
    services = state.catalogue.services
    service_facts = {
        s.id: await facts.service_facts(connection, s.id, since=start) for s in services
    }
    # Occupancy as of the report's moment takes the capacity report in force then.
    as_of = period_moment(Period(*week_period(week)), now)
    capacity = await store.capacities_in_force(connection, as_of)
    report = weekly_report(week, services, service_facts, now, dict(capacity))
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["week", "service", "section", "figure", "label", "value"])
        for line in report.lines:
            writer.writerow([week, line.service, line.section, line.figure, line.label, line.value])
        for name, value in report.system.items():
            writer.writerow([week, "system", "system", name, name.replace("_", " "), value])
        return Response(
            buffer.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="flowsight-{week}.csv"'},
        )
    lines = defaultdict(list)
    for line in report.lines:
        lines[line.service].append(line)
    html = _templates.get_template("weekly.html").render(
        report=report,
        services=services,
        lines=lines,
        system_name=state.catalogue.system,
        one_day=timedelta(days=1),
    )
    return HTMLResponse(html)


def _week_error(message: str) -> dict[str, str]:
    """The `errors` entry naming the `week` query parameter, as request validation does."""
    return {"field": "query.week", "message": message}
