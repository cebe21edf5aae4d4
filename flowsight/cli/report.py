"""Reports written to files: the weekly system report as HTML and CSV, from the read model."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from flowsight.cli.terminal import console, fail, runtime_or_exit, settings_or_exit

report_app = typer.Typer(help="Reports written to files.", no_args_is_help=True)


@report_app.command("weekly")
def report_weekly(
    week: Annotated[
        str | None, typer.Option(help="ISO week, e.g. 2026-W47 (default: this week).")
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Folder to write report.html and report.csv to.")
    ] = Path("."),
) -> None:
    """Write the weekly system report (compared with the 8 weeks before) as HTML and CSV."""
    from flowsight.adapters.readmodel.database import create_engine
    from flowsight.api.weekly import gather_weekly_report, report_csv, report_html
    from flowsight.services.report import iso_week, week_period

    settings = settings_or_exit()
    catalogue = runtime_or_exit(settings).catalogue
    now = datetime.now(UTC)
    name = week or iso_week(now)
    try:
        start, _end = week_period(name)
    except ValueError as error:
        raise fail(str(error), 2) from None
    if start > now:
        raise fail(f"week {name} has not started yet", 2)

    async def gather() -> tuple[str, str]:
        engine = create_engine(settings.resolved_database_url)
        try:
            async with engine.connect() as connection:
                report = await gather_weekly_report(connection, catalogue, name, now)
        finally:
            await engine.dispose()
        return report_html(report, catalogue), report_csv(report)

    html, table = asyncio.run(gather())
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.html").write_text(html, encoding="utf-8")
    (out / "report.csv").write_text(table, encoding="utf-8")
    console.print(f"weekly report {name} written to {out / 'report.html'} and report.csv")
