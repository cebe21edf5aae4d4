"""What each kind of receiver is sent for an alert: JSON, an adaptive card, an email, an alert."""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from flowsight.adapters.readmodel.outbox import Alert
from flowsight.services.escalation import is_first_score

#: Alertmanager severities by OPEL level.
SEVERITY = {1: "info", 2: "info", 3: "warning", 4: "critical"}
ALERTNAME = "FlowsightOPEL"


def headline(alert: Alert) -> str:
    """One line: which scope moved, which way, from which level to which."""
    if is_first_score(alert.reason):
        return f"{alert.scope} first scored at OPEL {alert.level_to}"
    moved = "escalated" if alert.escalation else "de-escalated"
    return f"{alert.scope} {moved} to OPEL {alert.level_to} (from {alert.level_from})"


def _levels(alert: Alert) -> str:
    if is_first_score(alert.reason):
        return f"OPEL {alert.level_to} (first score)"
    return f"OPEL {alert.level_from} → OPEL {alert.level_to}"


def evidence_lines(alert: Alert) -> list[str]:
    """Each indicator (or, for the system, each service) with its value, level and thresholds."""
    evidence = alert.evidence
    if "services" in evidence:
        return [
            f"{s['scope']}: OPEL {s['level'] if s['level'] is not None else 'not scored'}, "
            f"weight {s['weight']:g}"
            for s in evidence["services"]
        ]
    return [_indicator_line(indicator) for indicator in evidence.get("indicators", [])]


def _indicator_line(indicator: dict[str, Any]) -> str:
    limits = indicator["thresholds"]
    thresholds = f"{limits['level2']:g}/{limits['level3']:g}/{limits['level4']:g}"
    if indicator["value"] is None:
        return f"{indicator['name']}: no value (thresholds {thresholds})"
    return (
        f"{indicator['name']}: {indicator['value']:g} {indicator['unit']} -> level "
        f"{indicator['level']} (thresholds {thresholds}, weight {indicator['weight']:g})"
    )


def webhook_document(alert: Alert, dedupe_key: str) -> dict[str, Any]:
    """The generic webhook's JSON document."""
    return {
        "alert_id": alert.id,
        "dedupe_key": dedupe_key,
        "scope": alert.scope,
        "level_from": alert.level_from,
        "level_to": alert.level_to,
        "direction": "escalation" if alert.escalation else "de-escalation",
        "at": alert.at.isoformat(),
        "reason": alert.reason,
        "score": alert.score,
        "summary": headline(alert),
        "evidence": alert.evidence,
    }


def webhook_body(alert: Alert, dedupe_key: str) -> bytes:
    """The webhook body, byte for byte as signed."""
    return json.dumps(webhook_document(alert, dedupe_key), separators=(",", ":")).encode()


def teams_card(alert: Alert, dedupe_key: str) -> dict[str, Any]:
    """A Teams Workflows message carrying one adaptive card."""
    facts = [
        {"title": "Level", "value": _levels(alert)},
        {"title": "At", "value": alert.at.isoformat()},
        {"title": "Why", "value": alert.reason},
    ]
    if alert.score is not None:
        facts.append({"title": "Score", "value": f"{alert.score:g}"})
    facts.append({"title": "Alert", "value": dedupe_key})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": headline(alert),
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
                "color": "Attention" if alert.level_to >= 3 else "Default",
            },
            {"type": "FactSet", "facts": facts},
            *(
                {"type": "TextBlock", "text": line, "wrap": True, "spacing": "None"}
                for line in evidence_lines(alert)
            ),
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def email_message(
    alert: Alert, dedupe_key: str, sender: str, recipients: list[str]
) -> EmailMessage:
    """A plain-text email whose Message-ID is the dedupe key, so a resend is recognisable."""
    message = EmailMessage()
    message["Subject"] = f"[flowsight] {headline(alert)}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(alert.at)
    message["Message-ID"] = f"<{dedupe_key.replace('/', '.')}@flowsight>"
    message["X-Flowsight-Dedupe-Key"] = dedupe_key
    lines = [headline(alert), "", f"At: {alert.at.isoformat()}", f"Why: {alert.reason}"]
    if alert.score is not None:
        lines.append(f"Score: {alert.score:g}")
    lines += ["", *evidence_lines(alert), "", f"Alert: {dedupe_key}"]
    message.set_content("\n".join(lines) + "\n")
    return message


def alertmanager_alerts(
    alert: Alert, dedupe_key: str, generator_url: str | None
) -> list[dict[str, Any]]:
    """The body of POST /api/v2/alerts: one alert whose labels are the same on every resend."""
    posted: dict[str, Any] = {
        "labels": {
            "alertname": ALERTNAME,
            "scope": alert.scope,
            "opel_level": str(alert.level_to),
            "severity": SEVERITY[alert.level_to],
            "direction": "escalation" if alert.escalation else "de-escalation",
            "alert_id": alert.id,
            "dedupe_key": dedupe_key,
        },
        "annotations": {
            "summary": headline(alert),
            "description": "\n".join([alert.reason, *evidence_lines(alert)]),
        },
        "startsAt": alert.at.isoformat(),
    }
    if generator_url:
        posted["generatorURL"] = generator_url
    return [posted]
