"""API keys: made here, given out once, stored only as a configuration entry with a hash."""

from __future__ import annotations

from typing import Annotated

import typer

from flowsight.cli.terminal import fail

keys_app = typer.Typer(help="API keys.", no_args_is_help=True)


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
        raise fail(str(error)) from None
    typer.echo(f"key (give it to {name}; it is not stored): {key}")
    typer.echo(f"add to FLOWSIGHT_API_KEYS: {entry}")
