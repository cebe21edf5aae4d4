"""Escalation alerts, and their acknowledgement by the on-call lead."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import func, select

from flowsight.adapters.readmodel import outbox, store
from flowsight.adapters.readmodel.alert_tables import alerts as alerts_table
from flowsight.api.auth import Principal
from flowsight.api.bodies import JsonBody
from flowsight.api.deps import (
    ConnectionDep,
    KafkaUnavailable,
    Offset,
    StateDep,
    Viewer,
    audit_read,
    require,
)
from flowsight.api.models import AckIn, AlertOut, AlertsOut, DeliveryOut
from flowsight.api.problems import Problem, problem
from flowsight.schemas.text import ONE_LINE, ONE_LINE_PATTERN
from flowsight.services.pseudonym import without_nhs_numbers

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
log = logging.getLogger("flowsight.api")
OnCall = Annotated[Principal, Depends(require("oncall"))]
#: An id the read model is asked for: no control character (PostgreSQL refuses a NUL).
OneLine = Annotated[str, ONE_LINE]
ONE_LINE_SCHEMA: dict[str, Any] = {"pattern": ONE_LINE_PATTERN}


async def _alert_out(connection: Any, row: Any, principal: Principal) -> AlertOut:
    deliveries = await outbox.deliveries(connection, row.id)
    # A receiver's answer can quote its own internals (addresses, stack traces): on-call and
    # admins act on it, viewers see only the delivery's state.
    detailed = principal.has("oncall")
    return AlertOut(
        id=row.id,
        scope=row.scope,
        level_from=row.level_from,
        level_to=row.level_to,
        direction="escalation" if row.level_to > row.level_from else "de-escalation",
        at=store.as_utc(row.at),
        reason=row.reason,
        score=row.score,
        evidence=row.indicators,
        state=row.state,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=store.as_utc(row.acknowledged_at) if row.acknowledged_at else None,
        acknowledged_note=row.acknowledged_note,
        deliveries=[
            DeliveryOut(
                route=d["route"],
                state=d["state"],
                attempts=d["attempts"],
                last_error=d["last_error"] if detailed else None,
                delivered_at=store.as_utc(d["delivered_at"]) if d["delivered_at"] else None,
            )
            for d in deliveries
        ],
    )


@router.get("", response_model=AlertsOut, summary="Escalations and de-escalations, newest first")
async def list_alerts(
    principal: Viewer,
    connection: ConnectionDep,
    state: Literal["open", "acknowledged"] | None = None,
    scope: Annotated[
        OneLine | None,
        Query(description="a service id, or system", json_schema_extra=ONE_LINE_SCHEMA),
    ] = None,
    level: Annotated[int | None, Query(ge=1, le=4, description="the level changed to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> AlertsOut:
    """Alerts with their evidence and the state of each delivery."""
    query = select(alerts_table)
    if state is not None:
        query = query.where(alerts_table.c.state == state)
    if scope is not None:
        query = query.where(alerts_table.c.scope == scope)
    if level is not None:
        query = query.where(alerts_table.c.level_to == level)
    total = (
        await connection.execute(select(func.count()).select_from(query.subquery()))
    ).scalar_one()
    rows = await connection.execute(
        query.order_by(alerts_table.c.at.desc(), alerts_table.c.id).limit(limit).offset(offset)
    )
    return AlertsOut(
        alerts=[await _alert_out(connection, row, principal) for row in rows.all()],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post(
    "/{alert_id}/ack",
    response_model=AlertOut,
    summary="Acknowledge an alert",
    responses={409: problem("the alert was acknowledged already: by whom, and when")},
)
async def acknowledge(
    alert_id: Annotated[OneLine, Path(json_schema_extra=ONE_LINE_SCHEMA)],
    request: Request,
    state: StateDep,
    principal: OnCall,
    body: Annotated[AckIn | None, Depends(JsonBody(AckIn, required=False))],
    connection: ConnectionDep,
) -> AlertOut:
    """Record who acknowledged the alert, when, and a note; once only. Who is the caller as
    the audit log names it (`key:<name>`, `oidc:<subject>`), so an identity provider's subject
    never passes for an API key of the same name."""
    # The note is kept, published on the alerts topic and shown to every viewer, where no NHS
    # number may go (SPEC section 9): one written in it is blanked, as in the audit log.
    note = without_nhs_numbers(body.note) if body and body.note is not None else None
    done = await outbox.acknowledge(
        connection, alert_id, principal.audit_name, note, datetime.now(UTC)
    )
    row = (
        await connection.execute(select(alerts_table).where(alerts_table.c.id == alert_id))
    ).first()
    if row is None:
        raise Problem(404, "Unknown alert", f"no alert {alert_id!r}")
    if not done:
        raise Problem(
            409,
            "Already acknowledged",
            f"alert {alert_id} was acknowledged by {row.acknowledged_by} at {row.acknowledged_at}",
        )
    await audit_read(connection, request, principal, "acknowledge_alert")
    acknowledged = await _alert_out(connection, row, principal)
    # The alerts topic carries acknowledgements too; the database is the record, so a Kafka
    # outage leaves the acknowledgement recorded, and only the topic without it.
    message = {
        "kind": "acknowledgement",
        **acknowledged.model_dump(mode="json", exclude={"deliveries"}),
    }
    try:
        await state.gateway.send(
            state.settings.alerts_topic, alert_id.encode(), json.dumps(message).encode()
        )
    except KafkaUnavailable as error:
        log.warning(
            "acknowledgement of %s not published to the alerts topic: %r", alert_id, error.__cause__
        )
    return acknowledged
