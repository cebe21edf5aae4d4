"""The API keys in force are in the audit log: each start whose keys differ from the last set
recorded appends one line naming what changed (keys are configuration; no request changes them,
and nothing recorded who could read patient-level lists, or since when)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from flowsight.api.auth import new_api_key
from flowsight.api.keys_in_force import ACTION
from flowsight.context import build_api
from tests.security.test_api_hardening import settings

ADMIN_KEY, ADMIN = new_api_key("admin-lead", ["admin"])
_, WARD = new_api_key("ward-desk", ["viewer"])
_, DISCHARGE = new_api_key("discharge-team", ["viewer", "caseload"])
_, DISCHARGE_WIDER = new_api_key("discharge-team", ["viewer", "caseload", "oncall"])


def keys_lines(tmp_path: Path, *entries: str) -> list[dict[str, Any]]:
    """Start the API with `entries` as its keys, and read back the keys-in-force lines."""
    production = settings(tmp_path, "production", api_keys=",".join([ADMIN, *entries]))
    with TestClient(build_api(production)) as client:
        answer = client.get(
            f"/v1/audit?what={ACTION}", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
        assert answer.status_code == 200, answer.text
        lines: list[dict[str, Any]] = answer.json()["entries"]
    return lines


def test_each_start_with_other_keys_records_what_changed(tmp_path: Path) -> None:
    [first] = keys_lines(tmp_path, WARD, DISCHARGE)
    assert (first["principal"], first["resource"]) == ("flowsight:api", "FLOWSIGHT_API_KEYS")
    keys = first["detail"]["keys"]
    assert [(k["name"], k["roles"]) for k in keys] == [
        ("admin-lead", ["admin"]),
        ("discharge-team", ["caseload", "viewer"]),
        ("ward-desk", ["viewer"]),
    ]
    assert all(len(k["fingerprint"]) == 12 for k in keys)
    assert ADMIN_KEY[:12] not in str(first), "a fingerprint, never the secret"

    # The same keys again: nothing to record.
    assert len(keys_lines(tmp_path, WARD, DISCHARGE)) == 1

    # The ward's key revoked; the discharge team given on-call, under a new secret.
    latest, _ = keys_lines(tmp_path, DISCHARGE_WIDER)
    detail = latest["detail"]
    assert (detail["added"], detail["removed"]) == ([], ["ward-desk"])
    assert detail["roles_changed"] == ["discharge-team"]
    assert detail["secret_changed"] == ["discharge-team"]
