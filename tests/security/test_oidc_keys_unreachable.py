"""An identity provider whose configuration is read but whose keys (JWKS) cannot be: each token
must not fetch them again. PyJWT's 30 s between fetches for an unknown `kid` follows a fetch that
succeeded only; after one that failed, every token fetched afresh, one at a time under PyJWT's
lock, so that with the keys' address not answering (5 s each) a caller sending tokens held every
other token's check, and the worker threads they wait in, for as long as it liked."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest

from flowsight.api.oidc import OidcVerifier, TokenRejected
from flowsight.settings import Settings
from tests.api.identity import AUDIENCE, IdentityProvider


def test_keys_that_cannot_be_read_are_asked_for_once_a_while_not_once_a_token() -> None:
    asked: list[str] = []

    class KeysDown(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            if self.path != "/.well-known/openid-configuration":
                self.send_error(503)
                return
            issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
            body = json.dumps({"issuer": issuer, "jwks_uri": f"{issuer}/jwks"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), KeysDown)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="local",  # the issuer here is plain HTTP
            pseudonym_key="0123456789abcdef" * 2,
            oidc_issuer=f"http://127.0.0.1:{server.server_address[1]}",
            oidc_audience="flowsight",
        )
        verifier = OidcVerifier(settings)
        for kid in ("k1", "k2", "k3", "k4", "k5"):
            token = jwt.encode({"sub": "x"}, "s" * 32, algorithm="HS256", headers={"kid": kid})
            with pytest.raises(TokenRejected):
                verifier.principal(token)
    finally:
        server.shutdown()

    assert asked == ["/.well-known/openid-configuration", "/jwks"], "one attempt, then kept"


def test_while_the_keys_cannot_be_read_those_read_before_still_verify() -> None:
    idp = IdentityProvider()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="local",  # the issuer here is plain HTTP
        pseudonym_key="0123456789abcdef" * 2,
        oidc_issuer=idp.issuer,
        oidc_audience=AUDIENCE,
    )
    verifier = OidcVerifier(settings)
    assert verifier.principal(idp.token(roles=["viewer"])).roles == {"viewer"}
    idp.close()  # the identity provider is gone
    verifier._keys_failed = time.monotonic()  # and a token just failed to fetch its keys
    known = idp.token(roles=["viewer"])
    unknown = jwt.encode(
        jwt.decode(known, options={"verify_signature": False}),
        idp.key,
        algorithm="RS256",
        headers={"kid": "rotated"},
    )

    assert verifier.principal(known).roles == {"viewer"}  # its key read before
    with pytest.raises(TokenRejected, match="could not be read"):
        verifier.principal(unknown)
