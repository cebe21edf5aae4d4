"""`flowsight soak`: every fault of the reliability suite, round after round, for N minutes."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from flowsight.cli.terminal import console, fail, settings_or_exit


def soak(
    minutes: Annotated[
        float, typer.Option(help="Keep starting rounds of every fault for this long.")
    ] = 30,
    events: Annotated[
        int, typer.Option(help="Simulated events each fault's stage gets per round.")
    ] = 3_000,
    postgres: Annotated[
        bool,
        typer.Option(
            "--postgres",
            help="Read models on the local PostgreSQL cluster (`flowsight postgres start`); "
            "the read-model outage stops and restarts that cluster.",
        ),
    ] = False,
    postgres_port: Annotated[int, typer.Option(help="The local cluster's port.")] = 5433,
    bootstrap: Annotated[
        str | None,
        typer.Option(help="A broker to use (host:port); default: a local one for the run."),
    ] = None,
    report: Annotated[
        Path,
        typer.Option(
            help="Where to write the table of faults (Markdown); its folder must exist. "
            "Relative paths are from the current folder."
        ),
    ] = Path("docs/reliability-soak.md"),
) -> None:
    """Inject every fault (worker kill -9, duplicates, broker and database outages, poison
    records, API restarts under stream clients) again and again; compare each final read model
    with an uninterrupted run's. Exits 1 if anything was lost or doubled."""
    from flowsight.devtools.bench.harness import machine_load
    from flowsight.devtools.bench.runner import bars, run_on_broker
    from flowsight.devtools.faults.outcome import Outcome, table, write_report
    from flowsight.devtools.faults.soak import SOAK_PLAN
    from flowsight.devtools.faults.soak import soak as run_soak
    from flowsight.devtools.local.postgres import LocalPostgres, local_password
    from flowsight.settings import LOCAL

    # Where the table goes is settled before the first round, not found wanting an hour later.
    report = report.resolve()
    if not report.parent.is_dir():
        raise fail(f"no folder {report.parent} for the report (--report)", 2)
    # A soak is a trial on one machine: its own broker, topics and throw-away databases.
    os.environ.setdefault("FLOWSIGHT_ENVIRONMENT", LOCAL)
    settings = settings_or_exit()
    server = None
    if postgres:
        server = LocalPostgres(port=postgres_port, password=local_password(settings))
    if server is not None and not (server.status() or None):
        raise fail(f"no PostgreSQL cluster on port {postgres_port}: `flowsight postgres start`", 2)

    async def body(address: str, directory: Path) -> tuple[dict[str, Outcome], int]:
        return await run_soak(
            address,
            directory,
            minutes,
            postgres=server,
            plan=plan,
            on_published=progress.bar("events published", None),
            on_injected=progress.bar("faults injected", None),
            on_round=progress.bar("rounds", None),
        )

    plan = replace(SOAK_PLAN, events=events)
    started = time.monotonic()
    with bars(console) as progress:
        outcomes, rounds = run_on_broker(bootstrap, body)
    seconds = time.monotonic() - started
    database = f"PostgreSQL on :{postgres_port}" if postgres else "SQLite"
    write_report(
        report,
        outcomes.values(),
        how=f"`flowsight soak --minutes {minutes:g}` ({rounds} round(s) of every fault, "
        f"{events:,} simulated events per stage, read models on {database})",
        seconds=seconds,
        context=machine_load(),
    )
    typer.echo(table(list(outcomes.values())))
    typer.echo(f"\n{rounds} round(s) in {seconds / 60:.1f} min; written to {report}")
    if not all(outcome.harmless for outcome in outcomes.values()):
        raise typer.Exit(1)
