"""A real ADT sequence over MLLP, through Kafka and the worker, to the API's ED and ward figures.

A04 (ED arrival) → A06 (admitted from the ED) → A02 (to another ward) → A02 (bay move in that
ward) → A03 entered in error, then A13 with a blank EVN-6 → a second A04 entered in error, then
A11 → the real A03. One attendance, one admission, one transfer, nobody left in a bed or in the
department, and a four-hour breach (five hours in the ED).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowsight.services.facts import LONDON
from tests.integration.stack import Stack, free_port, listening
from tests.integration.test_hl7_mllp import ack_of, field, framed, hl7_time, send

pytestmark = pytest.mark.integration

PROFILE = """
organisation: RR8
default_service: lth-wards
locations:
  - point_of_care: "ED*"
    service: lth-ed
  - point_of_care: LGI
    service: lth-wards
    unit: room
"""


def adt(
    trigger: str, control: str, *, at: datetime, pv1: str, visit: str = "V-1", evn6: str = ""
) -> bytes:
    segments = [
        f"MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|{hl7_time(at)}||ADT^{trigger}|{control}|P|2.5",
        f"EVN|{trigger}|{hl7_time(at)}||||{evn6}",
        "PID|1||RR8123456^^^RR8^MR~9434765919^^^NHS^NH||O'Brien^Mary",
        pv1.replace("{visit}", visit),
    ]
    return "\r".join(segments).encode() + b"\r"


def pv1(cls: str, where: str, prior: str = "", admit: str = "", discharge: str = "") -> str:
    fields = [""] * 46
    fields[1], fields[2], fields[3], fields[6] = "1", cls, where, prior
    fields[19], fields[44], fields[45] = "{visit}", admit, discharge
    fields[36] = "1" if discharge else ""
    fields[37] = "19" if discharge else ""
    return "PV1|" + "|".join(fields[1:])


def start_listener(stack: Stack, tmp_path: Path) -> int:
    """RR8's MLLP listener with `PROFILE`, started and listening: its port."""
    profile = tmp_path / "RR8-pas.yaml"
    profile.write_text(PROFILE, encoding="utf-8")
    port = free_port()
    stack.start(
        "hl7", "listen", "--organisation", "RR8", "--port", str(port), "--profile", str(profile)
    )
    stack.wait_until(lambda: listening(port), timeout=60, what="the MLLP listener")
    return port


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_ed_visit_admitted_moved_and_discharged_gives_the_right_figures(
    stack: Stack, tmp_path: Path
) -> None:
    port = start_listener(stack, tmp_path)

    now = datetime.now(UTC).replace(microsecond=0)
    arrived, admitted = now - timedelta(hours=6), now - timedelta(hours=1)
    wrongly, discharged = now - timedelta(minutes=30), now - timedelta(minutes=10)
    t = hl7_time
    messages = [
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
            pv1=pv1("I", "LGI^WARD8^B5", "LGI^WARD8^B2", t(arrived)),
        ),
        adt(
            "A03",
            "M5",
            at=wrongly,
            evn6=t(wrongly - timedelta(minutes=2)),
            pv1=pv1("I", "LGI^WARD8^B5", admit=t(arrived), discharge=t(wrongly)),
        ),
        # The cancel's EVN-6 is blank: it finds the discharge by PV1-45, not by EVN-6.
        adt(
            "A13",
            "M6",
            at=wrongly + timedelta(minutes=5),
            pv1=pv1("I", "LGI^WARD8^B5", admit=t(arrived), discharge=t(wrongly)),
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
            pv1=pv1("I", "LGI^WARD8^B5", admit=t(arrived), discharge=t(discharged)),
        ),
    ]
    replies = asyncio.run(send(port, *map(framed, messages), acks=len(messages)))
    assert [field(ack_of(r), "MSA", 1) for r in replies] == ["AA"] * len(messages)

    def figures(service: str) -> dict[str, float]:
        """The service's figures summed over the days (Europe/London) the sequence fell on.

        Summed, not today's: run just after midnight, the arrival and the admission fall on
        yesterday and the discharge on today."""
        rows = stack.get(f"/v1/services/{service}/daily?days=3").json()["days"]
        days = {moment.astimezone(LONDON).date().isoformat() for moment in (arrived, now)}
        totals: dict[str, float] = {}
        for row in rows:
            if row["day"] in days:
                for name, value in row.items():
                    if isinstance(value, int | float):
                        totals[name] = totals.get(name, 0) + value
        return totals

    topics = [stack.settings.ingest_topic("RR8"), stack.settings.events_topic]
    stack.wait_until(
        lambda: all(stack.worker_metric("flowsight_consumer_lag", topic=t) == 0 for t in topics),
        timeout=90,
        what="the worker to commit the whole sequence (consumer lag 0)",
    )
    stack.wait_until(
        lambda: (
            figures("lth-ed").get("departures") == 1 and figures("lth-wards").get("discharged") == 1
        ),
        timeout=60,
        what="the sequence's departure and discharge in the daily figures",
    )
    ed, wards = figures("lth-ed"), figures("lth-wards")
    assert ed["attendances"] == 1, "the A11 cancelled the second arrival"
    assert ed["admissions_from_ed"] == 1
    assert ed["four_hour_breaches"] == 1, "five hours in the department"
    assert wards["starts"] == 1, "one admission: the ward move and bay move add none"
    assert wards["discharged"] == 1, "the discharge entered in error was cancelled"
    ed_now = stack.get("/v1/services/lth-ed").json()["current"]
    ward_now = stack.get("/v1/services/lth-wards").json()["current"]
    assert ed_now["queue_length"] == 0, "nobody left in the department"
    assert ward_now["in_service"] == 0 and ward_now["delayed_count"] == 0
