"""`flowsight report weekly --week … --out DIR` writes the same report the API serves."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowsight.api.auth import new_api_key
from flowsight.cli import app
from flowsight.services.facts import LONDON
from flowsight.services.report import iso_week
from tests.adapters.readmodel.model import Feed, ReadModel, midnight

NOW = datetime.now(UTC)
MONDAY = NOW.astimezone(LONDON).date() - timedelta(days=NOW.astimezone(LONDON).weekday() + 7)


def test_the_command_writes_html_and_csv_of_the_week(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fill() -> str:
        model = await ReadModel.open(tmp_path / "read-model.db")
        feed = Feed()
        arrived = midnight(MONDAY) + timedelta(days=1, hours=9)
        feed.publish("attendance", "lth-ed", arrived, 0, arrived_at=arrived.isoformat())
        await model.fold(feed.events)
        await model.refresh(NOW, whole_history=True)
        await model.close()
        return model.url

    url = asyncio.run(fill())
    week = iso_week(midnight(MONDAY))
    env = {
        "FLOWSIGHT_ENVIRONMENT": "test",
        "FLOWSIGHT_PSEUDONYM_KEY": "0123456789abcdef" * 2,
        "FLOWSIGHT_API_KEYS": new_api_key("reporter", ["viewer"])[1],
        "FLOWSIGHT_DATABASE_URL": url,
    }
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"

    result = CliRunner().invoke(
        app, ["report", "weekly", "--week", week, "--out", str(out)], env=env
    )

    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    assert f"Week {week}" in html and "<svg" in html
    rows = list(csv.DictReader((out / "report.csv").open()))
    attendances = [r for r in rows if (r["service"], r["figure"]) == ("lth-ed", "attendances")]
    assert [r["value"] for r in attendances] == ["0"] * 8 + ["1"]


def test_a_week_that_is_not_an_iso_week_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"FLOWSIGHT_ENVIRONMENT": "local", "FLOWSIGHT_DATA_DIR": str(tmp_path)}

    result = CliRunner().invoke(app, ["report", "weekly", "--week", "2026-47"], env=env)

    assert result.exit_code == 2
    assert "ISO week" in result.output
