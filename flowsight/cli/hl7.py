"""`flowsight hl7 listen` (HL7 v2 ADT over MLLP to Kafka) and `flowsight hl7 check` (a dry run)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
from prometheus_client import CollectorRegistry, start_http_server
from rich.markup import escape

from flowsight.adapters.hl7.fields import LocationMap
from flowsight.adapters.hl7.limits import ConnectionLimits, networks, server_tls
from flowsight.adapters.profile import MappingProfile
from flowsight.adapters.yaml_file import yaml_document
from flowsight.cli.terminal import console, described, dry_run_settings, fail, settings_or_exit
from flowsight.schemas.catalogue import Catalogue
from flowsight.services.validation import ValidationContext
from flowsight.settings import Settings, is_loopback

hl7_app = typer.Typer(help="HL7 v2 ADT over MLLP.", no_args_is_help=True)


@hl7_app.callback()
def _group() -> None:
    """HL7 v2 ADT over MLLP."""
    # A callback keeps `listen` a subcommand even while it is the group's only command.


def load_location_map(path: Path | None, default_service: str | None) -> LocationMap:
    """Read a YAML mapping of point-of-care codes (PV1-3.1) to service ids."""
    if path is None:
        return LocationMap(default_service)
    document = yaml_document(path, "the location map", ValueError) or {}
    if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
        raise ValueError(
            f"the location map {path} must map point-of-care codes to service ids, "
            "e.g. `WARD7: lth-wards`"
        )
    # YAML reads a code such as 101 as a number; PV1-3.1 is always text.
    return LocationMap(default_service, {str(code): service for code, service in document.items()})


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
    profile: Annotated[
        Path | None, typer.Option(help="The source's mapping profile (YAML; see docs).")
    ] = None,
    processing_id: Annotated[
        list[str] | None,
        typer.Option(help="Processing id (MSH-11) to take, e.g. T while onboarding; repeatable."),
    ] = None,
    idle_timeout: Annotated[
        float, typer.Option(help="Close a connection with no whole message for this many seconds.")
    ] = 300.0,
    max_connections: Annotated[
        int, typer.Option(help="Most connections at once; one more is closed at once.")
    ] = 64,
    max_connections_per_address: Annotated[
        int | None,
        typer.Option(
            help="Most connections at once from one address; one more is closed at once "
            "(default: FLOWSIGHT_HL7_MAX_CONNECTIONS_PER_ADDRESS, 8)."
        ),
    ] = None,
    allow: Annotated[
        list[str] | None,
        typer.Option(help="Only these addresses may connect (CIDR, e.g. 10.0.0.0/8); repeatable."),
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(help="TLS: the listener's certificate (PEM); needs --tls-key.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="TLS: the certificate's key (PEM).")] = None,
    tls_client_ca: Annotated[
        Path | None, typer.Option(help="TLS: require client certificates signed by this CA.")
    ] = None,
) -> None:
    """Listen for HL7 v2 ADT over MLLP; ACK each message once Kafka has its event."""
    caps = (max_connections, max_connections_per_address)
    limits = _limits(idle_timeout, caps, allow, (tls_cert, tls_key, tls_client_ca))
    settings, runtime = _runtime()
    if max_connections_per_address is None:  # the setting's, read once the options are checked
        per_address = settings.hl7_max_connections_per_address
        limits = dataclasses.replace(limits, max_connections_per_address=per_address)
    mapping = _profile(runtime.catalogue, organisation, profile, location_map, service)
    processing_ids = _processing_ids(processing_id)
    registry = CollectorRegistry()
    address = host or settings.api_host
    if not (is_loopback(address) or limits.allow or limits.clients_certified):
        # HL7 v2 carries no credential: whoever reaches the port could admit, move and
        # discharge patients of `organisation` (docs/security.md, "MLLP").
        raise fail(
            f"an MLLP listener on {address} would take messages from anyone who reaches it: "
            "name the senders with --allow (CIDR) or require client certificates with "
            "--tls-client-ca, or listen on a loopback address behind the interface engine",
            2,
        )
    if metrics_port is not None:
        start_http_server(metrics_port, addr=address, registry=registry)
    try:
        asyncio.run(
            _serve(
                settings,
                runtime.validation,
                organisation,
                address,
                port,
                (mapping, processing_ids),
                registry,
                limits,
            )
        )
    except RuntimeError as error:
        raise fail(str(error), 2) from None


async def _serve(
    settings: Settings,
    validation: ValidationContext,
    organisation: str,
    host: str,
    port: int,
    mapping: tuple[MappingProfile, frozenset[str] | None],
    registry: CollectorRegistry,
    limits: ConnectionLimits,
) -> None:
    from aiokafka.errors import KafkaError

    from flowsight.adapters.hl7.listener import MllpListener
    from flowsight.adapters.kafka.admin import BrokerUnreachable, ensure_topics, wait_for_broker
    from flowsight.adapters.kafka.producer import GatewayPublisher

    try:
        await wait_for_broker(settings, within=settings.kafka_wait_seconds)
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
        profile=mapping[0],
        processing_ids=mapping[1],
        registry=registry,
        limits=limits,
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


@hl7_app.command("check")
def check(
    files: Annotated[list[Path], typer.Argument(help="HL7 v2 message files, in feed order.")],
    organisation: Annotated[str, typer.Option(help="The organisation the messages are from.")],
    profile: Annotated[Path | None, typer.Option(help="The source's mapping profile.")] = None,
    service: Annotated[
        str | None, typer.Option(help="Service id for locations no profile rule maps.")
    ] = None,
    processing_id: Annotated[
        list[str] | None, typer.Option(help="Processing id (MSH-11) to take; repeatable.")
    ] = None,
) -> None:
    """Dry run: per message, the ACK and the events it becomes, or why it is refused; warnings."""
    from flowsight.adapters.hl7.check import Checker

    settings, runtime = _runtime(dry_run=True)
    mapping = _profile(runtime.catalogue, organisation, profile, None, service)
    checker = Checker(
        organisation,
        mapping,
        runtime.validation,
        _processing_ids(processing_id),
        lateness=settings.lateness_window,
    )
    refused = 0
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise fail(f"cannot read {path}: {error}", 2) from None
        for number, outcome in enumerate(checker.check_bytes(raw), start=1):
            typer.echo(
                f"{path}#{number} {outcome.trigger or '-'} {outcome.control_id}: {_answer(outcome)}"
            )
            for event in outcome.events:
                typer.echo(f"  event {described(event)}")
            if outcome.ignored:
                typer.echo(f"  nothing published: {outcome.ignored}")
            if outcome.refusal is not None:
                refused += 1
                why = outcome.refusal
                typer.echo(f"  refused {why.reason} at {why.field or '-'}: {why.message}")
            for warning in outcome.warnings:
                typer.echo(f"  warning: {warning}")
    if refused:
        raise typer.Exit(1)


def _runtime(*, dry_run: bool = False) -> Any:
    from flowsight.adapters.catalogue import CatalogueError
    from flowsight.context import build_runtime
    from flowsight.logs import configure_logging
    from flowsight.services.pressure import PressureConfigError

    settings = dry_run_settings() if dry_run else settings_or_exit()
    configure_logging(settings, serving=not dry_run)
    try:
        return settings, build_runtime(settings)
    except (CatalogueError, PressureConfigError) as error:
        raise fail(str(error), 2) from None


def _profile(
    catalogue: Catalogue,
    organisation: str,
    path: Path | None,
    location_map: Path | None,
    service: str | None,
) -> MappingProfile:
    """The mapping profile from --profile, else the old --location-map and --service."""
    from flowsight.adapters.profile import ProfileError
    from flowsight.adapters.profile_file import load_profile

    if organisation not in catalogue.organisation_codes:
        raise fail(
            f"organisation {organisation!r} is not in the catalogue "
            f"({', '.join(catalogue.organisation_codes)})",
            2,
        )
    if path is not None:
        if location_map is not None:
            raise fail("give --profile or --location-map, not both", 2)
        try:
            loaded = load_profile(path, catalogue)
        except ProfileError as error:
            raise fail(str(error), 2) from None
        if loaded.organisation != organisation:
            raise fail(f"the profile {path} is for {loaded.organisation}, not {organisation}", 2)
        if service is not None:
            loaded = loaded.model_copy(update={"default_service": service})
        return loaded
    try:
        locations = load_location_map(location_map, service)
    except ValueError as error:
        raise fail(str(error), 2) from None
    problems = locations.problems(catalogue, organisation)
    if problems:
        raise fail("\n  ".join(["the location map names unusable services:", *problems]), 2)
    return locations.profile(organisation)


def _limits(
    idle_timeout: float,
    caps: tuple[int, int | None],
    allow: list[str] | None,
    tls: tuple[Path | None, Path | None, Path | None],
) -> ConnectionLimits:
    """The listener's connection limits from its options; exit 2 naming a bad one."""
    cert, key, client_ca = tls
    if (cert is None) != (key is None) or (client_ca is not None and cert is None):
        raise fail("TLS needs --tls-cert and --tls-key together (and them for --tls-client-ca)", 2)
    try:
        context = server_tls(cert, key, client_ca) if cert and key else None
    except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
        raise fail(f"cannot load the TLS certificate, key or client CA: {error}", 2) from None
    max_connections, per_address = caps
    try:
        limits = ConnectionLimits(idle_timeout, max_connections, networks(allow or []), context)
        if per_address is not None:
            limits = dataclasses.replace(limits, max_connections_per_address=per_address)
    except ValueError as error:
        raise fail(
            f"--allow, --idle-timeout, --max-connections or --max-connections-per-address: {error}",
            2,
        ) from None
    return limits


def _processing_ids(given: list[str] | None) -> frozenset[str] | None:
    bad = [code for code in given or [] if code not in {"P", "T", "D"}]
    if bad:
        raise fail(f"--processing-id {', '.join(bad)}: a processing id is P, T or D", 2)
    return frozenset(given) if given else None


if __name__ == "__main__":  # `python -m flowsight.cli.hl7 listen ...`
    hl7_app()


def _answer(outcome: Any) -> str:
    """The answer the listener sends, and the outcome it stands for when that is another code
    (enhanced mode: MSH-15 and MSH-16 ask for an accept acknowledgement, or none)."""
    ack: str = outcome.ack
    if outcome.answer == ack:
        return ack
    sent = outcome.answer or "no answer"
    return f"{sent} ({ack} in original mode; MSH-15/MSH-16 ask for {sent})"
