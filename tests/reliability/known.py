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

#: Seen in 3 of 5 runs of ten kills on the loaded shared machine, before and after the validator
#: stopped failing its batches: not every run, so the test cannot be a strict xfail.
KILL = (
    "intermittent: some runs of ten kills end with read-model rows missing against the "
    "uninterrupted run (whole admissions, discharges; no agent crash logged), so a restarted "
    "worker skipped records it had fetched; not yet diagnosed"
)

#: The resume landed (api/routers/stream.py); a resumed stream does not send what the client that
#: reconnected got, in different ways from run to run: not a strict xfail.
STREAM_RESUME = (
    "clients reconnect after the restart and see no change twice, but a fresh stream opened with "
    "the Last-Event-ID of a client's first change sent nothing within 30 s in some runs, and in "
    "others changes with ids the client never saw, where the contract says every later change "
    "exactly once; not yet diagnosed"
)

#: Reasons by fault name, for the report.
KNOWN: dict[str, str] = {"poison-replay": POISON_REPLAY, "kill": KILL, "stream": STREAM_RESUME}
