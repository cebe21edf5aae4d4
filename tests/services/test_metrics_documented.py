"""Every figure flowsight computes has its definition in docs/metrics.md.

The dashboard, the API and the weekly report show the figures `service_figures` and
`system_figures` give, by their names; a figure added without a written definition and source
fails here. The page shortens families of names: "`queue_p0` … `queue_p3`" is p0 to p3, and
"`delayed_days_0`, `_1`, `_2_3`" gives the later members by their ending alone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flowsight.adapters.catalogue import load_catalogue
from flowsight.services.indicators import KNOWN_INDICATORS
from flowsight.services.kpis import Period, ServiceFacts, service_figures, system_figures
from flowsight.settings import DEFAULT_CATALOGUE

METRICS = Path(__file__).parents[2] / "docs" / "metrics.md"
NAME = re.compile(r"`([a-z][a-z0-9_]*|_[a-z0-9_]+)`( … `([a-z][a-z0-9_]*)`)?")


def documented_names(text: str) -> set[str]:
    """The figure names the page defines, its shortened families written out."""
    names: set[str] = set()
    stem = ""
    for match in NAME.finditer(text):
        name, _, last = match.groups()
        if name.startswith("_"):  # `delayed_days_0`, `_1`: the stem of the name before it
            names.add(stem + name)
            continue
        stem = re.split(r"_(?=\d)", name, maxsplit=1)[0]
        names.add(name)
        if last:  # `queue_p0` … `queue_p3`: the digit runs from the first to the last
            first_digit, last_digit = re.search(r"\d", name), re.search(r"\d", last)
            assert first_digit and last_digit, match.group(0)
            for digit in range(int(first_digit.group()), int(last_digit.group()) + 1):
                names.add(name[: first_digit.start()] + str(digit) + name[first_digit.end() :])
    return names


def test_the_family_shorthands_are_read_as_the_page_means_them() -> None:
    text = (
        "`queue_p0` … `queue_p3` and `delayed_days_0`, `_1`, `_2_3`; `long_stay_7_plus`, `_14_plus`"
    )

    assert documented_names(text) == {
        "queue_p0",
        "queue_p1",
        "queue_p2",
        "queue_p3",
        "delayed_days_0",
        "delayed_days_1",
        "delayed_days_2_3",
        "long_stay_7_plus",
        "long_stay_14_plus",
    }


def test_every_figure_of_every_service_kind_and_of_the_system_is_defined() -> None:
    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    now = datetime(2026, 5, 11, tzinfo=UTC)
    period = Period(now - timedelta(days=7), now)
    figures: set[str] = set(KNOWN_INDICATORS)
    for service in catalogue.services:
        figures |= set(service_figures(service, ServiceFacts(), period, now))
    figures |= set(system_figures(catalogue.services, {}, period, now))

    undefined = figures - documented_names(METRICS.read_text(encoding="utf-8"))

    assert len(figures) > 50
    assert sorted(undefined) == []


#: What a service's page leaves to the weekly report: the samples the rates are scored on, and
#: the publication's bands of the delays still running (the page has 7, 14 and 21 days and more).
LEFT_TO_THE_REPORT = {
    "departures",
    "discharged",
    "four_hour_breaches",
    "hospital_discharges",
    "hospital_discharges_with_pathway",
    "assessments_completed",
    "referrals_decided",
    *(f"delayed_days_{band}" for band in ("0", "1", "2_3", "4_6", "7_13", "14_20", "21_plus")),
}
PAGE_FIGURES = Path(__file__).parents[2] / "api" / "static" / "assets" / "js" / "figures.js"


def test_a_service_s_page_labels_each_of_its_figures() -> None:
    # The page shows the figures it has a label and definition for, and no other: a figure
    # computed but not labelled there (the 2-hour UCR measure was) is one the bed manager never sees.
    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    now = datetime(2026, 5, 11, tzinfo=UTC)
    period = Period(now - timedelta(days=7), now)
    figures = {"nctr_days_mean", "ctr_days_mean"}  # of the bed stays ended in the period
    for service in catalogue.services:
        figures |= set(service_figures(service, ServiceFacts(), period, now, 10))
    labelled = set(re.findall(r"^  (\w+): \[", PAGE_FIGURES.read_text(encoding="utf-8"), re.M))

    assert sorted(figures - labelled - LEFT_TO_THE_REPORT) == []
    assert labelled <= documented_names(METRICS.read_text(encoding="utf-8"))
