"""JSON request bodies read once the caller is known.

FastAPI decodes a body declared as a route's parameter before any dependency runs, so a caller
without credentials who sent malformed JSON was answered 422, described the body's fields and
was never logged as refused. A route that takes a body and a role declares the body as a
`JsonBody` dependency after its role: the body is read and checked only once the caller may
send it, as the event gateways read theirs, as strict JSON (`schemas.strict_json`: a key twice in
an object is a 422 naming the key). The checks and the 422 are otherwise FastAPI's
own (the body decoded, then validated against the model), so the answer and the OpenAPI
document are unchanged (`api.openapi` declares the body from the dependency).
"""

from __future__ import annotations

import json
from typing import Generic, TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from flowsight.schemas.strict_json import (
    LoneSurrogate,
    RepeatedKey,
    each_key_once,
    refuse_lone_surrogates,
)

M = TypeVar("M", bound=BaseModel)


async def _decoded(request: Request) -> object:
    """The body as FastAPI's request handler decodes it; `None` when there is none."""
    raw = await request.body()
    if not raw:
        return None
    try:
        # Each key once, as the gateways read theirs; NaN and Infinity are the model's to refuse,
        # naming the field.
        value = json.loads(raw, object_pairs_hook=each_key_once)
        refuse_lone_surrogates(raw, value)
        return value
    except json.JSONDecodeError as error:
        raise _invalid("JSON decode error", error.msg, error.pos) from None
    except (RepeatedKey, LoneSurrogate) as error:  # the answer names the key or the character
        raise _invalid(str(error), str(error)) from None
    except Exception as error:  # FastAPI's own answer to a body it cannot read (api.problems)
        raise HTTPException(400, "There was an error parsing the body") from error


def _invalid(said: str, why: str, position: int | None = None) -> RequestValidationError:
    where = ("body",) if position is None else ("body", position)
    return RequestValidationError(
        [
            {
                "type": "json_invalid",
                "loc": where,
                "msg": said,
                "input": {},
                "ctx": {"error": why},
            }
        ]
    )


def _checked(model: type[M], value: object) -> M:
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise RequestValidationError(
            [
                {**detail, "loc": ("body", *detail["loc"])}
                for detail in error.errors(include_url=False)
            ]
        ) from None


class JsonBody(Generic[M]):
    """A dependency reading a body of `model`; `required=False`: one that may be left out (or
    be JSON `null`), read as `None`. `api.openapi` documents the body from it."""

    def __init__(self, model: type[M], *, required: bool = True) -> None:
        self.model = model
        self.required = required

    async def __call__(self, request: Request) -> M | None:
        value = await _decoded(request)
        if value is not None:
            return _checked(self.model, value)
        if self.required:
            raise RequestValidationError(
                [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
            )
        return None
