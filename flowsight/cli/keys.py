"""API keys: made here, given out once, stored only as a configuration entry with a hash.

The key set is configuration (`FLOWSIGHT_API_KEYS`, `name:roles:sha256` entries), read when the
API starts. So `list` shows the configured entries (never a secret: there is none to show), and
`revoke` gives the value without an entry, or writes it to a .env file; the API drops the key
when it next starts with that value.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flowsight.cli.terminal import console, fail, settings_or_exit

if TYPE_CHECKING:
    from flowsight.api.auth import ApiKey

keys_app = typer.Typer(help="API keys.", no_args_is_help=True)

VARIABLE = "FLOWSIGHT_API_KEYS"
#: How much of a key's SHA-256 `list` shows: enough to tell entries apart, not to look one up.
HASH_PREFIX = 12

EnvFile = Annotated[
    Path | None,
    typer.Option(
        "--env-file",
        help=f"Read {VARIABLE} from this .env file (`revoke` also writes it back there) instead "
        "of the settings in force.",
    ),
]


@keys_app.command("create")
def keys_create(
    name: Annotated[
        str, typer.Option(help="Who the key is for, e.g. bed-managers: letters, digits, . _ -")
    ],
    roles: Annotated[
        str,
        typer.Option(
            help="Comma-separated: viewer, caseload, oncall, admin, metrics, publisher:<ORG>."
        ),
    ],
) -> None:
    """Make a new API key; store only the printed configuration entry, give the key out once."""
    from flowsight.api.auth import new_api_key

    try:
        key, entry = new_api_key(name, [r.strip() for r in roles.split(",") if r.strip()])
    except ValueError as error:
        raise fail(str(error), 2) from None
    typer.echo(f"key (give it to {name}; it is not stored): {key}")
    typer.echo(f"add to FLOWSIGHT_API_KEYS: {entry}")


@keys_app.command("list")
def keys_list(env_file: EnvFile = None) -> None:
    """The configured keys: name, roles and the start of the key's SHA-256 (never a key)."""
    keys = _configured(env_file)
    if not keys:
        console.print(f"no API keys configured in {VARIABLE}")
        return
    width = max(len(key.name) for key in keys)
    for key in keys:
        roles = "+".join(sorted(key.roles))
        typer.echo(f"{key.name:<{width}}  {roles:<40}  sha256:{key.sha256[:HASH_PREFIX]}…")


@keys_app.command("revoke")
def keys_revoke(
    name: Annotated[str, typer.Argument(help="The key's name, as `keys list` shows it.")],
    env_file: EnvFile = None,
) -> None:
    """Drop a key from the configured set: print the new value, or write it to --env-file.

    The API reads its keys when it starts: restart it (every instance) for the revocation to
    take effect."""
    keys = _configured(env_file)
    kept = [key for key in keys if key.name != name]
    if len(kept) == len(keys):
        known = ", ".join(key.name for key in keys) or "none"
        raise fail(f"no API key named {name!r} in {VARIABLE} (configured: {known})")
    value = ",".join(f"{key.name}:{'+'.join(sorted(key.roles))}:{key.sha256}" for key in kept)
    if env_file is None:
        typer.echo(f"{VARIABLE}={value}")
        console.print(f"set {VARIABLE} to this value and restart the API to revoke {name!r}")
        return
    from dotenv import set_key

    set_key(env_file, VARIABLE, value, quote_mode="never")
    console.print(f"{name!r} removed from {VARIABLE} in {env_file}; restart the API to revoke it")


def _configured(env_file: Path | None) -> list[ApiKey]:
    """The key entries of the .env file given, else of the settings in force."""
    from flowsight.api.auth import parse_api_keys

    if env_file is None:
        config = settings_or_exit().api_keys
    else:
        from dotenv import dotenv_values

        if not env_file.is_file():
            raise fail(f"{env_file} is not a file")
        config = dotenv_values(env_file).get(VARIABLE) or ""
    try:
        return parse_api_keys(config)
    except ValueError as error:
        raise fail(f"{VARIABLE}: {error}", 2) from None
