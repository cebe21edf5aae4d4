"""Tools around the product: the contract as JSON Schema, the simulated city, benchmarks."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flowsight.cli.terminal import console, runtime_or_exit, settings_or_exit

if TYPE_CHECKING:
    from flowsight.devtools.bench.report import Report
    from flowsight.devtools.bench.runner import Bars
    from flowsight.schemas.catalogue import Catalogue

schema_app = typer.Typer(help="The event contract as JSON Schema.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Benchmarks: throughput and latency, with a baseline measured in the same run.",
    no_args_is_help=True,
)


@schema_app.command("export")
def schema_export(
    directory: Annotated[Path, typer.Argument(help="Where to write the *.schema.json files.")],
) -> None:
    """Write one JSON Schema per event type, plus the envelope and the union of all types."""
    from flowsight.schemas.export import contract_schemas, render

    directory.mkdir(parents=True, exist_ok=True)
    for name, document in contract_schemas().items():
        (directory / name).write_text(render(document), encoding="utf-8")
        console.print(f"wrote {directory / name}")


def simulate_command(
    history_days: Annotated[
        float | None, typer.Option(help="Days of history to replay first.")
    ] = None,
    volume: Annotated[
        float | None,
        typer.Option(help="How busy the city is: 1 = a city (about 2,000 events a day), 0.5 half."),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: run on).")
    ] = None,
    fresh: Annotated[
        bool, typer.Option(help="Begin a new city instead of resuming the recorded one.")
    ] = False,
) -> None:
    """Publish a realistic synthetic event stream for the catalogue's services.

    A restarted simulator resumes its city (recorded in the data directory): it replays the same
    events, which are absorbed as duplicates, and carries on from where it was.
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from flowsight.adapters.kafka.admin import ensure_topics, product_topics, wait_for_broker
    from flowsight.devtools.simulator.run import CityRun, simulate
    from flowsight.logs import configure_logging

    settings = settings_or_exit()
    configure_logging(settings)
    catalogue = runtime_or_exit(settings).catalogue
    history = timedelta(
        days=settings.simulator_history_days if history_days is None else history_days
    )
    run, resumed = CityRun.resume_or_begin(
        settings.data_dir / f"simulator-{settings.topic_namespace}.json",
        history=history,
        volume=settings.simulator_volume if volume is None else volume,
        seed=settings.simulator_seed,
        fresh=fresh,
    )
    console.print(
        f"{'resuming' if resumed else 'beginning'} a city that began {run.start:%Y-%m-%d %H:%M} UTC "
        f"(seed {run.seed}, volume {run.volume:g})",
        soft_wrap=True,
    )

    async def _run() -> int:
        await wait_for_broker(settings, within=settings.kafka_wait_seconds)
        await ensure_topics(settings, product_topics(settings, catalogue))
        with Progress(
            SpinnerColumn(),
            TextColumn("simulating: {task.completed:,.0f} events published"),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
        ) as progress:
            task = progress.add_task("simulate")
            return await simulate(
                settings,
                catalogue,
                run,
                duration=duration,
                on_published=lambda n: progress.advance(task, n),
            )

    try:
        sent = asyncio.run(_run())
    except KeyboardInterrupt:
        return
    console.print(f"simulator published {sent:,} events")


@bench_app.command("core")
def bench_core_command(
    days: Annotated[float, typer.Option(help="Days of simulated city to process.")] = 28,
    volume: Annotated[float, typer.Option(help="Simulator volume (1 = a city).")] = 2,
    batch_size: Annotated[int, typer.Option(help="Events per batch, as the state agent.")] = 500,
    repeat: Annotated[int, typer.Option(help="Runs; the best of each is reported.")] = 3,
) -> None:
    """The domain core (record + replay), single-threaded, against decode-and-group."""
    from flowsight.devtools.bench.core import bench_core, simulated_events

    catalogue = runtime_or_exit(settings_or_exit()).catalogue
    with console.status(f"simulating {days:g} days of events…"):
        events = simulated_events(catalogue, days, volume)
    patients = len({json.loads(e)["pseudonym"] for e in events})
    typer.echo(f"{len(events):,} events of {patients:,} patients, batches of {batch_size}")
    runs = [bench_core(catalogue, events, batch_size) for _ in range(repeat)]
    baseline = max((run[0] for run in runs), key=lambda m: m.rate)
    core = max((run[1] for run in runs), key=lambda m: m.rate)
    typer.echo(baseline.line())
    typer.echo(core.line())
    typer.echo(f"core / baseline throughput: {core.rate / baseline.rate:.2f}")
    target = 100_000
    verdict = "meets" if core.rate >= target else "MISSES"
    typer.echo(f"target {target:,} events/s: {verdict}")


Bootstrap = Annotated[
    str | None,
    typer.Option(help="A broker to use (host:port); default: a local one started for the run."),
]
Postgres = Annotated[
    str | None,
    typer.Option("--postgres", help="A PostgreSQL URL for the read model (default: SQLite)."),
]


def _city(events: int | None, volume: float, days: float | None = None) -> list[dict[str, object]]:
    """The simulated city's first `events` events; with `events` None, every event of its
    `days` days."""
    from flowsight.devtools.bench.city import city_events

    catalogue = _catalogue()
    simulating = f"{events:,} events" if events is not None else f"{days:g} days"
    with console.status(f"simulating {simulating}…"):
        return city_events(
            catalogue, _EVERY_EVENT if events is None else events, volume=volume, days=days
        )


#: More events than any simulated period holds: a city's every event.
_EVERY_EVENT = 10**9


def _catalogue() -> Catalogue:
    from flowsight.settings import LOCAL

    # A benchmark is a trial on one machine: its own broker, topics and throw-away database.
    os.environ.setdefault("FLOWSIGHT_ENVIRONMENT", LOCAL)
    return runtime_or_exit(settings_or_exit()).catalogue


def _bench(bootstrap: str | None, body: Callable[[Bars, str, Path], Awaitable[Report]]) -> None:
    """Run `body(progress bars, broker address, temporary directory)` and print its report."""

    from flowsight.devtools.bench.runner import bars, run_on_broker

    async def measured(address: str, directory: Path) -> Report:
        return await body(progress, address, directory)

    with bars(console) as progress:
        report = run_on_broker(bootstrap, measured)
    for line in report.lines():
        typer.echo(line)


@bench_app.command("pipeline")
def bench_pipeline_command(
    events: Annotated[int, typer.Option(help="Simulated events to publish first.")] = 20_000,
    volume: Annotated[float, typer.Option(help="Simulator volume (1 = a city).")] = 1,
    bootstrap: Bootstrap = None,
    postgres: Postgres = None,
) -> None:
    """One worker through a published backlog, against a plain aiokafka consumer of it."""
    from flowsight.devtools.bench.pipeline import bench_pipeline

    city = _city(events, volume)
    _bench(
        bootstrap,
        lambda progress, address, directory: bench_pipeline(
            address,
            directory,
            city,
            postgres,
            progress.bar("publishing", len(city)),
            progress.bar("worker committed", len(city)),
        ),
    )


@bench_app.command("freshness")
def bench_freshness_command(
    rate: Annotated[float, typer.Option(help="Simulated events offered a second.")] = 1000,
    seconds: Annotated[float, typer.Option(help="How long to offer them.")] = 30,
    probe_every: Annotated[float, typer.Option(help="Seconds between probes.")] = 1.5,
    volume: Annotated[
        float, typer.Option(help="Simulator volume (1 = a city): the census's size.")
    ] = 1,
    bootstrap: Bootstrap = None,
    postgres: Postgres = None,
) -> None:
    """Send → change in GET /v1/pressure and on /v1/stream, under a steady offered rate.

    The city's census is taken in first, as a live system holds it; then its flow and probes."""
    from flowsight.devtools.bench.city import census_and_flow
    from flowsight.devtools.bench.freshness import bench_freshness

    catalogue = _catalogue()
    with console.status(f"simulating a census and {int(rate * seconds):,} events…"):
        census, flow = census_and_flow(catalogue, int(rate * seconds), volume=volume)
    _bench(
        bootstrap,
        lambda progress, address, directory: bench_freshness(
            address,
            directory,
            census,
            flow,
            rate,
            probe_every,
            postgres,
            progress.bar("offering", len(flow)),
        ),
    )


@bench_app.command("api")
def bench_api_command(
    seconds: Annotated[float, typer.Option(help="How long each endpoint is loaded.")] = 10,
    requests: Annotated[
        int, typer.Option(help="Stop each endpoint after this many requests (0: --seconds).")
    ] = 0,
    concurrency: Annotated[int, typer.Option(help="Connections (requests in flight).")] = 32,
    events: Annotated[int, typer.Option(help="Simulated events of state first.")] = 10_000,
    bootstrap: Bootstrap = None,
    postgres: Postgres = None,
) -> None:
    """GET /v1/pressure and a queue, against /healthz of the same server (wrk when installed,
    else httpx client processes), with the API process's CPU time per request."""
    from flowsight.devtools.bench.api import bench_api

    city = _city(events, 1)
    _bench(
        bootstrap,
        lambda progress, address, directory: bench_api(
            address,
            directory,
            city,
            seconds,
            requests,
            concurrency,
            postgres,
            progress.bar("building state", len(city)),
            progress.bar("endpoints loaded", 3),
        ),
    )


@bench_app.command("recovery")
def bench_recovery_command(
    events: Annotated[int, typer.Option(help="Simulated events of state first.")] = 20_000,
    backlog: Annotated[int, typer.Option(help="Events published while it is down.")] = 1_000,
    state_events: Annotated[
        int,
        typer.Option(
            help="Instead of --events through the worker: this many events of state built by "
            "the worker's fold straight into the tables' changelogs and the read model "
            "(a city of volume --state-events / 100,000, so that all of it is retained)."
        ),
    ] = 0,
    stores: Annotated[
        str, typer.Option(help="With --state-events: the state stores to compare, comma-separated.")
    ] = "memory://,rocksdb://",
    bootstrap: Bootstrap = None,
    postgres: Postgres = None,
) -> None:
    """Worker killed (kill -9) and restarted: time to caught up, against a clean restart."""
    from flowsight.devtools.bench.harness import FLOW_EVENTS_PER_DAY
    from flowsight.devtools.bench.recovery import bench_recovery, bench_store_recovery

    if state_events:
        chosen = [store.strip() for store in stores.split(",") if store.strip()]
        wanted, volume = state_events + 3 * len(chosen) * backlog, max(1.0, state_events / 100_000)
        # The simulated flow runs a little below its nominal rate: start early enough.
        big_city = _city(wanted, volume, days=1.2 * wanted / (FLOW_EVENTS_PER_DAY * volume))
        _bench(
            bootstrap,
            lambda progress, address, directory: bench_store_recovery(
                address,
                directory,
                big_city,
                backlog,
                chosen,
                postgres,
                progress.bar("state (fold)", state_events),
            ),
        )
        return
    city = _city(events + 2 * backlog, 1)
    _bench(
        bootstrap,
        lambda progress, address, directory: bench_recovery(
            address, directory, city, backlog, postgres, progress.bar("state", events)
        ),
    )


@bench_app.command("replay")
def bench_replay_command(
    days: Annotated[float, typer.Option(help="Simulated days of the city.")] = 7,
    volume: Annotated[float, typer.Option(help="Simulator volume (1 = a city).")] = 1,
    bootstrap: Bootstrap = None,
    postgres: Postgres = None,
) -> None:
    """A city-period replayed from empty topics, compared with the same events built live.

    With --postgres, each build has a new database on that server, dropped at the end.

    The URL's role must be allowed to create databases (CREATEDB)."""
    from flowsight.devtools.bench.replay import bench_replay

    city = _city(None, volume, days)
    _bench(
        bootstrap,
        lambda progress, address, directory: bench_replay(
            address,
            directory,
            city,
            days,
            volume,
            postgres,
            progress.bar("live build", len(city)),
            progress.bar("replay", len(city)),
        ),
    )


@bench_app.command("scale")
def bench_scale_command(
    events: Annotated[int, typer.Option(help="Simulated events per run.")] = 20_000,
    widths: Annotated[str, typer.Option(help="Partitions (= workers) per run.")] = "1,2,4",
    bootstrap: Bootstrap = None,
    postgres: Postgres = None,
) -> None:
    """The pipeline with 1, 2 and 4 partitions and as many workers."""
    from flowsight.devtools.bench.scale import bench_scale

    city = _city(events, 1)
    counts = [int(width) for width in widths.split(",")]
    _bench(
        bootstrap,
        lambda progress, address, directory: bench_scale(
            address, directory, city, counts, postgres, progress.bar("committed", None)
        ),
    )
