"""Log lines carry an event's correlation id as a field of their own, in both formats."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import faust
import pytest
from faust.transport.producer import ProducerBuffer

from flowsight.logs import RepeatsHeld, logging_config
from flowsight.settings import Settings


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_a_correlation_id_given_to_a_log_call_is_a_field_of_its_line(log_format: str) -> None:
    settings = Settings(_env_file=None, environment="local", log_format=log_format)  # type: ignore[arg-type]
    config = logging_config(settings)
    stream = io.StringIO()
    formatter = logging.config.DictConfigurator(config).configure_formatter(
        config["formatters"]["structured"]
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("flowsight.test.correlation")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("dead-lettered an event", extra={"correlation_id": "ATT-778812"})
        logger.warning("not every extra", extra={"color_message": "noise"})
    finally:
        logger.removeHandler(handler)

    first, second = stream.getvalue().splitlines()
    if log_format == "json":
        assert json.loads(first)["correlation_id"] == "ATT-778812"
        assert "color_message" not in json.loads(second)
    else:
        assert "correlation_id=ATT-778812" in first
        assert "noise" not in second


async def test_faust_s_producer_holding_the_streams_back_is_not_a_warning_in_the_log() -> None:
    """A tracker batch's changelog records fill faust's producer buffer after every batch; the
    hold is its flow control, not something an operator should act on."""
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    config = logging_config(Settings(_env_file=None))
    levels = {name: logging.getLogger(name).level for name in config["loggers"]}
    logging.config.dictConfig(config)
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    try:
        buffer = ProducerBuffer()
        buffer.app = faust.App("flowsight-test-logs", autodiscover=False, web_enabled=False)
        for _ in range(101):
            buffer.put(object())  # only their number counts: more than it holds
        with pytest.raises(RuntimeError, match="Producer not Running"):
            await buffer.wait_until_ebb()  # it warned, then tried to send them
        logging.getLogger("faust.transport.producer").error("the producer failed")
        logging.getLogger("faust.transport.consumer").warning("a consumer warning")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, before in levels.items():
            logging.getLogger(name).setLevel(before)

    written = stream.getvalue()
    assert "producer buffer full" not in written
    assert "the producer failed" in written  # its errors are still logged
    assert "a consumer warning" in written  # and faust's other warnings


def test_a_client_library_s_repeated_line_is_let_through_once_a_minute_with_its_count() -> None:
    held = RepeatsHeld()
    now = [1000.0]
    held.clock = lambda: now[0]

    def record(name: str, message: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, message, args, None)

    passes = held.filter
    refused = "Unable connect to node with id %s: %s"
    assert passes(record("aiokafka", refused, 1, "refused"))
    for _ in range(599):  # a retry every 100 ms for a minute
        now[0] += 0.1
        assert not passes(record("aiokafka", refused, 1, "refused"))
    # another of aiokafka's loggers, or another sentence, passes at once
    assert passes(record("aiokafka.consumer.fetcher", "Failed fetch messages from %s", 1))
    assert passes(record("aiokafka", "Unable to update metadata from %s", [1]))
    # our own lines are never held, however often they repeat
    assert all(passes(record("flowsight.worker", "a line")) for _ in range(3))

    now[0] += 0.2
    again = record("aiokafka", refused, 1, "refused")
    assert passes(again)
    assert again.getMessage() == (
        "Unable connect to node with id 1: refused (599 more like it in the last 60 s)"
    )
    now[0] += 0.1
    assert not passes(record("aiokafka", refused, 1, "refused"))  # and the next minute starts
