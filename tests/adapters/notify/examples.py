"""Alerts as the pressure agent makes them: a real score, a real level change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flowsight.adapters.readmodel.outbox import Alert
from flowsight.schemas.catalogue import Service, Threshold
from flowsight.services.pressure import Escalation, score_service

ED = Service(
    id="lth-ed",
    name="LTH Emergency Department",
    organisation="RR8",
    kind="acute_front_door",
    capacity_unit="slots",
    thresholds={
        "queue_length": Threshold(level2=60, level3=90, level4=120),
        "four_hour_breach_pct": Threshold(level2=25, level3=35, level4=45, weight=2),
    },
)


def escalation_alert(at: datetime | None = None, minutes_apart: int = 0) -> Alert:
    """The ED rising from OPEL 2 to OPEL 3: queue 95 (level 3), breaches 36 % (level 3)."""
    at = at or datetime.now(UTC).replace(microsecond=0)
    at += timedelta(minutes=minutes_apart)
    escalation = Escalation("lth-ed", level=2, last_at=at - timedelta(minutes=1))  # read before
    score = score_service(ED, {"queue_length": 95, "four_hour_breach_pct": 36})
    assert score.level is not None
    change = escalation.observe(score.level, at)
    assert change is not None
    return Alert.from_change(change, score)
