"""`flowsight keys list` and `revoke` over the configured key set (FLOWSIGHT_API_KEYS)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowsight.api.auth import key_holder, new_api_key, parse_api_keys
from flowsight.cli import app

ALICE_KEY, ALICE = new_api_key("alice", ["viewer", "caseload"])
ONCALL_KEY, ONCALL = new_api_key("on-call", ["oncall"])
runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("FLOWSIGHT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def settings_env(keys: str) -> dict[str, str]:
    return {
        "FLOWSIGHT_ENVIRONMENT": "test",
        "FLOWSIGHT_PSEUDONYM_KEY": "0123456789abcdef" * 2,
        "FLOWSIGHT_API_KEYS": keys,
    }


def test_list_shows_names_roles_and_a_hash_prefix_never_a_key() -> None:
    result = runner.invoke(app, ["keys", "list"], env=settings_env(f"{ALICE},{ONCALL}"))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["alice", "on-call"]
    assert "caseload+viewer" in lines[0] and "oncall" in lines[1]
    digest = ALICE.rsplit(":", 1)[1]
    assert f"sha256:{digest[:12]}" in lines[0] and digest not in result.stdout
    assert ALICE_KEY not in result.stdout


def test_revoke_prints_the_value_without_the_key_and_that_value_refuses_it() -> None:
    result = runner.invoke(app, ["keys", "revoke", "alice"], env=settings_env(f"{ALICE},{ONCALL}"))

    assert result.exit_code == 0, result.output
    variable, _, value = result.stdout.strip().partition("=")
    assert variable == "FLOWSIGHT_API_KEYS"
    remaining = parse_api_keys(value)
    assert key_holder(remaining, ALICE_KEY) is None
    holder = key_holder(remaining, ONCALL_KEY)
    assert holder is not None and holder.roles == frozenset({"oncall"})


def test_revoke_rewrites_the_env_file_and_keeps_its_other_lines(tmp_path: Path) -> None:
    env_file = tmp_path / "prod.env"
    env_file.write_text(f"FLOWSIGHT_ENVIRONMENT=production\nFLOWSIGHT_API_KEYS={ALICE},{ONCALL}\n")

    result = runner.invoke(app, ["keys", "revoke", "on-call", "--env-file", str(env_file)])

    assert result.exit_code == 0, result.output
    text = env_file.read_text()
    assert "FLOWSIGHT_ENVIRONMENT=production" in text
    listed = runner.invoke(app, ["keys", "list", "--env-file", str(env_file)])
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["alice"]


def test_revoking_an_unknown_name_fails_naming_the_configured_ones() -> None:
    result = runner.invoke(app, ["keys", "revoke", "bob"], env=settings_env(ALICE))

    assert result.exit_code == 1
    assert "bob" in result.output and "alice" in result.output


def test_create_refuses_a_name_that_would_read_back_as_other_roles() -> None:
    # The entry `feed:admin+publisher:publisher:RR8:<digest>` was read as a key `feed` with admin.
    result = runner.invoke(
        app, ["keys", "create", "--name", "feed:admin+publisher", "--roles", "publisher:RR8"]
    )

    assert result.exit_code == 2, result.output
    assert "name is 1 to 64 letters, digits" in result.output
    assert "fs_" not in result.output and "FLOWSIGHT_API_KEYS" not in result.output


def test_create_prints_a_key_and_an_entry_that_reads_back_as_asked() -> None:
    result = runner.invoke(
        app, ["keys", "create", "--name", "rr8.pas_1", "--roles", "publisher:RR8"]
    )

    assert result.exit_code == 0, result.output
    key = result.stdout.splitlines()[0].rsplit(" ", 1)[1]
    entry = result.stdout.splitlines()[1].rsplit(" ", 1)[1]
    holder = key_holder(parse_api_keys(entry), key)
    assert holder is not None and (holder.name, holder.roles) == ("rr8.pas_1", {"publisher:RR8"})


def test_a_configured_entry_with_unknown_roles_is_refused_naming_it_not_its_digest() -> None:
    digest = ALICE.rsplit(":", 1)[1]
    forged = f"feed:admin+publisher:publisher:RR8:{digest}"

    result = runner.invoke(app, ["keys", "list"], env=settings_env(forged))

    assert result.exit_code == 2, result.output
    assert "'feed'" in result.output and "publisher:publisher:RR8" in result.output
    assert digest[:12] not in result.output
