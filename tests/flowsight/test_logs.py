"""Log lines carry an event's correlation id as a field of their own, in both formats."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest

from flowsight.logs import logging_config
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
