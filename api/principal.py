"""The caller of a request, decided in one place: an OIDC bearer token when an issuer is
configured and the credential looks like one, otherwise an API key (SPEC section 9)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from flowsight.api.auth import LOCAL_PRINCIPAL, Principal, key_holder, parse_api_keys
from flowsight.api.oidc import OidcVerifier, TokenRejected, looks_like_jwt
from flowsight.settings import Settings


class Unauthenticated(Exception):
    """No principal for the presented credential; the message says why, without the credential."""


class Authenticator:
    """The configured API keys and, when OIDC is set up, the token verifier."""

    def __init__(self, settings: Settings) -> None:
        self.keys = parse_api_keys(settings.api_keys)
        self.oidc = OidcVerifier(settings) if settings.oidc_issuer else None
        # Only a local run with nothing configured is open; the settings refuse anything else so.
        self.open_local = settings.is_local and not self.keys and self.oidc is None

    def authenticate(self, presented: str | None) -> Principal:
        """The caller presenting `presented` (a token or an API key); Unauthenticated if none."""
        if presented is not None and self.oidc is not None and looks_like_jwt(presented):
            try:
                return self.oidc.principal(presented)
            except TokenRejected as error:
                raise Unauthenticated(f"the bearer token is not valid: {error}") from None
        principal = self.principal(presented)
        if principal is None:
            raise Unauthenticated(
                "an API key is required (Authorization: Bearer <key> or X-API-Key)"
                if presented is None
                else "the API key is not recognised"
            )
        return principal

    async def authenticate_async(self, presented: str | None) -> Principal:
        """`authenticate` for a coroutine: an OIDC token in a worker thread (its check may fetch
        the issuer's configuration and keys over HTTP, which must never hold the event loop);
        an API key on the loop (one SHA-256)."""
        if presented is not None and self.oidc is not None and looks_like_jwt(presented):
            return await run_in_threadpool(self.authenticate, presented)
        return self.authenticate(presented)

    def principal(self, presented: str | None) -> Principal | None:
        """The holder of the API key `presented` (tokens are not keys), or None."""
        if presented is None:
            return LOCAL_PRINCIPAL if self.open_local else None
        return key_holder(self.keys, presented)
