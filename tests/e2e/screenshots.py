"""Screenshots of the bed manager's pages on the simulated city, for docs/ and the README.

    .venv/bin/python -m tests.e2e.screenshots [--out docs] [--history-days 14]

Starts its own Kafka broker, worker, API and simulator (nothing of a developer's is touched),
lets the simulated city's census and history settle, and saves the dashboard and a service page
as PNGs taken by Debian's headless Chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from flowsight.devtools.local.kafka import LocalKafka
from flowsight.settings import Settings
from tests.adapters.readmodel.model import nhs_number
from tests.debian import ensure_program
from tests.e2e.conftest import BROWSER_FLAGS
from tests.e2e.pages import sign_in, until
from tests.integration.feeds import event, publish
from tests.integration.stack import TEST_API_KEY, Stack, free_port, running_stack, stack_env


def main() -> None:
    """Run the city, then photograph the dashboard and the wards' page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--history-days", default="14")
    parser.add_argument("--settle-seconds", type=float, default=420)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        settings = Settings(
            _env_file=None,
            environment="local",
            kafka_bootstrap=f"127.0.0.1:{free_port()}",
            kafka_controller_port=free_port(),
            data_dir=directory,
        )
        broker = LocalKafka(settings, data_dir=directory / "kafka")
        broker.start(timeout=180)
        try:
            url = f"sqlite+aiosqlite:///{directory / 'read-model.db'}"
            env = stack_env(settings.kafka_bootstrap, url, directory)
            env["FLOWSIGHT_SIMULATOR_RATE"] = "5000"
            with running_stack(env, directory) as stack:
                stack.start_worker()
                stack.start_api()
                stack.start("simulate", "--fresh", "--history-days", arguments.history_days)
                time.sleep(arguments.settle_seconds)
                asyncio.run(_ward_notes(stack))
                time.sleep(10)
                _photograph(stack.api_url, arguments.out)
        finally:
            broker.stop()


#: Next steps as a ward's discharge team would publish them (the simulator sends none).
NEXT_STEPS = (
    "Reablement start agreed for Monday; daughter to bring the key safe code",
    "Care home viewing with family on Thursday; funding panel Friday",
    "Equipment (hoist) delivery booked; discharge the day after",
)


async def _ward_notes(stack: Stack) -> None:
    """Three long-staying ward patients, delayed, each with a next step on their referral."""
    now = datetime.now(UTC)
    events = []
    for n, step in enumerate(NEXT_STEPS):
        patient = {"nhs_number": nhs_number(400 + n)}
        common = {"patient": patient, "episode_id": f"SPELL-DEMO-{n}"}
        admitted = now - timedelta(days=75 + n)
        events += [
            event(
                "admission",
                occurred_at=admitted.isoformat(),
                admission_method="emergency",
                **common,
            ),
            event(
                "assessment",
                occurred_at=(admitted + timedelta(days=9)).isoformat(),
                kind="ctr_review",
                status="completed",
                meets_criteria_to_reside=False,
                discharge_ready_at=(admitted + timedelta(days=9)).isoformat(),
                delay_reason="p1_awaiting_resource",
                pathway="P1",
                **common,
            ),
            event(
                "referral",
                occurred_at=(now - timedelta(hours=3 + n)).isoformat(),
                to_service="lcc-reablement",
                status="new",
                pathway="P1",
                next_step=step,
                **common,
            ),
        ]
    topic = stack.settings.ingest_topic("RR8")
    await publish(stack.settings.kafka_bootstrap, topic, *(json.dumps(e).encode() for e in events))


def _photograph(api_url: str, out: Path) -> None:
    options = webdriver.ChromeOptions()
    options.binary_location = ensure_program("chromium", "chromium")
    for flag in BROWSER_FLAGS:
        options.add_argument(flag)
    options.add_argument("--window-size=1440,1500")
    driver = webdriver.Chrome(
        options=options,
        service=Service(executable_path=ensure_program("chromedriver", "chromium-driver")),
    )
    try:
        sign_in(driver, api_url + "/", TEST_API_KEY)
        until(
            driver, lambda d: d.find_elements(By.CSS_SELECTOR, "svg.spark polyline"), 60, "trends"
        )
        time.sleep(2)
        driver.save_screenshot(str(out / "dashboard.png"))
        driver.set_window_size(1440, 1700)
        driver.get(api_url + "/services/lth-wards")
        until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#caseload tr"), 60, "caseload")
        time.sleep(2)
        driver.save_screenshot(str(out / "service-page.png"))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
