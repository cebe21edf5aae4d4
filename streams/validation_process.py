"""The validator's checks, each batch's in a process of their own beside the worker's loop.

Checking an event against the contract and the catalogue, pseudonymising it and writing it as
JSON is pure CPU, and was the largest single part of a replaying worker's loop
(docs/benchmarks.md). Where the worker may use more than one CPU, the validator hands each
batch to one child process (`streams.child`), and the loop goes on with the tracker's batches
meanwhile. The child gives back each event ready to send (its key and its JSON, and the link
record's JSON when the event names two identities) or why it was refused. Everything else
stays with the validator agent: the order of its records, their delivery and
acknowledgement, the links it has sent, its metrics and its logs.

The child is given the validation context once, when it starts. A child that died fails its
batch, which the validator sends again (`RESEND_SECONDS`) through a new child.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol

import orjson

from flowsight.services.identities import link
from flowsight.services.validation import Accepted, Rejected, ValidationContext, validate_event
from flowsight.streams.child import Child

#: An event to check: its record's value, the organisation its topic belongs to, its headers.
Item = tuple[bytes, str, Mapping[str, bytes]]


class Valid(NamedTuple):
    """An event that passed, as the events topic takes it."""

    key: bytes
    value: bytes
    event_type: str
    #: The local pseudonym the event also named, and the link record's value to it.
    alias: str | None
    link: bytes | None


class Failed(NamedTuple):
    """The checks themselves failed on an event (a bug): the error and its traceback."""

    error: str
    trace: str


Checked = Valid | Rejected | Failed


def check(items: Sequence[Item], context: ValidationContext, now: datetime) -> list[Checked]:
    """Each item's outcome, in order: an error in one is that item's outcome, not the batch's."""
    outcomes: list[Checked] = []
    for raw, organisation, headers in items:
        try:
            outcome = validate_event(
                raw, organisation=organisation, context=context, now=now, headers=headers
            )
            if isinstance(outcome, Accepted):
                event, alias = outcome.event, outcome.alias
                outcomes.append(
                    Valid(
                        outcome.key.encode(),
                        orjson.dumps(event),
                        event["event_type"],
                        alias,
                        None if alias is None else orjson.dumps(link(alias, event)),
                    )
                )
            else:
                outcomes.append(outcome)
        except Exception as error:  # a bug must not stop the stream or lose the event
            outcomes.append(Failed(repr(error), traceback.format_exc()))
    return outcomes


class Checks(Protocol):
    """Where a batch is checked: `check` with the worker's validation context."""

    def start(self) -> None: ...

    async def __call__(self, items: Sequence[Item], now: datetime) -> list[Checked]: ...

    def close(self) -> None: ...


class InLoop:
    """The checks on the worker's own loop: a worker limited to one CPU."""

    def __init__(self, context: ValidationContext) -> None:
        self.context = context

    def start(self) -> None:
        """Nothing to start."""

    async def __call__(self, items: Sequence[Item], now: datetime) -> list[Checked]:
        return check(items, self.context, now)

    def close(self) -> None:
        """Nothing to stop."""


# The child's context, given once when it starts (`_start`).
_context: ValidationContext | None = None


def _start(context: ValidationContext) -> None:
    global _context
    _context = context


def _check(items: Sequence[Item], now: datetime) -> list[Checked]:
    assert _context is not None, "the child was started by _start"
    return check(items, _context, now)


class ValidationProcess(Child):
    """The checks in one child process."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(_start, context)

    async def __call__(self, items: Sequence[Item], now: datetime) -> list[Checked]:
        return await self.run(_check, items, now)


def checks_for(context: ValidationContext) -> Checks:
    """In a child process where this process may use more than one CPU, else on its loop."""
    if usable_cpus() > 1:
        return ValidationProcess(context)
    return InLoop(context)


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the system has one: a container's
    cpuset), else the machine's."""
    affinity = getattr(os, "sched_getaffinity", None)  # not on macOS
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1
