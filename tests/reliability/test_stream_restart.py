"""The API restarted while `/v1/stream` clients are connected: each reconnects, as EventSource
does, with `Last-Event-ID`, and must miss no change and see none twice; a fresh client resuming
after the first change a client saw is the reference for what that client should have got."""

from __future__ import annotations

import pytest

from flowsight.devtools.faults.outcome import Outcome

pytestmark = pytest.mark.integration


def test_stream_clients_miss_nothing_across_an_api_restart(faults: dict[str, Outcome]) -> None:
    outcome = faults["stream"]
    assert outcome.injected > 0, outcome.summary()
    assert (outcome.lost, outcome.applied_twice) == (0, 0), outcome.summary()
    assert outcome.harmless, outcome.summary()
