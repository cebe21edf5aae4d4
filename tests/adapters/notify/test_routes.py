"""Alert routes: their settings, signatures, payloads, back-off and SMTP against a real server."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from aiosmtpd.controller import Controller
from pydantic import Field, ValidationError
from pydantic_settings import NoDecode

from flowsight.adapters.notify.delivery import RetryPolicy
from flowsight.adapters.notify.messages import (
    alertmanager_alerts,
    headline,
    teams_card,
    webhook_document,
)
from flowsight.adapters.notify.routes import (
    AlertRoutes,
    DeliveryFailed,
    EmailRoute,
    sign,
    verify_signature,
)
from flowsight.adapters.readmodel.outbox import Alert
from flowsight.services.escalation import Escalation
from flowsight.services.pressure import score_service
from flowsight.settings import Settings
from tests.adapters.notify.examples import ED, escalation_alert
from tests.adapters.notify.receivers import Mailbox, self_signed_certificate, server_tls
from tests.integration.stack import free_port

SECRET = "s" * 32


def routes(document: object) -> AlertRoutes:
    return AlertRoutes.model_validate_json(json.dumps(document))


# --- settings -----------------------------------------------------------------------------------


def test_every_kind_of_route_parses_and_is_named_by_kind_unless_named() -> None:
    parsed = routes(
        [
            {"kind": "webhook", "url": "https://ops.example/hook", "secret": SECRET},
            {"kind": "webhook", "name": "gold", "url": "https://gold.example/", "secret": SECRET},
            {"kind": "teams", "url": "https://prod.westeurope.logic.azure.com/workflows/x"},
            {"kind": "email", "host": "smtp.example", "sender": "a@b.c", "recipients": ["d@e.f"]},
            {"kind": "alertmanager", "url": "http://127.0.0.1:9093"},
        ]
    )
    assert list(parsed.by_name()) == ["webhook", "gold", "teams", "email", "alertmanager"]


class WithRoutes(Settings):
    """Settings with the field this package asks Settings to gain, declared exactly so."""

    alert_routes: Annotated[AlertRoutes, NoDecode] = Field(default_factory=AlertRoutes)


@pytest.mark.parametrize(
    ("variable", "names"),
    [
        (None, []),
        ("", []),
        ("[]", []),
        ('[{"kind": "alertmanager", "name": "am", "url": "http://127.0.0.1:9093"}]', ["am"]),
    ],
)
def test_the_settings_field_reads_a_json_environment_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str | None, names: list[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("FLOWSIGHT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", "local")  # no keys needed to read a route
    if variable is not None:
        monkeypatch.setenv("FLOWSIGHT_ALERT_ROUTES", variable)
    assert list(WithRoutes(_env_file=None).alert_routes.by_name()) == names


def test_malformed_json_in_the_variable_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOWSIGHT_ALERT_ROUTES", '[{"kind": "teams",')
    with pytest.raises(ValidationError, match="FLOWSIGHT_ALERT_ROUTES is not valid JSON"):
        WithRoutes(_env_file=None)


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        (
            [
                {"kind": "webhook", "url": "https://a.example/", "secret": SECRET},
                {"kind": "webhook", "url": "https://b.example/", "secret": SECRET},
            ],
            "two alert routes are named 'webhook'",
        ),
        (
            [{"kind": "pager", "url": "https://a.example/"}],
            "'webhook', 'teams', 'email', 'alertmanager'",
        ),
        (
            [{"kind": "webhook", "url": "https://a.example/", "secret": "short"}],
            "a webhook secret must be at least 32 characters long",
        ),
        ([{"kind": "webhook", "url": "not a url", "secret": SECRET}], "url"),
        (
            [
                {
                    "kind": "email",
                    "host": "h",
                    "sender": "a@b",
                    "recipients": ["c@d"],
                    "username": "u",
                }
            ],
            "both username and password",
        ),
        ([{"kind": "email", "host": "h", "sender": "a@b", "recipients": []}], "recipients"),
        ([{"kind": "teams", "url": "https://x.example/", "colour": "red"}], "colour"),
    ],
)
def test_bad_routes_are_refused_with_a_message_naming_the_problem(
    document: object, complaint: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        routes(document)
    assert complaint in str(raised.value)


# --- signatures ---------------------------------------------------------------------------------

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
STAMP = str(int(NOW.timestamp()))


def test_a_signature_verifies_only_for_the_same_secret_body_and_a_recent_timestamp() -> None:
    body = b'{"scope":"lth-ed"}'
    signature = sign(SECRET, STAMP, body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_signature(SECRET, STAMP, body, signature, NOW + timedelta(seconds=299))
    assert not verify_signature(SECRET, STAMP, body + b" ", signature, NOW)
    assert not verify_signature("t" * 32, STAMP, body, signature, NOW)
    assert not verify_signature(SECRET, str(int(STAMP) + 1), body, signature, NOW)
    assert not verify_signature(SECRET, STAMP, body, signature, NOW + timedelta(minutes=6))
    assert not verify_signature(SECRET, "yesterday", body, signature, NOW)


# --- payloads -----------------------------------------------------------------------------------


def test_every_payload_carries_the_levels_indicators_and_dedupe_key() -> None:
    alert = escalation_alert(NOW)
    key = f"{alert.id}/x"
    document = webhook_document(alert, key)
    assert (document["scope"], document["level_from"], document["level_to"]) == ("lth-ed", 2, 3)
    assert document["direction"] == "escalation" and document["dedupe_key"] == key
    indicators = {i["name"]: i for i in document["evidence"]["indicators"]}
    assert indicators["queue_length"]["value"] == 95
    assert indicators["queue_length"]["thresholds"] == {"level2": 60, "level3": 90, "level4": 120}

    card = teams_card(alert, key)
    assert card["type"] == "message"
    (attachment,) = card["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content = attachment["content"]
    assert (content["type"], content["version"]) == ("AdaptiveCard", "1.4")
    texts = json.dumps(content)
    assert "lth-ed escalated to OPEL 3 (from 2)" in texts
    assert "queue_length: 95 patients -> level 3 (thresholds 60/90/120, weight 1)" in texts

    posted = alertmanager_alerts(alert, key, None)
    assert posted == alertmanager_alerts(alert, key, None)  # the same labels on every resend
    assert posted[0]["labels"] == {
        "alertname": "FlowsightOPEL",
        "scope": "lth-ed",
        "opel_level": "3",
        "severity": "warning",
        "direction": "escalation",
        "alert_id": alert.id,
        "dedupe_key": key,
    }


# --- back-off -----------------------------------------------------------------------------------


def test_back_off_doubles_from_the_initial_delay_up_to_the_cap_with_bounded_jitter() -> None:
    policy = RetryPolicy(initial_seconds=5, max_seconds=60, jitter_seconds=1)
    for attempts, base in [(1, 5), (2, 10), (3, 20), (4, 40), (5, 60), (12, 60)]:
        delays = [policy.delay(attempts) for _ in range(50)]
        assert all(base <= delay <= base + 1 for delay in delays), (attempts, delays)
        assert len(set(delays)) > 1  # jittered, so many clients do not retry in step


# --- SMTP against a real server -----------------------------------------------------------------


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


def email_route(port: int, **extra: object) -> EmailRoute:
    return EmailRoute.model_validate(
        {
            "kind": "email",
            "host": "127.0.0.1",
            "port": port,
            "sender": "flowsight@leeds.example",
            "recipients": ["oncall@leeds.example"],
            "timeout_seconds": 5,
            **extra,
        }
    )


async def deliver(route: EmailRoute) -> None:
    async with httpx.AsyncClient() as client:
        await route.deliver(escalation_alert(NOW), "alert-1/email", client)


async def test_email_uses_starttls_when_offered_and_logs_in_over_it(
    certificate: tuple[Path, Path],
) -> None:
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_tls(*certificate),
        authenticator=mailbox.authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        route = email_route(
            controller.port, username="flowsight", password="right-password", ca_file=certificate[0]
        )
        await deliver(route)
    finally:
        controller.stop()
    assert mailbox.logins == [("flowsight", True)]
    ((envelope, over_tls),) = mailbox.messages
    assert over_tls
    message = message_from_bytes(envelope.original_content or b"")
    assert message["Subject"] == "[flowsight] lth-ed escalated to OPEL 3 (from 2)"
    assert message["Message-ID"] == "<alert-1.email@flowsight>"
    assert "queue_length: 95 patients -> level 3" in message.get_payload()


async def test_email_without_starttls_on_offer_refuses_to_send_a_password() -> None:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        with pytest.raises(DeliveryFailed) as raised:
            await deliver(email_route(controller.port, username="u", password="right-password"))
        with pytest.raises(DeliveryFailed) as no_password:
            await deliver(email_route(controller.port))  # `auto` never falls back to clear text
        await deliver(email_route(controller.port, security="none"))  # only when told so
    finally:
        controller.stop()
    assert raised.value.permanent and no_password.value.permanent
    assert "does not offer STARTTLS; refusing to send the password" in raised.value.reason
    assert "does not offer STARTTLS; refusing to send the alert" in no_password.value.reason
    assert [over_tls for _, over_tls in mailbox.messages] == [False]


async def test_a_refused_recipient_fails_permanently_and_a_closed_port_is_retried() -> None:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        with pytest.raises(DeliveryFailed) as refused:
            await deliver(
                # This test server offers no STARTTLS: only `none` sends to it at all.
                email_route(controller.port, recipients=["nobody@leeds.example"], security="none")
            )
    finally:
        controller.stop()
    assert refused.value.permanent and "550" in refused.value.reason
    with pytest.raises(DeliveryFailed) as closed:
        await deliver(email_route(free_port()))
    assert not closed.value.permanent
    assert mailbox.messages == []


def test_a_scope_s_first_score_is_said_as_its_level_not_a_rise_from_1() -> None:
    # At go-live every scope above level 1 alerts once; none of them was at level 1 before.
    at = datetime(2026, 12, 6, 13, 30, tzinfo=UTC)
    score = score_service(ED, {"queue_length": 95, "four_hour_breach_pct": 36})
    assert score.level == 3
    change = Escalation("lth-ed").observe(score.level, at)
    assert change is not None
    alert = Alert.from_change(change, score)

    assert headline(alert) == "lth-ed first scored at OPEL 3"
    card = json.dumps(teams_card(alert, "k"))
    assert "OPEL 3 (first score)" in card and "OPEL 1" not in card
    assert webhook_document(alert, "k")["reason"] == "first scored: level 3, with no earlier score"
