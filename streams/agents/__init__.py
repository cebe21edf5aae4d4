"""The worker's agents: each reads a topic, calls the domain, writes what changed."""

import time
from collections.abc import AsyncIterator, Callable, Sequence

from faust.types import TP, EventT, StreamT

#: An agent's function, as `app.agent(...)` takes it: it yields once per event or batch handled.
Agent = Callable[[StreamT[bytes]], AsyncIterator[None]]


class Backlog:
    """Whether the agents are behind: an agent is behind when, after the batch it took, at
    least another full batch of events waited on its topics. The refresh gives way to the
    batches while any agent is (`tasks/refresh.py`).

    `highwater(tp)` is the next offset of a partition as the consumer last fetched it (None
    when not known). A batch's size alone is no guide: the validator's batches are cut by its
    fetches long before they fill, backlog or not.
    """

    #: How long after the last batch of history the worker still counts as replaying it.
    REPLAY_SECONDS = 30.0

    def __init__(
        self, highwater: Callable[[TP], int | None], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._highwater = highwater
        self._behind: dict[str, bool] = {}
        self._clock = clock
        self._replayed_at: float | None = None  # when the tracker last took a batch of history

    def batch(self, agent: str, batch: Sequence[EventT[bytes]], most: int) -> None:
        """`agent` took `batch`, of at most `most` events."""
        last: dict[TP, int] = {}
        for event in batch:
            last[event.message.tp] = event.message.offset
        waiting = 0
        for tp, offset in last.items():
            highwater = self._highwater(tp)
            if highwater is not None:
                waiting += max(0, highwater - offset - 1)
        self._behind[agent] = waiting >= most

    @property
    def behind(self) -> bool:
        return any(self._behind.values())

    def history(self, replayed: bool) -> None:
        """The tracker took a batch that was mostly history (`replayed`: events that happened
        long before now), or one that was not."""
        self._replayed_at = self._clock() if replayed else None

    @property
    def replaying(self) -> bool:
        """Whether the worker is taking in history: a census or a past being published at a
        pace it keeps up with (no backlog on its topics), or a feed sending a day's events
        late. The state is then part-built: scored as it comes, a service rose and alerted on
        a queue that only the rest of its history would empty (`streams.pressure.CatchingUp`)."""
        at = self._replayed_at
        return at is not None and self._clock() - at < self.REPLAY_SECONDS
