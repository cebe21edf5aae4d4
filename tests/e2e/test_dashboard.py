"""The live dashboard, rendered by a real browser against the real API and worker."""

from __future__ import annotations

import asyncio
import json
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.integration.feeds import event, publish
from tests.integration.stack import running_stack, stack_env

pytestmark = pytest.mark.integration
NHS_NUMBERS = ["9434765919", "9434765870", "9434765838"]
# Chromium as root in a sandbox-less container, with no traffic off this machine.
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Rows(HTMLParser):
    """The dashboard's service rows: data-service → the text of each cell."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._service: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr" and dict(attrs).get("data-service"):
            self._service = dict(attrs)["data-service"]
            self.rows[self._service] = []
        elif tag == "td" and self._service:
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._service and self._cell is not None:
            self.rows[self._service].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr":
            self._service = None


def render(chromium: str, url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            chromium,
            *BROWSER_FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=8000",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_dashboard_shows_live_queues_in_a_browser(
    chromium: str, kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    # A developer's set-up: no API keys, so the page needs none.
    env = stack_env(kafka_bootstrap, database_url, tmp_path)
    env.update(FLOWSIGHT_ENVIRONMENT="local", FLOWSIGHT_API_KEYS="")
    with running_stack(env, tmp_path) as stack:
        stack.start_worker()
        stack.start_api()
        settings = stack.settings
        referrals = [
            event(
                "referral",
                source="RY6/systmone",
                service="lch-ucr",
                to_service="lch-ucr",
                status="new",
                patient={"nhs_number": number},
            )
            for number in NHS_NUMBERS
        ]
        asyncio.run(
            publish(
                settings.kafka_bootstrap,
                settings.ingest_topic("RY6"),
                *(json.dumps(r).encode() for r in referrals),
            )
        )
        stack.wait_until(
            lambda: stack.get("/v1/services/lch-ucr/queue", key=None).json()["length"] == 3,
            timeout=90,
            what="three patients waiting for urgent community response",
        )
        page = render(chromium, stack.api_url + "/", tmp_path / "profile", "--dump-dom")
        assert page.returncode == 0, page.stderr[-2000:]
        rows = Rows()
        rows.feed(page.stdout)
        assert set(rows.rows) >= {"lth-ed", "lth-wards", "lch-ucr", "lcc-reablement"}, page.stdout[
            -3000:
        ]
        ucr = rows.rows["lch-ucr"]
        assert ucr[0] == "Urgent Community Response"
        assert ucr[4] == "3", f"queue column of {ucr}"
        assert 'class="error"' not in page.stdout, "the page loaded every figure it asked for"

        shot = tmp_path / "dashboard.png"
        taken = render(
            chromium,
            stack.api_url + "/",
            tmp_path / "profile2",
            f"--screenshot={shot}",
            "--window-size=1400,900",
        )
        assert taken.returncode == 0 and shot.stat().st_size > 10_000, taken.stderr[-2000:]
        _keep(shot)


def _keep(shot: Path) -> None:
    """Leave the last screenshot where a person can look at it (var/ is git-ignored)."""
    target = Path(__file__).resolve().parents[2] / "var" / "e2e-dashboard.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(shot.read_bytes())
