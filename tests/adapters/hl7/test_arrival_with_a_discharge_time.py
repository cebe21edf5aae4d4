"""An A01 that carries a discharge time (PV1-45), as a record keyed in after the stay or a test
message (Google's healthcare-data-harmonization A01 in the conformance corpus) sends it, admits
and says that the time ends nothing: the sender learns why the patient still shows in a bed
until the A03 comes, where the time was ignored without a word."""

from __future__ import annotations

from flowsight.adapters.hl7.mapping import Mapped, map_message
from flowsight.adapters.profile import MappingProfile
from tests.adapters.hl7.test_mapping import PID, message, msh, pv1

PROFILE = MappingProfile(organisation="RR8", default_service="lth-wards")
EVN = "EVN|A01|20261123101500||||20261123101000"


def test_an_admission_with_a_discharge_time_admits_and_warns_that_it_ends_nothing() -> None:
    result = map_message(
        message(msh("A01"), EVN, PID, pv1(f3="WARD7", f44="20261123101000", f45="20261125120000")),
        organisation="RR8",
        profile=PROFILE,
    )

    assert isinstance(result, Mapped), result
    assert [event["event_type"] for event in result.events] == ["admission"]
    assert any(warning.startswith("PV1-45:") for warning in result.warnings)


def test_an_admission_without_one_has_no_such_warning() -> None:
    result = map_message(
        message(msh("A01"), EVN, PID, pv1(f3="WARD7", f44="20261123101000")),
        organisation="RR8",
        profile=PROFILE,
    )

    assert isinstance(result, Mapped), result
    assert not any(warning.startswith("PV1-45:") for warning in result.warnings)
