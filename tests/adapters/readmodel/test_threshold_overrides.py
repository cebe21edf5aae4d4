"""Run-time threshold changes applied over the catalogue's, as the pressure step reads them."""

from __future__ import annotations

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.readmodel.pressure import effective_catalogue
from flowsight.services.pressure import score_service
from flowsight.settings import DEFAULT_CATALOGUE

CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)
ROW = {"level2": 10.0, "level3": 20.0, "level4": 30.0, "weight": 1.0}


def test_a_stored_change_is_applied_and_one_for_an_indicator_no_longer_known_is_left_out() -> None:
    # readmitted_30d_pct was an indicator of community beds in an earlier flowsight; a change an
    # admin stored for it then must not make every later scoring raise.
    changed = {
        ("lch-community-beds", "queue_length"): ROW,
        ("lch-community-beds", "readmitted_30d_pct"): ROW,
    }

    beds = effective_catalogue(CATALOGUE, changed).service("lch-community-beds")

    assert beds is not None
    assert beds.thresholds["queue_length"].level3 == 20.0
    assert "readmitted_30d_pct" not in beds.thresholds
    assert score_service(beds, {"queue_length": 25}).service_id == "lch-community-beds"
