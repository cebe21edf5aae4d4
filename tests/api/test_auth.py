"""API keys and roles (SPEC section 9): the right key gives the right principal, nothing else does."""

from __future__ import annotations

import pytest

from flowsight.api.auth import (
    LOCAL_PRINCIPAL,
    OIDC,
    ApiKey,
    Principal,
    hash_key,
    is_publisher,
    new_api_key,
    parse_api_keys,
)
from flowsight.api.principal import Authenticator
from flowsight.settings import Settings

PSEUDONYM_KEY = "0123456789abcdef" * 2


def authenticator(environment: str, *entries: str) -> Authenticator:
    settings = Settings(
        _env_file=None,
        environment=environment,
        api_keys=",".join(entries),
        pseudonym_key=PSEUDONYM_KEY,
    )
    return Authenticator(settings)


# -- parsing FLOWSIGHT_API_KEYS -----------------------------------------------------------------


def test_a_created_entry_parses_back_to_its_name_and_roles() -> None:
    key, entry = new_api_key("bed-managers", ["viewer", "caseload"])

    assert parse_api_keys(entry) == [
        ApiKey("bed-managers", frozenset({"viewer", "caseload"}), hash_key(key))
    ]


def test_each_created_key_is_new() -> None:
    first, _ = new_api_key("bed-managers", ["viewer"])
    second, _ = new_api_key("bed-managers", ["viewer"])

    assert first != second
    assert len(first) >= 32


def test_the_entry_never_contains_the_key_itself() -> None:
    key, entry = new_api_key("bed-managers", ["viewer"])

    assert key not in entry
    assert key.removeprefix("fs_") not in entry


def test_several_entries_with_spaces_and_a_trailing_comma_parse() -> None:
    _, viewers = new_api_key("dashboard", ["viewer"])
    _, on_call = new_api_key("silver-on-call", ["oncall", "viewer"])

    keys = parse_api_keys(f" {viewers} ,\n{on_call},")

    assert [k.name for k in keys] == ["dashboard", "silver-on-call"]


def test_no_entries_is_no_keys() -> None:
    assert parse_api_keys("") == []
    assert parse_api_keys(" , ") == []


def test_a_publisher_entry_made_by_new_api_key_parses() -> None:
    # SPEC section 9: publisher:<org> may publish for that organisation. The role itself holds
    # a colon, the same character that separates name, roles and digest in an entry.
    key, entry = new_api_key("rr8-pas", ["publisher:RR8"])

    assert parse_api_keys(entry) == [ApiKey("rr8-pas", frozenset({"publisher:RR8"}), hash_key(key))]


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ("bed-managers", "bed-managers"),
        ("bed-managers:viewer", "bed-managers"),
        (f"bed-managers:superuser:{'a' * 64}", "bed-managers"),
        (f"bed-managers:viewer+root:{'a' * 64}", "root"),
        (f"bed-managers::{'a' * 64}", "bed-managers"),
        ("bed-managers:viewer:abc123", "bed-managers"),
        (f"bed-managers:viewer:{'a' * 63}", "bed-managers"),
        (f"bed-managers:viewer:{'a' * 65}", "bed-managers"),
    ],
)
def test_a_malformed_entry_is_refused_naming_it(entry: str, named: str) -> None:
    good = new_api_key("dashboard", ["viewer"])[1]

    with pytest.raises(ValueError, match=named):
        parse_api_keys(f"{good},{entry}")


def test_one_key_configured_twice_with_other_roles_is_refused_naming_both() -> None:
    # Which entry's roles it had depended on their order; refused rather than guessed.
    key, viewer = new_api_key("dashboard", ["viewer"])
    admin = f"it-lead:admin:{hash_key(key)}"

    with pytest.raises(ValueError, match="'dashboard' and 'it-lead'"):
        parse_api_keys(f"{viewer},{admin}")


def test_two_keys_of_one_name_are_refused() -> None:
    # The audit log names a key's caller by its name: two keys of one name are one caller there.
    first, second = new_api_key("ward-7", ["viewer"])[1], new_api_key("ward-7", ["admin"])[1]

    with pytest.raises(ValueError, match="'ward-7'"):
        parse_api_keys(f"{first},{second}")


@pytest.mark.parametrize(
    "entry",
    [
        f"{'x' * 124}:viewer:{'a' * 64}",  # longer than the audit log names a caller
        f"rr8-pas:publisher::{'a' * 64}",  # publishes for no organisation
    ],
    ids=["name-too-long", "publisher-without-organisation"],
)
def test_a_key_the_audit_log_or_the_gateways_could_not_use_is_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="API key"):
        parse_api_keys(entry)


@pytest.mark.parametrize(
    "roles",
    [
        "admin+publisher:publisher:RR8",  # `keys create --name feed:admin+publisher` made this
        "viewer+publisher:RR8/pas",
        "viewer+publisher:R",
        "viewer+publisher:RR8 ",
        "viewer+Admin",
    ],
)
def test_an_entry_whose_roles_are_not_exactly_known_ones_is_refused_by_name(roles: str) -> None:
    # Refused at start-up rather than read as something else (here, a key `feed` holding admin).
    digest = hash_key("fs_anything")
    entry = f"feed:{roles}:{digest}"

    with pytest.raises(ValueError, match="'feed'") as refused:
        parse_api_keys(entry)
    with pytest.raises(ValueError, match="'feed'"):
        authenticator("production", entry)  # what the API does when it starts
    assert digest[:12] not in str(refused.value), "the entry is named, its digest never shown"


@pytest.mark.parametrize(
    ("role", "publishes"),
    [
        ("publisher:RR8", True),
        ("publisher:rr8", True),
        ("publisher:publisher:RR8", False),
        ("publisher:RR8+admin", False),
        ("publisher:", False),
        ("publisher:R", False),
        ("publisher:RR8\n", False),
        ("publisher:ABCDEFGHIJK", False),
    ],
)
def test_a_publisher_role_names_one_organisation_code(role: str, publishes: bool) -> None:
    assert is_publisher(role) is publishes


@pytest.mark.parametrize(
    "name", ["feed:admin+publisher", "a,b", "dash board", "", "x" * 65, "caf\u00e9", "ward\n7"]
)
def test_a_new_key_needs_a_plain_label_for_its_name(name: str) -> None:
    with pytest.raises(ValueError, match="name is 1 to 64 letters, digits"):
        new_api_key(name, ["publisher:RR8"])


@pytest.mark.parametrize("roles", [[], ["viewer+admin"], ["publisher:publisher:RR8"], ["root"]])
def test_a_new_key_needs_known_roles_each_one_whole(roles: list[str]) -> None:
    with pytest.raises(ValueError, match="role"):
        new_api_key("feed", roles)


def test_a_digest_that_is_not_hexadecimal_is_refused() -> None:
    # 64 characters but not SHA-256 hex: no presented key could ever match it, so the operator
    # should hear about it at start-up rather than from callers who are all refused.
    with pytest.raises(ValueError, match="bed-managers"):
        parse_api_keys(f"bed-managers:viewer:{'z' * 64}")


def test_an_upper_case_digest_still_matches_its_key() -> None:
    key = "fs_copied-from-a-password-manager"
    entry = f"bed-managers:viewer:{hash_key(key).upper()}"

    principal = authenticator("production", entry).principal(key)

    assert principal == Principal("bed-managers", frozenset({"viewer"}))


# -- resolving a presented key ------------------------------------------------------------------


def test_each_key_resolves_to_its_own_principal() -> None:
    viewer_key, viewer_entry = new_api_key("dashboard", ["viewer"])
    oncall_key, oncall_entry = new_api_key("silver-on-call", ["oncall", "viewer"])
    auth = authenticator("production", viewer_entry, oncall_entry)

    assert auth.principal(viewer_key) == Principal("dashboard", frozenset({"viewer"}))
    assert auth.principal(oncall_key) == Principal(
        "silver-on-call", frozenset({"oncall", "viewer"})
    )


@pytest.mark.parametrize("environment", ["local", "development", "test", "production"])
def test_a_wrong_key_resolves_to_nobody(environment: str) -> None:
    key, entry = new_api_key("dashboard", ["viewer"])
    auth = authenticator(environment, entry)

    assert auth.principal(key + "x") is None
    assert auth.principal(key[:-1]) is None
    assert auth.principal("") is None
    assert auth.principal(hash_key(key)) is None  # the stored digest is not a key


@pytest.mark.parametrize("environment", ["local", "development", "test", "production"])
def test_no_key_with_keys_configured_is_nobody(environment: str) -> None:
    _, entry = new_api_key("dashboard", ["viewer"])

    assert authenticator(environment, entry).principal(None) is None


def test_local_mode_without_keys_serves_the_local_principal() -> None:
    auth = authenticator("local")

    assert auth.principal(None) == LOCAL_PRINCIPAL
    assert auth.principal("fs_anything") is None


@pytest.mark.parametrize("environment", ["development", "test", "production"])
def test_no_environment_but_local_starts_without_keys(environment: str) -> None:
    # Development used to serve anonymous callers patient-level lists (issue 13, item 1).
    with pytest.raises(ValueError, match="FLOWSIGHT_API_KEYS or FLOWSIGHT_OIDC_ISSUER"):
        authenticator(environment)


def test_the_local_principal_cannot_acknowledge_alerts_or_administer() -> None:
    assert LOCAL_PRINCIPAL.has("viewer")
    assert LOCAL_PRINCIPAL.has("caseload")
    assert not LOCAL_PRINCIPAL.has("oncall")
    assert not LOCAL_PRINCIPAL.has("admin")


def test_an_oidc_subject_and_a_key_of_the_same_name_are_two_callers_in_the_audit() -> None:
    key = Principal("alice", frozenset({"viewer"}))
    token = Principal("alice", frozenset({"viewer"}), OIDC)

    assert key.audit_name == "key:alice"
    assert token.audit_name == "oidc:alice"
    assert LOCAL_PRINCIPAL.audit_name == "local:anonymous"


# -- roles --------------------------------------------------------------------------------------


def test_a_principal_has_only_its_roles() -> None:
    viewer = Principal("dashboard", frozenset({"viewer"}))

    assert viewer.has("viewer")
    assert not viewer.has("caseload")
    assert not viewer.has("oncall")
    assert not viewer.has("admin")
    assert not viewer.has("publisher:RR8")


@pytest.mark.parametrize("role", ["viewer", "caseload", "oncall", "admin", "publisher:RR8"])
def test_admin_implies_every_role(role: str) -> None:
    assert Principal("ops", frozenset({"admin"})).has(role)


def test_a_publisher_may_publish_for_its_own_organisation_only() -> None:
    publisher = Principal("rr8-pas", frozenset({"publisher:RR8"}))

    assert publisher.has("publisher:RR8")
    assert not publisher.has("publisher:RY6")
    assert not publisher.has("viewer")
