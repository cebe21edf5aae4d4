"""The worker's agents: each reads a topic, calls the domain, writes what changed."""

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

    def __init__(self, highwater: Callable[[TP], int | None]) -> None:
        self._highwater = highwater
        self._behind: dict[str, bool] = {}

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
