"""The FHIR gateway lets in the callers `POST /v1/events` lets in: an OIDC token carrying a
`publisher:<ORG>` role publishes there too, only for its own organisation, and a token that is
not valid or not a publisher's is refused, as an OperationOutcome."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flowsight.adapters.fhir.outcome import FHIR_JSON
from flowsight.api.deps import event_writer
from tests.api.gateway import (
    RecordingWriter,
    bundle,
    encounter,
    event,
)
from tests.api.identity import IdentityProvider, bearer

PUBLISHER_ROLES: dict[str, Any] = {"realm_access": {"roles": ["publisher:RR8"]}}


@pytest.fixture
def issuer(request: pytest.FixtureRequest) -> IdentityProvider:
    """The identity provider the OIDC tests' API trusts."""
    provider: IdentityProvider = request.getfixturevalue("idp")
    return provider


@pytest.fixture
def writer() -> RecordingWriter:
    return RecordingWriter()


@pytest.fixture
def client(request: pytest.FixtureRequest, writer: RecordingWriter) -> TestClient:
    """The OIDC tests' API (this issuer, production settings), writing to `writer`, not Kafka."""
    api: TestClient = request.getfixturevalue("oidc_client")
    app: Any = api.app
    app.dependency_overrides[event_writer] = lambda: writer
    return api


def post(client: TestClient, path: str, body: Any, token: str) -> Any:
    content_type = "application/json" if path == "/v1/events" else FHIR_JSON
    return client.post(path, json=body, headers={**bearer(token), "Content-Type": content_type})


#: The same publication over each way in: an event, an Encounter, a Bundle of one Encounter.
WAYS_IN = {
    "/v1/events": lambda: event(),
    "/fhir/Encounter": lambda: encounter(),
    "/fhir": lambda: bundle(encounter()),
}
#: A publication for RY6, which the RR8 publisher's token may not make.
OTHER_ORGANISATION = {
    "/v1/events": lambda: event(source="RY6/systmone", service="lch-ucr"),
    "/fhir/Encounter": lambda: encounter(serviceProvider={"identifier": {"value": "RY6"}}),
    "/fhir": lambda: bundle(encounter(serviceProvider={"identifier": {"value": "RY6"}})),
}


@pytest.mark.parametrize("path", list(WAYS_IN))
def test_a_publisher_token_publishes_over_every_way_in(
    client: TestClient, issuer: IdentityProvider, writer: RecordingWriter, path: str
) -> None:
    response = post(client, path, WAYS_IN[path](), issuer.token(**PUBLISHER_ROLES))

    # 202 from /v1/events, 200 from FHIR (a transaction is answered so: http.html#transaction)
    assert response.status_code == (202 if path == "/v1/events" else 200), response.text
    assert [organisation for _, organisation, _ in writer.published] == ["RR8"]
    assert writer.dead_letters == []


@pytest.mark.parametrize("path", list(OTHER_ORGANISATION))
def test_a_publisher_token_is_refused_for_another_organisation_over_every_way_in(
    client: TestClient, issuer: IdentityProvider, writer: RecordingWriter, path: str
) -> None:
    response = post(client, path, OTHER_ORGANISATION[path](), issuer.token(**PUBLISHER_ROLES))

    assert response.status_code == 422, response.text
    assert "source_mismatch" in response.text
    assert writer.published == []
    assert [letter["reason"] for letter in writer.dead_letters] == ["source_mismatch"]


@pytest.mark.parametrize("path", ["/fhir/Encounter", "/fhir"])
def test_a_token_that_is_not_valid_is_a_401_operation_outcome(
    client: TestClient, issuer: IdentityProvider, writer: RecordingWriter, path: str
) -> None:
    expired = issuer.token(exp=int(time.time()) - 120, **PUBLISHER_ROLES)

    response = post(client, path, encounter(), expired)

    assert response.status_code == 401
    assert response.headers["content-type"] == FHIR_JSON
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="flowsight"'
    (issue,) = response.json()["issue"]
    assert issue["code"] == "login"
    assert issue["diagnostics"].startswith("the bearer token is not valid")
    assert (writer.published, writer.dead_letters) == ([], [])


def test_a_token_without_a_publisher_role_is_a_403_operation_outcome(
    client: TestClient, issuer: IdentityProvider, writer: RecordingWriter
) -> None:
    response = post(client, "/fhir/Encounter", encounter(), issuer.token())

    assert response.status_code == 403
    assert response.json()["issue"][0]["code"] == "forbidden"
    assert (writer.published, writer.dead_letters) == ([], [])
