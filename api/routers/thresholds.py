"""Pressure thresholds in force, and changing them at run time (admin; every change audited)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from flowsight.adapters.readmodel import pressure as pressure_store
from flowsight.api.auth import Principal
from flowsight.api.bodies import JsonBody
from flowsight.api.deps import ConnectionDep, StateDep, Viewer, audit_read, require
from flowsight.api.models import ThresholdIn, ThresholdsOut
from flowsight.api.problems import Problem
from flowsight.schemas.catalogue import Threshold
from flowsight.services.pressure import (
    INDICATORS_BY_KIND,
    Cutoffs,
    check_thresholds,
    not_an_indicator,
)

router = APIRouter(prefix="/v1/thresholds", tags=["thresholds"])
Admin = Annotated[Principal, Depends(require("admin"))]


@router.get("", response_model=ThresholdsOut, summary="The thresholds in force")
async def thresholds(state: StateDep, _: Viewer, connection: ConnectionDep) -> ThresholdsOut:
    """Each service's indicator thresholds: the catalogue's, with run-time changes applied."""
    effective = pressure_store.effective_catalogue(
        state.catalogue, await pressure_store.overrides(connection)
    )
    return ThresholdsOut(
        services={
            service.id: {
                name: ThresholdIn(**threshold.model_dump())
                for name, threshold in sorted(service.thresholds.items())
            }
            for service in effective.services
        }
    )


@router.put(
    "/{service_id}/{indicator}", response_model=ThresholdsOut, summary="Change one threshold"
)
async def change_threshold(
    service_id: str,
    indicator: str,
    request: Request,
    state: StateDep,
    principal: Admin,
    body: Annotated[ThresholdIn, Depends(JsonBody(ThresholdIn))],
    connection: ConnectionDep,
) -> ThresholdsOut:
    """Set an indicator's level 2/3/4 thresholds and weight; refused with the reason if unusable.
    The change is kept with who made it, named as in the audit log (`key:<name>`,
    `oidc:<subject>`), and audited with the thresholds before and after."""
    service = state.catalogue.service(service_id)
    if service is None:
        raise Problem(404, "Unknown service", f"no service {service_id!r} in the catalogue")
    if indicator not in INDICATORS_BY_KIND[service.kind]:
        problem = f"service {service_id!r}: {not_an_indicator(indicator, service.kind)}"
        raise Problem(422, "Unusable threshold", problem, problems=[problem])
    try:
        threshold = Threshold(**body.model_dump())
    except ValueError as error:
        raise Problem(
            422, "Unusable threshold", f"service {service_id!r}, indicator {indicator!r}: {error}"
        ) from None
    changed = dict(await pressure_store.overrides(connection))
    changed[(service_id, indicator)] = {**threshold.model_dump()}
    problems = check_thresholds(
        pressure_store.effective_catalogue(state.catalogue, changed),
        Cutoffs(*state.settings.opel_cutoffs),
        state.settings.system_weights,
    )
    if problems:
        raise Problem(422, "Unusable threshold", "; ".join(problems), problems=problems)
    now = datetime.now(UTC)
    before = pressure_store.effective_catalogue(
        state.catalogue, await pressure_store.overrides(connection)
    ).service(service_id)
    previous = before.thresholds.get(indicator) if before else None
    await pressure_store.set_threshold(
        connection, service_id, indicator, threshold, principal.audit_name, now
    )
    await audit_read(
        connection,
        request,
        principal,
        "set_threshold",
        detail={
            "service": service_id,
            "indicator": indicator,
            "before": previous.model_dump() if previous else None,
            "after": threshold.model_dump(),
        },
    )
    return await thresholds(state, principal, connection)
