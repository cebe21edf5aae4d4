"""Probing the broker quietly, without silencing aiokafka for the rest of the process."""

from __future__ import annotations

import logging

from flowsight.adapters.kafka.admin import quiet_aiokafka


def test_overlapping_quiet_probes_give_aiokafka_its_level_back_whatever_order_they_end() -> None:
    """Two `/readyz` requests probing at once, the first to start ending first: aiokafka's
    errors (a gateway's producer failing, say) are logged again once both are done."""
    aiokafka = logging.getLogger("aiokafka")
    aiokafka.setLevel(logging.WARNING)
    try:
        first, second = quiet_aiokafka(), quiet_aiokafka()
        first.__enter__()
        second.__enter__()
        assert aiokafka.level == logging.CRITICAL
        first.__exit__(None, None, None)
        assert aiokafka.level == logging.CRITICAL  # the second still probes
        second.__exit__(None, None, None)
        assert aiokafka.level == logging.WARNING
        assert logging.getLogger("aiokafka.producer.sender").isEnabledFor(logging.WARNING)
    finally:
        aiokafka.setLevel(logging.NOTSET)
