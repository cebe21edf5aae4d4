"""A mapping profile says where a sender's locations and codes belong, or lists what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.profile import (
    Located,
    LocationRule,
    MappingProfile,
    ProfileError,
    default_profile,
    profile_from_location_map,
)
from flowsight.adapters.profile_file import load_profile
from flowsight.schemas.catalogue import Catalogue
from flowsight.settings import DEFAULT_CATALOGUE

SAMPLE = Path(__file__).parents[2] / "deploy" / "catalogue" / "profiles" / "RR8-pas.yaml"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(DEFAULT_CATALOGUE)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_sample_profile_loads_against_the_leeds_catalogue(catalogue: Catalogue) -> None:
    profile = load_profile(SAMPLE, catalogue)
    assert profile.organisation == "RR8"
    # The site in PL.1 and the ward in PL.2: the ward is the unit, so a bed move is no transfer.
    assert profile.locate(point_of_care="LGI", room="WARD7", bed="B3") == Located(
        "lth-wards", "WARD7"
    )
    assert profile.locate(facility="RR8", point_of_care="SED", room="MAJ") == Located(
        "lth-ed", "SED"
    )
    assert profile.locate(point_of_care="LGI", room="TOCH") == Located("lth-toc-hub", "TOCH")


def test_the_first_matching_rule_wins_and_patterns_ignore_case() -> None:
    profile = MappingProfile(
        organisation="RR8",
        locations=[
            LocationRule(point_of_care="ed*", service="lth-ed"),
            LocationRule(point_of_care="*", room="W*", service="lth-wards", unit="room"),
        ],
    )
    assert profile.locate(point_of_care="EDMAJ", room="W1") == Located("lth-ed", "EDMAJ")
    assert profile.locate(point_of_care="LGI", room="w2") == Located("lth-wards", "w2")
    assert profile.locate(point_of_care="LGI", room="X") is None


def test_a_fhir_location_is_located_by_its_reference_or_display() -> None:
    profile = MappingProfile(
        organisation="RR8",
        default_service="lth-wards",
        locations=[LocationRule(location="Location/ed-*", service="lth-ed")],
    )
    assert profile.locate(location="Location/ed-main") == Located("lth-ed", "Location/ed-main")
    assert profile.locate(location="Location/w7") == Located("lth-wards", "Location/w7")


def test_without_a_rule_the_default_service_is_used_or_nothing() -> None:
    assert default_profile("RR8", "lth-wards").locate(point_of_care="W7") == Located(
        "lth-wards", "W7"
    )
    assert default_profile("RR8").locate(point_of_care="W7") is None


def test_match_only_leaves_the_default_service_out() -> None:
    profile = default_profile("RR8", "lth-wards")
    assert profile.locate(point_of_care="W7", match_only=True) is None
    ruled = profile.model_copy(
        update={"locations": [LocationRule(point_of_care="W7", service="lth-ed")]}
    )
    assert ruled.locate(point_of_care="W7", match_only=True) == Located("lth-ed", "W7")


def test_the_old_location_map_is_a_profile_of_literal_point_of_care_rules() -> None:
    profile = profile_from_location_map({"A&E": "lth-ed", "W[1]": "lth-toc-hub"}, "RR8", "x")
    assert profile.locate(point_of_care="A&E") == Located("lth-ed", "A&E")
    assert profile.locate(point_of_care="W[1]") == Located("lth-toc-hub", "W[1]")
    assert profile.locate(point_of_care="W1") == Located("x", "W1")


def test_every_bad_entry_is_listed_one_per_line(tmp_path: Path, catalogue: Catalogue) -> None:
    path = write(
        tmp_path,
        """
organisation: RR8
default_service: lcc-reablement
locations:
  - point_of_care: W1
    service: nope
  - service: lth-wards
codes:
  admission_method: {X: urgent}
  discharge_destination: {19: home}
  discharge_method: {D: dead}
hl7:
  take: [A01, A99, a1]
  processing_ids: [Q]
  system: PAS/Main
  time_zone: Europe/Leeds
""",
    )
    with pytest.raises(ProfileError) as raised:
        load_profile(path, catalogue)
    lines = str(raised.value).splitlines()[1:]
    expected = [
        "default_service: 'lcc-reablement' is a service of LCC, not of RR8",
        "locations[0].service: no service 'nope' in the catalogue",
        "locations[1]: ",
        "codes.admission_method.X: ",
        "codes.discharge_destination.19: ",
        "codes.discharge_method: 'dead' not an NHS Data Dictionary discharge method",
        "hl7.take: 'a1' is not an HL7 trigger",
        "flowsight cannot take A99",
        "hl7.processing_ids: 'Q' not a processing id",
        "hl7.system: 'PAS/Main' cannot name a source system",
        "hl7.time_zone: 'Europe/Leeds' is not an IANA time zone",
    ]
    for fragment in expected:
        assert any(fragment in line for line in lines), fragment
    assert len(lines) == 10


def test_numeric_codes_in_yaml_are_read_as_text(tmp_path: Path, catalogue: Catalogue) -> None:
    path = write(
        tmp_path,
        "organisation: RR8\nlocations: [{point_of_care: 101, service: lth-ed}]\n"
        "codes: {discharge_destination: {19: usual_residence}}\n",
    )
    profile = load_profile(path, catalogue)
    assert profile.codes.discharge_destination == {"19": "usual_residence"}
    assert profile.locate(point_of_care="101") == Located("lth-ed", "101")


def test_an_old_location_map_given_as_a_profile_says_how_to_convert_it(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    with pytest.raises(ProfileError, match=r"old location map.*--location-map"):
        load_profile(write(tmp_path, "WARD7: lth-wards\n"), catalogue)


def test_an_unknown_organisation_is_named(tmp_path: Path, catalogue: Catalogue) -> None:
    with pytest.raises(ProfileError, match="organisation: 'XYZ' is not in the catalogue"):
        load_profile(write(tmp_path, "organisation: XYZ\n"), catalogue)


def test_triggers_are_taken_ignored_or_refused() -> None:
    rules = MappingProfile.model_validate(
        {"organisation": "RR8", "hl7": {"ignore": ["A31"], "unknown_triggers": "refuse"}}
    ).hl7
    assert (rules.decides("A01"), rules.decides("A31"), rules.decides("A40")) == (
        "take",
        "ignore",
        "refuse",
    )
    assert default_profile("RR8").hl7.decides("A40") == "ignore"
