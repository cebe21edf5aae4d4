"""The read-model database: its schema, and a local PostgreSQL to keep it in."""

from __future__ import annotations

import asyncio

import typer

from flowsight.cli.terminal import console, fail, settings_or_exit

db_app = typer.Typer(help="The read-model database.", no_args_is_help=True)
postgres_app = typer.Typer(
    help="A local PostgreSQL cluster from Debian's packages.", no_args_is_help=True
)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the read model's tables (Alembic migrations)."""
    from flowsight.adapters.readmodel.database import describe
    from flowsight.adapters.readmodel.schema_lock import upgrade_exclusively

    settings = settings_or_exit()
    upgrade_exclusively(settings.resolved_database_url)
    console.print(f"database at {describe(settings.resolved_database_url)} is up to date")


@postgres_app.command("start")
def postgres_start(port: int = 5433) -> None:
    """Install (if missing) and start a local PostgreSQL cluster; print its URL."""
    from flowsight.devtools.local.postgres import LocalPostgres, local_password

    server = LocalPostgres(port=port, password=local_password(settings_or_exit()))
    try:
        with console.status("starting PostgreSQL…"):
            server.ensure_installed()
            server.start()
            asyncio.run(server.create_database("flowsight", exist_ok=True))
    except RuntimeError as error:
        raise fail(str(error)) from None
    console.print("running; use it with:")
    typer.echo(f"FLOWSIGHT_DATABASE_URL={server.url('flowsight')}")


@postgres_app.command("stop")
def postgres_stop(port: int = 5433) -> None:
    """Stop the local PostgreSQL cluster."""
    from flowsight.devtools.local.postgres import LocalPostgres

    console.print("stopped" if LocalPostgres(port=port).stop() else "not running")
