"""The validator agent: valid events leave pseudonymised; invalid ones go to the dead letters."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import faust
import orjson
import pytest
from aiokafka.errors import KafkaTimeoutError

from flowsight.adapters.kafka.producer import CORRELATION_HEADER
from flowsight.schemas.events import PatientIdentity
from flowsight.services.pseudonym import pseudonymise
from flowsight.services.validation import ValidationContext
from flowsight.settings import Settings
from flowsight.streams.agents import Backlog, outlet
from flowsight.streams.agents.validator import validator
from flowsight.streams.dead_letters import DeadLetters
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.validation_process import Checks, InLoop
from tests.schemas.examples import NHS_NUMBER_DIGITS, example, without
from tests.streams.conftest import ChannelOutlet, raw_topic


class Validator:
    """The validator on the RR8 ingest topic, its outputs read back from in-memory channels."""

    def __init__(self, app: faust.App, settings: Settings, checks: Checks) -> None:
        self.metrics = WorkerMetrics()
        events, dead_letters = app.channel(), app.channel()
        # Subscribed before anything is sent: a channel keeps only what a subscriber will read.
        self.events, self.dead_letters = aiter(events), aiter(dead_letters)
        self.agent = app.agent(raw_topic(app, settings.ingest_topic("RR8")), name="validator")(
            validator(
                re.compile(settings.ingest_topic_pattern),
                checks,
                ChannelOutlet(events),
                DeadLetters(dead_letters, self.metrics),
                self.metrics,
                Backlog(lambda tp: None),
            )
        )

    def count(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def subject(app: faust.App, settings: Settings, context: ValidationContext) -> Validator:
    return Validator(app, settings, InLoop(context))


async def test_a_valid_event_goes_to_the_events_topic_pseudonymised(subject: Validator) -> None:
    async with subject.agent.test_context() as agent:
        await agent.put(orjson.dumps(example("admission")), key=b"pas-adm-991")
        published = await subject.events.get(timeout=1)

    body = orjson.loads(published.value)
    assert body["event_id"] == "pas-adm-991"
    assert "patient" not in body
    assert len(body["pseudonym"]) == 64
    assert published.key == body["pseudonym"].encode()
    assert NHS_NUMBER_DIGITS.encode() not in published.value
    assert subject.dead_letters.queue.empty()
    labels = {"event_type": "admission", "outcome": "valid"}
    assert subject.count("flowsight_events_validated_total", **labels) == 1


async def test_an_event_naming_the_nhs_number_and_the_local_id_links_them_once(
    subject: Validator, context: ValidationContext
) -> None:
    """The link reaches the partition of what the source sent under its local id alone."""
    patient = {"nhs_number": NHS_NUMBER_DIGITS, "local_id": "MRN-1", "id_system": "RR8-PAS"}
    local = pseudonymise(
        PatientIdentity(local_id="MRN-1", id_system="RR8-PAS"), context.pseudonym_key
    )
    async with subject.agent.test_context() as agent:
        for event_id in ("adm-1", "tra-1"):
            document = example("admission", event_id=event_id, patient=patient)
            await agent.put(orjson.dumps(document), key=b"SPELL-1")
        published = [await subject.events.get(timeout=1) for _ in range(3)]

    first, linking, second = (orjson.loads(record.value) for record in published)
    assert [first["event_id"], second["event_id"]] == ["adm-1", "tra-1"]
    assert linking == {
        "event_type": "link",
        "pseudonym": local,
        "to": first["pseudonym"],
        "source": first["source"],
        "event_id": "adm-1",
        "occurred_at": first["occurred_at"],
    }
    assert published[1].key == local.encode()
    assert subject.events.queue.empty(), "one link for the pair, not one per event"
    assert not any(b"MRN-1" in record.value for record in published)


async def test_an_invalid_event_goes_to_the_dead_letters_unchanged_with_the_reason(
    subject: Validator,
) -> None:
    raw = orjson.dumps(without(example("admission"), "service"))
    async with subject.agent.test_context() as agent:
        await agent.put(raw, key=b"pas-adm-991", headers=[("traceparent", b"00-abc")])
        refused = await subject.dead_letters.get(timeout=1)

    assert refused.value == raw
    assert refused.key == b"pas-adm-991"
    headers = dict(refused.message.headers)
    assert headers["traceparent"] == b"00-abc"
    assert headers["error.reason"] == b"missing_field"
    assert headers["error.field"] == b"service"
    assert headers["error.message"] == b"service is required"
    assert headers["error.topic"] == b"flowsight.ingest.RR8.v1"
    assert (headers["error.partition"], headers["error.offset"]) == (b"0", b"0")
    assert subject.events.queue.empty()
    assert subject.count("flowsight_dead_letters_total", reason="missing_field") == 1
    labels = {"event_type": "admission", "outcome": "dead_lettered"}
    assert subject.count("flowsight_events_validated_total", **labels) == 1


async def test_a_record_without_a_value_is_refused_as_no_json_not_as_a_failure(
    subject: Validator,
) -> None:
    # A tombstone (kcat -Z, a null value) was dead-lettered `unprocessable` with a traceback
    # logged at error level, as if the validator had a bug.
    async with subject.agent.test_context() as agent:
        await agent.put(None, key=b"pas-adm-990")
        refused = await subject.dead_letters.get(timeout=1)

    headers = dict(refused.message.headers)
    assert headers["error.reason"] == b"malformed_json"
    assert subject.count("flowsight_dead_letters_total", reason="unprocessable") == 0


async def test_a_dead_letter_s_reason_blanks_an_nhs_number_the_event_put_in_a_field(
    subject: Validator,
) -> None:
    raw = orjson.dumps(example("admission") | {"service": "9434765919"})
    async with subject.agent.test_context() as agent:
        await agent.put(raw, key=b"pas-adm-992")
        refused = await subject.dead_letters.get(timeout=1)

    assert refused.value == raw
    headers = dict(refused.message.headers)
    assert headers["error.reason"] == b"unknown_service"
    assert b"9434765919" not in headers["error.message"]
    assert b"[nhs-number?]" in headers["error.message"]


async def test_an_event_from_another_organisation_s_system_is_dead_lettered(
    subject: Validator,
) -> None:
    # Published on RR8's topic, but the source is a Leeds City Council system.
    document = example("admission", source="LCC/mosaic")
    async with subject.agent.test_context() as agent:
        await agent.put(orjson.dumps(document), key=b"pas-adm-991")
        refused = await subject.dead_letters.get(timeout=1)

    assert dict(refused.message.headers)["error.field"] == b"source"
    assert subject.events.queue.empty()


async def test_the_publisher_s_correlation_id_goes_with_the_event_and_into_its_log_line(
    subject: Validator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="flowsight.worker")
    async with subject.agent.test_context() as agent:
        await agent.put(
            orjson.dumps(example("admission")),
            key=b"pas-adm-991",
            headers=[(CORRELATION_HEADER, b"ATT-778812")],
        )
        published = await subject.events.get(timeout=1)

    assert dict(published.message.headers)[CORRELATION_HEADER] == b"ATT-778812"
    (line,) = [r for r in caplog.records if getattr(r, "correlation_id", None) == "ATT-778812"]
    assert "validated admission from flowsight.ingest.RR8.v1" in line.getMessage()


async def test_a_dead_letter_keeps_the_correlation_id_and_its_warning_names_it(
    subject: Validator, caplog: pytest.LogCaptureFixture
) -> None:
    raw = orjson.dumps(without(example("admission"), "service"))
    async with subject.agent.test_context() as agent:
        await agent.put(raw, key=b"k", headers=[(CORRELATION_HEADER, b"req-42")])
        refused = await subject.dead_letters.get(timeout=1)

    assert dict(refused.message.headers)[CORRELATION_HEADER] == b"req-42"
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert getattr(warning, "correlation_id", None) == "req-42"
    assert "missing_field" in warning.getMessage()


async def test_a_dead_letter_s_warning_is_one_line_whatever_the_event_s_key_names_hold(
    subject: Validator, caplog: pytest.LogCaptureFixture
) -> None:
    # The refusal quotes an unknown key's name; a name holding a newline and an escape sequence
    # printed a forged line (and repainted the terminal) in the console log format.
    forged = "evil\n2026-12-06T08:00:00Z [error    ] FORGED LINE\x1b[2J"
    raw = orjson.dumps({**example("admission"), forged: 1})
    async with subject.agent.test_context() as agent:
        await agent.put(raw, key=b"k")
        await subject.dead_letters.get(timeout=1)

    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    said = warning.getMessage()
    assert "invalid_field" in said and "FORGED LINE" in said
    assert "\n" not in said and "\x1b" not in said


async def test_an_event_published_without_a_correlation_id_is_given_one_that_travels_with_it(
    subject: Validator,
) -> None:
    async with subject.agent.test_context() as agent:
        await agent.put(orjson.dumps(example("admission")), key=b"a")
        await agent.put(orjson.dumps(without(example("admission"), "service")), key=b"b")
        published = await subject.events.get(timeout=1)
        refused = await subject.dead_letters.get(timeout=1)

    given = dict(published.message.headers)[CORRELATION_HEADER]
    refused_id = dict(refused.message.headers)[CORRELATION_HEADER]
    assert given and refused_id and given != refused_id


async def test_a_batch_of_events_each_leave_in_the_order_they_came(subject: Validator) -> None:
    ids = [f"pas-adm-{n}" for n in range(30)]
    async with subject.agent.test_context() as agent:
        for event_id in ids:
            await agent.put(orjson.dumps(example("admission", event_id=event_id)), key=b"k")
        published = [await subject.events.get(timeout=1) for _ in ids]

    assert [orjson.loads(p.value)["event_id"] for p in published] == ids
    labels = {"event_type": "admission", "outcome": "valid"}
    assert subject.count("flowsight_events_validated_total", **labels) == len(ids)


async def test_a_record_kafka_did_not_acknowledge_is_sent_again_before_the_batch_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outlet, "RESEND_SECONDS", 0)
    loop = asyncio.get_running_loop()
    failed: asyncio.Future[None] = loop.create_future()
    failed.set_exception(KafkaTimeoutError())
    acknowledged: asyncio.Future[None] = loop.create_future()
    acknowledged.set_result(None)
    sent_again: list[str] = []

    async def again() -> asyncio.Future[None]:
        sent_again.append("record")
        return acknowledged

    async def never_called() -> asyncio.Future[None]:
        raise AssertionError("an acknowledged record was sent again")

    await outlet.delivered([(failed, again), (acknowledged, never_called)])

    assert sent_again == ["record"]


async def test_an_event_whose_type_is_an_object_is_dead_lettered_and_its_batch_goes_on(
    subject: Validator,
) -> None:
    odd = orjson.dumps(example("admission", event_type={"kind": "admission"}))
    async with subject.agent.test_context() as agent:
        await agent.put(orjson.dumps(example("admission", event_id="before")), wait=False)
        await agent.put(odd, wait=False)
        await agent.put(orjson.dumps(example("admission", event_id="after")), wait=False)
        published = [await subject.events.get(timeout=2) for _ in range(2)]
        refused = await subject.dead_letters.get(timeout=2)

    assert [orjson.loads(p.value)["event_id"] for p in published] == ["before", "after"]
    assert refused.value == odd
    labels = {"event_type": "unknown", "outcome": "dead_lettered"}
    assert subject.count("flowsight_events_validated_total", **labels) == 1


class FlakyPublisher:
    """Like an idempotent producer after a broker outage: the first batch of each key in
    `failing` is not acknowledged, and from then on the same producer has every batch of that
    partition refused (out of sequence) until it is renewed."""

    def __init__(self, failing: set[bytes]) -> None:
        self.started = False
        self.failing = failing
        self.refused: set[bytes] = set()  # partitions out of sequence on this producer
        self.renewed = 0
        self.handed: list[list[tuple[bytes, bytes, list[tuple[str, bytes]]]]] = []

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    async def renew(self) -> None:
        self.renewed += 1
        self.refused.clear()

    async def send_batch(self, topic: str, records: list[Any]) -> list[Any]:
        loop = asyncio.get_running_loop()
        handed = []
        for record in records:  # one batch a record, as if each had its own partition
            key = record[0]
            delivery: asyncio.Future[None] = loop.create_future()
            if key in self.failing or key in self.refused:
                self.failing.discard(key)
                self.refused.add(key)
                delivery.set_exception(KafkaTimeoutError())
            else:
                delivery.set_result(None)
            self.handed.append([record])
            handed.append((delivery, [record]))
        return handed


async def test_the_events_topic_sends_again_only_the_batch_kafka_did_not_acknowledge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outlet, "RESEND_SECONDS", 0)
    publisher = FlakyPublisher(failing={b"a"})
    events = outlet.EventsTopic(publisher, "events")  # type: ignore[arg-type]
    records = [(b"a", b"first", []), (b"b", b"second", [])]

    await asyncio.wait_for(outlet.delivered(await events.send(records)), 5)

    assert publisher.started
    assert [batch[0][1] for batch in publisher.handed] == [b"first", b"second", b"first"]


async def test_records_a_producer_failed_are_sent_again_through_one_new_producer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same producer would have them refused as out of sequence for ever."""
    monkeypatch.setattr(outlet, "RESEND_SECONDS", 0)
    publisher = FlakyPublisher(failing={b"a", b"b"})
    events = outlet.EventsTopic(publisher, "events")  # type: ignore[arg-type]
    records = [(b"a", b"first", []), (b"b", b"second", []), (b"c", b"third", [])]

    await asyncio.wait_for(outlet.delivered(await events.send(records)), 5)

    assert publisher.renewed == 1
    assert [batch[0][1] for batch in publisher.handed][-2:] == [b"first", b"second"]


async def test_a_dead_letter_always_fits_under_the_producer_s_limit(subject: Validator) -> None:
    # The refusal quotes the value: a 600 kB event_type made a 1.2 MB dead letter, which the
    # producer refused, and the validator retried it for ever.
    huge_type = orjson.dumps(example("admission") | {"event_type": "x" * 600_000})
    huge_body = orjson.dumps(example("admission") | {"next_step": "y" * 950_000, "z": 1})
    async with subject.agent.test_context() as agent:
        await agent.put(huge_type, key=b"k1", headers=[("ce-type", b"t" * 480_000)])
        first = await subject.dead_letters.get(timeout=1)
        await agent.put(huge_body, key=b"k2")
        second = await subject.dead_letters.get(timeout=1)

    for refused in (first, second):
        headers = refused.message.headers
        size = len(refused.value) + sum(len(name) + len(value) for name, value in headers)
        assert size < 1_000_000
    assert first.value == huge_type, "a value under the limit is kept whole"
    headers = dict(second.message.headers)
    assert headers["error.value_cut_from"] == str(len(huge_body)).encode()
    assert huge_body.startswith(second.value)


async def test_a_dead_letter_of_many_headers_and_a_long_key_still_fits(subject: Validator) -> None:
    # 820 kB of value and 50 headers of 4 kB each: the dead letter was 1,020,622 bytes, refused
    # by the producer, and the validator retried it for ever while every later record waited.
    body = orjson.dumps(example("admission") | {"event_type": "x" * 820_000})
    headers = [(f"h{n}", b"v" * 4096) for n in range(50)]
    async with subject.agent.test_context() as agent:
        await agent.put(body, key=b"k" * 20_000, headers=headers)
        refused = await subject.dead_letters.get(timeout=1)

    copied = dict(refused.message.headers)
    size = len(refused.value) + len(refused.key or b"")
    size += sum(len(name) + len(value) for name, value in refused.message.headers)
    assert size < 1_000_000
    assert refused.value == body, "the value, under its own limit, is kept whole"
    assert copied["error.headers_dropped"] == b"35"  # 15 of 4 kB fit in 64 kB, with their names
    assert copied["error.key_cut_from"] == b"20000" and refused.key == b"k" * 4096
