"""The broker stopped for 20 s mid-stream and restarted (a broker of the fault's own: stopping
the session's would break every other test): the worker and the producers resume and nothing is
lost; meanwhile the HTTP gateway answers 503 problem details, never 500, and the MLLP listener
refuses the message (CR, as the sender asks for accept acknowledgements) so that senders retry."""

from __future__ import annotations

import pytest

from flowsight.devtools.faults.outcome import Outcome

pytestmark = pytest.mark.integration


def test_a_broker_outage_loses_nothing_and_is_answered_503_and_ae_ar(
    faults: dict[str, Outcome],
) -> None:
    outcome = faults["broker"]
    assert outcome.injected == 1, outcome.summary()
    assert outcome.identical, outcome.summary()
    assert (outcome.lost, outcome.applied_twice) == (0, 0), outcome.summary()
    assert outcome.harmless, outcome.summary()
