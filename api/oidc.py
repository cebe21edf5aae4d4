"""OIDC/JWT bearer tokens (SPEC section 9), verified with PyJWT against the issuer's JWKS.

A token is accepted when its signature verifies with one of the issuer's published keys (an
asymmetric algorithm only), it is not expired, and its issuer and audience are the configured
ones. The caller is the token's `sub`; its roles are the flowsight roles found in the configured
claim (`roles` by default; a dotted path such as `realm_access.roles` reaches nested claims).
Other roles an identity provider puts in the same claim are ignored.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

from flowsight.api.auth import NAME_MAX_CHARS, OIDC, ROLES, Principal, is_publisher
from flowsight.settings import Settings

#: Signature algorithms accepted: public-key ones only, so a shared secret can never sign.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
#: The header `typ` values of an access token, lower case, without `application/`: plain JWT,
#: and RFC 9068's JWT profile for access tokens.
ACCESS_TOKEN_TYPES = frozenset({"jwt", "at+jwt"})
#: How long a failed read of the issuer's configuration is answered from memory.
DISCOVERY_RETRY_SECONDS = 30.0
#: Clock difference tolerated between the identity provider and this server.
LEEWAY_SECONDS = 30


class TokenRejected(Exception):
    """The bearer token is not one this API accepts; the message says why, without the token."""


#: The longest reason for a refused token that is answered and logged: PyJWT's messages may
#: quote what the caller sent.
REASON_MAX_CHARS = 200


def _bounded(reason: str) -> str:
    """`reason` on one line and at most REASON_MAX_CHARS long."""
    flat = " ".join(reason.split())
    return flat if len(flat) <= REASON_MAX_CHARS else flat[: REASON_MAX_CHARS - 1] + "…"


def looks_like_jwt(presented: str) -> bool:
    """Whether a presented credential has a JWT's shape (three parts, a JSON header)."""
    return presented.count(".") == 2 and presented.startswith("eyJ")


class OidcVerifier:
    """Verifies bearer tokens from the issuer in `settings` (keys fetched once, then cached)."""

    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.roles_claim = settings.oidc_roles_claim
        self._jwks_url = settings.oidc_jwks_url or None
        # Settings refuse a configured issuer or JWKS address that is not https:// outside local
        # mode; the address the issuer's own document names is held to the same rule here.
        self._https_only = not settings.is_local
        self._keys: jwt.PyJWKClient | None = None
        self._failed: tuple[float, str] | None = None  # when discovery last failed, and why
        self._keys_failed: float | None = None  # when the keys were last not read

    def principal(self, token: str) -> Principal:
        """The token's subject and flowsight roles; TokenRejected saying why it is not valid."""
        try:
            signing_key = self._signing_key(token)
            claims = jwt.decode(
                token,
                signing_key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWKClientError:
            # PyJWT's message quotes the token's `kid`: the caller's text, of any length.
            raise TokenRejected(f"no signing key of {self.issuer} verifies it") from None
        except (jwt.PyJWTError, httpx.HTTPError, KeyError, ValueError) as error:
            raise TokenRejected(_bounded(str(error) or type(error).__name__)) from None
        except TypeError:
            # PyJWT's answer to a header `alg` of another family than the issuer's key (ES256
            # or EdDSA naming an RSA key's `kid`): no key of that family, so no signature.
            raise TokenRejected(
                f"its alg is not that of the {self.issuer} key its kid names"
            ) from None
        refusal = _not_an_access_token(jwt.get_unverified_header(token), claims)
        if refusal:
            raise TokenRejected(refusal)
        for name in ("exp", "nbf", "iat"):  # RFC 7519 NumericDate: a JSON number, not text
            if name in claims and not _numeric_date(claims[name]):
                raise TokenRejected(f"its {name} is not a number of seconds (RFC 7519)")
        subject = str(claims["sub"]).strip()
        if not subject:
            raise TokenRejected("its sub is empty: the audit log could not say who read")
        if len(subject) > NAME_MAX_CHARS or not subject.isprintable():
            raise TokenRejected(
                f"its sub is not up to {NAME_MAX_CHARS} printable characters: the audit log "
                "could not say who read"
            )
        return Principal(subject, frozenset(self._roles(claims)), OIDC)

    def _roles(self, claims: dict[str, Any]) -> list[str]:
        value: Any = claims
        for part in self.roles_claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            value = value.split()
        if not isinstance(value, list):
            return []
        return [r for r in value if isinstance(r, str) and (r in ROLES or is_publisher(r))]

    def _signing_key(self, token: str) -> jwt.PyJWK:
        """The issuer's key that signed `token`. For a while after the keys could not be read,
        only among those read before: PyJWT fetches them again for an unknown `kid` at most
        once in 30 s after a fetch that succeeded, but after one that failed on every token,
        each waiting in turn on the unreachable address (up to 5 s) under its lock."""
        keys = self._key_set()
        failed = self._keys_failed
        if failed is not None and time.monotonic() - failed < DISCOVERY_RETRY_SECONDS:
            cached = keys.jwk_set_cache.get() if keys.jwk_set_cache is not None else None
            kid = jwt.get_unverified_header(token).get("kid")
            signing = (
                [k for k in cached.keys if k.public_key_use in ("sig", None)] if cached else []
            )
            found = keys.match_kid(signing, kid) if isinstance(kid, str) else None
            if found is None:
                raise TokenRejected(f"the keys of {self.issuer} could not be read")
            return found
        try:
            return keys.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            self._keys_failed = time.monotonic()
            raise

    def _key_set(self) -> jwt.PyJWKClient:
        if self._keys is None:
            url = self._jwks_url or self._discovered()
            self._keys = jwt.PyJWKClient(url, lifespan=300, timeout=5)
        return self._keys

    def _discovered(self) -> str:
        """The JWKS address from the issuer; after a failure, the failure for a while: every
        caller may present a token, and each must not wait on an unreachable issuer again."""
        now = time.monotonic()
        if self._failed is not None and now - self._failed[0] < DISCOVERY_RETRY_SECONDS:
            raise TokenRejected(self._failed[1])
        try:
            url = _discover_jwks_url(self.issuer)
        except (httpx.HTTPError, KeyError, ValueError) as error:
            why = f"the issuer's configuration could not be read ({type(error).__name__})"
            self._failed = (now, why)
            raise TokenRejected(why) from None
        if self._https_only and not (url.startswith("https://") and urlsplit(url).hostname):
            why = "the issuer's configuration names a jwks_uri that is not an https:// address"
            self._failed = (now, why)
            raise TokenRejected(why)
        return url


def _discover_jwks_url(issuer: str) -> str:
    """The JWKS address from the issuer's OpenID Provider configuration document."""
    response = httpx.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration", timeout=5)
    response.raise_for_status()
    return str(response.json()["jwks_uri"])


def _not_an_access_token(header: dict[str, Any], claims: dict[str, Any]) -> str | None:
    """Why a verified token is another kind of JWT from the same issuer (an ID token, a logout
    token, a DPoP proof), or None: each can carry our `aud`, and none is a credential to read
    with. The header's `typ` (RFC 8725 3.11) is `JWT` or RFC 9068's `at+jwt` when given;
    Keycloak also types its tokens in a `typ` claim (`Bearer`; `ID` for an ID token)."""
    kind = header.get("typ")
    if kind is not None:
        bare = str(kind).lower().removeprefix("application/")
        if bare not in ACCESS_TOKEN_TYPES:
            return f"its typ is {_bounded(str(kind))[:40]!r}: not an access token (RFC 9068)"
    claimed = claims.get("typ")
    if claimed is not None and str(claimed).lower() != "bearer":
        return f"its typ claim is {_bounded(str(claimed))[:40]!r}: not an access token"
    return None


def _numeric_date(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
