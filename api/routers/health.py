"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from flowsight.adapters.kafka.admin import BrokerUnreachable, wait_for_broker
from flowsight.adapters.kafka.lag import ConsumerLag, consumed_topics
from flowsight.adapters.readmodel.migrate import current_revision
from flowsight.api.deps import ApiState, PresentedKey, StateDep, authenticated
from flowsight.api.principal import Unauthenticated
from flowsight.api.problems import Problem

#: The role that reads operational detail (metrics, readiness checks) outside local mode.
METRICS_ROLE = "metrics"

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


#: What /readyz answers, ready (200) or not (503); `checks` and `lag` only for the metrics role.
READY: dict[str, Any] = {
    "type": "object",
    "required": ["ready"],
    "properties": {
        "ready": {"type": "boolean"},
        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
        "lag": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}


@router.get(
    "/readyz",
    summary="Readiness: Kafka and the database reachable, and the worker's state caught up",
    responses={
        200: {"description": "ready", "content": {"application/json": {"schema": READY}}},
        503: {"description": "not ready", "content": {"application/json": {"schema": READY}}},
    },
)
async def readyz(request: Request, state: StateDep, presented: PresentedKey) -> JSONResponse:
    """200 when ready, else 503; the checks and lag (which name the broker and the topics) only
    in local mode or for a caller with the metrics role, so a load balancer needs no key.

    Anyone may ask, and each check opens connections to the database and the broker: calls that
    come while a check is under way share its answer, so a flood of them costs one check at a
    time, not one each."""
    running: asyncio.Future[tuple[bool, dict[str, Any]]] | None = getattr(
        request.app.state, _READINESS, None
    )
    if running is None or running.done():
        running = asyncio.ensure_future(_readiness(state))
        setattr(request.app.state, _READINESS, running)
    ready, body = await asyncio.shield(running)
    shown = body if await _may_see_operations(state, presented) else {}
    return JSONResponse({"ready": ready, **shown}, status_code=200 if ready else 503)


#: Where the app keeps the readiness check under way.
_READINESS = "readiness_check"


async def _readiness(state: ApiState) -> tuple[bool, dict[str, Any]]:
    checks: dict[str, str] = {}
    try:
        async with state.engine.connect() as connection:
            revision = await current_revision(connection)
        checks["database"] = (
            "ok"
            if revision == state.schema_revision
            else f"schema at {revision or 'nothing'}, needs {state.schema_revision} "
            "(the worker migrates it; or run `flowsight db upgrade`)"
        )
    except (OSError, SQLAlchemyError) as error:
        checks["database"] = f"unreachable: {type(error).__name__}"
    try:
        await wait_for_broker(state.settings, within=0)
        checks["kafka"] = "ok"
    except BrokerUnreachable:
        checks["kafka"] = f"unreachable at {state.settings.kafka_bootstrap}"
    body: dict[str, Any] = {"checks": checks}
    if checks["kafka"] == "ok":
        checks["state"], body["lag"] = await _state_caught_up(state)
    # A lag that cannot be measured (no coordinator for the group yet) does not block readiness.
    ready = all(value == "ok" or value.startswith("unknown") for value in checks.values())
    return ready, body


async def _may_see_operations(state: ApiState, presented: str | None) -> bool:
    if state.settings.is_local:
        return True
    try:
        return (await state.authenticator.authenticate_async(presented)).has(METRICS_ROLE)
    except Unauthenticated:
        return False


async def _state_caught_up(state: ApiState) -> tuple[str, dict[str, int]]:
    """Whether the worker has processed what was published, with its lag per topic."""
    settings = state.settings
    lag = ConsumerLag(settings, settings.app_id, consumed_topics(settings, state.catalogue))
    try:
        behind = await lag.measure()
    except KafkaError as error:
        return f"unknown: the worker's lag cannot be measured ({type(error).__name__})", {}
    finally:
        await lag.close()
    total = sum(behind.values())
    if total > settings.ready_max_lag:
        return (
            f"behind: {total} events not yet processed by the worker "
            f"(more than FLOWSIGHT_READY_MAX_LAG={settings.ready_max_lag})",
            behind,
        )
    return "ok", behind


@router.get(
    "/metrics",
    summary="Prometheus metrics (the metrics role, outside local mode)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(request: Request, state: StateDep, presented: PresentedKey) -> Response:
    if not state.settings.is_local:
        principal = await authenticated(state, presented)  # 401 without a valid credential
        if not principal.has(METRICS_ROLE):
            raise Problem(
                403, "Forbidden", "this needs the 'metrics' role", who=principal.audit_name
            )
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
