"""An A03 whose PV1-3 is empty names where the patient was in PV1-6, and is read from there.

HL7 v2.5 3.3.3 puts the location before the discharge in PV1-3; a PAS that frees the bed as it
discharges sends it in PV1-6 instead. Simulated Hospital (google/simhospital) does, for every
death: in two days of its UK feed, 21 deaths were refused (no location) and the dead held their
beds, or stayed in the ED breaching, for ever. The messages are cut down from that feed.
"""

from __future__ import annotations

from typing import Any

import pytest

from flowsight.adapters.hl7.mapping import Mapped, map_message
from flowsight.adapters.hl7.parse import parse_message
from flowsight.adapters.profile import LocationRule, MappingProfile

RULES = [
    LocationRule(point_of_care="ED", service="lth-ed"),
    LocationRule(point_of_care="AMU", service="lth-wards"),
]
PROFILES = {
    "rules only": MappingProfile(organisation="RR8", locations=RULES),
    "a default service": MappingProfile(
        organisation="RR8", default_service="lth-wards", locations=RULES
    ),
}
MRN = "3906365290^^^SIMULATOR MRN^MRN"
ED_BED = "ED^ED^Bed 7^Simulated Hospital^^ED^^1"
AMU_BED = "AMU^Bay A^Bed 4^Simulated Hospital^^BED^Main Building^2"


def segment(name: str, **fields: str) -> str:
    """A segment from field numbers: segment("PV1", f3="AMU")."""
    values = {int(number[1:]): value for number, value in fields.items()}
    return "|".join([name, *(values.get(n, "") for n in range(1, max(values) + 1))])


def a03(prior: str) -> Any:
    """Simulated Hospital's A03 of a death: PID-29/30 the death, PV1-3 empty, PV1-6 the bed."""
    segments = [
        "MSH|^~\\&|SIMHOSP|SFAC|RAPP|RFAC|20261116025326||ADT^A03|38|P|2.3|||AL||44|ASCII",
        "EVN|A03|20261116025152",
        segment("PID", f1="1", f2=MRN, f3=MRN, f5="Valik^Caroline", f29="20261116025152", f30="Y"),
        segment(
            "PV1",
            f1="1",
            f2="I",
            f4="28b",
            f6=prior,
            f19="9553669769985007354^^^^visitid",
            f41="FINISHED",
            f44="20261116004200",
            f45="20261116025152",
        ),
    ]
    return parse_message("\r".join(segments).encode()).message


def mapped(message: Any, profile: MappingProfile) -> Mapped:
    result = map_message(message, organisation="RR8", profile=profile, front_door={"lth-ed"})
    assert isinstance(result, Mapped), result
    return result


@pytest.mark.parametrize("profile", PROFILES.values(), ids=PROFILES.keys())
def test_a_death_on_a_ward_with_the_bed_in_pv1_6_discharges_from_that_ward(
    profile: MappingProfile,
) -> None:
    result = mapped(a03(AMU_BED), profile)

    (discharge,) = result.events
    assert discharge["event_type"] == "discharge"
    assert (discharge["service"], discharge["destination"]) == ("lth-wards", "died")
    assert any(w.startswith("PV1-3: empty") for w in result.warnings), result.warnings


@pytest.mark.parametrize("profile", PROFILES.values(), ids=PROFILES.keys())
def test_a_death_in_the_ed_with_its_place_in_pv1_6_ends_the_attendance(
    profile: MappingProfile,
) -> None:
    # With a default service it was a discharge from the wards (an anomaly there), and the
    # attendance stayed open, breaching; without one, refused.
    (departure,) = mapped(a03(ED_BED), profile).events

    assert (departure["event_type"], departure["service"]) == ("attendance", "lth-ed")
    assert departure["departed_at"] == "2026-11-16T02:51:52+00:00"
