"""`flowsight soak` runs for as long as it is told, often an hour or more, then writes its table:
a report path whose folder does not exist (the default `docs/...` from outside the repository)
is refused before the first round, not after the last."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flowsight.cli import app
from flowsight.devtools.bench import runner


def test_a_report_with_no_folder_is_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Any] = []
    monkeypatch.setattr(runner, "run_on_broker", lambda *args: started.append(args))
    monkeypatch.chdir(tmp_path)  # no docs/ here

    result = CliRunner().invoke(app, ["soak", "--minutes", "1"])

    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())  # the terminal wraps long lines
    assert f"no folder {tmp_path / 'docs'} for the report" in said
    assert started == []
