"""What every command shares: the error console, settings read once, and clear failures.

Heavier modules are imported inside the functions, so that `flowsight --help` stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from flowsight.settings import Settings, load_settings

if TYPE_CHECKING:
    from flowsight.context import Runtime

console = Console(stderr=True)


def settings_or_exit() -> Settings:
    """The settings, or exit 2 naming what is invalid (the alert routes included)."""
    from flowsight.adapters.notify.routes import alert_routes

    try:
        settings = load_settings()
        alert_routes(settings.alert_routes)
    except ValueError as error:
        raise invalid_settings(error) from None
    return settings


def invalid_settings(error: ValueError) -> typer.Exit:
    """Print what is wrong with the settings; raise the returned Exit to leave with 2."""
    console.print(f"[red]Invalid settings:[/red] {escape(settings_refusal(error))}")
    return typer.Exit(2)


def settings_refusal(error: ValueError) -> str:
    """What is wrong with the settings, in words: each of pydantic's errors on a line, named by
    its environment variable, without pydantic's error types and links to its documentation
    (nor the value given: `hide_input_in_errors`)."""
    if not isinstance(error, ValidationError):
        return str(error)
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        said = problem["msg"].removeprefix("Value error, ")
        names = [str(part) for part in problem["loc"]]
        if error.title != Settings.__name__:  # a model read from one (the alert routes)
            where = " ".join([error.title, ".".join(names)]).strip()
        else:
            where = f"FLOWSIGHT_{names[0].upper()}" if names else ""
        lines.append(f"{where}: {said}" if where else said)
    return "\n".join(lines)


def dry_run_settings() -> Settings:
    """The settings for a dry run (`hl7 check`, `fhir check`, `kafka status`), which publishes,
    stores and serves nothing: where production's secrets are not set (an integration engineer's
    own machine), it runs as a local trial, its pseudonyms keyed with a throwaway key (they are
    never shown). Exits 2 naming what is invalid, as `settings_or_exit` does, for anything else."""
    import secrets

    try:
        return load_settings()
    except ValueError:
        pass
    try:
        return load_settings(environment="local", pseudonym_key=secrets.token_hex(32))
    except ValueError as error:
        raise invalid_settings(error) from None


def runtime_or_exit(settings: Settings) -> Runtime:
    """The process's catalogue and validation context, or exit 2 naming what is unusable."""
    from flowsight.adapters.catalogue import CatalogueError
    from flowsight.context import build_runtime
    from flowsight.services.pressure import PressureConfigError

    try:
        return build_runtime(settings)
    except (CatalogueError, PressureConfigError) as error:
        raise fail(str(error), 2) from None


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` as an error; raise the returned Exit to leave with `code`."""
    console.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


def described(event: dict[str, Any]) -> str:
    """An event a dry run would publish, in one line: its type, id and time, and the fields a
    bed manager would check (`hl7 check`, `fhir check`)."""
    keys = (
        "service unit arrived_at departed_at outcome admission_method from_service to_service "
        "to_unit destination cancels_event_id"
    ).split()
    shown = " ".join(f"{k}={event[k]}" for k in keys if k in event)
    return f"{event['event_type']} {event['event_id']} at {event['occurred_at']} {shown}"
