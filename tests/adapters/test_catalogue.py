"""The service catalogue file: the default loads; a bad one says where it is wrong."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowsight.adapters.catalogue import CatalogueError, load_catalogue
from flowsight.settings import DEFAULT_CATALOGUE

# SPEC section 2, copied from the spec.
SPEC_KINDS = {
    "acute_front_door",
    "acute_inpatient",
    "transfers_of_care",
    "ucr",
    "reablement",
    "short_term_beds",
    "home_care",
    "residential_nursing",
}

Document = dict[str, Any]


@pytest.fixture(scope="module")
def leeds() -> Document:
    return dict(yaml.safe_load(DEFAULT_CATALOGUE.read_text(encoding="utf-8")))


def service(document: Document, service_id: str) -> Document:
    return next(s for s in document["services"] if s["id"] == service_id)


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def problem(tmp_path: Path, leeds: Document, change: Callable[[Document], None]) -> str:
    """The CatalogueError message for the default catalogue after `change`."""
    document = copy.deepcopy(leeds)
    change(document)
    path = write(tmp_path, document)
    with pytest.raises(CatalogueError) as raised:
        load_catalogue(path)
    message = str(raised.value)
    assert str(path) in message
    return message


def test_the_default_catalogue_loads() -> None:
    catalogue = load_catalogue(DEFAULT_CATALOGUE)

    assert {s.kind for s in catalogue.services} == SPEC_KINDS
    assert {s.organisation for s in catalogue.services} == set(catalogue.organisation_codes)
    assert catalogue.service("lch-ucr") is not None
    assert catalogue.service("lch-ucr").organisation == "RY6"  # type: ignore[union-attr]
    assert catalogue.service("nowhere") is None


def test_the_default_catalogue_has_thresholds_that_rise() -> None:
    catalogue = load_catalogue(DEFAULT_CATALOGUE)

    for each in catalogue.services:
        assert each.thresholds, each.id
        for indicator, threshold in each.thresholds.items():
            assert threshold.level2 <= threshold.level3 <= threshold.level4, (each.id, indicator)


def test_a_copy_of_the_default_catalogue_loads_the_same(tmp_path: Path, leeds: Document) -> None:
    assert load_catalogue(write(tmp_path, leeds)) == load_catalogue(DEFAULT_CATALOGUE)


def test_a_bad_kind_names_the_service_by_id(tmp_path: Path, leeds: Document) -> None:
    def bad_kind(document: Document) -> None:
        service(document, "lch-ucr")["kind"] = "community_nursing"

    message = problem(tmp_path, leeds, bad_kind)

    assert "services[lch-ucr].kind" in message
    assert "ucr" in message  # the allowed values are listed


def test_thresholds_that_fall_name_the_service_and_indicator(
    tmp_path: Path, leeds: Document
) -> None:
    def falling(document: Document) -> None:
        service(document, "lch-ucr")["thresholds"]["longest_wait_hours"] = {
            "level2": 8,
            "level3": 4,
            "level4": 2,
        }

    message = problem(tmp_path, leeds, falling)

    assert "service 'lch-ucr', indicator 'longest_wait_hours'" in message
    assert "higher is worse, so thresholds must rise level2 to level4: 8, 4, 2" in message


def test_thresholds_fall_where_lower_is_worse(tmp_path: Path, leeds: Document) -> None:
    falling = {"level2": 70, "level3": 60, "level4": 50}
    service(leeds, "lch-community-beds")["thresholds"]["discharged_home_pct"] = falling
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(leeds))

    beds = load_catalogue(path).service("lch-community-beds")

    assert beds is not None
    assert beds.thresholds["discharged_home_pct"].level4 == 50


def test_a_service_listed_twice_is_named(tmp_path: Path, leeds: Document) -> None:
    def twice(document: Document) -> None:
        document["services"].append(copy.deepcopy(service(document, "lch-ucr")))

    message = problem(tmp_path, leeds, twice)

    assert "'lch-ucr'" in message
    assert "twice" in message


def test_a_service_of_an_unlisted_organisation_is_named(tmp_path: Path, leeds: Document) -> None:
    def unlisted(document: Document) -> None:
        service(document, "lch-ucr")["organisation"] = "RXX"

    message = problem(tmp_path, leeds, unlisted)

    assert "'lch-ucr'" in message
    assert "'RXX'" in message


def test_every_problem_is_listed_not_just_the_first(tmp_path: Path, leeds: Document) -> None:
    def two_problems(document: Document) -> None:
        service(document, "lch-ucr")["kind"] = "community_nursing"
        service(document, "lcc-home-care")["capacity_unit"] = "visits"

    message = problem(tmp_path, leeds, two_problems)

    assert "services[lch-ucr].kind" in message
    assert "services[lcc-home-care].capacity_unit" in message


def test_an_unknown_key_is_refused(tmp_path: Path, leeds: Document) -> None:
    def typo(document: Document) -> None:
        service(document, "lth-wards")["capacty"] = 1450

    assert "services[lth-wards].capacty" in problem(tmp_path, leeds, typo)


def test_a_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "catalogue.yaml"

    with pytest.raises(CatalogueError, match="cannot read") as raised:
        load_catalogue(path)
    assert str(path) in str(raised.value)


def test_a_directory_instead_of_a_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError) as raised:
        load_catalogue(tmp_path)
    assert str(tmp_path) in str(raised.value)


def test_invalid_yaml_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text("system: Leeds\nservices: [\n  - id: lth-ed\n", encoding="utf-8")

    with pytest.raises(CatalogueError, match="not valid YAML") as raised:
        load_catalogue(path)
    assert str(path) in str(raised.value)


def test_an_empty_file_is_a_catalogue_error(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text("", encoding="utf-8")

    with pytest.raises(CatalogueError) as raised:
        load_catalogue(path)
    assert str(path) in str(raised.value)


def test_a_file_saved_in_a_windows_code_page_is_a_catalogue_error(tmp_path: Path) -> None:
    # An operator edits the YAML in an editor that saves Windows-1252 ("Café" as C a f 0xE9).
    path = tmp_path / "catalogue.yaml"
    path.write_bytes("system: Leeds Café Network\n".encode("cp1252"))

    with pytest.raises(CatalogueError) as raised:
        load_catalogue(path)
    assert str(path) in str(raised.value)
