"""`flowsight dlq list` in an 80-column terminal: each dead letter's reason whole, on one line with
its position and origin, and its message as the sender's text, never as markup."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from flowsight.adapters.kafka.dlq import DeadLetter
from flowsight.cli import app, kafka

LETTERS = [
    DeadLetter(
        0,
        12,
        datetime(2026, 12, 6, 11, 47, tzinfo=UTC),
        None,
        b"MSH|...",
        {
            "error.reason": b"hl7_unmapped_location",
            "error.field": b"PV1-3",
            "error.gateway": b"hl7-mllp",
            "error.message": b"location 'ED [red]RESUS' matches no rule of the mapping profile",
        },
    ),
    DeadLetter(
        2,
        7,
        datetime(2026, 12, 6, 11, 48, tzinfo=UTC),
        b"key",
        b"{}",
        {
            "error.reason": b"unknown_service",
            "error.field": b"to_service",
            "error.topic": b"flowsight.ingest.rr8",
            "error.message": b"no service 'lcc-reablment' in the catalogue",
        },
    ),
]


def test_each_dead_letter_reads_whole_in_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka, "_dead_letters", lambda _settings: LETTERS)
    monkeypatch.setattr(kafka, "settings_or_exit", lambda: None)

    result = CliRunner().invoke(app, ["dlq", "list"], env={"COLUMNS": "80"})

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "0:12",
        "2026-12-06",
        "11:47:00",
        "UTC",
        "hl7_unmapped_location",
        "PV1-3",
        "from",
        "hl7-mllp",
    ]
    assert lines[1].strip() == "location 'ED [red]RESUS' matches no rule of the mapping profile"
    assert lines[2].split()[0] == "2:7" and lines[2].endswith("from flowsight.ingest.rr8")
    assert lines[3].strip() == "no service 'lcc-reablment' in the catalogue"


def test_an_hl7_dead_letter_shows_one_segment_a_line_and_no_control_character(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Segments end in a bare CR: printed as they were, each went back over the one before.
    message = b"MSH|^~\\&|PAS|RR8|||20261206114700||ADT^A01|C1|P|2.4\rPID|||RR8123^^^RR8^MR\rPV1||I|\x1b[2JWARD 7\r"
    letter = DeadLetter(
        0, 13, datetime(2026, 12, 6, 11, 49, tzinfo=UTC), None, message,
        {"error.reason": b"hl7_unmapped_location", "error.message": b"ward \x1b]0;owned\x07"},
    )  # fmt: skip
    monkeypatch.setattr(kafka, "_dead_letters", lambda _settings: [letter])
    monkeypatch.setattr(kafka, "settings_or_exit", lambda: None)

    result = CliRunner().invoke(app, ["dlq", "show", "0:13"])

    assert result.exit_code == 0, result.output
    assert "\r" not in result.stdout and "\x1b" not in result.stdout and "\x07" not in result.stdout
    lines = result.stdout.splitlines()
    assert [line.split("|")[0] for line in lines[-3:]] == ["MSH", "PID", "PV1"]
    assert lines[-1] == "PV1||I|\\x1b[2JWARD 7"
    assert "error.message: ward \\x1b]0;owned\\x07" in lines
