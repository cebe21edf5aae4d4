"""`flowsight fhir check` shows, per file, the events an Encounter becomes or why it is refused,
and warnings, without a broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowsight.adapters.fhir.intake import FHIR_BODY_MAX_BYTES
from flowsight.cli import app
from tests.adapters.fhir.encounters import encounter, finished

CORPUS = Path(__file__).parents[2] / "conformance" / "corpus" / "fhir"


@pytest.fixture(autouse=True)
def local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", "local")
    monkeypatch.setenv("FLOWSIGHT_DATA_DIR", str(tmp_path))


def test_check_shows_events_warnings_and_refusals_and_exits_1_on_a_refusal(
    tmp_path: Path,
) -> None:
    discharged = finished()
    del discharged["hospitalization"]["dischargeDisposition"]
    good = tmp_path / "good.json"
    good.write_text(json.dumps(discharged))
    refused = tmp_path / "refused.json"
    refused.write_text(json.dumps(encounter(subject={"reference": "Patient/x"})))

    result = CliRunner().invoke(
        app, ["fhir", "check", "--organisation", "RR8", str(good), str(refused)]
    )

    assert result.exit_code == 1, result.output
    assert "admission SPELL-55123:admission" in result.output
    assert (
        "discharge SPELL-55123:discharge" in result.output and "destination=other" in result.output
    )
    assert "warning Encounter.hospitalization.dischargeDisposition" in result.output
    assert "missing_field Encounter.subject.reference" in result.output
    assert "2 files, 1 refused" in result.output


def test_check_reads_xml_and_says_other_resources_are_ignored() -> None:
    files = [
        str(CORPUS / "ukcore__UKCore-Patient-RichardSmith-Example.xml"),
        str(CORPUS / "ms-fhir-server__Bundle-Transaction.json"),
    ]

    result = CliRunner().invoke(app, ["fhir", "check", *files])

    assert result.exit_code == 0, result.output
    assert "Patient\n  ignored" in result.output
    assert "no Encounter in the Bundle" in result.output


def test_check_refuses_a_file_over_the_api_s_body_limit_as_the_api_answers_it(
    tmp_path: Path,
) -> None:
    # The API answers 413 over FHIR_BODY_MAX_BYTES (a Synthea Bundle of a whole life is 1.7 MB);
    # the check printed its events and passed it.
    text = json.dumps(finished())
    over = tmp_path / "over.json"
    over.write_text(text + " " * (FHIR_BODY_MAX_BYTES + 1 - len(text)))
    at_limit = tmp_path / "at-limit.json"
    at_limit.write_text(text + " " * (FHIR_BODY_MAX_BYTES - len(text)))

    result = CliRunner().invoke(app, ["fhir", "check", "--organisation", "RR8", str(over)])
    kept = CliRunner().invoke(app, ["fhir", "check", "--organisation", "RR8", str(at_limit)])

    assert result.exit_code == 1, result.output
    assert f"{FHIR_BODY_MAX_BYTES + 1} bytes" in result.output
    assert (
        f"refused (413):\n  error : the body is over {FHIR_BODY_MAX_BYTES} bytes" in result.output
    )
    assert "SPELL-55123" not in result.output
    assert kept.exit_code == 0, kept.output
    assert "discharge SPELL-55123:discharge" in kept.output
