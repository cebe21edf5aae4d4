"""The OpenAPI document says what the API really answers: every error a route can give, as the
problem details document it is answered with, and how a caller authenticates.

Routes declare what is their own (the gateways' 413 and Retry-After, FHIR's OperationOutcome,
the reports' HTML and CSV, the stream's event stream); the errors every route shares follow one
rule each, applied here so no route can forget one:

- 401 and 403 wherever a credential is read (the route then checks a role or a publisher role);
- 400 wherever FastAPI parses a JSON body, or a route reads one once the caller is known
  (`api.bodies.JsonBody`, whose body is declared here): a body it could not read at all;
- 422 wherever there is a parameter or a body to validate (FastAPI's own entry, which names
  `application/json`, is replaced: validation errors are answered as problem details);
- 404 wherever a path parameter or a `service` query names a catalogue entry or an alert;
- 503 wherever the read model is queried (an unreachable database is a 503 problem).

`/readyz` reads a credential only to show its checks to the metrics role: its authentication
is optional, and it answers `{"ready": …}` with 200 or 503 to anyone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from flowsight.api.bodies import JsonBody
from flowsight.api.deps import read_connection
from flowsight.api.models import ProblemOut
from flowsight.api.problems import PROBLEM_SCHEMA, problem

#: Operations that read a credential but answer without one (their security is optional).
OPTIONAL_AUTH = {("get", "/readyz")}

_DESCRIPTIONS = {
    401: "no credential, or one that is not valid (problem details)",
    403: "the caller lacks the role this needs (problem details)",
    404: "no such service or alert (problem details)",
    400: "the body could not be read (problem details)",
    422: "a parameter or the body is invalid, or the body is not UTF-8 JSON; `errors` names "
    "each field (problem details)",
    503: "the read model could not answer; see /readyz (problem details)",
}


def install_openapi(
    app: FastAPI, routers: Sequence[APIRouter], examples: Mapping[str, Sequence[str]]
) -> None:
    """Make `app.openapi()` declare the shared errors of `routers`' routes (those of `app`),
    and give the parameters named in `examples` (e.g. `service_id`) those example values."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    described: list[dict[str, Any]] = []

    def document() -> dict[str, Any]:
        schema = generate()  # FastAPI's own, cached until a route is added
        if not described or described[0] is not schema:
            described[:] = [describe(schema, routers, examples)]
        return schema

    app.openapi = document  # type: ignore[method-assign]


def describe(
    schema: dict[str, Any],
    routers: Sequence[APIRouter],
    examples: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """`schema` with each operation's shared errors declared, as the module docstring says."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components[PROBLEM_SCHEMA] = ProblemOut.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    routes = (route for router in routers for route in router.routes)
    for route in routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is not None:
                _declare_body(operation, route, components)
                _declare(operation, route, (method.lower(), route.path_format))
                _give_examples(operation, examples or {})
    # FastAPI's validation error models describe an answer the API never gives.
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


def _declare(operation: dict[str, Any], route: APIRoute, key: tuple[str, str]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses: list[int] = []
    if operation.get("security"):
        if key in OPTIONAL_AUTH:
            operation["security"] = [{}, *operation["security"]]
        else:
            statuses += [401, 403]
    if route.body_field is not None or _body_reader(route) is not None:
        statuses.append(400)  # a JSON body is parsed: bytes it cannot read are a 400
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.append(422)
        if _validation_default(responses.get("422")):
            del responses["422"]
    names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
    queries = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    if names or "service" in queries:
        statuses.append(404)
    if any(d.call is read_connection for d in _dependencies(route.dependant)):
        statuses.append(503)
    for status in statuses:
        responses.setdefault(str(status), problem(_DESCRIPTIONS[status]))


def _body_reader(route: APIRoute) -> JsonBody[Any] | None:
    readers = (d.call for d in _dependencies(route.dependant) if isinstance(d.call, JsonBody))
    return next(readers, None)


def _declare_body(operation: dict[str, Any], route: APIRoute, components: dict[str, Any]) -> None:
    """The body a route reads with `JsonBody`, as FastAPI declares a body parameter."""
    reader = _body_reader(route)
    if reader is None:
        return
    schema = reader.model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in {**schema.pop("$defs", {}), reader.model.__name__: schema}.items():
        components.setdefault(name, definition)  # FastAPI's rendering where it made one
    reference = {"$ref": f"#/components/schemas/{reader.model.__name__}"}
    operation["requestBody"] = {
        "required": reader.required,
        "content": {"application/json": {"schema": reference}},
    }


def _give_examples(operation: dict[str, Any], examples: Mapping[str, Sequence[str]]) -> None:
    for parameter in operation.get("parameters", []):
        values = examples.get(parameter["name"])
        if values:
            parameter["schema"]["examples"] = list(values)


def _validation_default(response: dict[str, Any] | None) -> bool:
    """Whether `response` is the 422 entry FastAPI adds itself (an `application/json` body)."""
    if response is None:
        return False
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _dependencies(dependency)


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON schema with its nested models written in place, for a `responses=` entry
    (a `$defs` reference would point into the whole document, where there is none)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
