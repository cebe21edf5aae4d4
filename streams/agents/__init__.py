"""The worker's agents: each reads a topic, calls the domain, writes what changed."""

from collections.abc import AsyncIterator, Callable

from faust.types import StreamT

#: An agent's function, as `app.agent(...)` takes it: it yields once per event or batch handled.
Agent = Callable[[StreamT[bytes]], AsyncIterator[None]]
