"""`flowsight fhir check FILES…`: what the FHIR gateway would make of Encounters and Bundles,
without publishing anything and without a broker: for integration teams before they go live."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flowsight.cli.terminal import described, dry_run_settings, fail, runtime_or_exit

if TYPE_CHECKING:
    from flowsight.adapters.fhir.intake import Reading
    from flowsight.adapters.fhir.outcome import Answer, Examined

fhir_app = typer.Typer(help="FHIR R4 Encounters and transaction Bundles.", no_args_is_help=True)
#: The resources the gateway takes at `POST /fhir/Encounter` and `POST /fhir`.
TAKEN = ("Encounter", "Bundle")


@fhir_app.callback()
def _group() -> None:
    """FHIR R4 Encounters and transaction Bundles."""
    # A callback keeps `check` a subcommand even while it is the group's only command.


@fhir_app.command("check")
def check(
    files: Annotated[list[Path], typer.Argument(help="FHIR JSON or XML files.", exists=True)],
    organisation: Annotated[
        str | None,
        typer.Option(
            help="The organisation publishing (as its API key would); default: the "
            "serviceProvider of each Encounter, any catalogue organisation."
        ),
    ] = None,
    profile: Annotated[
        Path | None,
        typer.Option(help="A mapping profile to check with, instead of profiles/<ORG>-fhir.yaml."),
    ] = None,
) -> None:
    """Show, per resource, the events it becomes or why it is refused, and every warning."""
    from flowsight.adapters.fhir.intake import Reading
    from flowsight.adapters.profile import ProfileError
    from flowsight.adapters.profile_file import load_profile
    from flowsight.context import fhir_profiles
    from flowsight.schemas.events import organisation_of

    settings = dry_run_settings()
    runtime = runtime_or_exit(settings)
    catalogue = runtime.catalogue
    if organisation is not None and organisation not in catalogue.organisation_codes:
        raise fail(
            f"organisation {organisation!r} is not in the catalogue "
            f"({', '.join(catalogue.organisation_codes)})",
            2,
        )
    try:
        profiles = fhir_profiles(settings, catalogue)
        if profile is not None:
            chosen = load_profile(profile, catalogue)
            profiles[chosen.organisation] = chosen
    except ProfileError as error:
        raise fail(str(error), 2) from None
    organisations = frozenset([organisation] if organisation else catalogue.organisation_codes)

    def publisher_of(source: object, allowed: frozenset[str]) -> str:
        claimed = organisation_of(source) if isinstance(source, str) else None
        return claimed if claimed in allowed else min(allowed)

    reading = Reading(organisations, runtime.validation, datetime.now(UTC), publisher_of, profiles)
    refused = sum(not _check_file(path, reading) for path in files)
    typer.echo(f"{len(files)} files, {refused} refused")
    raise typer.Exit(1 if refused else 0)


def _check_file(path: Path, reading: Reading) -> bool:
    """Print what one file becomes; False when the gateway would refuse it."""
    from flowsight.adapters.fhir import intake
    from flowsight.adapters.fhir.outcome import Answer
    from flowsight.adapters.fhir.xml_body import root_type

    body = path.read_bytes()
    if len(body) > intake.FHIR_BODY_MAX_BYTES:  # the API refuses it so, before reading it
        typer.echo(f"{path}: {len(body)} bytes, more than the API reads")
        _show_refusal(intake.too_large())
        return False
    xml = body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")
    kind = root_type(body) if xml else _json_type(body)
    typer.echo(f"{path}: {kind or 'not a FHIR resource'}")
    if kind not in TAKEN:
        typer.echo("  ignored: the gateway takes an Encounter, a transaction or a FHIR message")
        return True
    assert kind is not None
    document = intake.resource_of(body, kind, xml=xml)
    examine = intake.examine_by_type if kind == "Bundle" else intake.examine_encounter
    result = document if isinstance(document, Answer) else examine(document, body, reading)
    if isinstance(result, Answer):
        _show_refusal(result)
        return False
    _show_events(result)
    return True


def _json_type(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    kind = document.get("resourceType") if isinstance(document, dict) else None
    return kind if isinstance(kind, str) else None


def _show_events(examined: Examined) -> None:
    for item in examined.events:
        typer.echo(f"  {described(item.event)}")
    for note in examined.notes:
        _show_issue(note.severity, note.expression, note.diagnostics)


def _show_refusal(answer: Answer) -> None:
    typer.echo(f"  refused ({answer.status}):")
    for issue in answer.issues:
        label = issue.reason if issue.severity == "error" else issue.severity
        _show_issue(label or issue.severity, issue.expression, issue.diagnostics)


def _show_issue(label: str, expression: str | None, diagnostics: str) -> None:
    typer.echo(f"  {label} {expression or ''}: {diagnostics}")
