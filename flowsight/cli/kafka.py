"""Kafka from the command line: the local broker, the topics, publishing, and dead letters."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from flowsight.cli.terminal import (
    console,
    dry_run_settings,
    fail,
    runtime_or_exit,
    settings_or_exit,
)
from flowsight.settings import Settings

if TYPE_CHECKING:
    from flowsight.adapters.kafka.dlq import DeadLetter

kafka_app = typer.Typer(
    help="A local Apache Kafka broker (KRaft, no Docker).", no_args_is_help=True
)
topics_app = typer.Typer(help="Kafka topics flowsight uses.", no_args_is_help=True)
dlq_app = typer.Typer(
    help="Dead letters: why events were refused, and replaying them after a fix.",
    no_args_is_help=True,
)


def publish(
    file: Annotated[
        Path, typer.Argument(help="JSON: one event, an array of events, or JSON lines.")
    ],
) -> None:
    """Publish events from a file to their organisations' ingest topics."""
    from flowsight.adapters.kafka.publish_files import publish_events, read_events

    settings = settings_or_exit()
    try:
        events = read_events(file)
    except (OSError, ValueError) as error:
        raise fail(f"cannot read {file}: {error}") from None
    try:
        sent = asyncio.run(publish_events(settings, events, console=console))
    except RuntimeError as error:
        raise fail(str(error), 2) from None
    except ValueError as error:  # an event naming no organisation
        raise fail(str(error)) from None
    console.print(f"published {sent} event(s) to {settings.kafka_bootstrap}")


@kafka_app.command("start")
def kafka_start() -> None:
    """Download (once) and start a single-node broker on FLOWSIGHT_KAFKA_BOOTSTRAP."""
    from flowsight.devtools.local.kafka import LocalKafka

    settings = settings_or_exit()
    broker = LocalKafka(settings)
    try:
        with console.status(f"fetching Apache Kafka {settings.kafka_version} (first run only)…"):
            broker.ensure_downloaded(progress=lambda line: console.log(line))
        with console.status(f"starting Kafka on {settings.kafka_bootstrap}…"):
            started = broker.start()
    except RuntimeError as error:
        raise fail(str(error)) from None
    console.print(("started" if started else "already running") + f": {settings.kafka_bootstrap}")


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the local broker."""
    from flowsight.devtools.local.kafka import LocalKafka

    stopped = LocalKafka(settings_or_exit()).stop()
    console.print("stopped" if stopped else "not running")


@kafka_app.command("status")
def kafka_status() -> None:
    """Say whether the local broker runs, and where."""
    from flowsight.devtools.local.kafka import LocalKafka

    # It reads no event and keys nothing: production's secrets are not asked for.
    status = LocalKafka(dry_run_settings()).status()
    typer.echo(json.dumps(_plain(status), indent=2, default=str))


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


@topics_app.command("create")
def topics_create() -> None:
    """Create the ingest, events and dead-letter topics that do not exist yet."""
    from flowsight.adapters.kafka.admin import ensure_topics, product_topics, wait_for_broker

    settings = settings_or_exit()
    catalogue = runtime_or_exit(settings).catalogue

    async def _create() -> list[str]:
        await wait_for_broker(settings, within=settings.kafka_wait_seconds)
        return await ensure_topics(settings, product_topics(settings, catalogue))

    for name in asyncio.run(_create()):
        console.print(f"created {name}")


def _dead_letters(settings: Settings) -> list[DeadLetter]:
    from flowsight.adapters.kafka.dlq import read_dead_letters

    return asyncio.run(read_dead_letters(settings))


@dlq_app.command("list")
def dlq_list(
    reason: Annotated[str | None, typer.Option(help="Only this error.reason.")] = None,
    limit: Annotated[int, typer.Option(help="The newest N.")] = 50,
) -> None:
    """The newest dead letters: where, when, why, and from which topic.

    Two lines each, readable in a terminal of 80 columns: the position (for `dlq show` and
    `dlq replay`), the time, the reason, the field and where it came from; then the message,
    indented. As text, never markup: a message quotes what the sender sent."""
    from rich.text import Text

    letters = [d for d in _dead_letters(settings_or_exit()) if reason in (None, d.reason)]
    out = Console(highlight=False)
    for letter in letters[-limit:]:
        heading = Text(letter.position, style="bold")
        heading.append(f"  {letter.at.strftime('%Y-%m-%d %H:%M:%S')} UTC  ")
        heading.append(letter.reason, style="bold")
        heading.append(f"  {letter.header('error.field') or '-'}")
        heading.append(f"  from {letter.header('error.gateway') or letter.origin_topic}")
        out.print(heading, soft_wrap=True)  # one line, for grep; the terminal wraps it
        out.print(Text("    " + letter.header("error.message")[:300]), soft_wrap=True)
    repeats = sum(letter.copies - 1 for letter in letters)  # redelivered: listed once
    console.print(
        f"{len(letters)} dead letter(s)"
        + (f" with reason {reason}" if reason else "")
        + f", one per original record; {repeats} raw duplicate(s) on the topic not listed"
    )


@dlq_app.command("show")
def dlq_show(
    position: Annotated[str, typer.Argument(help="PARTITION:OFFSET, from `dlq list`.")],
) -> None:
    """One dead letter: every header and the original message (JSON indented; an HL7 v2
    message one segment a line)."""
    letter = _find_letter(settings_or_exit(), position)
    for name, value in sorted(letter.headers.items()):
        typer.echo(f"{name}: {_for_a_terminal(value.decode(errors='replace'))}")
    typer.echo("")
    try:
        typer.echo(json.dumps(json.loads(letter.value), indent=2, ensure_ascii=False))
    except ValueError:
        typer.echo(_for_a_terminal(letter.value.decode(errors="replace")))


def _for_a_terminal(text: str) -> str:
    """`text` as lines a terminal shows as they are: split at each line end (an HL7 v2 message's
    segments end in a bare CR, which sent each back over the one before), every other control
    character written as an escape (`\\x1b`), so what a sender sent cannot repaint the screen."""
    return "\n".join(
        "".join(c if c.isprintable() or c == "\t" else repr(c)[1:-1] for c in line)
        for line in re.split(r"\r\n|\r|\n", text.rstrip("\r\n"))
    )


def _find_letter(settings: Settings, position: str) -> DeadLetter:
    from flowsight.adapters.kafka.dlq import parse_position

    try:
        wanted = parse_position(position)
    except ValueError as error:
        raise fail(str(error)) from None
    for letter in _dead_letters(settings):
        if (letter.partition, letter.offset) == wanted:
            return letter
    raise fail(f"no dead letter at {position}; see `flowsight dlq list`")


@dlq_app.command("replay")
def dlq_replay(
    position: Annotated[str, typer.Argument(help="PARTITION:OFFSET, from `dlq list`.")],
    file: Annotated[
        Path | None, typer.Option(help="A corrected version to publish instead of the original.")
    ] = None,
) -> None:
    """Publish a dead letter again to the ingest topic it came from, e.g. after a fix."""
    from flowsight.adapters.kafka.dlq import replay

    settings = settings_or_exit()
    letter = _find_letter(settings, position)
    corrected = file.read_bytes() if file else None
    try:
        topic = asyncio.run(replay(settings, letter, corrected))
    except ValueError as error:
        raise fail(str(error)) from None
    what = f"the corrected event from {file}" if file else "the original message"
    console.print(f"replayed {position}: {what} to {topic}")
