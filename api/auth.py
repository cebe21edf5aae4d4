"""Who a caller is and what it may do (SPEC section 9): principals, roles and API keys (stored
as SHA-256 hashes). OIDC tokens (`api/oidc.py`) resolve to the same principals; `api/principal.py`
chooses between the two."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flowsight.schemas.catalogue import ORGANISATION_CODE_PATTERN

#: `metrics` reads /metrics and /readyz's details outside local mode (a Prometheus scraper).
ROLES = frozenset({"viewer", "caseload", "oncall", "admin", "metrics"})
#: What a role is, said when one is not: the roles above, or `publisher:<ORG>`.
KNOWN_ROLES = ", ".join(sorted(ROLES)) + ", publisher:<ORG> (ORG 2 to 10 letters or digits)"

#: The name `new_api_key` gives a key: a plain label. Nothing in it can be read as a separator
#: of an entry (`:`), of its roles (`+`) or of two entries (`,`): `feed:admin+publisher` with
#: the role publisher:RR8 was read back as a key `feed` holding admin.
KEY_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


#: What vouched for a principal; the audit log names it, so an OIDC subject can never pass for
#: an API key of the same name (`oidc:alice` and `key:alice` are two callers).
KEY, OIDC, LOCAL = "key", "oidc", "local"

#: The longest name of a caller: the audit log keeps 128 characters of `<kind>:<name>`.
NAME_MAX_CHARS = 128 - len(f"{OIDC}:")


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller and what it may do."""

    name: str
    roles: frozenset[str]
    kind: str = KEY

    @property
    def audit_name(self) -> str:
        """Who the caller is in the audit log: `key:<name>`, `oidc:<sub>` or `local:<name>`."""
        return f"{self.kind}:{self.name}"

    def has(self, role: str) -> bool:
        """Whether the caller holds `role` (an admin holds every role)."""
        return role in self.roles or "admin" in self.roles


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One configured key: whom it belongs to, its roles, and the SHA-256 of the secret."""

    name: str
    roles: frozenset[str]
    sha256: str


#: Without configured credentials, a local run serves everyone as this principal (nowhere else).
LOCAL_PRINCIPAL = Principal("anonymous", frozenset({"viewer", "caseload"}), LOCAL)


def parse_api_keys(config: str) -> list[ApiKey]:
    """Parse `name:role+role:sha256,...`, naming the entry that is wrong.

    One key in two entries is refused (which entry's roles it had would depend on their order),
    and so are two keys of one name (the audit log names a key's caller by its name) and roles
    that are not exactly known ones (an entry is never read as something else)."""
    keys: list[ApiKey] = []
    for entry in filter(None, (part.strip() for part in config.split(","))):
        # Roles may contain a colon themselves (publisher:RR8), names and digests never do.
        head, _, digest = entry.rpartition(":")
        name, _, roles = head.partition(":")
        if not name or not roles or not digest:
            raise ValueError(f"API key entry {entry[:20]!r} must be name:roles:sha256")
        if len(name) > NAME_MAX_CHARS or not name.isprintable():
            raise ValueError(
                f"API key {name[:20]!r}… needs a name of up to {NAME_MAX_CHARS} printable "
                "characters (the audit log names its caller by it)"
            )
        role_set = frozenset(roles.split("+"))
        _refuse_unknown_roles(name, role_set)
        if len(digest) != 64 or any(c not in string.hexdigits for c in digest):
            raise ValueError(f"API key {name!r} needs a 64-character SHA-256 hex digest")
        for other in keys:
            if other.sha256 == digest.lower():
                raise ValueError(
                    f"API keys {other.name!r} and {name!r} are one key: give each entry its own"
                )
            if other.name == name:
                raise ValueError(f"API keys have the name {name!r} twice: give each its own")
        keys.append(ApiKey(name, role_set, digest.lower()))
    return keys


def _refuse_unknown_roles(name: str, roles: Iterable[str]) -> None:
    """Refuse, naming key `name`, any of `roles` that is not one flowsight knows: an entry is
    never read as something other than what it says."""
    unknown = sorted(role for role in roles if role not in ROLES and not is_publisher(role))
    if unknown:
        raise ValueError(
            f"API key {name!r} has roles flowsight does not know: {unknown} "
            f"(roles are {KNOWN_ROLES})"
        )


def is_publisher(role: str) -> bool:
    """Whether `role` is `publisher:<ORG>` with ORG an organisation code (`publisher:RR8`; not
    `publisher:publisher:RR8`)."""
    organisation = role.removeprefix("publisher:")
    return (
        organisation != role and re.fullmatch(ORGANISATION_CODE_PATTERN, organisation) is not None
    )


def hash_key(key: str) -> str:
    """The SHA-256 hex digest a key is configured (and compared) as."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key(name: str, roles: list[str]) -> tuple[str, str]:
    """A fresh secret key and the configuration entry that grants it `roles`; ValueError when
    `name` is not a plain label (`KEY_NAME`) or a role is not one flowsight knows."""
    if not KEY_NAME.fullmatch(name):
        raise ValueError(
            f"an API key's name is 1 to 64 letters, digits, '.', '_' or '-' (e.g. bed-managers), "
            f"not {name[:80]!r}"
        )
    if not roles:
        raise ValueError(f"API key {name!r} needs at least one role (roles are {KNOWN_ROLES})")
    _refuse_unknown_roles(name, roles)
    key = f"fs_{secrets.token_urlsafe(32)}"
    return key, f"{name}:{'+'.join(roles)}:{hash_key(key)}"


def key_holder(keys: Sequence[ApiKey], presented: str) -> Principal | None:
    """The principal whose key was presented, or None if no configured key matches."""
    digest = hash_key(presented)
    for key in keys:
        if hmac.compare_digest(digest, key.sha256):
            return Principal(key.name, key.roles)
    return None
