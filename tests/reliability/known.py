"""Why a fault's failing case is not fixed yet, for its strict xfail and its row in
docs/reliability.md (shared by the tests and the report; empty once fixed)."""

from __future__ import annotations

#: A record the fold records but cannot replay crashes the tracker agent: services/batch.py
#: replays each changed patient outside the per-event try, so the KeyError escapes apply_batch.
POISON_REPLAY = (
    "services/batch.apply_batch replays each changed patient after its per-event try: an event "
    "recorded but not replayable (an admission naming no service) raises out of the batch, "
    "the tracker agent crashes, its batch is lost and the record is never dead-lettered"
)

#: The stream's Last-Event-ID resume is being built (api/live.py, api/routers/stream.py).
STREAM_RESUME = (
    "`/v1/stream` events carry no `id:` yet, so a client reconnecting after the API restarted "
    "cannot resume with Last-Event-ID: it gets the current state again and misses the changes "
    "made while it was away"
)

#: Reasons by fault name, for the report.
KNOWN: dict[str, str] = {"poison-replay": POISON_REPLAY, "stream": STREAM_RESUME}
