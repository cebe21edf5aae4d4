"""Structured logs for every flowsight process: readable on a terminal, JSON lines in production.

Logs never hold secrets, raw identifiers or message bodies, in either format: tracebacks are
plain (no local variables, which held callers' API keys and raw events), and every rendered
line passes through `Redactor`, which blanks the process's known secrets, credentials in URLs
and headers, API keys and tokens, and anything shaped like an NHS number.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import time
from collections.abc import Iterable
from typing import Any

import structlog

from flowsight.services.pseudonym import without_nhs_numbers_as_written
from flowsight.settings import LOCAL_PSEUDONYM_KEY_FILE, Settings, is_loopback

log = logging.getLogger("flowsight")

REDACTED = "[redacted]"
#: How many kinds of line `RepeatsHeld` remembers at once.
MAX_KINDS_HELD = 256
#: The fields a log call may add with `extra=`: an event's correlation id (docs/operations.md).
LOGGED_EXTRAS = ("correlation_id",)
#: Credentials whose values are not known in advance: what a caller or a URL carries.
CREDENTIAL_SHAPES = (
    # user:password@ in any URL (database, broker, webhook). A scheme is tried only where a run of
    # scheme characters begins, and every part is bounded: unbounded, each try scanned to the end
    # of the line, and a long line a caller chose (a 65 kB path, a token's header) took time
    # quadratic in its length, holding the event loop for seconds to an hour.
    re.compile(
        r"(?P<keep>(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,31}://[^/\s:@]{0,256}:)"
        r"[^@\s]{1,256}(?=@)"
    ),
    # flowsight API keys (`fs_` and 43 URL-safe characters)
    re.compile(r"fs_[A-Za-z0-9_-]{16,}"),
    # JSON web tokens and bearer credentials
    re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
    re.compile(r"(?P<keep>(?i:bearer)\s+)[^\s'\",]+"),
    re.compile(r"(?P<keep>(?i:x-api-key)['\"]?\s*[:=,]\s*['\"]?)[^\s'\",]+"),
    # signatures and secrets in query strings (a Teams workflow URL's `sig`, say)
    re.compile(r"(?P<keep>[?&](?i:sig|signature|token|secret|password|key|code)=)[^&\s'\"]+"),
)


class Redactor:
    """Blanks known secret values, credential-shaped text and NHS-number-shaped digit runs."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is blanked whole.
        self.secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """`text` with nothing secret or identifying left in it."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for pattern in CREDENTIAL_SHAPES:
            text = pattern.sub(_keep_the_name, text)
        return without_nhs_numbers_as_written(text)


class RepeatsHeld(logging.Filter):
    """The first line of each kind from a chatty client library, then one a minute with a count.

    aiokafka logs every failed reconnection at ERROR, each `retry_backoff_ms` (100 ms) and for
    each of a process's clients: with the broker away, a worker logged 5,200 lines a minute
    (measured), four sentences again and again. A kind is a logger, a level and a message
    template; the line let through after a minute says how many like it were held back."""

    def __init__(self, loggers: tuple[str, ...] = ("aiokafka",), every: float = 60.0) -> None:
        super().__init__()
        self.loggers, self.every = loggers, every
        self.clock = time.monotonic
        self._kinds: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.loggers):
            return True
        kind, now = (record.name, record.levelno, str(record.msg)), self.clock()
        shown, held = self._kinds.get(kind, (None, 0))
        if shown is not None and now - shown < self.every:
            self._kinds[kind] = (shown, held + 1)
            return False
        if len(self._kinds) >= MAX_KINDS_HELD:
            self._kinds.clear()  # templates are few; a flood of distinct ones is not held
        self._kinds[kind] = (now, 0)
        if held and shown is not None:
            record.msg = f"{record.msg} ({held} more like it in the last {now - shown:.0f} s)"
        return True


def _keep_the_name(match: re.Match[str]) -> str:
    # What names the credential (`Bearer `, `user:`) stays; the credential goes.
    return (match.groupdict().get("keep") or "") + REDACTED


class RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    """structlog's formatter, with each finished line (traceback included) redacted."""

    def __init__(self, *args: Any, secrets: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.redact = Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        """The rendered record, redacted."""
        return self.redact(super().format(record))


def known_secrets(settings: Settings) -> list[str]:
    """The secret values this process knows: never to be written to a log."""
    values = [
        secret.get_secret_value()
        for secret in (settings.pseudonym_key, settings.kafka_sasl_password)
        if secret is not None
    ]
    generated = settings.data_dir / LOCAL_PSEUDONYM_KEY_FILE
    if settings.is_local and settings.pseudonym_key is None and generated.exists():
        values.append(generated.read_text(encoding="utf-8").strip())
    values += _route_secrets(settings.alert_routes)
    return values


def _route_secrets(routes: str) -> list[str]:
    """Webhook secrets and SMTP passwords from FLOWSIGHT_ALERT_ROUTES (checked elsewhere)."""
    try:
        parsed = json.loads(routes) if routes else []
    except ValueError:
        return []
    return [
        str(route[name])
        for route in parsed
        if isinstance(route, dict)
        for name in ("secret", "password")
        if route.get(name)
    ]


def logging_config(settings: Settings) -> dict[str, Any]:
    """A logging.dictConfig for stdlib loggers (ours, Faust's, uvicorn's) rendered by structlog."""
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    renderers: list[Any] = (
        # format_exc_info: the traceback as plain text, never structlog's dict with locals.
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if settings.log_format == "json"
        else [
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        ]
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": RedactingFormatter,
                "secrets": known_secrets(settings),
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    *renderers,
                ],
                "foreign_pre_chain": [
                    structlog.stdlib.add_log_level,
                    structlog.stdlib.add_logger_name,
                    timestamper,
                    # `extra={"correlation_id": ...}` of a log call, as a field of the line
                    structlog.stdlib.ExtraAdder(allow=LOGGED_EXTRAS),
                ],
            }
        },
        "filters": {"repeats": {"()": RepeatsHeld}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "filters": ["repeats"],
            }
        },
        "root": {"handlers": ["default"], "level": settings.log_level.upper()},
        "loggers": {
            # aiokafka reports every retried connection at ERROR; warnings are enough, unless
            # someone is debugging the consumer group.
            "aiokafka": {"level": "DEBUG" if settings.log_level.upper() == "DEBUG" else "WARNING"},
            "uvicorn.access": {"level": "WARNING"},
            # faust holds the streams back while more than 100 records wait in its producer's
            # buffer, and warns for each record it holds: after each tracker batch, whose
            # journeys' changelog records come all at once. That hold is its flow control
            # working (letting more records wait made a replay 20 % slower,
            # docs/benchmarks.md); a worker really behind shows in the consumer lag and
            # FlowsightWorkerBehind. Its warnings were most of a replaying worker's log.
            "faust.transport.producer": {"level": "ERROR"},
        },
    }


def configure_logging(settings: Settings, *, serving: bool = True) -> None:
    """Apply `logging_config` to this process, and say so loudly when it runs in local mode
    (unless it serves nothing: a dry run)."""
    logging.config.dictConfig(logging_config(settings))
    if serving:
        announce_local_mode(settings)
        announce_plain_kafka(settings)


def announce_plain_kafka(settings: Settings) -> None:
    """A WARNING at start when a process outside local mode talks to a broker off this host
    without TLS: ingest and dead-letter topics carry NHS numbers, and SASL_PLAINTEXT its
    password, in clear over the network."""
    protocol = settings.kafka_security_protocol
    hosts = [entry.strip().rsplit(":", 1)[0] for entry in settings.kafka_bootstrap.split(",")]
    if settings.is_local or protocol.endswith("SSL") or all(map(is_loopback, hosts)):
        return
    log.warning(
        "FLOWSIGHT_KAFKA_SECURITY_PROTOCOL=%s to %s: events with NHS numbers (ingest and "
        "dead-letter topics) cross the network in clear; use SASL_SSL on any shared cluster",
        protocol,
        settings.kafka_bootstrap,
    )


def announce_local_mode(settings: Settings) -> None:
    """A WARNING at start when this process runs in local mode, which may be open to anyone."""
    if not settings.is_local:
        return
    open_api = not settings.api_keys and not settings.oidc_issuer
    log.warning(
        "FLOWSIGHT_ENVIRONMENT=local: a trial on one machine, not for real patient data. %s"
        "The pseudonym key is %s; /metrics, /readyz details and /docs are public.",
        "The API needs no credentials: anyone who can reach it reads patient-level lists. "
        if open_api
        else "",
        "FLOWSIGHT_PSEUDONYM_KEY"
        if settings.pseudonym_key is not None
        else f"generated for this machine ({settings.data_dir / LOCAL_PSEUDONYM_KEY_FILE})",
    )
