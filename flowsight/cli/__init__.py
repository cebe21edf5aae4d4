"""The `flowsight` command line."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from flowsight.cli.hl7 import hl7_app
from flowsight.settings import Settings, load_settings

app = typer.Typer(
    help="flowsight: live patient flow, queues, delays and pressure for a health and care system.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
kafka_app = typer.Typer(
    help="A local Apache Kafka broker (KRaft, no Docker).", no_args_is_help=True
)
postgres_app = typer.Typer(
    help="A local PostgreSQL cluster from Debian's packages.", no_args_is_help=True
)
db_app = typer.Typer(help="The read-model database.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics flowsight uses.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
dlq_app = typer.Typer(
    help="Dead letters: why events were refused, and replaying them after a fix.",
    no_args_is_help=True,
)
schema_app = typer.Typer(help="The event contract as JSON Schema.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Benchmarks: throughput and latency, with a baseline measured in the same run.",
    no_args_is_help=True,
)
app.add_typer(kafka_app, name="kafka")
app.add_typer(postgres_app, name="postgres")
app.add_typer(db_app, name="db")
app.add_typer(topics_app, name="topics")
app.add_typer(keys_app, name="keys")
app.add_typer(bench_app, name="bench")
app.add_typer(schema_app, name="schema")
app.add_typer(dlq_app, name="dlq")
app.add_typer(hl7_app, name="hl7")

console = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except ValueError as error:
        console.print(f"[red]Invalid settings:[/red] {escape(str(error))}")
        raise typer.Exit(2) from None


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


@app.command()
def up(
    postgres: Annotated[
        bool, typer.Option(help="Use a local PostgreSQL instead of the embedded SQLite file.")
    ] = False,
    simulate: Annotated[bool, typer.Option(help="Run the event simulator too.")] = True,
) -> None:
    """Start Kafka, the database, the worker, the API and the simulator; Ctrl-C stops them all."""
    from flowsight.stack import Stack

    settings = _settings()
    try:
        Stack(settings, console, use_postgres=postgres, simulate=simulate).run()
    except RuntimeError as error:
        raise _fail(str(error)) from None


@app.command()
def worker() -> None:
    """Run the stream worker (validator and state agents)."""
    from flowsight.adapters.catalogue import CatalogueError
    from flowsight.adapters.kafka.admin import BrokerUnreachable
    from flowsight.logs import configure_logging
    from flowsight.services.pressure import PressureConfigError
    from flowsight.worker import run_worker

    settings = _settings()
    configure_logging(settings)
    try:
        run_worker(settings)
    except (BrokerUnreachable, CatalogueError, PressureConfigError) as error:
        raise _fail(str(error), 2) from None


@app.command()
def api() -> None:
    """Run the HTTP API and dashboard (uvicorn)."""
    import uvicorn

    from flowsight.adapters.catalogue import CatalogueError
    from flowsight.context import build_api
    from flowsight.logs import configure_logging, logging_config
    from flowsight.services.pressure import PressureConfigError

    settings = _settings()
    configure_logging(settings)
    try:
        application = build_api(settings)
    except (CatalogueError, PressureConfigError, ValueError) as error:
        raise _fail(str(error), 2) from None
    uvicorn.run(
        application,
        host=settings.api_host,
        port=settings.api_port,
        log_config=logging_config(settings),
        timeout_graceful_shutdown=5,
    )


@app.command()
def publish(
    file: Annotated[
        Path, typer.Argument(help="JSON: one event, an array of events, or JSON lines.")
    ],
) -> None:
    """Publish events from a file to their organisations' ingest topics."""
    from flowsight.adapters.kafka.publish_files import publish_events, read_events

    settings = _settings()
    try:
        events = read_events(file)
    except (OSError, ValueError) as error:
        raise _fail(f"cannot read {file}: {error}") from None
    try:
        sent = asyncio.run(publish_events(settings, events, console=console))
    except RuntimeError as error:
        raise _fail(str(error), 2) from None
    console.print(f"published {sent} event(s) to {settings.kafka_bootstrap}")


@app.command("simulate")
def simulate_command(
    history_days: Annotated[
        float | None, typer.Option(help="Days of history to replay first.")
    ] = None,
    volume: Annotated[float | None, typer.Option(help="Patients per day, 1 = a city.")] = None,
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

    from flowsight.adapters.catalogue import load_catalogue
    from flowsight.adapters.kafka.admin import (
        BrokerUnreachable,
        ensure_topics,
        product_topics,
        wait_for_broker,
    )
    from flowsight.devtools.simulator.run import CityRun, simulate
    from flowsight.logs import configure_logging

    settings = _settings()
    configure_logging(settings)
    catalogue = load_catalogue(settings.catalogue_path)
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
        await wait_for_broker(settings.kafka_bootstrap, within=30)
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
    except BrokerUnreachable as error:
        raise _fail(str(error), 2) from None
    except KeyboardInterrupt:
        return
    console.print(f"simulator published {sent:,} events")


@kafka_app.command("start")
def kafka_start() -> None:
    """Download (once) and start a single-node broker on FLOWSIGHT_KAFKA_BOOTSTRAP."""
    from flowsight.devtools.local.kafka import LocalKafka

    settings = _settings()
    broker = LocalKafka(settings)
    try:
        with console.status(f"fetching Apache Kafka {settings.kafka_version} (first run only)…"):
            broker.ensure_downloaded(progress=lambda line: console.log(line))
        with console.status(f"starting Kafka on {settings.kafka_bootstrap}…"):
            started = broker.start()
    except RuntimeError as error:
        raise _fail(str(error)) from None
    console.print(("started" if started else "already running") + f": {settings.kafka_bootstrap}")


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the local broker."""
    from flowsight.devtools.local.kafka import LocalKafka

    stopped = LocalKafka(_settings()).stop()
    console.print("stopped" if stopped else "not running")


@kafka_app.command("status")
def kafka_status() -> None:
    """Say whether the local broker runs, and where."""
    from flowsight.devtools.local.kafka import LocalKafka

    status = LocalKafka(_settings()).status()
    typer.echo(json.dumps(_plain(status), indent=2, default=str))


@postgres_app.command("start")
def postgres_start(port: int = 5433) -> None:
    """Install (if missing) and start a local PostgreSQL cluster; print its URL."""
    from flowsight.devtools.local.postgres import LocalPostgres

    server = LocalPostgres(port=port)
    try:
        with console.status("starting PostgreSQL…"):
            server.ensure_installed()
            server.start()
            asyncio.run(server.create_database("flowsight", exist_ok=True))
    except RuntimeError as error:
        raise _fail(str(error)) from None
    console.print("running; use it with:")
    typer.echo(f"FLOWSIGHT_DATABASE_URL={server.url('flowsight')}")


@postgres_app.command("stop")
def postgres_stop(port: int = 5433) -> None:
    """Stop the local PostgreSQL cluster."""
    from flowsight.devtools.local.postgres import LocalPostgres

    console.print("stopped" if LocalPostgres(port=port).stop() else "not running")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the read model's tables (Alembic migrations)."""
    from flowsight.adapters.readmodel.database import describe
    from flowsight.adapters.readmodel.migrate import upgrade

    settings = _settings()
    upgrade(settings.resolved_database_url)
    console.print(f"database at {describe(settings.resolved_database_url)} is up to date")


@topics_app.command("create")
def topics_create() -> None:
    """Create the ingest, events and dead-letter topics that do not exist yet."""
    from flowsight.adapters.catalogue import load_catalogue
    from flowsight.adapters.kafka.admin import ensure_topics, product_topics, wait_for_broker

    settings = _settings()
    catalogue = load_catalogue(settings.catalogue_path)

    async def _create() -> list[str]:
        await wait_for_broker(settings.kafka_bootstrap, within=10)
        return await ensure_topics(settings, product_topics(settings, catalogue))

    for name in asyncio.run(_create()):
        console.print(f"created {name}")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who the key is for, e.g. bed-managers.")],
    roles: Annotated[str, typer.Option(help="Comma-separated: viewer, caseload, oncall, admin.")],
) -> None:
    """Make a new API key; store only the printed configuration entry, give the key out once."""
    from flowsight.api.auth import new_api_key, parse_api_keys

    key, entry = new_api_key(name, [r.strip() for r in roles.split(",") if r.strip()])
    try:
        parse_api_keys(entry)
    except ValueError as error:
        raise _fail(str(error)) from None
    typer.echo(f"key (give it to {name}; it is not stored): {key}")
    typer.echo(f"add to FLOWSIGHT_API_KEYS: {entry}")


def _dead_letters(settings: Settings) -> list[Any]:
    from flowsight.adapters.kafka.admin import BrokerUnreachable
    from flowsight.adapters.kafka.dlq import read_dead_letters

    try:
        return asyncio.run(read_dead_letters(settings))
    except BrokerUnreachable as error:
        raise _fail(str(error), 2) from None


@dlq_app.command("list")
def dlq_list(
    reason: Annotated[str | None, typer.Option(help="Only this error.reason.")] = None,
    limit: Annotated[int, typer.Option(help="The newest N.")] = 50,
) -> None:
    """The newest dead letters: where, when, why, and from which topic."""
    from rich.table import Table

    letters = [d for d in _dead_letters(_settings()) if reason in (None, d.reason)]
    table = Table("position", "at (UTC)", "reason", "field", "from", "message")
    for letter in letters[-limit:]:
        table.add_row(
            letter.position,
            letter.at.strftime("%Y-%m-%d %H:%M:%S"),
            letter.reason,
            letter.header("error.field"),
            letter.header("error.gateway") or letter.origin_topic,
            letter.header("error.message")[:80],
        )
    Console().print(table)
    console.print(f"{len(letters)} dead letter(s)" + (f" with reason {reason}" if reason else ""))


@dlq_app.command("show")
def dlq_show(
    position: Annotated[str, typer.Argument(help="PARTITION:OFFSET, from `dlq list`.")],
) -> None:
    """One dead letter: every header and the original message."""
    letter = _find_letter(position)
    for name, value in sorted(letter.headers.items()):
        typer.echo(f"{name}: {value.decode(errors='replace')}")
    typer.echo("")
    try:
        typer.echo(json.dumps(json.loads(letter.value), indent=2, ensure_ascii=False))
    except ValueError:
        typer.echo(letter.value.decode(errors="replace"))


def _find_letter(position: str) -> Any:
    from flowsight.adapters.kafka.dlq import parse_position

    try:
        wanted = parse_position(position)
    except ValueError as error:
        raise _fail(str(error)) from None
    for letter in _dead_letters(_settings()):
        if (letter.partition, letter.offset) == wanted:
            return letter
    raise _fail(f"no dead letter at {position}; see `flowsight dlq list`")


@dlq_app.command("replay")
def dlq_replay(
    position: Annotated[str, typer.Argument(help="PARTITION:OFFSET, from `dlq list`.")],
    file: Annotated[
        Path | None, typer.Option(help="A corrected version to publish instead of the original.")
    ] = None,
) -> None:
    """Publish a dead letter again to the ingest topic it came from, e.g. after a fix."""
    from flowsight.adapters.kafka.dlq import replay

    letter = _find_letter(position)
    corrected = file.read_bytes() if file else None
    try:
        topic = asyncio.run(replay(_settings(), letter, corrected))
    except ValueError as error:
        raise _fail(str(error)) from None
    what = f"the corrected event from {file}" if file else "the original message"
    console.print(f"replayed {position}: {what} to {topic}")


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


@bench_app.command("core")
def bench_core_command(
    days: Annotated[float, typer.Option(help="Days of simulated city to process.")] = 28,
    volume: Annotated[float, typer.Option(help="Simulator volume (1 = a city).")] = 2,
    batch_size: Annotated[int, typer.Option(help="Events per batch, as the state agent.")] = 500,
    repeat: Annotated[int, typer.Option(help="Runs; the best of each is reported.")] = 3,
) -> None:
    """The domain core (record + replay), single-threaded, against decode-and-group."""
    from flowsight.adapters.catalogue import load_catalogue
    from flowsight.devtools.bench import bench_core, simulated_events

    settings = _settings()
    catalogue = load_catalogue(settings.catalogue_path)
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


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
