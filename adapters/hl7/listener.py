"""HL7 v2 over MLLP: a TCP listener that acknowledges each ADT message only once Kafka has it.

This module is the connection side: accepting, limiting and closing connections, cutting
frames (`framing.MllpFramer`; why not python-hl7's `hl7.mllp`: see that module) and writing the
replies. What each message becomes, and which ACK it earns, is `handler.AdtHandler`'s.

Messages on one connection are handled in order, one at a time; a frame's messages yield to
other connections between them. Hostile senders are bounded by `limits.ConnectionLimits`
(addresses, a cap in all and one per address, an idle timeout, TLS) and the parser (known
character sets, a separator budget). Logs name a connection by its peer address, never a
message's value.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import Counter
from typing import Any

from prometheus_client import CollectorRegistry

from flowsight.adapters.hl7.fields import LocationMap
from flowsight.adapters.hl7.framing import (
    DEFAULT_MAX_MESSAGE_BYTES,
    Discarded,
    MllpFramer,
    frame,
)
from flowsight.adapters.hl7.handler import AdtHandler
from flowsight.adapters.hl7.limits import ACCEPT_BACKLOG, ConnectionLimits, peer_address
from flowsight.adapters.hl7.metrics import ListenerMetrics
from flowsight.adapters.kafka.producer import GatewayPublisher
from flowsight.adapters.profile import MappingProfile
from flowsight.services.validation import ValidationContext
from flowsight.settings import Settings

logger = logging.getLogger("flowsight.hl7")


class MllpListener:
    """An asyncio TCP server taking HL7 v2 ADT over MLLP for one organisation."""

    def __init__(
        self,
        settings: Settings,
        publisher: GatewayPublisher,
        context: ValidationContext,
        organisation: str,
        host: str,
        port: int,
        *,
        locations: LocationMap | None = None,
        profile: MappingProfile | None = None,
        registry: CollectorRegistry | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        publish_timeout: float = 20.0,
        processing_ids: frozenset[str] | None = None,
        application: str = "FLOWSIGHT",
        limits: ConnectionLimits | None = None,
    ) -> None:
        self.settings = settings
        self.organisation = organisation
        self.host = host
        self.requested_port = port
        self.max_message_bytes = max_message_bytes
        self.limits = limits or ConnectionLimits()
        self.metrics = ListenerMetrics(registry if registry is not None else CollectorRegistry())
        self.handler = AdtHandler(
            publisher,
            context,
            organisation,
            profile or (locations or LocationMap()).profile(organisation),
            self.metrics,
            max_message_bytes=max_message_bytes,
            publish_timeout=publish_timeout,
            processing_ids=processing_ids,
            application=application,
        )
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: set[asyncio.Task[None]] = set()
        self._open_from: Counter[str] = Counter()  # open connections by peer address
        self._stopping = False

    async def start(self) -> None:
        """Listen on host:port (port 0 picks a free one; see `port`)."""
        self._server = await asyncio.start_server(
            self._serve, self.host, self.requested_port, backlog=ACCEPT_BACKLOG
        )

    @property
    def port(self) -> int:
        """The port actually listened on."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("MllpListener.start() was not called")
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting; let messages in hand finish (up to `grace` s), then close."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for task in self._tasks - self._busy:
            task.cancel()
        if self._busy:
            await asyncio.wait(self._busy, timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def _refused(self, writer: asyncio.StreamWriter, peer: Any, address: str) -> bool:
        """Close at once a connection from an address not allowed, or over a cap: the listener's,
        or its address's own (so that one sender cannot shut the others out)."""
        why = "" if self.limits.permits(address) else "not_allowed"
        if not why and len(self._tasks) >= self.limits.max_connections:
            why = "over_cap"
        if not why and self._open_from[address] >= self.limits.max_connections_per_address:
            why = "over_address_cap"
        if why:
            self.metrics.closed.labels(why).inc()
            logger.info("MLLP connection from %s refused: %s", peer, why)
            writer.transport.abort()
        return bool(why)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = writer.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        address = str(peer_address(host) or host)
        if self._refused(writer, peer, address):
            return
        self._tasks.add(task)
        self._open_from[address] += 1
        self.metrics.connections.inc()
        logger.info("MLLP connection from %s", peer)
        framer = MllpFramer(self.max_message_bytes)
        idle = self.limits.idle_timeout
        why = ""
        no_message = 0  # frames answered that held none
        try:
            if self.limits.tls is not None:
                why = "tls_failed"
                await writer.start_tls(self.limits.tls, ssl_handshake_timeout=min(idle, 60.0))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + idle  # moved on by whole frames, never by single bytes
            while not self._stopping:
                why = "idle"
                async with asyncio.timeout_at(deadline):
                    data = await reader.read(65536)
                if not data:
                    break
                self._busy.add(task)
                try:
                    found = framer.feed(data)
                    # Bytes that were no message (stray ones, frames broken off by a start byte)
                    # are counted once a read, however many pieces, and keep no connection open.
                    self.handler.count_discards(i for i in found if isinstance(i, Discarded))
                    for item in found:
                        if isinstance(item, Discarded):
                            continue
                        heard = False
                        # Each ACK written as its message is handled, never a frame's thousands
                        # held at once; a sender not reading them holds up only its own frame.
                        async with contextlib.aclosing(self.handler.replies(item)) as answers:
                            async for answer in answers:
                                heard = heard or answer.message
                                if not answer.ack:  # an ACK received is never answered
                                    continue
                                writer.write(frame(answer.ack))
                                why = "slow_reader"
                                await asyncio.wait_for(writer.drain(), idle)
                        # Answered, but a frame holding no message moves nothing on: an empty
                        # frame sent every few minutes held a place for ever.
                        if heard:
                            deadline = loop.time() + idle  # the sender's wait for us is not idle
                        else:
                            no_message += 1
                finally:
                    self._busy.discard(task)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # Cancelled by `stop` after its grace: the sender has no ACK, and sends again. Ended
            # here, not raised: asyncio's streams logged each such cancellation as an error.
            logger.info("MLLP connection from %s closed: the listener stops", peer)
        except OSError as error:  # TimeoutError and ssl.SSLError included
            limited = isinstance(error, TimeoutError | ssl.SSLError) or why == "tls_failed"
            if limited:
                self.metrics.closed.labels(why).inc()
            what = f"closed: {why}" if limited else "lost"
            logger.info("MLLP connection from %s %s (%s)", peer, what, type(error).__name__)
        finally:
            # However the connection ended (closed, idle, lost): a frame it never ended and bytes
            # outside any frame are counted, a slowloris's included.
            self.handler.count_discards(framer.finish())
            self._tasks.discard(task)
            self._open_from[address] -= 1
            if not self._open_from[address]:
                del self._open_from[address]  # one entry per address connected now, no more
            self.metrics.connections.dec()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            held = f", {no_message} frame(s) holding no message" if no_message else ""
            logger.info("MLLP connection from %s closed%s", peer, held)
