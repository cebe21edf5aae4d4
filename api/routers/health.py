"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from api.deps import StateDep
from flowsight.kafka_admin import BrokerUnreachable, wait_for_broker
from flowsight.readmodel.migrate import current_revision

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: Kafka and the database are reachable")
async def readyz(state: StateDep) -> JSONResponse:
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
        await wait_for_broker(state.settings.kafka_bootstrap, within=0)
        checks["kafka"] = "ok"
    except BrokerUnreachable:
        checks["kafka"] = f"unreachable at {state.settings.kafka_bootstrap}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
