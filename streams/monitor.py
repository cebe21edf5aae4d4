"""faust's monitor, without its bookkeeping of each record."""

from __future__ import annotations

from time import monotonic
from typing import Any

from faust.sensors.monitor import Monitor
from faust.types import TP


class QuietMonitor(Monitor):
    """faust's monitor keeps counts and timings of every record read, streamed and sent for
    its web views, which the worker does not serve (web_enabled=False); the worker's own
    metrics are in `WorkerMetrics`. This one skips that per-record work (several calls and
    clock readings a record); commits, rebalances and errors are still tracked."""

    def on_message_in(self, *args: Any) -> None:
        """Nothing kept per record."""

    def on_stream_event_in(self, tp: TP, *args: Any) -> None:
        """Only when `tp` last gave its stream an event (no state for `on_stream_event_out`):
        faust's consumer reads it to tell a stalled stream from a busy one. Without it, every
        partition with records waiting was logged as an error ("Stream has not started
        processing") every few seconds once the worker had run five minutes."""
        self.stream_inbound_time[tp] = monotonic()

    def on_stream_event_out(self, *args: Any, **kwargs: Any) -> None:
        """Nothing kept per event."""

    def on_message_out(self, *args: Any) -> None:
        """Nothing kept per record."""

    def on_table_get(self, *args: Any) -> None:
        """Nothing kept per key read."""

    def on_table_set(self, *args: Any) -> None:
        """Nothing kept per key written."""

    def on_send_initiated(self, *args: Any) -> None:
        """Nothing kept per record sent (no state for `on_send_completed`)."""

    def on_send_completed(self, *args: Any) -> None:
        """Nothing kept per record sent."""
