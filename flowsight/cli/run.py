"""Running flowsight: the whole stack on one machine, the stream worker, the HTTP API."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from flowsight.cli.terminal import console, fail, runtime_or_exit, settings_or_exit


def up(
    postgres: Annotated[
        bool, typer.Option(help="Use a local PostgreSQL instead of the embedded SQLite file.")
    ] = False,
    simulate: Annotated[bool, typer.Option(help="Run the event simulator too.")] = True,
) -> None:
    """Start Kafka, the database, the worker, the API and the simulator; Ctrl-C stops them all."""
    from flowsight.settings import LOCAL
    from flowsight.stack import Stack

    # The whole product on one machine is a local trial unless told otherwise; its children
    # inherit the environment, so every part runs in the same mode with the same generated key.
    os.environ.setdefault("FLOWSIGHT_ENVIRONMENT", LOCAL)
    settings = settings_or_exit()
    catalogue = runtime_or_exit(settings).catalogue
    try:
        Stack(settings, console, catalogue, use_postgres=postgres, simulate=simulate).run()
    except RuntimeError as error:
        raise fail(str(error)) from None


def worker() -> None:
    """Run the stream worker (validator and state agents)."""
    from flowsight.adapters.catalogue import CatalogueError
    from flowsight.logs import configure_logging
    from flowsight.services.pressure import PressureConfigError
    from flowsight.worker import run_worker

    settings = settings_or_exit()
    configure_logging(settings)
    try:
        run_worker(settings)
    except (CatalogueError, PressureConfigError) as error:
        raise fail(str(error), 2) from None


def api() -> None:
    """Run the HTTP API and dashboard (uvicorn)."""
    import uvicorn

    from flowsight.adapters.catalogue import CatalogueError
    from flowsight.context import build_api
    from flowsight.heap import settle_heap, watch_heap
    from flowsight.logs import configure_logging, logging_config
    from flowsight.services.pressure import PressureConfigError

    settings = settings_or_exit()
    configure_logging(settings)
    try:
        application = build_api(settings)
    except (CatalogueError, PressureConfigError, ValueError) as error:
        raise fail(str(error), 2) from None
    # What is loaded now (modules, routes, models: ~160,000 objects) lives as long as the process.
    # Moved out of the collector's reach, a full collection under load no longer walks it: one
    # took ~115 ms, a stall of every request in flight (docs/benchmarks.md, sixth round).
    watch_heap(application.state.registry)
    settle_heap()
    # httptools and uvloop (uvicorn[standard]) named rather than left to "auto", which falls back
    # to the pure-Python parser and loop silently; no access log: its logger is at WARNING
    # (logging_config), so it wrote nothing and only cost each request a check.
    uvicorn.run(
        application,
        host=settings.api_host,
        port=settings.api_port,
        http="httptools",
        loop="uvloop",
        access_log=False,
        server_header=False,  # no `server: uvicorn` banner to tell a caller what to attack
        log_config=logging_config(settings),
        timeout_graceful_shutdown=5,
    )
