"""A source system's Kafka client may compress what it publishes: librdkafka (kcat, Confluent's
clients) and the Java client offer gzip, snappy, lz4 and zstd, and integration teams set one to
save bandwidth. Every codec is read, on real parts: kcat publishes, the worker folds, the API
answers. Without a codec's library the consumer cannot read the batch at all, and the partition
stops there (nothing after it is read either)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.debian import ensure_program
from tests.integration.feeds import event, nhs_numbers, pseudonym_of, queue_entries
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration
CODECS = ("gzip", "snappy", "lz4", "zstd")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the consumer's concern
def test_events_published_with_every_kafka_codec_are_read(stack: Stack) -> None:
    kcat = ensure_program("kcat", "kcat")  # Debian's package, installed if missing
    settings = stack.settings
    patients = dict(zip(CODECS, nhs_numbers(len(CODECS)), strict=True))
    for codec, nhs_number in patients.items():
        referral = event(
            "referral",
            to_service="lcc-reablement",
            status="new",
            patient={"nhs_number": nhs_number},
            episode_id=f"SPELL-{codec}",
        )
        subprocess.run(
            [kcat, "-P", "-b", settings.kafka_bootstrap, "-t", settings.ingest_topic("RR8"),
             "-z", codec, "-K", "\t"],
            input=f"{codec}\t{json.dumps(referral)}\n".encode(),
            check=True,
            timeout=60,
        )  # fmt: skip

    expected = {pseudonym_of(number): codec for codec, number in patients.items()}
    stack.wait_until(
        lambda: expected.keys() <= {e["pseudonym"] for e in queue_entries(stack, "lcc-reablement")},
        timeout=90,
        what="a referral published with each codec (" + ", ".join(CODECS) + ") in the queue",
    )
