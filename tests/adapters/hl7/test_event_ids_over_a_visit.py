"""The messages of one visit, mapped and folded as the tracker folds them: each event once, and no
event refused `event_id_reused` unless a message really restates one with other details."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.hl7.check import Checker
from flowsight.adapters.profile import MappingProfile, default_profile
from flowsight.services.batch import BatchChanges, apply_batch
from flowsight.services.journey import ServiceMap
from flowsight.services.validation import (
    EVENT_ID_REUSED,
    Accepted,
    ValidationContext,
    validate_document,
)
from flowsight.settings import DEFAULT_CATALOGUE
from tests.adapters.hl7.profiles import ED_AND_WARDS
from tests.integration.test_hl7_mllp import hl7_time
from tests.integration.test_hl7_real_sequence import PROFILE as REAL_SEQUENCE_PROFILE
from tests.integration.test_hl7_real_sequence import adt, pv1

CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)
CONTEXT = ValidationContext(CATALOGUE, b"k" * 32, timedelta(minutes=5))
CORPUS = Path(__file__).parents[2] / "conformance" / "corpus" / "hl7"
PROFILE = ED_AND_WARDS
ARRIVED = "20261123080000"
PID = "PID|1||RR8123456^^^RR8^MR~9434765919^^^NHS^NH||O'Brien^Mary||19450312|F"


def visit(cls: str, where: str, prior: str = "", **times: str) -> str:
    """A v2.4 PV1 of visit V-1: class, location, prior location, PV1-37 and PV1-44/45 by name."""
    fields = [""] * 46
    fields[1], fields[2], fields[3], fields[6], fields[19] = "1", cls, where, prior, "V-1"
    fields[37] = times.get("destination", "")
    fields[44], fields[45] = times.get("admitted", ARRIVED), times.get("discharged", "")
    return "PV1|" + "|".join(fields[1:])


def sent(trigger: str, control: str, evn: str, pv1_segment: str) -> bytes:
    """A message as the PAS sends it (v2.4), sent at EVN-2."""
    header = f"MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|{evn.split('|')[2]}||ADT^{trigger}|{control}|P|2.4"
    return "\r".join([header, evn, PID, pv1_segment]).encode()


def folded(*messages: bytes, profile: MappingProfile = PROFILE) -> tuple[BatchChanges, list[Any]]:
    """The messages checked as the listener does, their events folded as the tracker does."""
    checker = Checker("RR8", profile, CONTEXT, frozenset({"P", "T", "D"}))
    outcomes = [outcome for raw in messages for outcome in checker.check_bytes(raw)]
    events = []
    for outcome in outcomes:
        events.extend(validated(event) for event in outcome.events)
    changes = apply_batch(
        events, lambda _: None, lambda _: None, timedelta(days=100_000), ServiceMap.of(CATALOGUE)
    )
    return changes, outcomes


def validated(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the validator puts it on the events topic (pseudonymised, normalised)."""
    verdict = validate_document(event, organisation="RR8", context=CONTEXT, now=datetime.now(UTC))
    assert isinstance(verdict, Accepted), verdict
    return verdict.event


def reused(changes: BatchChanges) -> list[str]:
    return [r.rejected.message for r in changes.refusals if r.rejected.reason == EVENT_ID_REUSED]


def test_an_a01_of_a_patient_admitted_while_still_in_the_ed_restates_the_attendance() -> None:
    # The A01 comes when the bed is requested, the patient still in the ED: its EVN-6 is then.
    changes, _ = folded(
        sent("A04", "M1", f"EVN|A04|{ARRIVED}||||{ARRIVED}", visit("E", "EDMAJ^CUB1")),
        sent("A01", "M2", "EVN|A01|20261123120500||||20261123120000", visit("I", "EDMAJ^CUB1")),
    )
    assert reused(changes) == []
    (state,) = changes.states
    (attendance,) = state.attendances
    assert attendance.arrived_at.startswith("2026-11-23T08:00")


def test_an_a01_from_the_ed_ends_the_attendance_admitted() -> None:
    # Epic: the ED's A04, then an A01 at admission whose PV1-6 is the ED and whose PV1-44 is
    # still the arrival in the ED.
    changes, _ = folded(
        sent("A04", "M1", f"EVN|A04|{ARRIVED}||||{ARRIVED}", visit("E", "EDMAJ^CUB1")),
        sent(
            "A01",
            "M2",
            "EVN|A01|20261123120500||||20261123120000",
            visit("I", "LGI^WARD7^B1", "EDMAJ^CUB1"),
        ),
    )
    assert reused(changes) == []
    (state,) = changes.states
    (attendance,) = state.attendances
    assert (attendance.departed_at or "").startswith("2026-11-23T12:00")
    assert attendance.outcome == "admitted"
    (stay,) = state.stays
    assert stay.service == "lth-wards" and stay.started_at.startswith("2026-11-23T12:00")


def test_an_a04_then_an_a06_ends_the_attendance_and_admits_once() -> None:
    changes, _ = folded(
        sent("A04", "M1", f"EVN|A04|{ARRIVED}||||{ARRIVED}", visit("E", "EDMAJ^CUB1")),
        sent(
            "A06",
            "M2",
            "EVN|A06|20261123120500||||20261123120000",
            visit("I", "LGI^WARD7^B1", "EDMAJ^CUB1"),
        ),
    )
    assert reused(changes) == []
    (state,) = changes.states
    assert [a.outcome for a in state.attendances] == ["admitted"]
    assert [s.service for s in state.stays] == ["lth-wards"]


@pytest.mark.parametrize("prior", ["", "EDMAJ^CUB1"], ids=["no PV1-6", "PV1-6 the ED"])
def test_an_a06_while_still_in_the_ed_admits_when_the_patient_leaves_it(prior: str) -> None:
    # HL7 v2.5 3.3.6: PV1-6 names a prior location only when it differs; a patient admitted while
    # waiting in the ED for a bed stays in the department, and the four hours run until they
    # leave it: the A02 to the ward ends the attendance and admits.
    changes, outcomes = folded(
        sent("A04", "M1", f"EVN|A04|{ARRIVED}||||{ARRIVED}", visit("E", "EDMAJ^CUB1")),
        sent(
            "A06", "M2", "EVN|A06|20261123100500||||20261123100000", visit("I", "EDMAJ^CUB1", prior)
        ),
        sent(
            "A02",
            "M3",
            "EVN|A02|20261123130500||||20261123130000",
            visit("I", "LGI^WARD7^B1", "EDMAJ^CUB1"),
        ),
    )
    assert [outcome.ack for outcome in outcomes] == ["AA", "AA", "AA"]
    assert outcomes[1].events == []
    (state,) = changes.states
    (attendance,) = state.attendances
    assert (attendance.departed_at or "").startswith("2026-11-23T13:00")
    assert attendance.outcome == "admitted"
    assert [stay.service for stay in state.stays] == ["lth-wards"]
    assert list(state.in_services) == ["lth-wards"]


def test_an_a03_sent_again_with_another_evn6_is_the_same_discharge() -> None:
    # Real feeds send EVN-6 != PV1-45; a PAS that sends the A03 again restamps EVN-6.
    admitted = sent("A01", "M1", f"EVN|A01|{ARRIVED}||||{ARRIVED}", visit("I", "LGI^WARD7^B1"))
    discharged = {"discharged": "20261123150000", "destination": "19"}
    first = sent(
        "A03",
        "M2",
        "EVN|A03|20261123150500||||20261123150200",
        visit("I", "LGI^WARD7", **discharged),
    )
    again = sent(
        "A03",
        "M3",
        "EVN|A03|20261123160500||||20261123160000",
        visit("I", "LGI^WARD7", **discharged),
    )
    changes, _ = folded(admitted, first, again)
    assert reused(changes) == []
    (state,) = changes.states
    (stay,) = state.stays
    assert (stay.ended_at or "").startswith("2026-11-23T15:00")  # PV1-45, as the id says


def test_an_a03_restating_the_discharge_with_another_destination_is_refused() -> None:
    # Same visit, same PV1-45, another PV1-37: the first discharge stays and the sender is told.
    admitted = sent("A01", "M1", f"EVN|A01|{ARRIVED}||||{ARRIVED}", visit("I", "LGI^WARD7^B1"))
    home = {"discharged": "20261123150000", "destination": "19"}
    care_home = home | {"destination": "54"}
    changes, _ = folded(
        admitted,
        sent("A03", "M2", "EVN|A03|20261123150500", visit("I", "LGI^WARD7", **home)),
        sent("A03", "M3", "EVN|A03|20261123160500", visit("I", "LGI^WARD7", **care_home)),
    )
    (message,) = reused(changes)
    assert "destination" in message
    assert changes.states[0].stays[0].destination == "usual_residence"


def test_an_ed_patient_sent_to_a_fracture_clinic_is_discharged_not_admitted() -> None:
    changes, outcomes = folded(
        sent("A04", "M1", f"EVN|A04|{ARRIVED}||||{ARRIVED}", visit("E", "EDMAJ^CUB1")),
        sent(
            "A02",
            "M2",
            "EVN|A02|20261123100500||||20261123100000",
            visit("O", "FRACTURE^CLINIC1", "EDMAJ^CUB1"),
        ),
    )
    assert [e["event_type"] for e in outcomes[1].events] == ["attendance"]
    (state,) = changes.states
    (attendance,) = state.attendances
    assert attendance.outcome == "discharged"
    assert (attendance.departed_at or "").startswith("2026-11-23T10:00")
    assert state.stays == [] and state.in_services == {}


def test_the_whole_sample_corpus_folds_without_an_event_id_reused() -> None:
    """Every public sample (tests/conformance/corpus), as one feed in name order, then the real
    ADT sequence of tests/integration/test_hl7_real_sequence.py: each sample's events once."""
    expected = yaml.safe_load((CORPUS.parent.parent / "expected_hl7.yaml").read_text("utf-8"))
    samples = [(CORPUS / name).read_bytes() for name in sorted(expected)]
    changes, outcomes = folded(*samples, profile=default_profile("RR8", "lth-wards"))
    assert sum(len(o.events) for o in outcomes) >= 15
    assert reused(changes) == []

    now = datetime.now(UTC).replace(microsecond=0)
    arrived, admitted = now - timedelta(hours=6), now - timedelta(hours=1)
    wrongly, discharged = now - timedelta(minutes=30), now - timedelta(minutes=10)
    t, ward8 = hl7_time, "LGI^WARD8^B5"
    sequence = [  # the messages of test_an_ed_visit_admitted_moved_and_discharged_gives_...
        adt("A04", "M1", at=arrived, pv1=pv1("E", "EDMAJ^CUB1", admit=t(arrived))),
        adt("A06", "M2", at=admitted, pv1=pv1("I", "LGI^WARD7^B1", "EDMAJ^CUB1", t(arrived))),
        adt(
            "A02",
            "M3",
            at=admitted + timedelta(minutes=10),
            pv1=pv1("I", "LGI^WARD8^B2", "LGI^WARD7^B1", t(arrived)),
        ),
        adt(
            "A02",
            "M4",
            at=admitted + timedelta(minutes=20),
            pv1=pv1("I", ward8, "LGI^WARD8^B2", t(arrived)),
        ),
        adt(
            "A03",
            "M5",
            at=wrongly,
            evn6=t(wrongly - timedelta(minutes=2)),
            pv1=pv1("I", ward8, admit=t(arrived), discharge=t(wrongly)),
        ),
        adt(
            "A13",
            "M6",
            at=wrongly + timedelta(minutes=5),
            pv1=pv1("I", ward8, admit=t(arrived), discharge=t(wrongly)),
        ),
        adt("A04", "M7", at=wrongly, visit="V-2", pv1=pv1("E", "EDMAJ", admit=t(wrongly))),
        adt(
            "A11",
            "M8",
            at=wrongly + timedelta(minutes=1),
            visit="V-2",
            pv1=pv1("E", "EDMAJ", admit=t(wrongly)),
        ),
        adt(
            "A03",
            "M9",
            at=discharged,
            pv1=pv1("I", ward8, admit=t(arrived), discharge=t(discharged)),
        ),
    ]
    profile = MappingProfile.model_validate(yaml.safe_load(REAL_SEQUENCE_PROFILE))
    changes, _ = folded(*sequence, *sequence, profile=profile)  # and each message resent
    assert reused(changes) == []
