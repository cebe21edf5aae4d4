"""The validator's checks in a child process: the same outcomes, an error kept to its event,
a child that died replaced without losing its batch."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime

import faust
import orjson
import pytest

from flowsight.services.validation import Rejected, ValidationContext
from flowsight.settings import Settings
from flowsight.streams.agents import validator as validator_module
from flowsight.streams.validation_process import (
    Failed,
    InLoop,
    Item,
    Valid,
    ValidationProcess,
    checks_for,
)
from flowsight.streams.validation_process import check as checked
from tests.schemas.examples import NHS_NUMBER_DIGITS, example, without
from tests.streams.test_validator import Validator

NOW = datetime.now(UTC)

#: One of each outcome: valid, valid naming two identities (a link), refused, not JSON.
PATIENT = {"nhs_number": NHS_NUMBER_DIGITS, "local_id": "MRN-7", "id_system": "RR8-PAS"}
BATCH: list[Item] = [
    (orjson.dumps(example("admission", event_id="a-1")), "RR8", {}),
    (orjson.dumps(example("admission", event_id="a-2", patient=PATIENT)), "RR8", {}),
    (orjson.dumps(without(example("admission"), "service")), "RR8", {}),
    (b"{not json", "RR8", {}),
]


@pytest.fixture
async def child(context: ValidationContext) -> AsyncIterator[ValidationProcess]:
    process = ValidationProcess(context)
    try:
        yield process
    finally:
        process.close()


def child_pids(process: ValidationProcess) -> list[int]:
    pool = process._pool
    return list(pool._processes) if pool is not None and pool._processes else []


async def test_the_child_checks_a_batch_as_the_loop_would(
    child: ValidationProcess, context: ValidationContext
) -> None:
    in_child = await child(BATCH, NOW)

    assert in_child == await InLoop(context)(BATCH, NOW)
    assert child_pids(child) and os.getpid() not in child_pids(child)
    valid, linked, refused, unreadable = in_child
    assert isinstance(valid, Valid) and valid.link is None and valid.event_type == "admission"
    assert orjson.loads(valid.value)["event_id"] == "a-1"
    assert valid.key == orjson.loads(valid.value)["pseudonym"].encode()
    assert NHS_NUMBER_DIGITS.encode() not in valid.value
    assert isinstance(linked, Valid) and linked.alias is not None and linked.link is not None
    assert orjson.loads(linked.link)["to"] == orjson.loads(linked.value)["pseudonym"]
    assert b"MRN-7" not in linked.value + linked.link
    assert refused == Rejected("missing_field", "service", "service is required")
    assert isinstance(unreadable, Rejected) and unreadable.reason == "malformed_json"


async def test_a_child_that_died_fails_its_batch_and_the_next_batch_starts_a_new_one(
    child: ValidationProcess,
) -> None:
    await child(BATCH[:1], NOW)
    (first,) = child_pids(child)
    os.kill(first, signal.SIGKILL)
    with pytest.raises(BrokenProcessPool):
        await child(BATCH[:1], NOW)

    (valid,) = await child(BATCH[:1], NOW)
    assert isinstance(valid, Valid)
    assert child_pids(child) and first not in child_pids(child)


async def test_ctrl_c_in_a_terminal_leaves_the_child_to_its_worker(
    child: ValidationProcess,
) -> None:
    await child(BATCH[:1], NOW)
    (pid,) = child_pids(child)
    os.kill(pid, signal.SIGINT)
    (valid,) = await child(BATCH[:1], NOW)
    assert isinstance(valid, Valid)
    assert child_pids(child) == [pid]


def test_a_worker_on_more_than_one_cpu_checks_in_a_child_else_on_its_loop(
    context: ValidationContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert isinstance(checks_for(context), ValidationProcess)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert isinstance(checks_for(context), InLoop)
    # Where the system has no affinity (macOS), the machine's CPUs.
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert isinstance(checks_for(context), InLoop)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert isinstance(checks_for(context), ValidationProcess)


def test_an_error_in_the_checks_is_its_event_s_outcome_not_the_batch_s(
    context: ValidationContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowsight.streams import validation_process

    real = validation_process.validate_event

    def failing(raw: bytes, **kwargs: object) -> object:
        if b"a-2" in raw:
            raise KeyError("a bug")
        return real(raw, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(validation_process, "validate_event", failing)
    valid, failed, *_ = checked(BATCH, context, NOW)

    assert isinstance(valid, Valid)
    assert isinstance(failed, Failed) and failed.error == "KeyError('a bug')"
    assert "Traceback" in failed.trace and "a bug" in failed.trace


async def test_the_agent_dead_letters_an_event_the_checks_failed_on_and_logs_why(
    app: faust.App,
    settings: Settings,
    context: ValidationContext,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    class FailingOnSecond(InLoop):
        async def __call__(self, items: list[Item], now: datetime) -> list[object]:  # type: ignore[override]
            outcomes: list[object] = list(await super().__call__(items, now))
            for position, (raw, _organisation, _headers) in enumerate(items):
                if b"a-2" in raw:
                    outcomes[position] = Failed("KeyError('a bug')", "Traceback ...\nKeyError")
            return outcomes

    subject = Validator(app, settings, FailingOnSecond(context))
    with caplog.at_level(logging.ERROR, logger="flowsight.worker"):
        async with subject.agent.test_context() as agent:
            for raw, _organisation, _headers in BATCH[:2]:
                await agent.put(raw, wait=False)
            published = await subject.events.get(timeout=2)
            refused = await subject.dead_letters.get(timeout=2)

    assert orjson.loads(published.value)["event_id"] == "a-1"
    headers = dict(refused.message.headers)
    assert headers["error.reason"] == b"unprocessable"
    assert headers["error.message"] == b"the validator failed: KeyError('a bug')"
    assert any("validator failed on" in r.getMessage() for r in caplog.records)
    assert any("Traceback" in r.getMessage() for r in caplog.records)


async def test_the_agent_sends_a_batch_again_through_a_new_child_when_its_child_died(
    app: faust.App,
    settings: Settings,
    child: ValidationProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(validator_module, "RESEND_SECONDS", 0.1)
    subject = Validator(app, settings, child)
    async with subject.agent.test_context() as agent:
        await agent.put(BATCH[0][0], wait=False)
        first = await subject.events.get(timeout=30)
        (pid,) = child_pids(child)
        os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.2)  # the pool sees its child gone
        await agent.put(orjson.dumps(example("discharge", event_id="d-1")), wait=False)
        second = await subject.events.get(timeout=30)

    assert orjson.loads(first.value)["event_id"] == "a-1"
    assert orjson.loads(second.value)["event_id"] == "d-1"
    assert subject.dead_letters.queue.empty()
    assert child._pool is None  # closed with the agent
