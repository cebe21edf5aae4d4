"""Who is asking: API keys (stored as SHA-256 hashes) mapped to roles, or OIDC bearer tokens
(`api/oidc.py`) carrying them (SPEC section 9)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

from flowsight.settings import Settings

ROLES = frozenset({"viewer", "caseload", "oncall", "admin"})


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller and what it may do."""

    name: str
    roles: frozenset[str]

    def has(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    roles: frozenset[str]
    sha256: str


#: Without configured keys, development runs serve everyone as this principal (never production).
DEVELOPMENT_PRINCIPAL = Principal("development-anonymous", frozenset({"viewer", "caseload"}))


def parse_api_keys(config: str) -> list[ApiKey]:
    """Parse `name:role+role:sha256,...`, naming the entry that is wrong."""
    keys = []
    for entry in filter(None, (part.strip() for part in config.split(","))):
        # Roles may contain a colon themselves (publisher:RR8), names and digests never do.
        head, _, digest = entry.rpartition(":")
        name, _, roles = head.partition(":")
        if not name or not roles or not digest:
            raise ValueError(f"API key entry {entry[:20]!r} must be name:roles:sha256")
        role_set = frozenset(roles.split("+"))
        unknown = role_set - ROLES - {r for r in role_set if r.startswith("publisher:")}
        if unknown:
            raise ValueError(f"API key {name!r} has unknown roles {sorted(unknown)}")
        if len(digest) != 64 or any(c not in string.hexdigits for c in digest):
            raise ValueError(f"API key {name!r} needs a 64-character SHA-256 hex digest")
        keys.append(ApiKey(name, role_set, digest.lower()))
    return keys


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key(name: str, roles: list[str]) -> tuple[str, str]:
    """A fresh secret key and the configuration entry that grants it `roles`."""
    key = f"fs_{secrets.token_urlsafe(32)}"
    return key, f"{name}:{'+'.join(roles)}:{hash_key(key)}"


class Authenticator:
    """Resolves a presented key to a principal; holds the token verifier when OIDC is set up."""

    def __init__(self, settings: Settings) -> None:
        from flowsight.api.oidc import (
            OidcVerifier,  # it builds on Principal and ROLES, defined here
        )

        self.keys = parse_api_keys(settings.api_keys)
        self.oidc = OidcVerifier(settings) if settings.oidc_issuer else None
        self.open_development = (
            settings.environment == "development" and not self.keys and self.oidc is None
        )

    def principal(self, presented: str | None) -> Principal | None:
        if presented is None:
            return DEVELOPMENT_PRINCIPAL if self.open_development else None
        digest = hash_key(presented)
        for key in self.keys:
            if hmac.compare_digest(digest, key.sha256):
                return Principal(key.name, key.roles)
        return None
