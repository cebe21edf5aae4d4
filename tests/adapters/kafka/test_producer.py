"""The one producer: its settings, its partition key, the organisation it writes for, and the
records it hands to Kafka (a recording stand-in for aiokafka's producer, no broker)."""

from __future__ import annotations

import asyncio
import gc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import CollectorRegistry

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.kafka import producer as producer_module
from flowsight.adapters.kafka.producer import (
    CORRELATION_HEADER,
    NOT_ON_A_TOPIC,
    EventPublisher,
    GatewayPublisher,
    correlate,
    correlate_request,
    correlation_id_from,
    event_key,
    key_partitioner,
    new_correlation_id,
    producer_config,
    source_organisation,
    usable_correlation_id,
)
from flowsight.adapters.kafka.security import client_options, faust_credentials
from flowsight.api.deps import GatewayWriter
from flowsight.logs import Redactor
from flowsight.services.gateways import GATEWAY
from flowsight.services.validation import Accepted, ValidationContext, validate_event
from flowsight.settings import DEFAULT_CATALOGUE, Settings
from tests.adapters.kafka.certificates import make_certificate_authority

PSEUDONYM_KEY = "f3a9c1e07b5d42a8b6e2d9c4a1f08e7b"


def settings() -> Settings:
    return Settings(_env_file=None, kafka_bootstrap="kafka.internal:19092", topic_namespace="t")


class RecordingProducer:
    """Takes what aiokafka's producer would send and acknowledges it at once."""

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.sent: list[dict[str, Any]] = []
        self.running = False

    async def start(self) -> None:
        self.running = True

    async def stop(self) -> None:
        self.running = False

    async def send(self, topic: str, **record: Any) -> asyncio.Future[None]:
        self.sent.append({"topic": topic, **record})
        acknowledged: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acknowledged.set_result(None)
        return acknowledged

    async def send_and_wait(self, topic: str, **record: Any) -> None:
        await (await self.send(topic, **record))


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> list[RecordingProducer]:
    made: list[RecordingProducer] = []

    def make(**config: Any) -> RecordingProducer:
        made.append(RecordingProducer(**config))
        return made[-1]

    monkeypatch.setattr(producer_module, "AIOKafkaProducer", make)
    return made


def test_every_producer_is_idempotent_waits_for_all_replicas_and_times_out() -> None:
    assert producer_config(settings()) == {
        "bootstrap_servers": "kafka.internal:19092",
        "security_protocol": "PLAINTEXT",
        "acks": "all",
        "enable_idempotence": True,
        "request_timeout_ms": 15_000,
    }


@pytest.mark.parametrize(
    ("event", "key"),
    [
        ({"episode_id": "E1", "service": "lth-ed"}, b"E1"),
        ({"service": "lth-ed"}, b"lth-ed"),  # capacity reports have no episode
        ({"episode_id": "", "service": "lth-ed"}, b"lth-ed"),
        ({"episode_id": None, "service": "lth-ed"}, b"lth-ed"),
        ({}, b""),
    ],
)
def test_events_are_keyed_by_episode_else_by_service(event: dict[str, Any], key: bytes) -> None:
    assert event_key(event) == key


@pytest.mark.parametrize("count", [1, 3, 7, 12])
def test_the_remembering_partitioner_places_every_key_where_kafka_s_default_does(
    count: int,
) -> None:
    # Another partition for a key would put a patient's table rows apart from their events.
    kafka = DefaultPartitioner()
    partitions = list(range(count))
    keys = [uuid.uuid4().hex.encode() for _ in range(300)] + [b"", b'"a"', bytes(range(256))]

    for key in keys * 2:  # the second time from its memory
        assert key_partitioner(key, partitions, partitions) == kafka(key, partitions, partitions)


def test_the_organisation_is_the_source_before_its_slash() -> None:
    assert source_organisation({"source": "RR8/pas"}) == "RR8"


@pytest.mark.parametrize("event", [{"event_id": "e1"}, {"source": "RR8"}, {"source": 8}, [1]])
def test_an_event_naming_no_organisation_is_refused_saying_so(event: object) -> None:
    with pytest.raises(ValueError, match="cannot tell the organisation"):
        source_organisation(event)


async def test_publish_writes_to_the_organisations_ingest_topic_keyed_by_episode(
    recording: list[RecordingProducer],
) -> None:
    events = [{"episode_id": "E1", "service": "lth-ed"}, {"service": "lth-beds"}]

    async with EventPublisher(settings()) as publisher:
        await publisher.publish("RR8", events)

    (made,) = recording
    assert made.config == producer_config(settings())
    assert [(r["topic"], r["key"]) for r in made.sent] == [
        ("t.ingest.RR8.v1", b"E1"),
        ("t.ingest.RR8.v1", b"lth-beds"),
    ]
    assert [orjson.loads(r["value"]) for r in made.sent] == events
    assert not made.running


async def test_publish_by_source_sends_each_event_to_its_own_organisation(
    recording: list[RecordingProducer],
) -> None:
    events = [
        {"source": "RR8/pas", "episode_id": "E1", "service": "lth-ed"},
        {"source": "LCC/mosaic", "service": "lcc-reablement"},
    ]

    async with EventPublisher(settings()) as publisher:
        assert await publisher.publish_by_source(events) == 2

    assert [(r["topic"], r["key"]) for r in recording[0].sent] == [
        ("t.ingest.RR8.v1", b"E1"),
        ("t.ingest.LCC.v1", b"lcc-reablement"),
    ]


async def test_a_dead_letter_keeps_the_message_as_received_and_says_why(
    recording: list[RecordingProducer],
) -> None:
    async with EventPublisher(settings()) as publisher:
        await publisher.dead_letter(
            b"not json",
            organisation="RR8",
            gateway="http",
            reason="malformed_json",
            field="",
            message="not JSON",
        )

    (record,) = recording[0].sent
    assert (record["topic"], record["key"], record["value"]) == (
        "t.events.dlq.v1",
        None,
        b"not json",
    )
    headers = dict(record["headers"])
    assert headers.pop(CORRELATION_HEADER)  # a new id: the caller sent none
    assert headers == {
        "error.reason": b"malformed_json",
        "error.field": b"",
        "error.message": b"not JSON",
        "error.topic": b"t.ingest.RR8.v1",
        "error.partition": NOT_ON_A_TOPIC.encode(),
        "error.offset": NOT_ON_A_TOPIC.encode(),
        "error.gateway": b"http",
    }


async def test_a_dead_letter_s_reason_never_carries_an_nhs_number_its_value_keeps(
    recording: list[RecordingProducer],
) -> None:
    raw = b'{"location": "943 476 5919"}'
    async with EventPublisher(settings()) as publisher:
        await publisher.dead_letter(
            raw,
            organisation="RR8",
            gateway="fhir",
            reason="unknown_service",
            field="Encounter.location[0]",
            message="Encounter.location[0] ('943 476 5919') matches no location rule",
        )

    (record,) = recording[0].sent
    assert record["value"] == raw, "the dead letter keeps the message as received"
    message = dict(record["headers"])["error.message"]
    assert message == b"Encounter.location[0] ('[nhs-number?]') matches no location rule"


async def test_each_published_record_carries_the_correlation_id_it_was_published_under(
    recording: list[RecordingProducer],
) -> None:
    async def request(headers: dict[str, str]) -> str:
        # Each request in its own task, as the server runs them: ids never leak between them.
        correlation_id = correlate_request(headers)
        async with EventPublisher(settings()) as publisher:
            await publisher.publish("RR8", [{"episode_id": "E1", "service": "lth-ed"}])
        return correlation_id

    sent = await asyncio.create_task(request({"x-correlation-id": "ATT-778812"}))
    by_request_id = await asyncio.create_task(request({"x-request-id": "req-42"}))
    hostile = await asyncio.create_task(request({"x-correlation-id": "two words\n"}))

    (first,), (second,), (third,) = (made.sent for made in recording)
    assert (sent, by_request_id) == ("ATT-778812", "req-42")
    assert dict(first["headers"])[CORRELATION_HEADER] == b"ATT-778812"
    assert dict(second["headers"])[CORRELATION_HEADER] == b"req-42"
    # Not copied into headers and logs as sent: a new id instead.
    assert hostile != "two words\n"
    assert dict(third["headers"])[CORRELATION_HEADER] == hostile.encode()


async def test_records_published_without_a_correlation_id_each_get_a_new_one(
    recording: list[RecordingProducer],
) -> None:
    async def simulator() -> None:
        async with EventPublisher(settings()) as publisher:
            await publisher.publish_by_source(
                [{"source": "RR8/pas", "service": "lth-ed"}, {"source": "RR8/pas", "service": "x"}]
            )

    await asyncio.create_task(simulator())

    ids = [dict(record["headers"])[CORRELATION_HEADER] for record in recording[0].sent]
    assert len(set(ids)) == 2 and all(ids)


async def test_a_gateway_dead_letter_carries_the_request_s_correlation_id(
    recording: list[RecordingProducer],
) -> None:
    async def request() -> None:
        correlate("hl7-MSG00001")
        async with EventPublisher(settings()) as publisher:
            await publisher.dead_letter(
                b"MSH|", organisation="RR8", gateway="hl7", reason="r", field="", message="m"
            )

    await asyncio.create_task(request())

    assert dict(recording[0].sent[0]["headers"])[CORRELATION_HEADER] == b"hl7-MSG00001"


async def test_using_the_producer_before_start_says_so() -> None:
    with pytest.raises(RuntimeError, match=r"start\(\) was not called"):
        await EventPublisher(settings()).publish("RR8", [{"service": "lth-ed"}])


async def test_the_api_gateways_seal_their_records_and_only_their_records_are_marked(
    recording: list[RecordingProducer],
) -> None:
    keyed = Settings(
        _env_file=None, kafka_bootstrap="kafka.internal:19092", pseudonym_key=PSEUDONYM_KEY
    )
    # The worker's validator, with the same key the deployment gives the API.
    context = ValidationContext(
        load_catalogue(DEFAULT_CATALOGUE), keyed.pseudonym_secret, timedelta(minutes=5)
    )
    event = {
        "event_id": "SPELL-1:admission",
        "event_type": "admission",
        "source": "RR8/fhir",
        "occurred_at": "2026-11-23T09:30:00+00:00",
        "service": "lth-wards",
        "episode_id": "SPELL-1",
        "patient": {"local_id": "RR8123456", "id_system": "RR8"},
        "admission_method": "emergency",
    }

    async def published() -> None:
        await GatewayWriter(keyed, CollectorRegistry()).publish("fhir", "RR8", [event])
        async with EventPublisher(keyed) as publisher:  # `flowsight publish`, the simulator
            await publisher.publish("RR8", [event])

    await asyncio.create_task(published())

    marks = []
    for made in recording:
        (sent,) = made.sent
        outcome = validate_event(
            sent["value"],
            organisation="RR8",
            context=context,
            now=datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
            headers=dict(sent["headers"]),
        )
        assert isinstance(outcome, Accepted), outcome
        marks.append(outcome.event.get(GATEWAY))
    assert marks == ["fhir", None]


def test_the_gateways_name_is_the_same_publisher() -> None:
    assert GatewayPublisher is EventPublisher


def test_every_client_and_faust_take_the_same_tls_and_sasl_options(tmp_path: Path) -> None:
    ca, _certificate, _key = make_certificate_authority(tmp_path)
    secure = Settings(
        _env_file=None,
        kafka_bootstrap="kafka.internal:19093",
        kafka_security_protocol="SASL_SSL",
        kafka_ssl_cafile=ca,
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="flowsight-worker",
        kafka_sasl_password="scram-password",
    )

    options = client_options(secure)
    credentials = faust_credentials(secure)

    producer = producer_config(secure)
    assert {name: producer[name] for name in options if name != "ssl_context"} == {
        name: value for name, value in options.items() if name != "ssl_context"
    }
    assert producer["ssl_context"].check_hostname
    assert (options["security_protocol"], options["sasl_mechanism"]) == (
        "SASL_SSL",
        "SCRAM-SHA-256",
    )
    assert options["sasl_plain_username"] == "flowsight-worker"
    assert options["sasl_plain_password"] == "scram-password"
    assert options["ssl_context"].check_hostname
    assert (credentials.username, credentials.password) == ("flowsight-worker", "scram-password")
    assert credentials.mechanism.value == "SCRAM-SHA-256"
    assert credentials.ssl_context is not None
    assert faust_credentials(settings()) is None
    assert client_options("127.0.0.1:9092") == {"bootstrap_servers": "127.0.0.1:9092"}


def test_a_new_correlation_id_survives_log_redaction_of_nhs_number_shapes() -> None:
    # Ten digits in a row, as a UUID's last group may hold, would be blanked in every log line.
    made = correlation_id_from(uuid.UUID("2b04fd98-1def-48d3-ad51-0123456789ee"))
    assert made == "2b04fd98-1def48d3-ad510123-456789ee"
    assert Redactor()(made) == made
    assert usable_correlation_id(new_correlation_id())


async def test_a_producer_that_cannot_reach_kafka_is_closed_and_the_error_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[RecordingProducer] = []

    class Unreachable(RecordingProducer):
        async def start(self) -> None:
            self.running = True  # aiokafka holds a client and connections from here on
            raise OSError("no broker answers at kafka.internal:19092")

    def make(**config: Any) -> RecordingProducer:
        made.append(Unreachable(**config))
        return made[-1]

    monkeypatch.setattr(producer_module, "AIOKafkaProducer", make)
    publisher = EventPublisher(settings())
    with pytest.raises(OSError, match="no broker answers"):
        await publisher.start()
    (producer,) = made
    assert not producer.running  # stopped, not left for the garbage collector to warn about
    await publisher.stop()  # still safe: nothing was started


async def test_when_kafka_refuses_a_publish_every_refusal_is_taken_and_the_first_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a broker outage each record of a publish fails: the caller gets the first error, and
    none of the others is left for asyncio to log as 'Future exception was never retrieved'
    (a traceback in the gateway's log for each record of each refused request)."""
    loop = asyncio.get_running_loop()
    unretrieved: list[dict[str, Any]] = []
    handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: unretrieved.append(context))

    class Refusing(RecordingProducer):
        async def send(self, topic: str, **record: Any) -> asyncio.Future[None]:
            self.sent.append({"topic": topic, **record})
            refused: asyncio.Future[None] = loop.create_future()
            refused.set_exception(OSError(f"leader not available ({len(self.sent)})"))
            return refused

    monkeypatch.setattr(producer_module, "AIOKafkaProducer", Refusing)
    try:
        async with EventPublisher(settings()) as publisher:
            with pytest.raises(OSError, match=r"leader not available \(1\)"):
                await publisher.publish("RR8", [{"service": "lth-ed"}] * 3)
            with pytest.raises(OSError, match=r"leader not available \(4\)"):
                await publisher.publish_by_source([{"source": "RR8/pas"}] * 3)
        gc.collect()  # a future's unretrieved error is reported when it is collected
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(handler)
    assert unretrieved == []
