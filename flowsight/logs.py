"""Structured logs for every flowsight process: readable on a terminal, JSON lines in production."""

from __future__ import annotations

import logging.config
from typing import Any

import structlog

from flowsight.settings import Settings


def logging_config(settings: Settings) -> dict[str, Any]:
    """A logging.dictConfig for stdlib loggers (ours, Faust's, uvicorn's) rendered by structlog."""
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    renderer,
                ],
                "foreign_pre_chain": [
                    structlog.stdlib.add_log_level,
                    structlog.stdlib.add_logger_name,
                    timestamper,
                ],
            }
        },
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["default"], "level": settings.log_level.upper()},
        "loggers": {
            # aiokafka reports every retried connection at ERROR; warnings are enough, unless
            # someone is debugging the consumer group.
            "aiokafka": {"level": "DEBUG" if settings.log_level.upper() == "DEBUG" else "WARNING"},
            "uvicorn.access": {"level": "WARNING"},
        },
    }


def configure_logging(settings: Settings) -> None:
    """Apply `logging_config` to this process."""
    logging.config.dictConfig(logging_config(settings))
