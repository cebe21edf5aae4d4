"""HL7 v2 over MLLP: a TCP listener that acknowledges each ADT message only once Kafka has it.

Per message: parse → map (`hl7_mapping`) → validate as the organisation's event → publish to its
ingest topic → ACK. The acknowledgement codes follow HL7 v2.5 (2.9.2, table 0008):

- `AA` once Kafka acknowledged the event, or for a trigger that changes nothing (A08, A28, A31).
- `AE` (error in the content: fix, then resend) for a message that maps or validates badly; it
  is dead-lettered with its original bytes.
- `AR` (rejected, unrelated to content) for bytes that are not HL7, an unsupported message
  type, trigger or processing id, a message over the size limit (all dead-lettered), and when
  Kafka did not acknowledge the event or the dead letter in time. The last case is temporary:
  the sender should resend, and the resend is absorbed downstream if the first write did land.

MLLP frames are `0x0B message 0x1C 0x0D`. Bytes outside a frame are skipped and counted; a frame
broken off by a new start byte or by the connection closing is counted and never acknowledged,
so the sender resends it. Messages on one connection are handled in order, one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import hl7
from prometheus_client import CollectorRegistry, Counter, Gauge

from flowsight.adapters.hl7.mapping import (
    MESSAGE_REJECTIONS,
    SUPPORTED_TRIGGERS,
    UNPARSEABLE,
    ErrorCode,
    LocationMap,
    Mapped,
    NoChange,
    Unparseable,
    control_id,
    hl7_field_of,
    map_message,
    message_trigger,
    parse_message,
)
from flowsight.adapters.kafka.producer import GatewayPublisher
from flowsight.services.validation import (
    UNPROCESSABLE,
    Rejected,
    ValidationContext,
    validate_document,
)
from flowsight.settings import Settings

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
GATEWAY = "hl7-mllp"
#: Under Kafka's default 1 MB record limit, so a refused message still fits on the DLQ.
DEFAULT_MAX_MESSAGE_BYTES = 512 * 1024
#: How much of an oversize message is kept to acknowledge and dead-letter it.
HEAD_BYTES = 8 * 1024
TOO_LARGE = "hl7_message_too_large"
_UNKNOWN_SENDER = "MSH|^~\\&|||||||ACK^||P|2.5"
_CODE_TEXT = {
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    201: "Unsupported event code",
    202: "Unsupported processing id",
    207: "Application internal error",
}

logger = logging.getLogger("flowsight.hl7")


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete MLLP frame's payload."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class Oversize:
    """A frame longer than the limit: its size and first bytes (the rest was dropped)."""

    size: int
    head: bytes


@dataclass(frozen=True, slots=True)
class Discarded:
    """Bytes outside any frame (`garbage`) or a frame that never ended (`incomplete`)."""

    kind: str
    size: int


class MllpFramer:
    """Splits a TCP byte stream into MLLP frames, whatever the read boundaries."""

    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes
        self._buffer = bytearray()
        self._in_frame = False
        self._scanned = 0  # bytes of the current frame already searched for an end block
        self._dropped = 0  # bytes of an oversize frame dropped so far
        self._head = b""
        self._garbage = 0

    def feed(self, data: bytes) -> list[Frame | Oversize | Discarded]:
        """Take the next bytes read; return the frames (and discards) they complete."""
        self._buffer += data
        found: list[Frame | Oversize | Discarded] = []
        while self._buffer:
            if not self._in_frame:
                start = self._buffer.find(START_BLOCK)
                if start < 0:
                    self._garbage += len(self._buffer)
                    self._buffer.clear()
                    break
                self._garbage += start
                if self._garbage:
                    found.append(Discarded("garbage", self._garbage))
                    self._garbage = 0
                del self._buffer[: start + 1]
                self._in_frame, self._scanned = True, 0
                continue
            end = self._buffer.find(END_BLOCK, self._scanned)
            restart = self._buffer.find(START_BLOCK, self._scanned)
            if restart >= 0 and (end < 0 or restart < end):
                # 0x0B never occurs inside HL7 text: the sender gave up and began again.
                found.append(Discarded("incomplete", self._dropped + restart))
                del self._buffer[:restart]
                self._in_frame, self._dropped, self._head = False, 0, b""
                continue
            if end < 0:
                self._scanned = max(len(self._buffer) - 1, 0)  # 0x1C may end this read
                if self._dropped or len(self._buffer) > self.max_message_bytes:
                    self._head = self._head or self._head_of(self._buffer)
                    self._dropped += self._scanned
                    del self._buffer[: self._scanned]
                    self._scanned = 0
                break
            size = self._dropped + end
            if size > self.max_message_bytes:
                found.append(Oversize(size, self._head or self._head_of(self._buffer)))
            else:
                found.append(Frame(bytes(self._buffer[:end])))
            del self._buffer[: end + len(END_BLOCK)]
            self._in_frame, self._scanned, self._dropped, self._head = False, 0, 0, b""
        return found

    def _head_of(self, data: bytearray) -> bytes:
        return bytes(data[: min(HEAD_BYTES, self.max_message_bytes)])

    def finish(self) -> list[Discarded]:
        """What is left when the connection closes: a frame that never ended, stray bytes."""
        left: list[Discarded] = []
        if self._in_frame:
            left.append(Discarded("incomplete", self._dropped + len(self._buffer)))
        if self._garbage:
            left.append(Discarded("garbage", self._garbage))
        self._buffer.clear()
        self._in_frame, self._garbage, self._dropped = False, 0, 0
        return left


def frame(payload: bytes) -> bytes:
    """`payload` in an MLLP frame."""
    return START_BLOCK + payload + END_BLOCK


@dataclass(frozen=True, slots=True)
class AckError:
    """What an AE or AR acknowledgement says went wrong (ERR segment)."""

    reason: str
    field: str
    message: str
    code: ErrorCode


def build_ack(
    source: Any, ack_code: str, *, application: str, facility: str, error: AckError | None = None
) -> Any:
    """An ACK (hl7.Message) for `source` (None when unreadable), with MSA and, on error, ERR."""
    header = source if source is not None else hl7.parse(_UNKNOWN_SENDER)
    msh = header.segment("MSH")
    sender = {n: str(msh(n)) if n < len(msh) else "" for n in (5, 6)}
    try:
        ack = header.create_ack(
            ack_code, application=sender[5] or application, facility=sender[6] or facility
        )
    except (TypeError, AttributeError, IndexError):
        # create_ack needs MSH-9 with components; answer a bare "ADT" in our own header.
        ack = hl7.parse(_UNKNOWN_SENDER).create_ack(
            ack_code, application=application, facility=facility
        )
        if source is not None:
            ack.segment("MSA").assign_field(ack.escape(control_id(source)), 2)
    # The library stamps MSH-7 in UTC without saying so; HL7 lets us say it.
    ack.segment("MSH").assign_field(datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000"), 7)
    if error is None:
        return ack
    ack.segment("MSA").assign_field(ack.escape(error.message[:80]), 3)
    err = ack.create_segment([ack.create_field(["ERR"])])
    for position, part in enumerate(_error_location(error.field), start=1):
        err.assign_field(part, 2, 1, position)
    err.assign_field(str(int(error.code)), 3, 1, 1)
    err.assign_field(_CODE_TEXT.get(int(error.code), ""), 3, 1, 2)
    err.assign_field("HL70357", 3, 1, 3)
    err.assign_field("E", 4)
    err.assign_field(ack.escape(error.reason), 5, 1, 1)
    err.assign_field(ack.escape(error.message), 8)
    ack.append(err)
    return ack


def _error_location(path: str) -> list[str]:
    """`PV1-3.1` as an ERL: segment, sequence, field, repetition, component."""
    if not path:
        return []
    segment, _, rest = path.partition("-")
    number, _, component = rest.partition(".")
    parts = [segment, "1"]
    if number:
        parts += [number, "1"] + ([component] if component else [])
    return parts


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
        registry: CollectorRegistry | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        publish_timeout: float = 20.0,
        processing_ids: frozenset[str] = frozenset({"P"}),
        application: str = "FLOWSIGHT",
    ) -> None:
        self.settings = settings
        self.publisher = publisher
        self.organisation = organisation
        self.host = host
        self.requested_port = port
        self.locations = locations or LocationMap()
        self.max_message_bytes = max_message_bytes
        self.publish_timeout = publish_timeout
        self.processing_ids = processing_ids
        self.application = application
        self.context = context
        registry = registry if registry is not None else CollectorRegistry()
        self.messages = Counter(
            "flowsight_hl7_messages",
            "HL7 v2 messages received over MLLP, by trigger and outcome",
            ["trigger", "outcome"],
            registry=registry,
        )
        self.framing_errors = Counter(
            "flowsight_hl7_framing_errors",
            "MLLP bytes that were not a whole message: garbage, incomplete, oversize",
            ["kind"],
            registry=registry,
        )
        self.connections = Gauge(
            "flowsight_hl7_connections", "Open MLLP connections", registry=registry
        )
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def start(self) -> None:
        """Listen on host:port (port 0 picks a free one; see `port`)."""
        # The hl7 library logs the text of fields it cannot unescape, which may identify a patient.
        for module in (hl7.util, hl7.containers):
            module.logger.setLevel(logging.CRITICAL)
        self._server = await asyncio.start_server(self._serve, self.host, self.requested_port)

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

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections.inc()
        peer = writer.get_extra_info("peername")
        logger.info("MLLP connection from %s", peer)
        framer = MllpFramer(self.max_message_bytes)
        try:
            while not self._stopping:
                data = await reader.read(65536)
                if not data:
                    break
                self._busy.add(task)
                try:
                    for item in framer.feed(data):
                        reply = await self._receive(item)
                        if reply is not None:
                            writer.write(frame(reply))
                            await writer.drain()
                finally:
                    self._busy.discard(task)
            for item in framer.finish():
                self._count_discard(item)
        except (ConnectionError, OSError) as error:
            logger.info("MLLP connection from %s lost: %s", peer, type(error).__name__)
        finally:
            self._tasks.discard(task)
            self.connections.dec()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            logger.info("MLLP connection from %s closed", peer)

    async def _receive(self, item: Frame | Oversize | Discarded) -> bytes | None:
        if isinstance(item, Discarded):
            self._count_discard(item)
            return None
        try:
            if isinstance(item, Oversize):
                return await self._too_large(item)
            return await self.acknowledge(item.payload)
        except Exception as error:  # a bug must cost one message, never the listener
            where = "".join(traceback.format_tb(error.__traceback__)[-3:])
            # The error's text may quote the message, so only its type and place are logged.
            logger.error("HL7 message failed with %s at\n%s", type(error).__name__, where)
            raw = item.payload if isinstance(item, Frame) else item.head
            return await self._refuse(
                raw,
                None,
                "other",
                AckError(UNPROCESSABLE, "", "internal error", ErrorCode.APPLICATION_INTERNAL_ERROR),
            )

    def _count_discard(self, item: Discarded) -> None:
        self.framing_errors.labels(item.kind).inc()
        logger.warning("MLLP: %d byte(s) %s, not acknowledged", item.size, item.kind)

    async def acknowledge(self, raw: bytes) -> bytes | None:
        """Handle one framed message end to end; the ACK's bytes (None: nothing to answer)."""
        try:
            parsed = parse_message(raw)
        except Unparseable as unreadable:
            code = ErrorCode.SEGMENT_SEQUENCE_ERROR
            return await self._refuse(
                raw, unreadable.header, "other", AckError(UNPARSEABLE, "", str(unreadable), code)
            )
        message, encoding = parsed.message, parsed.encoding
        trigger = message_trigger(message)
        label = _label(message)
        if str(message.extract_field("MSH", 1, 9, 1, 1, 1)).upper() == "ACK":
            # Acknowledgements are never acknowledged (that would loop); nothing to do with one.
            self.messages.labels(label, "ignored").inc()
            logger.warning("HL7 ACK %s received and ignored", control_id(message))
            return None
        result = map_message(
            message,
            organisation=self.organisation,
            locations=self.locations,
            processing_ids=self.processing_ids,
        )
        if isinstance(result, NoChange):
            self.messages.labels(label, "ignored").inc()
            logger.info("HL7 %s %s acknowledged: %s", trigger, control_id(message), result.why)
            return self._ack(message, encoding, "AA")
        if not isinstance(result, Mapped):
            error = AckError(result.reason, result.field, result.message, result.code)
            return await self._refuse(raw, message, label, error, encoding)
        event = result.event
        verdict = validate_document(
            event, organisation=self.organisation, context=self.context, now=datetime.now(UTC)
        )
        if isinstance(verdict, Rejected):
            error = _validation_error(verdict, event["event_type"])
            return await self._refuse(raw, message, label, error, encoding)
        try:
            await asyncio.wait_for(
                self.publisher.publish(self.organisation, [event]), self.publish_timeout
            )
        except Exception as failure:
            return self._unavailable(message, label, encoding, "the event", failure)
        self.messages.labels(label, "published").inc()
        logger.info("HL7 %s %s published as %s", trigger, control_id(message), event["event_type"])
        return self._ack(message, encoding, "AA")

    async def _refuse(
        self, raw: bytes, message: Any, label: str, error: AckError, encoding: str = "utf-8"
    ) -> bytes:
        """Dead-letter `raw` and answer AE or AR; AR if even the dead letter was not written."""
        control = control_id(message) if message is not None else ""
        try:
            await asyncio.wait_for(
                self.publisher.dead_letter(
                    raw,
                    organisation=self.organisation,
                    gateway=GATEWAY,
                    reason=error.reason,
                    field=error.field,
                    message=error.message,
                    key=control.encode() or None,
                ),
                self.publish_timeout,
            )
        except Exception as failure:
            return self._unavailable(message, label, encoding, "the refused message", failure)
        rejected = error.reason in MESSAGE_REJECTIONS or error.reason == TOO_LARGE
        self.messages.labels(label, "rejected" if rejected else "refused").inc()
        logger.warning(
            "HL7 %s %s refused (%s): %s at %s: %s",
            label,
            control,
            "AR" if rejected else "AE",
            error.reason,
            error.field or "-",
            error.message,
        )
        return self._ack(message, encoding, "AR" if rejected else "AE", error)

    def _unavailable(
        self, message: Any, label: str, encoding: str, what: str, failure: BaseException
    ) -> bytes:
        self.messages.labels(label, "unavailable").inc()
        logger.error(
            "HL7 %s %s: Kafka did not take %s (%s); answered AR so the sender resends",
            label,
            control_id(message) if message is not None else "",
            what,
            type(failure).__name__,
        )
        error = AckError(
            "kafka_unavailable",
            "",
            "the message could not be stored; send it again later",
            ErrorCode.APPLICATION_INTERNAL_ERROR,
        )
        return self._ack(message, encoding, "AR", error)

    async def _too_large(self, item: Oversize) -> bytes:
        try:
            header = parse_message(item.head).message
        except Unparseable as unreadable:
            header = unreadable.header
        limit = self.max_message_bytes
        error = AckError(
            TOO_LARGE,
            "",
            f"the message is {item.size} bytes, over the {limit}-byte limit; "
            f"the dead letter holds its first {len(item.head)} bytes",
            ErrorCode.APPLICATION_INTERNAL_ERROR,
        )
        self.framing_errors.labels("oversize").inc()
        return await self._refuse(item.head, header, _label(header), error)

    def _ack(self, message: Any, encoding: str, code: str, error: AckError | None = None) -> bytes:
        ack = build_ack(
            message,
            code,
            application=self.application,
            facility=self.organisation,
            error=error,
        )
        return str(ack).encode(encoding, errors="replace")


def _label(message: Any) -> str:
    """The trigger as a metric label: one of the supported triggers, else `other`."""
    trigger = message_trigger(message) if message is not None else ""
    return trigger if trigger in SUPPORTED_TRIGGERS else "other"


def _validation_error(verdict: Rejected, event_type: str) -> AckError:
    """A contract rejection, told in HL7 terms: the field it came from and an HL7 error code."""
    code = {
        "missing_field": ErrorCode.REQUIRED_FIELD_MISSING,
        "unknown_service": ErrorCode.TABLE_VALUE_NOT_FOUND,
        "service_not_owned": ErrorCode.TABLE_VALUE_NOT_FOUND,
    }.get(verdict.reason, ErrorCode.DATA_TYPE_ERROR)
    where = hl7_field_of(verdict.field, event_type)
    message = f"{verdict.field}: {verdict.message}" if verdict.field else verdict.message
    return AckError(verdict.reason, where, message, code)
