"""An NHS number traced mid-spell, over MLLP, through Kafka and the worker, to the API.

The ED arrival and the admission name the patient by the PAS's MRN alone (the NHS number not
yet traced); the discharge names the MRN and the NHS number. Two identities, one patient: the
link the discharge carries moves the spell to the NHS number, and the bed is free again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowsight.services.facts import LONDON
from tests.integration.stack import Stack
from tests.integration.test_hl7_mllp import ack_of, field, framed, hl7_time, send
from tests.integration.test_hl7_real_sequence import pv1, start_listener

pytestmark = pytest.mark.integration

MRN_ONLY = "PID|1||RR8765432^^^RR8^MR||Okafor^Grace"
TRACED = "PID|1||RR8765432^^^RR8^MR~9434765919^^^NHS^NH||Okafor^Grace"


def adt(trigger: str, control: str, *, at: datetime, pid: str, pv1: str) -> bytes:
    segments = [
        f"MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|{hl7_time(at)}||ADT^{trigger}|{control}|P|2.5",
        f"EVN|{trigger}|{hl7_time(at)}",
        pid,
        pv1.replace("{visit}", "V-7"),
    ]
    return "\r".join(segments).encode() + b"\r"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_spell_begun_under_the_mrn_and_ended_under_the_nhs_number_frees_its_bed(
    stack: Stack, tmp_path: Path
) -> None:
    port = start_listener(stack, tmp_path)

    def wards() -> dict:
        return stack.get("/v1/services/lth-wards").json()

    now = datetime.now(UTC).replace(microsecond=0)
    arrived, admitted = now - timedelta(hours=3), now - timedelta(hours=2)
    t = hl7_time
    admission = [
        adt("A04", "T1", at=arrived, pid=MRN_ONLY, pv1=pv1("E", "EDMAJ^CUB1", admit=t(arrived))),
        adt(
            "A06",
            "T2",
            at=admitted,
            pid=MRN_ONLY,
            pv1=pv1("I", "LGI^WARD7^B1", "EDMAJ^CUB1", t(arrived)),
        ),
    ]
    replies = asyncio.run(send(port, *map(framed, admission), acks=2))
    assert [field(ack_of(r), "MSA", 1) for r in replies] == ["AA", "AA"]
    stack.wait_until(
        lambda: wards()["current"]["in_service"] == 1, timeout=90, what="the admission"
    )

    discharged = now - timedelta(minutes=5)
    discharge = adt(
        "A03",
        "T3",
        at=discharged,
        pid=TRACED,
        pv1=pv1("I", "LGI^WARD7^B1", admit=t(arrived), discharge=t(discharged)),
    )
    (reply,) = asyncio.run(send(port, framed(discharge), acks=1))
    assert field(ack_of(reply), "MSA", 1) == "AA"

    stack.wait_until(
        lambda: wards()["current"]["in_service"] == 0,
        timeout=90,
        what="the discharge under the NHS number to free the bed taken under the MRN",
    )
    if (
        admitted.astimezone(LONDON).date() == now.astimezone(LONDON).date()
    ):  # unless midnight fell in the last two hours
        # Today's figures follow the refresh after the discharge's batch, not the batch itself.
        def today() -> tuple[int, int]:
            figures = wards()["today"]
            return figures["starts"], figures["discharged"]

        stack.wait_until(
            lambda: today() == (1, 1),
            timeout=30,
            what="today's figures: one admission and one discharge, not one per identity",
        )
    ed = stack.get("/v1/services/lth-ed").json()
    assert ed["current"]["queue_length"] == 0, "nobody left in the department"
