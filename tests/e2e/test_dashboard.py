"""The live dashboard, rendered by a real browser against the real API and worker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.pages import tile, tile_level, tile_queue, until
from tests.integration.feeds import event, publish
from tests.integration.stack import running_stack, stack_env

pytestmark = pytest.mark.integration
NHS_NUMBERS = ["9434765919", "9434765870", "9434765838"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_dashboard_shows_live_queues_in_a_browser(
    browser: WebDriver, kafka_bootstrap: str, database_url: str, tmp_path: Path
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
        browser.get(stack.api_url + "/")
        until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "article.tile"), 30, "tiles")
        shown = {
            t.get_attribute("data-service")
            for t in browser.find_elements(By.CSS_SELECTOR, "article.tile")
        }
        assert shown >= {"lth-ed", "lth-wards", "lch-ucr", "lcc-reablement"}, shown
        assert tile(browser, "lch-ucr").find_element(By.TAG_NAME, "h3").text == (
            "Urgent Community Response"
        )
        until(browser, lambda d: tile_queue(d, "lch-ucr") == "3", 30, "UCR's queue of 3")
        # UCR is scored (its waits of two hours: OPEL 2). A service that has reported nothing is
        # not scored, and says why, rather than 'OPEL 1' (steady) when nothing is known of it;
        # nor does it count as level 1 in the system, which is UCR's level, the only one scored.
        ucr = until(browser, lambda d: _scored(tile_level(d, "lch-ucr").text), 60, "UCR scored")
        until(browser, lambda d: d.find_element(By.ID, "system-opel").text == ucr, 30, "system")
        # Read in one go, again if the page redrew the tile meanwhile (a live change).
        level, title, why = until(
            browser, lambda d: _level_title_why(d, "lcc-care-homes"), 30, "the silent tile"
        )
        assert level == "not scored", level
        assert title == "not scored: no figures yet"
        assert "no figures yet" in why
        # Each tile's third figure is one its service has: no stays at the department or hub.
        thirds = {
            service: tile(browser, service).find_element(By.CSS_SELECTOR, ".occupancy-label").text
            for service in ("lth-ed", "lth-toc-hub", "lch-ucr")
        }
        assert thirds == {
            "lth-ed": "Over 4 h",
            "lth-toc-hub": "Longest wait",
            "lch-ucr": "In service",
        }
        assert not browser.find_elements(By.CSS_SELECTOR, ".error"), "every figure loaded"
        assert browser.find_element(By.ID, "key-form").get_attribute("hidden") is not None
        # When the figures were read is shown (they are read again every minute, not only
        # when a pressure score moves).
        as_of = browser.find_element(By.ID, "as-of").text
        assert as_of.startswith("Figures as of "), as_of

        shot = tmp_path / "dashboard.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        _keep(shot)

        # A service's figures say their units: the longest wait in hours, not a bare number.
        browser.get(stack.api_url + "/services/lch-ucr")
        wait = until(browser, lambda d: _figure(d, "Longest wait"), 30, "the service's figures")
        assert wait.endswith(" h"), wait
        # Its national measure too: none of the three is due yet (each is within its 2 hours).
        labels = ("2-hour referrals due", "Seen within 2 hours")
        shown = until(browser, lambda d: _figures(d, labels), 30, "the 2-hour measure")
        assert shown == ("0", "\u2013"), shown  # the page's dash for a rate of nothing

        # The emergency department's page shows its attendances, not stays, referrals or NCTR
        # delays it has none of ("In the service 0" beside the patients in the department).
        browser.get(stack.api_url + "/services/lth-ed")
        until(browser, lambda d: _figure(d, "Attendances"), 30, "the department's figures")
        rows = until(browser, _figure_labels, 30, "the figures' labels")  # again if redrawn
        assert "4-hour breaches" in rows and "Queue" in rows, rows
        for meaningless in (
            "In the service",
            "Delayed",
            "Days delayed at home",
            "Waiting, pathway 1",
        ):
            assert meaningless not in rows, rows
        trends = browser.find_element(By.ID, "trends").text
        assert "Days delayed at home" not in trends and "In the service" not in trends, trends

        # A mistyped service's page says what is wrong in words, not a bare status code.
        browser.get(stack.api_url + "/services/lch-ucx")
        status = until(
            browser, lambda d: _refusal(d.find_element(By.ID, "status").text), 30, "a refusal"
        )
        assert status == "Cannot load: no service 'lch-ucx' in the catalogue", status

        # Without keys nobody holds the on-call role: acknowledging says how to get it.
        browser.get(stack.api_url + "/")
        until(browser, _acknowledge_first, 60, "an alert to acknowledge")
        said = until(browser, lambda d: d.find_element(By.ID, "ack-status").text, 30, "an answer")
        assert "on-call role" in said and "FLOWSIGHT_API_KEYS" in said, said

        # The API's docs draw themselves from what the API serves (no CDN): every operation.
        browser.get(stack.api_url + "/docs")
        path = ".opblock-summary-path[data-path='/v1/pressure']"
        until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, path), 30, "Swagger UI")


def _scored(badge: str) -> str:
    """An OPEL badge's text if it shows a level ('' if not scored)."""
    return badge if badge.startswith("OPEL ") else ""


def _figure(driver: WebDriver, label: str) -> str:
    """The value the service page's figures table shows for `label` ('' until it is drawn)."""
    for row in driver.find_elements(By.CSS_SELECTOR, "#figures tbody tr"):
        if row.find_element(By.TAG_NAME, "th").text == label:
            return str(row.find_elements(By.TAG_NAME, "td")[0].text)
    return ""


def _figure_labels(driver: WebDriver) -> list[str]:
    """The labels of the service page's figures, in one read ([] until it is drawn)."""
    return [
        row.find_element(By.TAG_NAME, "th").text
        for row in driver.find_elements(By.CSS_SELECTOR, "#figures tbody tr")
    ]


def _acknowledge_first(driver: WebDriver) -> bool:
    """Press the first open alert's Acknowledge button, once the list shows one."""
    buttons = driver.find_elements(By.CSS_SELECTOR, "#alerts li button")
    if buttons:
        buttons[0].click()
    return bool(buttons)


def _figures(driver: WebDriver, labels: tuple[str, ...]) -> tuple[str, ...] | None:
    """The values the figures table shows for `labels`, once it shows them all."""
    values = tuple(_figure(driver, label) for label in labels)
    return values if all(values) else None


def _level_title_why(driver: WebDriver, service: str) -> tuple[str, str, str]:
    """A tile's level badge's text and title, and its reason's text."""
    badge = tile_level(driver, service)
    why = tile(driver, service).find_element(By.CSS_SELECTOR, ".why")
    return badge.text, badge.get_attribute("title") or "", why.text


def _refusal(status: str) -> str:
    """The page's status line once it says it cannot load ('' before)."""
    return status if status.startswith("Cannot load") else ""


def _keep(shot: Path) -> None:
    """Leave the last screenshot where a person can look at it (var/ is git-ignored)."""
    target = Path(__file__).resolve().parents[2] / "var" / "e2e-dashboard.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(shot.read_bytes())
