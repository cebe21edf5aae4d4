"""The `flowsight` command line: one Typer app assembled from a module per topic."""

from __future__ import annotations

import signal
import sys

import typer

from flowsight.cli import kafka, rebuild, run, soak, tools
from flowsight.cli.db import db_app, postgres_app
from flowsight.cli.fhir import fhir_app
from flowsight.cli.hl7 import hl7_app
from flowsight.cli.keys import keys_app
from flowsight.cli.report import report_app
from flowsight.cli.terminal import fail

app = typer.Typer(
    help="flowsight: live patient flow, queues, delays and pressure for a health and care system.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# Registration order is the order `flowsight --help` lists them in.
app.command()(run.up)
app.command()(run.worker)
app.command()(run.api)
app.command()(kafka.publish)
app.command("simulate")(tools.simulate_command)
app.command()(rebuild.rebuild)
app.add_typer(kafka.kafka_app, name="kafka")
app.add_typer(postgres_app, name="postgres")
app.add_typer(db_app, name="db")
app.add_typer(kafka.topics_app, name="topics")
app.add_typer(keys_app, name="keys")
app.add_typer(report_app, name="report")
app.add_typer(tools.bench_app, name="bench")
app.command()(soak.soak)
app.add_typer(tools.schema_app, name="schema")
app.add_typer(kafka.dlq_app, name="dlq")
app.add_typer(hl7_app, name="hl7")
app.add_typer(fhir_app, name="fhir")


def main() -> None:
    """Console-script entry point. SIGTERM (a service manager, `timeout`, `kill`) stops any
    command as Ctrl-C does, so that what it started (a broker, workers, an API) stops with it.
    A broker that does not answer is one sentence and exit 2, whichever command met it (never a
    traceback)."""
    signal.signal(signal.SIGTERM, _as_ctrl_c)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        from flowsight.adapters.kafka.admin import BrokerUnreachable  # only once something failed

        if not isinstance(error, BrokerUnreachable):
            raise
        sys.exit(fail(str(error), 2).exit_code)


def _as_ctrl_c(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
