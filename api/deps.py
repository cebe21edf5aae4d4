"""Request-scoped dependencies: the read-model connection, the catalogue, the caller, and the
gateway writer the ways in (`POST /v1/events`, FHIR) share."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, Protocol

from aiokafka.errors import KafkaError
from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from flowsight.adapters.kafka.producer import EventPublisher
from flowsight.adapters.readmodel import audit as audit_log
from flowsight.api import audited
from flowsight.api.auth import Principal
from flowsight.api.principal import Authenticator, Unauthenticated
from flowsight.api.problems import Problem
from flowsight.api.refusals import RefusalLog
from flowsight.schemas.catalogue import Catalogue
from flowsight.schemas.events import organisation_of
from flowsight.services.validation import ValidationContext
from flowsight.settings import Settings

log = logging.getLogger("flowsight.api")

#: The furthest a list may be paged: beyond it the database cannot count (64-bit) and no list
#: of ours is that long, so a larger offset is a 422 naming `offset`, not a database error.
MAX_OFFSET = 2**31 - 1

#: The `offset` query parameter every paginated list takes.
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="entries to skip")]

#: Longest a gateway request waits for Kafka's acknowledgements before answering 503.
GATEWAY_ACK_TIMEOUT_SECONDS = 20.0


class KafkaUnavailable(Exception):
    """Kafka did not acknowledge a gateway's write; nothing of the request may be claimed. Its
    text is answered to the caller: the cause (brokers' addresses) is logged, never in it."""


class EventWriter(Protocol):
    """Where the ways in write: accepted events to ingest topics, refused ones to the DLQ."""

    async def publish(
        self, gateway: str, organisation: str, events: Sequence[dict[str, Any]]
    ) -> None: ...

    async def dead_letter(
        self, raw: bytes, *, organisation: str, gateway: str, reason: str, field: str, message: str
    ) -> None: ...


class GatewayWriter:
    """An EventPublisher started on first use, so the API starts (and reports) without Kafka."""

    def __init__(self, settings: Settings, registry: CollectorRegistry) -> None:
        self.settings = settings
        self._publisher: EventPublisher | None = None
        self._starting = asyncio.Lock()
        self.accepted = Counter(
            "flowsight_gateway_events",
            "Events a gateway wrote to an ingest topic, by gateway.",
            ["gateway"],
            registry=registry,
        )
        # Same name and labels as the worker's counter, so one query sums every dead letter.
        self.dead_letters = Counter(
            "flowsight_dead_letters",
            "Messages written to the dead-letter topic, by reason.",
            ["reason"],
            registry=registry,
        )

    async def _started(self) -> EventPublisher:
        async with self._starting:
            if self._publisher is None:
                publisher = EventPublisher(self.settings)
                try:
                    await publisher.start()  # closes its half-started producer if it fails
                except (KafkaError, OSError) as error:
                    log.warning("gateway could not reach Kafka: %r", error)
                    raise KafkaUnavailable("cannot reach Kafka") from error
                self._publisher = publisher
            return self._publisher

    async def publish(
        self, gateway: str, organisation: str, events: Sequence[dict[str, Any]]
    ) -> None:
        """Write `events` to `organisation`'s ingest topic, each record sealed as `gateway`'s
        (`services/gateways.py`); return once Kafka acknowledged all."""
        try:
            async with asyncio.timeout(GATEWAY_ACK_TIMEOUT_SECONDS):
                await (await self._started()).publish(organisation, events, sealed_by=gateway)
        except (KafkaError, OSError, TimeoutError) as error:
            log.warning("gateway %s could not publish for %s: %r", gateway, organisation, error)
            raise KafkaUnavailable("Kafka did not acknowledge the events") from error
        self.accepted.labels(gateway).inc(len(events))

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        """Write one record to `topic`; KafkaUnavailable unless acknowledged in time."""
        try:
            async with asyncio.timeout(GATEWAY_ACK_TIMEOUT_SECONDS):
                await (await self._started()).write(topic, value, key=key)
        except (KafkaError, OSError, TimeoutError) as error:
            raise KafkaUnavailable("Kafka did not acknowledge the write") from error

    async def dead_letter(
        self, raw: bytes, *, organisation: str, gateway: str, reason: str, field: str, message: str
    ) -> None:
        """Write a refused message to the dead-letter topic; return once Kafka acknowledged it."""
        try:
            async with asyncio.timeout(GATEWAY_ACK_TIMEOUT_SECONDS):
                publisher = await self._started()
                await publisher.dead_letter(
                    raw,
                    organisation=organisation,
                    gateway=gateway,
                    reason=reason,
                    field=field,
                    message=message,
                )
        except (KafkaError, OSError, TimeoutError) as error:
            log.warning("gateway %s could not dead-letter (%s): %r", gateway, reason, error)
            raise KafkaUnavailable("Kafka did not acknowledge the dead letter") from error
        self.dead_letters.labels(reason).inc()

    async def stop(self) -> None:
        """Stop the publisher, if one was started."""
        if self._publisher is not None:
            await self._publisher.stop()
            self._publisher = None


@dataclass
class ApiState:
    """What the API builds once at start-up and shares between requests."""

    settings: Settings
    catalogue: Catalogue
    engine: AsyncEngine
    authenticator: Authenticator
    schema_revision: str
    validation: ValidationContext
    gateway: GatewayWriter
    refusals: RefusalLog = field(default_factory=RefusalLog)


# The dependencies below are coroutines: FastAPI runs a plain function dependency in a worker
# thread, a hop that costs more than the check itself on every request.


async def api_state(request: Request) -> ApiState:
    """What the API built at start-up."""
    state: ApiState = request.app.state.flowsight
    return state


StateDep = Annotated[ApiState, Depends(api_state)]


async def read_connection(state: StateDep) -> AsyncIterator[AsyncConnection]:
    """A connection for the request; the request edge owns its transaction."""
    async with state.engine.begin() as connection:
        yield connection


#: Committed when the route returns, before its answer is sent (`scope="function"`): FastAPI
#: otherwise ends a dependency after the response, and a patient-level list would leave with
#: its audit row (or a threshold's change) still to commit, and lost if the commit failed.
#: A route declares it after its role: FastAPI resolves a route's dependencies in the order of
#: its parameters, and one taken first held a pooled connection for every request without a
#: credential until it was refused.
ConnectionDep = Annotated[AsyncConnection, Depends(read_connection, scope="function")]

_bearer = HTTPBearer(
    auto_error=False, description="API key, or an OIDC access token when an issuer is configured"
)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
HeaderKeyDep = Annotated[str | None, Depends(_api_key)]


async def presented_key(bearer: BearerDep, header_key: HeaderKeyDep) -> str | None:
    """The API key the caller presented, if any (bearer token first)."""
    return bearer.credentials if bearer else header_key


PresentedKey = Annotated[str | None, Depends(presented_key)]


async def presented_credential(request: Request) -> str | None:
    """`presented_key` of a request, outside dependency injection (`api/shortcut.py`)."""
    return await presented_key(await _bearer(request), await _api_key(request))


def caller(state: ApiState, presented: str | None) -> Principal:
    """The authenticated caller, by OIDC token or API key; 401 naming what is missing or wrong."""
    try:
        return state.authenticator.authenticate(presented)
    except Unauthenticated as refusal:
        raise _unauthorised(refusal) from None


async def authenticated(state: ApiState, presented: str | None) -> Principal:
    """`caller` for a coroutine: the check never holds the event loop (`authenticate_async`)."""
    try:
        return await state.authenticator.authenticate_async(presented)
    except Unauthenticated as refusal:
        raise _unauthorised(refusal) from None


def _unauthorised(refusal: Unauthenticated) -> Problem:
    """The 401 answering a refused credential, saying why (never the credential), and how to
    authenticate: an API key or OIDC token as a bearer credential (RFC 9110 11.6.1, RFC 6750)."""
    challenge = {"WWW-Authenticate": 'Bearer realm="flowsight"'}
    return Problem(401, "Unauthorised", str(refusal), headers=challenge)


async def request_caller(state: StateDep, presented: PresentedKey) -> Principal:
    """The authenticated caller of the request (`authenticated`)."""
    return await authenticated(state, presented)


CallerDep = Annotated[Principal, Depends(request_caller)]


def require(role: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets through callers holding `role`.

    One dependency reading the two credential headers itself, rather than a chain of them
    (state, key, caller, role): FastAPI resolves every dependency of every request anew, and on
    the busiest routes (`GET /v1/pressure`) the chain cost more than the answer (docs/benchmarks.md).
    """

    async def _check(request: Request, bearer: BearerDep, header_key: HeaderKeyDep) -> Principal:
        state: ApiState = request.app.state.flowsight
        principal = await authenticated(state, bearer.credentials if bearer else header_key)
        if not principal.has(role):
            raise Problem(
                403,
                "Forbidden",
                f"this needs the {role!r} role",
                who=principal.audit_name,
                record=(
                    partial(_audit_refusal, state, request, principal, role)
                    if role in AUDITED_ROLES
                    else None
                ),
            )
        return principal

    return _check


#: The roles of patient-level lists and changes: a known caller refused one is audited as a
#: read is. A caller with no valid credential is logged only: there is no one to name, and a
#: line per anonymous request would let anyone fill the audit table (docs/security.md).
AUDITED_ROLES = frozenset({"caseload", "oncall", "admin"})


async def _audit_refusal(
    state: ApiState, request: Request, principal: Principal, role: str
) -> None:
    """Write a 403 to the audit log, in a transaction of its own, as the refusal is answered
    (`Problem.record`); the caller is refused even when the line cannot be written (nothing is
    shown to it), and that failure is logged."""
    held = state.refusals.take(principal.audit_name)
    if held is None:
        return  # the caller's lines of this minute are written: counted, written with the next
    detail: dict[str, object] = {"status": 403, "needs": role}
    if held:
        detail["refusals_not_written_since_last"] = held
    try:
        async with state.engine.begin() as connection:
            await audit_read(connection, request, principal, REFUSED, detail=detail)
    except (SQLAlchemyError, OSError) as error:
        log.error("refusal of %s not audited: %s", principal.audit_name, type(error).__name__)


#: The audit log's action for a request refused its role.
REFUSED = "refused"


Viewer = Annotated[Principal, Depends(require("viewer"))]


async def event_writer(state: StateDep) -> EventWriter:
    """The gateway writer; tests override this dependency to isolate the HTTP behaviour."""
    return state.gateway


WriterDep = Annotated[EventWriter, Depends(event_writer)]


def publisher_organisations(principal: Principal) -> frozenset[str]:
    """The organisations a caller may publish for: its `publisher:<ORG>` roles (admin is not one)."""
    return frozenset(
        role.removeprefix("publisher:") for role in principal.roles if role.startswith("publisher:")
    )


def organisation_for(source: object, organisations: frozenset[str]) -> str:
    """The organisation an event is checked against: its source's, if the key publishes for it."""
    if isinstance(source, str):
        claimed = organisation_of(source)
        if claimed in organisations:
            return claimed
    # Otherwise any of the key's organisations: validation then refuses it as source_mismatch.
    return min(organisations)


def seen(pseudonyms: list[str]) -> dict[str, Any]:
    """An audit line's detail for a patient-level read: whose records the answer showed, in its
    order (the list a caller was given changes as patients come and go; this says who was on it)."""
    return {"patients": pseudonyms}


async def audit_read(
    connection: AsyncConnection,
    request: Request,
    principal: Principal,
    action: str,
    *,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write a patient-level read (`detail`: the pseudonyms it showed, `seen`), a change
    (`detail`: before and after) or a refusal to the audit log, in `connection`'s transaction.

    The resource is the path and the query parameters the route takes, as read; anything else
    a caller put in the query is not kept, nor is anything shaped like an NHS number (admins
    read the audit log back: SPEC section 9 allows raw NHS numbers nowhere past the validator):
    `api.audited`."""
    await audit_log.audit(
        connection,
        principal=principal.audit_name,
        action=action,
        resource=audited.resource(request),
        client=audited.client(request),
        at=datetime.now(UTC),
        detail=detail,
    )
