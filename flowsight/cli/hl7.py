"""`flowsight hl7 listen`: take HL7 v2 ADT over MLLP for one organisation, publish it to Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer
import yaml
from prometheus_client import CollectorRegistry, start_http_server
from rich.console import Console
from rich.markup import escape

from flowsight.adapters.hl7.mapping import LocationMap
from flowsight.services.validation import ValidationContext
from flowsight.settings import Settings, load_settings

hl7_app = typer.Typer(help="HL7 v2 ADT over MLLP.", no_args_is_help=True)
console = Console(stderr=True)


@hl7_app.callback()
def _group() -> None:
    """HL7 v2 ADT over MLLP."""
    # A callback keeps `listen` a subcommand even while it is the group's only command.


def load_location_map(path: Path | None, default_service: str | None) -> LocationMap:
    """Read a YAML mapping of point-of-care codes (PV1-3.1) to service ids."""
    if path is None:
        return LocationMap(default_service)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read the location map {path}: {error}") from None
    if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
        raise ValueError(
            f"the location map {path} must map point-of-care codes to service ids, "
            "e.g. `WARD7: lth-wards`"
        )
    # YAML reads a code such as 101 as a number; PV1-3.1 is always text.
    return LocationMap(default_service, {str(code): service for code, service in document.items()})


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


@hl7_app.command("listen")
def listen(
    organisation: Annotated[
        str, typer.Option(help="The catalogue organisation whose messages this listener takes.")
    ],
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: FLOWSIGHT_API_HOST).")
    ] = None,
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 2575,
    service: Annotated[
        str | None,
        typer.Option(help="Service id for points of care (PV1-3.1) not in the location map."),
    ] = None,
    location_map: Annotated[
        Path | None,
        typer.Option(help="YAML file mapping point-of-care codes to service ids."),
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port (default: off).")
    ] = None,
) -> None:
    """Listen for HL7 v2 ADT over MLLP; ACK each message once Kafka has its event."""
    from flowsight.adapters.catalogue import CatalogueError
    from flowsight.context import build_runtime
    from flowsight.logs import configure_logging
    from flowsight.services.pressure import PressureConfigError

    try:
        settings = load_settings()
    except ValueError as error:
        raise _fail(f"invalid settings: {error}") from None
    configure_logging(settings)
    try:
        runtime = build_runtime(settings)
    except (CatalogueError, PressureConfigError) as error:
        raise _fail(str(error)) from None
    catalogue = runtime.catalogue
    if organisation not in catalogue.organisation_codes:
        raise _fail(
            f"organisation {organisation!r} is not in the catalogue "
            f"({', '.join(catalogue.organisation_codes)})"
        )
    try:
        locations = load_location_map(location_map, service)
    except ValueError as error:
        raise _fail(str(error)) from None
    problems = locations.problems(catalogue, organisation)
    if problems:
        raise _fail("\n  ".join(["the location map names unusable services:", *problems]))
    registry = CollectorRegistry()
    address = host or settings.api_host
    if metrics_port is not None:
        start_http_server(metrics_port, addr=address, registry=registry)
    try:
        asyncio.run(
            _serve(settings, runtime.validation, organisation, address, port, locations, registry)
        )
    except RuntimeError as error:
        raise _fail(str(error)) from None


async def _serve(
    settings: Settings,
    validation: ValidationContext,
    organisation: str,
    host: str,
    port: int,
    locations: LocationMap,
    registry: CollectorRegistry,
) -> None:
    from aiokafka.errors import KafkaError

    from flowsight.adapters.hl7.listener import MllpListener
    from flowsight.adapters.kafka.admin import BrokerUnreachable, ensure_topics, wait_for_broker
    from flowsight.adapters.kafka.producer import GatewayPublisher

    try:
        await wait_for_broker(settings.kafka_bootstrap, within=30)
    except BrokerUnreachable as error:
        raise RuntimeError(str(error)) from None
    try:
        await ensure_topics(settings, [settings.ingest_topic(organisation), settings.dlq_topic])
    except KafkaError as error:
        # Creating topics may be another team's right; publishing will tell if they are missing.
        console.print(f"[yellow]could not ensure topics:[/yellow] {escape(str(error))}")
    publisher = GatewayPublisher(settings)
    await publisher.start()
    listener = MllpListener(
        settings,
        publisher,
        validation,
        organisation,
        host,
        port,
        locations=locations,
        registry=registry,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await listener.start()
        except OSError as error:
            raise RuntimeError(f"cannot listen on {host}:{port}: {error}") from None
        typer.echo(
            f"listening for HL7 v2 ADT over MLLP on {host}:{listener.port} for {organisation}, "
            f"publishing to {settings.ingest_topic(organisation)} on {settings.kafka_bootstrap}",
        )
        await stop.wait()
        console.print("stopping: finishing messages in hand…")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        with contextlib.suppress(Exception):
            await listener.stop()
        await publisher.stop()


if __name__ == "__main__":  # `python -m flowsight.cli.hl7 listen ...`
    hl7_app()
