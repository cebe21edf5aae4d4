"""`flowsight hl7 check` and `flowsight fhir check` run on an integration engineer's own machine,
where none of production's settings are: they publish, store and serve nothing, so they need no
pseudonym key and no API keys (before, both stopped at "FLOWSIGHT_PSEUDONYM_KEY must be set"),
write no key file, and do not warn that an API is open."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowsight.cli import app
from tests.adapters.fhir.encounters import encounter

ADT_A01 = (
    "MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|20261123101500+0000||ADT^A01^ADT_A01|C1|P|2.5\r"
    "EVN|A01|20261123101500\r"
    "PID|1||RR8123456^^^RR8^MR~9434765919^^^NHS^NH||Smith^John||19500101|M\r"
    "PV1|1|I|WARD7||||||||||||||||SPELL-1^^^RR8^VN|||||||||||||||||||||||||20261123101000\r"
)


@pytest.fixture(autouse=True)
def no_production_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in ("ENVIRONMENT", "PSEUDONYM_KEY", "API_KEYS", "OIDC_ISSUER"):
        monkeypatch.delenv(f"FLOWSIGHT_{name}", raising=False)
    monkeypatch.setenv("FLOWSIGHT_DATA_DIR", str(tmp_path / "data"))


def test_hl7_check_runs_without_production_settings(tmp_path: Path) -> None:
    feed = tmp_path / "a01.hl7"
    feed.write_bytes(ADT_A01.encode())

    result = CliRunner().invoke(
        app, ["hl7", "check", "--organisation", "RR8", "--service", "lth-wards", str(feed)]
    )

    assert result.exit_code == 0, result.output
    assert "A01 C1: AA" in result.output
    assert "admission SPELL-1:admission" in result.output
    assert "FLOWSIGHT_ENVIRONMENT=local" not in result.output
    assert not (tmp_path / "data").exists()  # no pseudonym key file made


def test_hl7_check_reads_a_capture_still_in_its_mllp_frames(tmp_path: Path) -> None:
    # A capture off the wire was AR hl7_unparseable in the dry run, AA from the listener.
    feed = tmp_path / "captured.hl7"
    second = ADT_A01.replace("|C1|", "|C2|")
    feed.write_bytes(b"\x0b" + ADT_A01.encode() + b"\x1c\r\n\x0b" + second.encode() + b"\x1c\r")

    result = CliRunner().invoke(
        app, ["hl7", "check", "--organisation", "RR8", "--service", "lth-wards", str(feed)]
    )

    assert result.exit_code == 0, result.output
    assert "A01 C1: AA" in result.output and "A01 C2: AA" in result.output


def test_fhir_check_runs_without_production_settings(tmp_path: Path) -> None:
    posted = tmp_path / "encounter.json"
    posted.write_text(json.dumps(encounter()))

    result = CliRunner().invoke(app, ["fhir", "check", "--organisation", "RR8", str(posted)])

    assert result.exit_code == 0, result.output
    assert "admission SPELL-55123:admission" in result.output
    assert not (tmp_path / "data").exists()
