"""Bounds on what one API process does at once for its callers: places, each held while the
costly thing runs. A returning stream client's Kafka reader, an open live stream, a weekly
report's computation: one caller with a valid key must not be able to open as many as it sends
requests and starve the process (docs/security.md, OWASP item 4)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterator


class NoPlace(Exception):
    """Every place is taken: `most` of them, the process's or (`by_holder`) one holder's."""

    def __init__(self, most: int, *, by_holder: bool) -> None:
        super().__init__(f"{most} places are taken" + (" by this holder" if by_holder else ""))
        self.most = most
        self.by_holder = by_holder


class Places:
    """At most `most` places held at once in one API process, and at most `each` by one holder
    (a caller's identity, as the audit log names it) when `each` is given."""

    def __init__(self, most: int, each: int | None = None) -> None:
        self.most = most
        self.each = each
        self.running = 0
        self.held: Counter[str] = Counter()
        self._waiting: deque[asyncio.Future[None]] = deque()

    @contextlib.contextmanager
    def place(self, holder: str | None = None) -> Iterator[None]:
        """A place for `holder` while the block runs; NoPlace at once if none is free."""
        self._take(holder)
        try:
            yield
        finally:
            self._give_back(holder)

    @contextlib.asynccontextmanager
    async def place_within(self, seconds: float, holder: str | None = None) -> AsyncIterator[None]:
        """`place`, waiting up to `seconds` for one to be given back, in the order asked."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (refusal := self._refusal(holder)) is not None:
            freed: asyncio.Future[None] = loop.create_future()
            self._waiting.append(freed)
            try:
                async with asyncio.timeout_at(deadline):
                    await freed
            except BaseException as leaving:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(freed)
                if freed.done() and not freed.cancelled():
                    self._wake_one()  # woken as it left: the place goes to the next waiter
                if isinstance(leaving, TimeoutError):
                    raise refusal from None
                raise
            if self.running < self.most and self._refusal(holder) is not None:
                self._wake_one()  # a place this holder may not take: the next waiter's
        with self.place(holder):
            yield

    def _refusal(self, holder: str | None) -> NoPlace | None:
        if self.running >= self.most:
            return NoPlace(self.most, by_holder=False)
        if holder is not None and self.each is not None and self.held[holder] >= self.each:
            return NoPlace(self.each, by_holder=True)
        return None

    def _take(self, holder: str | None) -> None:
        refusal = self._refusal(holder)
        if refusal is not None:
            raise refusal
        self.running += 1
        if holder is not None:
            self.held[holder] += 1

    def _give_back(self, holder: str | None) -> None:
        self.running -= 1
        if holder is not None:
            self.held[holder] -= 1
            if not self.held[holder]:
                del self.held[holder]  # a caller gone leaves nothing behind
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
