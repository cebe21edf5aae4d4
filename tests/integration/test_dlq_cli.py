"""An integration engineer finds why an event was refused, fixes it and replays it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from flowsight.adapters.kafka.producer import EventPublisher
from tests.integration.feeds import NHS_NUMBER, event, pseudonym_of, publish, queue_entries
from tests.integration.stack import Stack, running_stack, stack_env

pytestmark = pytest.mark.integration


def flowsight(stack: Stack, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flowsight", *args],
        env={**stack.env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_list_show_and_replay_a_corrected_event(stack: Stack, tmp_path: Path) -> None:
    settings = stack.settings
    typo = event("referral", to_service="lcc-reablment", pathway="P1", status="new")
    asyncio.run(
        publish(settings.kafka_bootstrap, settings.ingest_topic("RR8"), json.dumps(typo).encode())
    )

    def listed() -> str | None:
        out = flowsight(stack, "dlq", "list")
        return out if "unknown_service" in out else None

    listing = stack.wait_until(
        listed,
        timeout=60,
        what="the refused referral in `flowsight dlq list`",
    )
    row = next(line for line in listing.splitlines() if "unknown_service" in line)
    position = row.split()[1] if row.split()[0] in "│|" else row.split()[0]
    assert "to_service" in row and settings.ingest_topic("RR8") in row

    shown = flowsight(stack, "dlq", "show", position)
    assert "error.reason: unknown_service" in shown
    assert "no service 'lcc-reablment' in the catalogue" in shown
    assert json.loads(shown[shown.index("{") :]) == typo, "the original event, byte for byte"

    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({**typo, "to_service": "lcc-reablement"}))
    assert "replayed" in flowsight(stack, "dlq", "replay", position, "--file", str(fixed))
    expected = pseudonym_of(NHS_NUMBER)
    stack.wait_until(
        lambda: [e for e in queue_entries(stack, "lcc-reablement") if e["pseudonym"] == expected],
        timeout=60,
        what="the replayed, corrected referral in the reablement queue",
    )


def test_a_refusal_dead_lettered_again_after_a_crash_is_listed_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A worker killed between dead-lettering a record and committing its offset dead-letters it
    again on restart: `flowsight dlq list` shows each original record once and counts the rest."""
    env = stack_env(kafka_bootstrap, f"sqlite+aiosqlite:///{tmp_path / 'rm.db'}", tmp_path)
    with running_stack(env, tmp_path) as stack:
        settings = stack.settings
        flowsight(stack, "topics", "create")
        refused = event("referral", to_service="lcc-reablment", pathway="P1", status="new")
        origin = [
            ("error.reason", b"unknown_service"),
            ("error.topic", settings.ingest_topic("RR8").encode()),
            ("error.partition", b"1"),
            ("error.offset", b"41"),
        ]
        # Two gateway refusals never were records (error.offset -1): two originals, not one.
        gateway = [("error.reason", b"malformed_json"), ("error.offset", b"-1")]

        async def dead_letter() -> None:
            async with EventPublisher(settings) as publisher:
                for headers in (origin, origin, origin, gateway, gateway):
                    await publisher.write(
                        settings.dlq_topic, json.dumps(refused).encode(), headers=headers
                    )

        asyncio.run(dead_letter())
        listing = flowsight(stack, "dlq", "list")
        assert listing.count("unknown_service") == 1, listing
        assert listing.count("malformed_json") == 2, listing
        assert "3 dead letter(s), one per original record; 2 raw duplicate(s)" in listing
