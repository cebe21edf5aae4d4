"""OIDC bearer tokens (SPEC section 9): a token from the configured issuer, signed with one of its
published keys, for this audience and unexpired, is a caller with the roles it carries; any other
token is refused with the reason. The issuer is a real HTTP server publishing its discovery
document and JWKS, as an identity provider does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from flowsight.api.oidc import OidcVerifier, TokenRejected
from flowsight.settings import Settings
from tests.api.audit_trail import audit_lines
from tests.api.identity import (
    IdentityProvider,
    bearer,
)


def test_a_token_from_the_issuer_is_a_caller_with_its_roles(
    oidc_client: TestClient, idp: IdentityProvider
) -> None:
    response = oidc_client.get("/v1/delays", headers=bearer(idp.token()))
    assert response.status_code == 200, response.text
    # Keys were found the way a relying party finds them: discovery, then the JWKS, once.
    assert idp.requests == ["/.well-known/openid-configuration", "/jwks"]
    oidc_client.get("/v1/delays", headers=bearer(idp.token()))
    assert len(idp.requests) == 2, "the signing keys are cached"


def test_a_patient_level_read_with_a_token_is_audited_under_its_subject(
    oidc_client: TestClient, idp: IdentityProvider, database: str
) -> None:
    viewer_only = oidc_client.get("/v1/delays/patients", headers=bearer(idp.token()))
    assert viewer_only.status_code == 403
    assert "caseload" in viewer_only.json()["detail"]

    token = idp.token(sub="0d9e-caseload-nurse", realm_access={"roles": ["viewer", "caseload"]})
    response = oidc_client.get("/v1/delays/patients", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert [(who, what) for who, what, _ in audit_lines(database)] == [
        ("oidc:c7a1e3f0-bed-manager", "refused"),
        ("oidc:0d9e-caseload-nurse", "read_delayed_patients"),
    ]


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"aud": "another-service"}, "Audience"),
        ({"iss": "https://login.elsewhere.example"}, "issuer"),
        ({"sub": None}, "sub"),
        # Longer than the audit log keeps with its kind (`oidc:`), or a forged log line.
        ({"sub": "x" * 124}, "sub"),
        ({"sub": "nurse\ndenied GET /v1/audit"}, "sub"),
        # RFC 7519: a NumericDate is a JSON number; PyJWT reads "1900000000" as one.
        ({"exp": str(int(time.time()) + 300)}, "exp"),
        ({"nbf": "0"}, "nbf"),
    ],
)
def test_a_token_that_is_not_for_us_is_refused_with_the_reason(
    oidc_client: TestClient, idp: IdentityProvider, claims: dict[str, Any], reason: str
) -> None:
    body = {k: v for k, v in claims.items() if v is not None}
    token = idp.token(**body)
    if claims.get("sub", "") is None:  # a token with no subject at all
        payload = jwt.decode(token, options={"verify_signature": False})
        del payload["sub"]
        token = jwt.encode(payload, idp.key, algorithm="RS256", headers={"kid": idp.kid})

    response = oidc_client.get("/v1/delays", headers=bearer(token))

    assert response.status_code == 401
    assert response.json()["detail"].startswith("the bearer token is not valid")
    assert reason in response.json()["detail"]
    assert token not in response.text


def test_a_token_signed_with_another_key_or_a_shared_secret_is_refused(
    oidc_client: TestClient, idp: IdentityProvider
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = idp.token(key=stranger, realm_access={"roles": ["admin"]})
    assert oidc_client.get("/v1/delays", headers=bearer(forged)).status_code == 401

    # The classic confusion: HMAC "signed" with the issuer's public key as the secret.
    public_pem = idp.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    confused = _hs256(idp, public_pem)
    assert oidc_client.get("/v1/delays", headers=bearer(confused)).status_code == 401


def _hs256(idp: IdentityProvider, secret: bytes) -> str:
    """An HS256 token built by hand: PyJWT itself refuses to sign with a PEM key as secret."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": idp.kid}).encode())
    payload = part(
        json.dumps(jwt.decode(idp.token(), options={"verify_signature": False})).encode()
    )
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{part(signature)}"


def test_api_keys_still_work_beside_tokens(oidc_client: TestClient) -> None:
    assert oidc_client.get("/v1/delays").status_code == 401
    assert oidc_client.get("/v1/delays", headers=bearer("fs_not-a-key")).status_code == 401


def test_production_needs_api_keys_or_an_issuer() -> None:
    with pytest.raises(ValueError, match="FLOWSIGHT_API_KEYS or FLOWSIGHT_OIDC_ISSUER"):
        Settings(_env_file=None, environment="production", pseudonym_key="0123456789abcdef" * 2)  # type: ignore[call-arg]
    Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="production",
        pseudonym_key="0123456789abcdef" * 2,
        oidc_issuer="https://login.example.nhs.uk/realms/city",
    )


def test_a_token_naming_the_issuer_s_key_with_another_family_s_alg_is_a_401_not_a_500(
    oidc_client: TestClient, idp: IdentityProvider
) -> None:
    # The kid is the issuer's RSA key's; the header says ES256 and an EC key signed it.
    forged = idp.token(key=ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")

    for path in ("/v1/delays", "/v1/pressure"):
        response = oidc_client.get(path, headers=bearer(forged))

        assert response.status_code == 401, response.text
        assert "alg" in response.json()["detail"]


def test_a_token_with_an_empty_subject_is_refused(
    oidc_client: TestClient, idp: IdentityProvider
) -> None:
    response = oidc_client.get("/v1/delays", headers=bearer(idp.token(sub=" ")))

    assert response.status_code == 401
    assert "sub is empty" in response.json()["detail"]


def test_an_issuer_that_cannot_be_read_is_asked_once_a_while_not_once_a_token() -> None:
    asked: list[str] = []

    class Down(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_error(503)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Down)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        issuer = f"http://127.0.0.1:{server.server_address[1]}"
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="local",  # the issuer here is plain HTTP
            pseudonym_key="0123456789abcdef" * 2,
            oidc_issuer=issuer,
            oidc_audience="flowsight",
        )
        verifier = OidcVerifier(settings)
        token = jwt.encode({"sub": "x"}, "s" * 32, algorithm="HS256", headers={"kid": "k"})
        reasons = set()
        for _ in range(5):
            with pytest.raises(TokenRejected) as refused:
                verifier.principal(token)
            reasons.add(str(refused.value))
    finally:
        server.shutdown()

    assert asked == ["/.well-known/openid-configuration"], "one attempt, then its answer kept"
    assert reasons == {"the issuer's configuration could not be read (HTTPStatusError)"}


def test_a_jwks_address_the_issuer_names_over_plain_http_is_never_fetched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A Keycloak behind a TLS proxy without its frontend URL set advertises http:// addresses: a
    # key set fetched from one could be anyone's, and every token it "verifies" with them.
    monkeypatch.setattr(
        "flowsight.api.oidc._discover_jwks_url", lambda issuer: "http://idp.example/jwks"
    )
    fetched: list[str] = []
    monkeypatch.setattr(jwt, "PyJWKClient", lambda url, **_options: fetched.append(url))
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="production",
        pseudonym_key="0123456789abcdef" * 2,
        oidc_issuer="https://idp.example",
    )
    token = jwt.encode({"sub": "x"}, "s" * 32, algorithm="HS256", headers={"kid": "k"})

    with pytest.raises(TokenRejected, match="https://"):
        OidcVerifier(settings).principal(token)
    assert fetched == []


def test_a_signing_key_the_issuer_withdrew_is_refused_once_its_keys_are_read_again(
    oidc_client: TestClient, idp: IdentityProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The issuer rotates after a compromise: its JWKS holds only the new key. A token signed
    # with the old one stayed good until the API restarted (PyJWT kept every key it had looked
    # up, whatever the issuer later published), admin tokens minted by its thief included.
    signed_before = idp.token()
    assert oidc_client.get("/v1/delays", headers=bearer(signed_before)).status_code == 200
    idp.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    idp.kid = "city-idp-2"
    # An unknown kid reads the keys again at most once in 30 s (PyJWT's cooldown): 31 s later.
    monotonic = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: monotonic() + 31)

    signed_after = idp.token()  # an unknown kid: the keys are read again
    assert oidc_client.get("/v1/delays", headers=bearer(signed_after)).status_code == 200

    refused = oidc_client.get("/v1/delays", headers=bearer(signed_before))
    assert refused.status_code == 401, refused.text


@pytest.mark.parametrize(
    ("header", "claims", "accepted"),
    [
        ({"typ": "JWT"}, {}, True),
        ({"typ": "at+jwt"}, {}, True),
        ({"typ": "application/at+JWT"}, {}, True),
        ({}, {"typ": "Bearer"}, True),  # Keycloak's access token
        ({}, {"typ": "ID"}, False),  # Keycloak's ID token: our client's aud, no credential
        ({"typ": "logout+jwt"}, {}, False),  # OIDC back-channel logout token
        ({"typ": "dpop+jwt"}, {}, False),  # a DPoP proof
        ({"typ": "secevent+jwt"}, {}, False),
    ],
)
def test_only_an_access_token_is_a_credential_not_another_jwt_of_the_issuer(
    oidc_client: TestClient,
    idp: IdentityProvider,
    header: dict[str, str],
    claims: dict[str, str],
    accepted: bool,
) -> None:
    token = idp.token(header=header, **claims)
    response = oidc_client.get("/v1/delays", headers=bearer(token))
    if accepted:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 401
        assert "not an access token" in response.json()["detail"]
