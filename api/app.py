"""Builds the FastAPI app. Nothing is created at import; `create_api` is called by entry points."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

import flowsight
from flowsight.adapters.readmodel.database import create_engine
from flowsight.adapters.readmodel.migrate import head_revision
from flowsight.api.deps import ApiState, GatewayWriter
from flowsight.api.docs_pages import install_docs
from flowsight.api.hardening import install_hardening
from flowsight.api.keys_in_force import keys_recorded_at_start
from flowsight.api.live import LiveFeed
from flowsight.api.middleware import RequestMetrics, StoppingAnswered
from flowsight.api.openapi import install_openapi
from flowsight.api.places import Places
from flowsight.api.principal import Authenticator
from flowsight.api.problems import install_problem_handlers
from flowsight.api.resume import MOST_CAUGHT_UP_AT_ONCE
from flowsight.api.routers import (
    alerts,
    audit,
    caseload,
    dashboard,
    delays,
    events,
    fhir,
    health,
    pressure,
    reports,
    services,
    stream,
    thresholds,
)
from flowsight.api.shortcut import install_snapshot_answers
from flowsight.schemas.catalogue import Catalogue
from flowsight.services.validation import ValidationContext
from flowsight.settings import Settings


def create_api(settings: Settings, catalogue: Catalogue, validation: ValidationContext) -> FastAPI:
    """The API for `settings`: keys parsed now, database opened on start-up."""
    authenticator = Authenticator(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url)
        app.state.flowsight = ApiState(
            settings,
            catalogue,
            engine,
            authenticator,
            schema_revision=head_revision(),
            validation=validation,
            gateway=gateway,
        )
        # Reads Kafka once a client asks for /v1/stream or /v1/pressure.
        app.state.live = LiveFeed(settings)
        # Clients returning with a Last-Event-ID are caught up a few at a time (api/resume.py);
        # live streams and weekly reports are bounded the same way (docs/security.md).
        app.state.catch_ups = Places(MOST_CAUGHT_UP_AT_ONCE)
        app.state.streams = Places(settings.stream_clients, settings.stream_clients_per_caller)
        app.state.reports = Places(settings.reports_at_once)
        app.state.pressure = pressure.pressure_snapshot(engine, catalogue)
        app.state.live.listeners.append(app.state.pressure.invalidate)
        recording = await keys_recorded_at_start(engine, authenticator.keys)
        try:
            yield
        finally:
            if recording is not None:
                recording.cancel()
            await app.state.live.close()
            await gateway.stop()
            await engine.dispose()

    app = FastAPI(
        title="flowsight",
        version=flowsight.__version__,
        summary="Live patient flow, queues, delays and pressure across a health and care system.",
        lifespan=lifespan,
        # FastAPI's Swagger UI and ReDoc load from a CDN: ours (`install_docs`) do not.
        docs_url=None,
        redoc_url=None,
        # A request for a path without its trailing slash is a 404, not a redirect built from the
        # Host header the caller sent (a redirect to any host, carrying an X-API-Key with it).
        redirect_slashes=False,
    )
    install_problem_handlers(app)
    # Innermost of the middleware: its answers still get the headers and are counted.
    install_snapshot_answers(app)
    # Inside the headers and the counts: a request cancelled as the server stops is a 503 of both.
    app.add_middleware(StoppingAnswered)
    install_hardening(app, serve_docs=settings.is_local)
    if settings.is_local:
        install_docs(app)
    _install_metrics(app)
    # Kafka is reached on the first published event, not here: the API starts without it.
    gateway = GatewayWriter(settings, app.state.registry)
    routers = (
        health,
        pressure,
        stream,
        services,
        caseload,
        delays,
        alerts,
        thresholds,
        reports,
        audit,
        dashboard,
    )
    for module in (*routers, events, fhir):
        app.include_router(module.router)
    dashboard.mount_assets(app)
    install_openapi(
        app,
        [module.router for module in (*routers, events, fhir)],
        examples=_examples(catalogue),
    )
    return app


def _examples(catalogue: Catalogue) -> dict[str, list[str]]:
    """Example values of the parameters naming the catalogue: a few services and indicators."""
    services = [service.id for service in catalogue.services][:2]
    indicators = sorted({name for s in catalogue.services for name in s.thresholds})[:2]
    return {"service_id": services, "service": services, "indicator": indicators}


def _install_metrics(app: FastAPI) -> None:
    registry = CollectorRegistry()
    app.state.registry = registry
    app.add_middleware(RequestMetrics, registry=registry)
