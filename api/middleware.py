"""Plain ASGI middleware: what every answer carries, and what every request counts.

Written against the ASGI interface rather than Starlette's `BaseHTTPMiddleware`, which wraps each
request in a task and a stream of its own and cost more than a whole `/healthz` answer
(docs/benchmarks.md). Both only look at the response's start message; bodies pass untouched, so a
server-sent event stream is not buffered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowsight.api.problems import problem_response

NO_STORE = (b"cache-control", b"no-store")
#: Answers no cache keeps: the API's figures and lists, the FHIR gateway's, and what operations
#: read (readiness with its checks and lag, the metrics: both as of now, the first shown to the
#: metrics role only).
NO_STORE_PATHS = ("/v1/", "/fhir", "/metrics", "/readyz", "/healthz")
#: Methods whose routes read no body.
WITHOUT_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


class SecurityHeaders:
    """Adds `headers` to every HTTP answer that does not set them itself, leaving out the
    Content Security Policy on `exempt` paths, and `Cache-Control: no-store` on every answer
    under NO_STORE_PATHS (replacing any other): a FHIR answer names the episodes it published."""

    def __init__(
        self, app: ASGIApp, *, headers: dict[str, str], exempt: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.headers = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        added = self.headers
        if path in self.exempt:
            added = [header for header in added if header[0] != b"content-security-policy"]
        no_store = path.startswith(NO_STORE_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", ()))
                present = {name.lower() for name, _ in raw}
                raw.extend(header for header in added if header[0] not in present)
                if no_store:
                    raw = [header for header in raw if header[0].lower() != b"cache-control"]
                    raw.append(NO_STORE)
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyBounds:
    """Bounds every request body in size and in time, whoever reads it: a body declared too
    large is refused before the caller is authenticated; routes read theirs only once the
    caller is known (`api.bodies`), and this counts it as it arrives.

    - Over `max_bytes`, declared or as it arrives: a 413 problem. Paths in `own_limits` read
      their bodies with a limit and an answer of their own (the event and FHIR gateways).
    - Not all arrived within `seconds` of the route asking for it: a 408 problem. A body
      trickled a byte at a time otherwise holds a connection, a task and a buffer for as long as
      its sender likes (headers trickled before a route is reached are the reverse proxy's to
      time out: docs/security.md). Once the body is complete, waiting on the connection (a
      stream's client going away) is not bounded.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, seconds: float, own_limits: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.seconds = seconds
        self.own_limits = tuple(own_limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # No route of a method without a body reads one: those pass untouched (the dashboard's
        # and the API's reads, most of the traffic).
        if scope["type"] != "http" or scope["method"] in WITHOUT_BODY:
            await self.app(scope, receive, send)
            return
        limit = None if scope["path"].startswith(self.own_limits) else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if limit is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(limit, scope)(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        complete, received = False, 0

        async def bounded_receive() -> Message:
            nonlocal deadline, complete, received
            if complete:
                return await receive()
            if deadline is None:
                deadline = loop.time() + self.seconds
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                detail = f"the request body did not arrive within {self.seconds:g} s"
                raise HTTPException(408, detail) from None
            received += len(message.get("body", b""))
            if limit is not None and received > limit:
                raise HTTPException(413, f"the body is over {limit} bytes")
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, bounded_receive, send)


def _too_large(limit: int, scope: Scope) -> ASGIApp:
    """The 413 problem for a body declared over `limit`, answered before any route runs."""
    return problem_response(
        Request(scope), 413, "Content Too Large", f"the body is over {limit} bytes"
    )


class StoppingAnswered:
    """A request still waiting when the server stops is answered 503, not 500.

    uvicorn gives requests in hand a few seconds when it stops, then cancels them; a publisher's
    request waiting on an absent broker was answered 500 with a traceback in the log, as if
    flowsight had failed. Nothing of such a request was claimed as accepted: the 503 says to
    send it again, as a gateway's own 503 does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_started(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_started)
        except asyncio.CancelledError:
            if started:
                raise
            stopping = problem_response(
                Request(scope),
                503,
                "Service Unavailable",
                "the API is stopping; nothing of this request is claimed as accepted: send it "
                "again",
            )
            stopping.headers["Retry-After"] = "5"
            await stopping(scope, receive, send)  # and the request ends here, answered


#: The methods counted by name; any other a caller sends (the HTTP parser takes some 35: PROPFIND,
#: PURGE, ...) is `other`, so no caller, signed in or not, adds series at will.
_COUNTED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """Counts each HTTP request by method, route template and status, and times it.

    The route template (never the raw path) and the methods counted by name keep the labels
    bounded; a request no route matched is `unmatched`."""

    def __init__(self, app: ASGIApp, *, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "flowsight_api_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "flowsight_api_request_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            registry=registry,
        )
        # The labelled children, found once per label set rather than on every request
        # (`labels()` takes a lock and builds the key each time).
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an error no handler answered

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"] if scope["method"] in _COUNTED_METHODS else "other"
            key = (method, template, status)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (
                    self.requests.labels(key[0], template, str(status)),
                    self.latency.labels(key[0], template),
                )
            children[0].inc()
            children[1].observe(time.perf_counter() - started)
