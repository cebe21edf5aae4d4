"""Where alerts go: the routes configured in settings, and how each one delivers.

FLOWSIGHT_ALERT_ROUTES is a JSON list, e.g.
  [{"kind": "webhook", "url": "https://ops.example/hook", "secret": "<32+ characters>"},
   {"kind": "teams", "url": "https://prod-00.westeurope.logic.azure.com/workflows/..."},
   {"kind": "email", "host": "smtp.example", "sender": "flowsight@example",
    "recipients": ["oncall@example"], "username": "flowsight", "password": "..."},
   {"kind": "alertmanager", "url": "http://alertmanager:9093"}]
Each route has a `name` (default: its kind) that must be unique; it is part of the dedupe key.
Settings keep the variable's text (`Settings.alert_routes`); `alert_routes` parses and checks it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import smtplib
import ssl
import time
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Annotated, Literal, Protocol

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    RootModel,
    SecretStr,
    field_validator,
    model_validator,
)

from flowsight.adapters.notify.messages import (
    alertmanager_alerts,
    email_message,
    teams_card,
    webhook_body,
)
from flowsight.adapters.readmodel.outbox import Alert

ROUTE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
SIGNATURE_TOLERANCE_SECONDS = 300


class DeliveryFailed(Exception):
    """A delivery did not happen: `permanent` ones are never retried."""

    def __init__(self, reason: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


class Route(Protocol):
    """Something that delivers alerts and is named in the outbox."""

    @property
    def route_name(self) -> str: ...

    async def deliver(self, alert: Alert, dedupe_key: str, client: httpx.AsyncClient) -> None: ...


class _RouteSettings(BaseModel):
    # A refusal names the field, never the value given: a route holds secrets and passwords.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    kind: str
    name: str | None = Field(None, pattern=ROUTE_NAME_PATTERN)
    timeout_seconds: float = Field(10.0, gt=0, le=60)

    @property
    def route_name(self) -> str:
        return self.name or self.kind


class WebhookRoute(_RouteSettings):
    """A generic webhook: JSON signed with HMAC-SHA-256 over `<timestamp>.<body>`."""

    kind: Literal["webhook"]
    url: HttpUrl
    secret: SecretStr

    @field_validator("secret")
    @classmethod
    def _long_secret(cls, secret: SecretStr) -> SecretStr:
        if len(secret.get_secret_value()) < 32:
            raise ValueError("a webhook secret must be at least 32 characters long")
        return secret

    async def deliver(self, alert: Alert, dedupe_key: str, client: httpx.AsyncClient) -> None:
        body = webhook_body(alert, dedupe_key)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Flowsight-Timestamp": timestamp,
            "X-Flowsight-Signature": sign(self.secret.get_secret_value(), timestamp, body),
            "X-Flowsight-Dedupe-Key": dedupe_key,
        }
        await post(client, str(self.url), body, headers, self.timeout_seconds)


class TeamsRoute(_RouteSettings):
    """A Microsoft Teams Workflows webhook ("when a Teams webhook request is received")."""

    kind: Literal["teams"]
    url: HttpUrl

    async def deliver(self, alert: Alert, dedupe_key: str, client: httpx.AsyncClient) -> None:
        body = json.dumps(teams_card(alert, dedupe_key)).encode()
        headers = {"Content-Type": "application/json"}
        await post(client, str(self.url), body, headers, self.timeout_seconds)


class AlertmanagerRoute(_RouteSettings):
    """A Prometheus Alertmanager, sent its v2 alerts API."""

    kind: Literal["alertmanager"]
    url: HttpUrl = Field(description="the Alertmanager's base URL, e.g. http://127.0.0.1:9093")
    generator_url: HttpUrl | None = None

    async def deliver(self, alert: Alert, dedupe_key: str, client: httpx.AsyncClient) -> None:
        generator = str(self.generator_url) if self.generator_url else None
        body = json.dumps(alertmanager_alerts(alert, dedupe_key, generator)).encode()
        endpoint = str(self.url).rstrip("/") + "/api/v2/alerts"
        headers = {"Content-Type": "application/json"}
        await post(client, endpoint, body, headers, self.timeout_seconds)


class EmailRoute(_RouteSettings):
    """Email over SMTP: STARTTLS (`auto`, `starttls`: refused when the server does not offer it),
    TLS from the start (`ssl`), or in the clear only when told so (`none`)."""

    kind: Literal["email"]
    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    recipients: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]] = Field(min_length=1)
    username: str | None = None
    password: SecretStr | None = None
    security: Literal["auto", "starttls", "ssl", "none"] = "auto"
    ca_file: Path | None = Field(
        None, description="CA certificates to trust instead of the system's"
    )

    @model_validator(mode="after")
    def _login_needs_both(self) -> EmailRoute:
        if (self.username is None) != (self.password is None):
            raise ValueError("an email route needs both username and password, or neither")
        return self

    async def deliver(self, alert: Alert, dedupe_key: str, client: httpx.AsyncClient) -> None:
        message = email_message(alert, dedupe_key, self.sender, self.recipients)
        # smtplib blocks; a thread keeps the deliverer's other sends going meanwhile.
        await asyncio.to_thread(self._send, message)

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)

    def _starttls(self, smtp: smtplib.SMTP) -> None:
        if self.security not in ("auto", "starttls"):
            return
        if smtp.has_extn("starttls"):
            smtp.starttls(context=self._tls())
            smtp.ehlo()
            return
        # An alert names services and levels: neither it nor a password goes out in the clear
        # unless the route says `none`, so a downgraded (STARTTLS-stripped) server gets nothing.
        raise DeliveryFailed(
            f"{self.host}:{self.port} does not offer STARTTLS; refusing to send "
            f"{'the password' if self.username else 'the alert'} without TLS "
            "(security 'none' allows it)",
            permanent=True,
        )

    def _send(self, message: EmailMessage) -> None:
        try:
            if self.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout_seconds, context=self._tls()
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
            with smtp:
                smtp.ehlo()
                self._starttls(smtp)
                if self.username and self.password:
                    smtp.login(self.username, self.password.get_secret_value())
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            raise _smtp_refusal(error.recipients) from error
        except smtplib.SMTPResponseException as error:
            text = (
                error.smtp_error.decode(errors="replace")
                if isinstance(error.smtp_error, bytes)
                else error.smtp_error
            )
            raise DeliveryFailed(
                f"SMTP {error.smtp_code}: {text}", permanent=error.smtp_code >= 500
            ) from error
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryFailed(
                f"SMTP {self.host}:{self.port}: {error}", permanent=False
            ) from error
        if refused:
            # Some recipients have it: a retry would send it to them twice, so stop here.
            raise _smtp_refusal(refused, partial=True)


def _smtp_refusal(
    refused: dict[str, tuple[int, bytes]], *, partial: bool = False
) -> DeliveryFailed:
    listed = "; ".join(
        f"{who}: {code} {text.decode(errors='replace')}" for who, (code, text) in refused.items()
    )
    if partial:
        return DeliveryFailed(f"sent, but refused for {listed}", permanent=True)
    transient = any(code < 500 for code, _ in refused.values())
    return DeliveryFailed(f"recipients refused: {listed}", permanent=not transient)


RouteSettings = Annotated[
    WebhookRoute | TeamsRoute | EmailRoute | AlertmanagerRoute, Field(discriminator="kind")
]


class AlertRoutes(RootModel[list[RouteSettings]]):
    """Every configured alert route (FLOWSIGHT_ALERT_ROUTES, a JSON list)."""

    model_config = ConfigDict(hide_input_in_errors=True)

    root: list[RouteSettings] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _from_json_text(cls, value: object) -> object:
        # Settings hand the variable over undecoded (NoDecode), so that an empty value means
        # no routes and malformed JSON gets a message naming the variable.
        if not isinstance(value, str | bytes):
            return value
        if not value.strip():
            return []
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"FLOWSIGHT_ALERT_ROUTES is not valid JSON: {error}") from error

    @model_validator(mode="after")
    def _unique_names(self) -> AlertRoutes:
        seen: set[str] = set()
        for route in self.root:
            if route.route_name in seen:
                raise ValueError(
                    f"two alert routes are named {route.route_name!r}; "
                    "give each a distinct `name` (it is part of every dedupe key)"
                )
            seen.add(route.route_name)
        return self

    def by_name(self) -> dict[str, Route]:
        """The routes, by the name the outbox records them under."""
        return {route.route_name: route for route in self.root}


def alert_routes(setting: str) -> AlertRoutes:
    """The routes FLOWSIGHT_ALERT_ROUTES describes; ValueError naming what is wrong with them."""
    return AlertRoutes.model_validate(setting)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Flowsight-Signature value: `sha256=` and the HMAC of `<timestamp>.<body>`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: datetime,
    tolerance_seconds: int = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent (no replay)."""
    try:
        age = abs(now.timestamp() - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_seconds and hmac.compare_digest(
        sign(secret, timestamp, body), signature
    )


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout_seconds: float,
) -> None:
    """POST `body`; raise DeliveryFailed, permanent for 4xx (but 408 and 429) and redirects."""
    try:
        response = await client.post(url, content=body, headers=headers, timeout=timeout_seconds)
    except httpx.TimeoutException as error:
        raise DeliveryFailed(f"no answer within {timeout_seconds:g}s", permanent=False) from error
    except httpx.TransportError as error:
        raise DeliveryFailed(
            f"cannot connect: {error or type(error).__name__}", permanent=False
        ) from error
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = f"HTTP {status} {response.reason_phrase}: {response.text[:300].strip()}".rstrip(": ")
    if status in (408, 429) or status >= 500:
        raise DeliveryFailed(detail, permanent=False, retry_after=_retry_after(response))
    if 300 <= status < 400:
        detail += " (redirects are not followed: configure the final URL)"
    raise DeliveryFailed(detail, permanent=True)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
