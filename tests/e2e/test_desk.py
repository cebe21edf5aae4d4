"""The bed manager's desk in a real browser against the real API and worker: tiles and
sparklines change live, on-call acknowledges an alert, the caseload shows next steps to the
caseload role only."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from flowsight.api.auth import new_api_key
from tests.adapters.readmodel.model import nhs_number
from tests.e2e.pages import sign_in, text_contrasts, tile, tile_queue, tile_sparkline, until
from tests.integration.feeds import event, publish
from tests.integration.stack import Stack, running_stack, stack_env

pytestmark = pytest.mark.integration
ONCALL_KEY, ONCALL_ENTRY = new_api_key("on-call-lead", ["viewer", "oncall"])
CASELOAD_KEY, CASELOAD_ENTRY = new_api_key("ward-lead", ["viewer", "caseload"])
VIEWER_KEY, VIEWER_ENTRY = new_api_key("wall-screen", ["viewer"])
ADMIN_KEY, ADMIN_ENTRY = new_api_key("system-admin", ["viewer", "admin"])
NEXT_STEP = "Reablement start agreed for Monday 10:00; family to bring the key safe code"
#: A ward's criteria-to-reside review's next step: three lines, long enough to fill a screen.
REVIEWED = (
    "Bloods and chest X-ray again on Thursday before the ward round\n"
    "If the inflammatory markers have come down: home with the reablement team on Friday "
    "morning, the key safe code already with the family, a daughter there when they arrive, "
    "the district nurses asked to visit on Saturday for the dressing\n"
    "Otherwise three more days of IV antibiotics and a consultant review on Monday"
)
#: WCAG 2.1 success criterion 1.4.3: text at least 4.5 times as light as what is behind it.
LEGIBLE = 4.5


@pytest.fixture(scope="module")
def desk(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for the module: SQLite read model, a key per role."""
    directory = tmp_path_factory.mktemp("desk")
    env = stack_env(
        kafka_bootstrap,
        f"sqlite+aiosqlite:///{directory / 'read-model.db'}",
        directory,
        api_keys=[ONCALL_ENTRY, CASELOAD_ENTRY, VIEWER_ENTRY, ADMIN_ENTRY],
    )
    with running_stack(env, directory) as stack:
        stack.start_worker()
        stack.start_api()
        yield stack


def send(stack: Stack, source: str, *events: dict[str, Any]) -> None:
    """Publish `events` on the ingest topic of `source`'s organisation."""
    topic = stack.settings.ingest_topic(source.split("/")[0])
    asyncio.run(
        publish(stack.settings.kafka_bootstrap, topic, *(json.dumps(e).encode() for e in events))
    )


def referral(patient: int, to_service: str, **fields: Any) -> dict[str, Any]:
    return event(
        "referral",
        source="RY6/systmone",
        service="lch-ucr",
        to_service=to_service,
        status="new",
        patient={"nhs_number": nhs_number(patient)},
        episode_id=f"UCR-{patient}",
        **fields,
    )


def test_a_published_event_changes_a_tile_and_its_sparkline_within_5_s(
    desk: Stack, browser: WebDriver
) -> None:
    sign_in(browser, desk.api_url + "/", VIEWER_KEY)
    until(browser, lambda d: tile_queue(d, "lch-community-beds") != "", 30, "the tiles")
    until(
        browser,
        lambda d: tile(d, "lch-community-beds").find_elements(By.CSS_SELECTOR, "svg.spark"),
        30,
        "the sparkline",
    )
    browser.execute_script("window.notReloaded = true")
    queue, spark = (
        tile_queue(browser, "lch-community-beds"),
        tile_sparkline(browser, "lch-community-beds"),
    )
    send(desk, "RY6/systmone", referral(40, "lch-community-beds"))
    published = time.monotonic()
    until(browser, lambda d: tile_queue(d, "lch-community-beds") != queue, 5, "the tile's queue")
    until(browser, lambda d: tile_sparkline(d, "lch-community-beds") != spark, 5, "the sparkline")
    assert time.monotonic() - published <= 5
    assert tile_queue(browser, "lch-community-beds") == str(int(queue) + 1)
    assert tile_sparkline(browser, "lch-community-beds").split(",")[-1] == str(int(queue) + 1)
    assert browser.execute_script("return window.notReloaded") is True, "the page reloaded"
    assert "error" not in (browser.find_element(By.ID, "status").get_attribute("class") or "")


def test_on_call_acknowledges_an_alert_from_the_page(desk: Stack, browser: WebDriver) -> None:
    # Thresholds an admin lowers twice: three waiting make UCR's queue level 2 (the service
    # level 2), then level 4 (the service level 3): two alerts, one scope, one item on the page.
    # Referred minutes ago: waits of two hours (the feeds' default) reach UCR's longest-wait level
    # 2 by themselves, and the worker could page on them before the thresholds change.
    recent = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    send(
        desk,
        "RY6/systmone",
        *(referral(patient, "lch-ucr", occurred_at=recent) for patient in (1, 2, 3)),
    )
    for steps, alerts in (
        ({"level2": 3, "level3": 50, "level4": 60}, 1),
        ({"level2": 1, "level3": 2, "level4": 3}, 2),
    ):
        changed = httpx.put(
            desk.api_url + "/v1/thresholds/lch-ucr/queue_length",
            json={**steps, "weight": 1},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert changed.status_code == 200, changed.text
        desk.wait_until(
            lambda alerts=alerts: (
                desk.get("/v1/alerts?state=open&scope=lch-ucr").json()["total"] >= alerts
            ),
            timeout=90,
            what=f"escalation {alerts} of urgent community response",
        )
    opened = {a["id"] for a in desk.get("/v1/alerts?state=open&scope=lch-ucr").json()["alerts"]}
    sign_in(browser, desk.api_url + "/", ONCALL_KEY)
    [item] = until(
        browser,
        lambda d: [
            li
            for li in d.find_elements(By.CSS_SELECTOR, "#alerts li[data-alert]")
            if "Urgent Community Response" in li.text
        ],
        30,
        "the open alert on the page",
    )
    # The service's name, not its id; its latest change, and the step before it said once.
    assert "Urgent Community Response: OPEL 2 → 3" in item.text, item.text
    assert "(and 1 earlier step since" in item.text, item.text
    assert set((item.get_attribute("data-alerts") or "").split()) == opened
    why = tile(browser, "lch-ucr").find_element(By.CSS_SELECTOR, ".why").text
    assert "queue 3 ≥ 3" in why, why
    assert tile_queue(browser, "lch-ucr") == "3"
    item.find_element(By.TAG_NAME, "button").send_keys("\n")  # by keyboard
    until(
        browser,
        lambda d: "Acknowledged" in d.find_element(By.ID, "ack-status").text,
        10,
        "the acknowledgement",
    )
    stored = desk.get("/v1/alerts?state=acknowledged&scope=lch-ucr").json()["alerts"]
    assert {a["id"] for a in stored} == opened
    assert {a["acknowledged_by"] for a in stored} == {"key:on-call-lead"}
    assert not browser.find_elements(By.CSS_SELECTOR, "#alerts li[data-alert]") or all(
        "Urgent Community Response" not in li.text
        for li in browser.find_elements(By.CSS_SELECTOR, "#alerts li[data-alert]")
    )


def test_a_caseload_user_sees_a_patients_next_step_and_a_viewer_does_not(
    desk: Stack, browser: WebDriver
) -> None:
    admission = event(
        "admission",
        patient={"nhs_number": nhs_number(20)},
        episode_id="SPELL-20",
        admission_method="emergency",
    )
    onward = event(
        "referral",
        patient={"nhs_number": nhs_number(20)},
        episode_id="SPELL-20",
        to_service="lcc-reablement",
        status="new",
        pathway="P1",
        next_step=NEXT_STEP,
    )
    send(desk, "RR8/pas", admission, onward)
    desk.wait_until(
        lambda: desk.get("/v1/services/lth-wards/caseload").json()["total"] >= 1,
        timeout=60,
        what="a patient on the wards",
    )
    sign_in(browser, desk.api_url + "/services/lth-wards", CASELOAD_KEY)
    row = until(
        browser,
        lambda d: [
            r
            for r in d.find_elements(By.CSS_SELECTOR, "#caseload tr[data-patient]")
            if NEXT_STEP in r.text
        ],
        30,
        "the patient's next step on the caseload",
    )[0]
    assert "lcc-reablement" in row.text
    assert browser.find_element(By.TAG_NAME, "h1").text == "LTH General and Acute Wards"
    browser.delete_all_cookies()
    browser.execute_script("sessionStorage.clear()")
    sign_in(browser, desk.api_url + "/services/lth-wards", VIEWER_KEY)
    status = until(
        browser,
        lambda d: d.find_element(By.ID, "caseload-status").text,
        30,
        "the caseload's answer",
    )
    assert "needs the caseload role" in status
    assert not browser.find_elements(By.CSS_SELECTOR, "#caseload tr[data-patient]")
    assert NEXT_STEP not in browser.page_source


def test_figures_out_of_date_say_so_and_every_text_stays_legible(
    desk: Stack, browser: WebDriver
) -> None:
    sign_in(browser, desk.api_url + "/", VIEWER_KEY)
    until(browser, lambda d: tile_queue(d, "lch-community-beds") != "", 30, "the tiles")
    assert not [t for t in text_contrasts(browser, "body") if t[1] < LEGIBLE]
    assert not _shown(browser, ".stale-note")
    # What the page does when a read fails (the API did not answer), as after a late score; and
    # keeps doing: every read fails from here, so a live change (the worker scores on) cannot
    # mark them fresh again.
    browser.execute_script(
        "window.fetch = () => Promise.reject(new TypeError('the API did not answer'));"
    )
    # A read the page began before that (a live change) may still land, and rightly mark the
    # figures it brought fresh: fail the read until none is left in flight.
    until(browser, _read_failed, 30, "the page to say its figures are out of date")
    faint = [t for t in text_contrasts(browser, "body") if t[1] < LEGIBLE]
    assert not faint, faint
    # Each tile, the system's figures and the delays say it in words, not in grey alone.
    notes = _shown(browser, ".stale-note")
    tiles = browser.find_elements(By.CSS_SELECTOR, "article.tile")
    assert len(notes) == len(tiles) + 2 and {n.text for n in notes} == {"Out of date"}


def _read_failed(driver: WebDriver) -> bool:
    """Have the page take a failed read; whether it then says so, twice 0.2 s apart."""
    said = []
    for _ in range(2):
        driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "import('/assets/js/page.js').then((page) => { page.read(false); done(); });"
        )
        time.sleep(0.2)
        said.append("NOT up to date" in driver.find_element(By.ID, "as-of").text)
    return all(said)


def test_a_keyboard_user_skips_to_the_main_content(desk: Stack, browser: WebDriver) -> None:
    sign_in(browser, desk.api_url + "/", VIEWER_KEY)
    until(browser, lambda d: tile_queue(d, "lch-community-beds") != "", 30, "the tiles")
    skip = browser.find_element(By.CSS_SELECTOR, 'a[href="#main"]')
    assert skip.get_attribute("textContent") == "Skip to main content"
    assert not _on_screen(browser, skip), "out of sight until focused"
    ActionChains(browser).send_keys(Keys.TAB).perform()
    assert browser.switch_to.active_element == skip, "the first thing the keyboard reaches"
    assert _on_screen(browser, skip), "seen when focused"
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    assert browser.switch_to.active_element.get_attribute("id") == "main"
    ActionChains(browser).send_keys(Keys.TAB).perform()
    inside = browser.execute_script("return document.activeElement.closest('main') !== null")
    assert inside, "the next stop is in the main content, past the header's links"


def test_the_ward_s_page_says_its_open_beds_and_a_review_s_next_step_line_by_line(
    desk: Stack, browser: WebDriver
) -> None:
    capacity = {
        k: v
        for k, v in event("capacity", open=1200, total=1450, unit="beds").items()
        if k not in ("patient", "episode_id")
    }
    patient = {"nhs_number": nhs_number(21)}
    admission = event(
        "admission", patient=patient, episode_id="SPELL-21", admission_method="emergency"
    )
    review = event(
        "assessment",
        patient=patient,
        episode_id="SPELL-21",
        kind="ctr_review",
        status="completed",
        meets_criteria_to_reside=True,
        next_step=REVIEWED,
        occurred_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat(),
    )
    send(desk, "RR8/pas", capacity, admission, review)
    desk.wait_until(
        lambda: (
            desk.get("/v1/services/lth-wards").json()["open_capacity"] == 1200
            and any(p["next_step"] == REVIEWED for p in _caseload(desk, "lth-wards"))
        ),
        timeout=60,
        what="the ward's capacity report and the review",
    )
    sign_in(browser, desk.api_url + "/services/lth-wards", CASELOAD_KEY)
    # Occupancy divides by the beds open: the header says those, the catalogue's as context.
    meta = until(
        browser,
        lambda d: (
            "as of" in d.find_element(By.ID, "service-meta").text
            and d.find_element(By.ID, "service-meta").text
        ),
        30,
        "the service's header",
    )
    assert "1200 beds open" in meta and "of 1450 in the catalogue" in meta, meta
    row = until(
        browser,
        lambda d: [
            r
            for r in d.find_elements(By.CSS_SELECTOR, "#caseload tr[data-patient]")
            if "Bloods and chest X-ray" in r.text
        ],
        30,
        "the review's next step on the caseload",
    )[0]
    said = row.find_element(By.CSS_SELECTOR, ".next-step")
    assert browser.execute_script("return arguments[0].innerText", said) == REVIEWED
    assert "(ctr_review assessment at lth-wards)" in row.text
    # The long step wraps in a column of its own width; no other is squeezed below a word.
    cells = row.find_elements(By.CSS_SELECTOR, "th, td")
    widths = [c.rect["width"] for c in cells]
    assert widths[-1] <= 0.4 * browser.find_element(By.ID, "caseload").rect["width"], widths
    heads = browser.find_elements(By.CSS_SELECTOR, "#caseload thead th")
    for cell in heads[:-1] + cells[:-1]:
        assert not browser.execute_script(_BROKEN_WORD, cell), (cell.text, widths)


# Whether a cell's text is broken inside a word: a word of it drawn on two lines.
_BROKEN_WORD = """
const range = document.createRange();
const walker = document.createTreeWalker(arguments[0], NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  for (const word of node.textContent.matchAll(/\\S+/g)) {
    range.setStart(node, word.index);
    range.setEnd(node, word.index + word[0].length);
    if (new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1) return true;
  }
}
return false;
"""


def _caseload(stack: Stack, service: str) -> list[dict[str, Any]]:
    patients: list[dict[str, Any]] = stack.get(f"/v1/services/{service}/caseload").json()[
        "patients"
    ]
    return patients


def _shown(driver: WebDriver, selector: str) -> list[WebElement]:
    return [e for e in driver.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()]


def _on_screen(driver: WebDriver, element: WebElement) -> bool:
    """Whether `element` is drawn inside the window, larger than a pixel."""
    return bool(
        driver.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            "return r.width > 1 && r.height > 1 && r.right > 0 && r.bottom > 0"
            " && r.left < innerWidth && r.top < innerHeight;",
            element,
        )
    )


def test_the_weekly_report_opens_from_the_page_with_the_key_given(
    desk: Stack, browser: WebDriver
) -> None:
    # A link sends no key: the report was a 401 problem document for anyone signed in.
    sign_in(browser, desk.api_url + "/", VIEWER_KEY)
    until(browser, lambda d: tile_queue(d, "lch-community-beds") != "", 30, "the tiles")
    page = browser.current_window_handle
    browser.find_element(By.LINK_TEXT, "Weekly report").click()
    until(browser, lambda d: len(d.window_handles) == 2, 10, "a tab for the report")
    browser.switch_to.window(next(h for h in browser.window_handles if h != page))
    title = until(
        browser, lambda d: d.title.startswith("Weekly system report") and d.title, 30, "it"
    )
    assert "Unauthorised" not in browser.page_source
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert heading.startswith("Weekly system report"), (title, heading)
