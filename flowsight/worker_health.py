"""The worker's HTTP port: Prometheus metrics, and `GET /healthz` for Kubernetes probes.

`/healthz` answers 200 while the Faust app runs and each agent has a live actor, 503 (with what
is wrong) while it starts, stops, has crashed or an agent's actor has died. It only reads the
app's state: it is called from the server's thread, never touches the event loop.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

#: What `/healthz` says: healthy or not, and the details shown.
Health = tuple[bool, dict[str, Any]]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def faust_health(app: Any, agents: Iterable[Any]) -> Callable[[], Health]:
    """A health check of a Faust `app` and its `agents`: running, and every agent's actor alive."""
    agents = list(agents)

    def check() -> Health:
        running = bool(app.started) and not app.should_stop and not app.crashed
        alive = {agent.name: _actors_alive(agent) for agent in agents}
        healthy = running and all(alive.values())
        return healthy, {
            "status": "ok" if healthy else "unhealthy",
            "app": "running" if running else str(app.state),
            "agents": {name: "alive" if up else "down" for name, up in alive.items()},
        }

    return check


def _actors_alive(agent: Any) -> bool:
    actors = list(getattr(agent, "_actors", ()))  # faust keeps no public list of them
    return bool(actors) and all(
        actor.actor_task is not None and not actor.actor_task.done() for actor in actors
    )


def health_and_metrics_app(
    registry: CollectorRegistry, health: Callable[[], Health]
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """A WSGI app: `/healthz` from `health`, anything else the metrics of `registry`."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/healthz":
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        try:
            healthy, detail = health()
        except Exception as error:  # a failing check is an unhealthy worker, not a 500
            healthy, detail = False, {"status": "unhealthy", "error": repr(error)}
        body = json.dumps(detail).encode()
        start_response(
            "200 OK" if healthy else "503 Service Unavailable",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds would flood the log."""


def serve_health_and_metrics(
    port: int, host: str, registry: CollectorRegistry, health: Callable[[], Health]
) -> WSGIServer:
    """Serve `health_and_metrics_app` on `host:port` from a daemon thread; returns the server."""
    server = make_server(
        host,
        port,
        health_and_metrics_app(registry, health),
        ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
