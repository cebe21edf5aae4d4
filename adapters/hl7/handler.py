"""One HL7 v2 ADT message in, its acknowledgement out: what the MLLP listener does with a frame.

Per message: parse → map (`mapping`) → validate as the organisation's event → publish to its
ingest topic → ACK (`ack`). The acknowledgement codes follow HL7 v2.5 (2.9.2, table 0008):

- `AA` once Kafka acknowledged the event, or for a trigger that changes nothing (A08, A28, A31).
- `AE` (error in the content: fix, then resend) for a message that maps or validates badly; it
  is dead-lettered with its original bytes.
- `AR` (rejected, unrelated to content) for bytes that are not HL7, an unsupported message
  type, trigger or processing id, a message over the size limit (all dead-lettered), and when
  Kafka did not acknowledge the event or the dead letter in time. The last case is temporary:
  the sender should resend, and the resend is absorbed downstream if the first write did land.

That is original mode (MSH-15 and MSH-16 empty). A message asking for enhanced mode (2.9.3)
gets the accept acknowledgement MSH-15 asks for, `CA`, `CE` or `CR` for the same cases, and
no application acknowledgement; or none at all (`ack.acknowledgement_code`).

A frame holding several messages (several MSH segments, or a FHS/BHS batch) is split: each
message is handled and acknowledged on its own, each ACK in its own frame, in order (no batch
acknowledgement: HL7 v2.5 2.10.3 leaves the batch protocol to agreement between sender and
receiver, and per-message ACKs need none).

A cancellation whose target this handler has not published since it started is counted in
`flowsight_hl7_unmatched_cancellations_total` and logged (it may predate the start); a message
published with warnings (a default used, a byte replaced) is logged with them, as a warning.
Logs name a refusal by reason, field and control id, never a value.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections import Counter, OrderedDict
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flowsight.adapters.hl7.ack import acknowledgement_code, build_ack, in_hl7_terms
from flowsight.adapters.hl7.framing import TOO_LARGE, Discarded, Frame, Oversize, too_large
from flowsight.adapters.hl7.mapping import (
    MESSAGE_REJECTIONS,
    SUPPORTED_TRIGGERS,
    Mapped,
    NoChange,
    map_message,
)
from flowsight.adapters.hl7.metrics import ListenerMetrics
from flowsight.adapters.hl7.parse import (
    NO_MSH_SEGMENT,
    UNPARSEABLE,
    Parsed,
    Unparseable,
    answered_in,
    control_id,
    header_of,
    message_trigger,
    parse_message,
    split_messages,
)
from flowsight.adapters.kafka.producer import GatewayPublisher
from flowsight.adapters.profile import MappingProfile
from flowsight.services.validation import (
    UNPROCESSABLE,
    Rejected,
    ValidationContext,
    validate_document,
)

GATEWAY = "hl7-mllp"
KAFKA_UNAVAILABLE = "kafka_unavailable"
#: The most of a control id (MSH-10, HL7's longest: 199 characters from v2.7) a dead letter is
#: keyed by: the sender writes it, and a 512 KiB message whose MSH-10 was most of it made a
#: record over Kafka's 1 MB limit, answered AR as if Kafka were down on every resend.
DEAD_LETTER_KEY_CHARS = 199

logger = logging.getLogger("flowsight.hl7")


@dataclass(frozen=True, slots=True)
class Answer:
    """What one message of a frame earned: the ACK to send back (empty: none, as for an ACK
    received), and whether it was a message at all, with an MSH segment a parser could read.
    Bytes that are none are answered too, but keep no connection from idling out."""

    ack: bytes
    message: bool


class AdtHandler:
    """Turns one organisation's framed ADT messages into published events and ACKs."""

    def __init__(
        self,
        publisher: GatewayPublisher,
        context: ValidationContext,
        organisation: str,
        profile: MappingProfile,
        metrics: ListenerMetrics,
        *,
        max_message_bytes: int,
        publish_timeout: float,
        processing_ids: frozenset[str] | None,
        application: str,
    ) -> None:
        self.publisher = publisher
        self.context = context
        self.organisation = organisation
        self.profile = profile
        self.metrics = metrics
        self.front_door = context.departments_of(organisation)
        self.max_message_bytes = max_message_bytes
        self.publish_timeout = publish_timeout
        self.processing_ids = processing_ids
        self.application = application
        self._published: OrderedDict[str, None] = OrderedDict()  # recent event ids, bounded

    async def replies(self, item: Frame | Oversize) -> AsyncGenerator[Answer, None]:
        """The answers to one frame cut from a connection's bytes, in order, each as its message
        is handled: a frame of 512 KiB may hold 50,000 messages, and their ACKs (12 MB) are not
        gathered until the last one."""
        messages = [item.head] if isinstance(item, Oversize) else split_messages(item.payload)
        for position, raw in enumerate(messages or [b""]):  # an empty frame is answered too
            if not raw:
                yield Answer(self._empty(), message=False)
            elif position == 0 and len(messages) > 1 and not raw.startswith(b"MSH"):
                # Bytes before the frame's first MSH are no message: dead-lettered as ever, but
                # not answered, or a sender that pairs one ACK with each message it sent would
                # take this AR for its message's and every later ACK for the one before.
                await self._guarded(item, raw)
            else:
                yield await self._guarded(item, raw)
            await asyncio.sleep(0)  # a frame of many messages must not hold the loop

    async def _guarded(self, item: Frame | Oversize, raw: bytes) -> Answer:
        try:
            if isinstance(item, Oversize):
                return await self._too_large(item)
            return await self.acknowledge(raw)
        except Exception as error:  # a bug must cost one message, never the listener
            where = "".join(traceback.format_tb(error.__traceback__)[-3:])
            # The error's text may quote the message, so only its type and place are logged.
            logger.error("HL7 message failed with %s at\n%s", type(error).__name__, where)
            internal = Rejected(UNPROCESSABLE, "", "internal error")
            # Our failure, not the sender's: its connection is kept as for a message, and the
            # answer names the message (MSA-2) when its MSH can be read, so the sender can match it.
            refused = await self._refuse(raw, header_of(raw), "other", internal)
            return Answer(refused, message=True)

    def _empty(self) -> bytes:
        """The AR for a frame with nothing in it, as for any bytes without an MSH segment; counted
        as a framing error (`empty`), neither dead-lettered nor logged: it holds nothing to fix
        or replay, and 64 KiB of empty frames (`0x0B 0x1C`) made 32,768 of each."""
        self.metrics.framing_errors.labels("empty").inc()
        return self._ack(None, "utf-8", "AR", Rejected(UNPARSEABLE, "", NO_MSH_SEGMENT))

    def count_discards(self, items: Iterable[Discarded]) -> None:
        """Count bytes that were no message (never acknowledged), each piece, and log them in a
        line for each kind: 64 KiB of start bytes alone is 65,535 frames broken off, and the
        sender does not choose how many lines of the log its bytes make."""
        pieces: Counter[str] = Counter()
        sizes: Counter[str] = Counter()
        for item in items:
            pieces[item.kind] += 1
            sizes[item.kind] += item.size
        for kind, count in pieces.items():
            self.metrics.framing_errors.labels(kind).inc(count)
            logger.warning(
                "MLLP: %d byte(s) %s in %d piece(s), not acknowledged", sizes[kind], kind, count
            )

    async def acknowledge(self, raw: bytes) -> Answer:
        """Handle one framed message end to end: its ACK, and whether it was a message at all."""
        try:
            parsed = parse_message(raw)
        except Unparseable as unreadable:
            error = Rejected(unreadable.reason, unreadable.field, str(unreadable))
            # In the character set the message declared: a Latin-1 sender reads its own
            # MSH-5 (our MSH-3) and MSH-10 back, not UTF-8 bytes undeclared.
            encoding = answered_in(unreadable.header)
            reply = await self._refuse(raw, unreadable.header, "other", error, encoding)
            return Answer(reply, message=unreadable.header is not None)
        return Answer(await self._handled(parsed, raw), message=True)

    async def _handled(self, parsed: Parsed, raw: bytes) -> bytes:
        """The ACK of a message that parsed (empty for an ACK received: none is sent back)."""
        message, encoding = parsed.message, parsed.encoding
        label = _label(message)
        if str(message.extract_field("MSH", 1, 9, 1, 1, 1)).upper() == "ACK":
            # Acknowledgements are never acknowledged (that would loop); nothing to do with one.
            self.metrics.messages.labels(label, "ignored").inc()
            logger.warning("HL7 ACK %s received and ignored", _shown(control_id(message)))
            return b""
        now = datetime.now(UTC)  # received: a cancel is timed no later (`retraction`)
        result = map_message(
            message,
            organisation=self.organisation,
            profile=self.profile,
            front_door=self.front_door,
            processing_ids=self.processing_ids,
            received=now,
        )
        if isinstance(result, NoChange):
            self.metrics.messages.labels(label, "ignored").inc()
            self.metrics.ignored.labels(result.kind).inc()
            shown = _shown(control_id(message))
            logger.info("HL7 %s %s acknowledged, nothing new: %s", label, shown, result.kind)
            return self._ack(message, encoding, "AA")
        if not isinstance(result, Mapped):
            return await self._refuse(raw, message, label, result, encoding)
        for event in result.events:
            verdict = validate_document(
                event, organisation=self.organisation, context=self.context, now=now
            )
            if isinstance(verdict, Rejected):
                error = in_hl7_terms(verdict, event, result.times)
                return await self._refuse(raw, message, label, error, encoding)
        try:
            await asyncio.wait_for(
                self.publisher.publish(self.organisation, result.events), self.publish_timeout
            )
        except Exception as failure:
            return self._unavailable(message, label, encoding, "the event", failure)
        self.metrics.messages.labels(label, "published").inc()
        self._remember(result.events, control_id(message))
        kinds = "+".join(event["event_type"] for event in result.events)
        warned = [*parsed.warnings, *result.warnings]  # fields and codes, no patient's values
        said = f" ({'; '.join(warned)})" if warned else ""
        log = logger.warning if said else logger.info
        log("HL7 %s %s published as %s%s", label, _shown(control_id(message)), kinds, said)
        return self._ack(message, encoding, "AA")

    def _remember(self, events: list[dict[str, Any]], control: str) -> None:
        """Keep recent event ids, and count a cancel none of whose targets is among them."""
        targets = [e["cancels_event_id"] for e in events if e["event_type"] == "cancellation"]
        if targets and not any(target in self._published for target in targets):
            self.metrics.unmatched_cancellations.inc()
            logger.warning("HL7 %s cancels an event not published since start-up", _shown(control))
        for event in events:
            self._published[event["event_id"]] = None
        while len(self._published) > 100_000:
            self._published.popitem(last=False)

    async def _refuse(
        self, raw: bytes, message: Any, label: str, error: Rejected, encoding: str = "utf-8"
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
                    key=control[:DEAD_LETTER_KEY_CHARS].encode() or None,
                ),
                self.publish_timeout,
            )
        except Exception as failure:
            return self._unavailable(message, label, encoding, "the refused message", failure)
        rejected = error.reason in MESSAGE_REJECTIONS or error.reason == TOO_LARGE
        self.metrics.messages.labels(label, "rejected" if rejected else "refused").inc()
        code = "AR" if rejected else "AE"
        # The reason and the field only: the message text may quote the field's value. The code
        # is the one the ACK carries (CE and CR in enhanced mode), or none when none is asked.
        logger.warning(
            "HL7 %s %s refused (%s): %s at %s",
            label,
            _shown(control),
            acknowledgement_code(message, code) or f"{code}, not sent",
            error.reason,
            error.field or "-",
        )
        return self._ack(message, encoding, code, error)

    def _unavailable(
        self, message: Any, label: str, encoding: str, what: str, failure: BaseException
    ) -> bytes:
        self.metrics.messages.labels(label, "unavailable").inc()
        logger.error(
            "HL7 %s %s: Kafka did not take %s (%s); answered AR so the sender resends",
            label,
            _shown(control_id(message) if message is not None else ""),
            what,
            type(failure).__name__,
        )
        error = Rejected(
            KAFKA_UNAVAILABLE, "", "the message could not be stored; send it again later"
        )
        return self._ack(message, encoding, "AR", error)

    async def _too_large(self, item: Oversize) -> Answer:
        try:
            header = parse_message(item.head).message
        except Unparseable as unreadable:
            header = unreadable.header
        limit = self.max_message_bytes
        error = Rejected(
            TOO_LARGE,
            "",
            f"{too_large(item.size, limit)}; the dead letter holds its first {len(item.head)} bytes",
        )
        self.metrics.framing_errors.labels("oversize").inc()
        reply = await self._refuse(item.head, header, _label(header), error)
        return Answer(reply, message=header is not None)

    def _ack(self, message: Any, encoding: str, code: str, error: Rejected | None = None) -> bytes:
        """The answer whose original-mode code is `code`, as the sender's MSH-15 and MSH-16 ask
        (`acknowledgement_code`): empty when they ask for none."""
        asked = acknowledgement_code(message, code)
        if asked is None:
            logger.info(
                "HL7 %s: %s not sent, as MSH-15/MSH-16 ask",
                _shown(control_id(message)),
                code,
            )
            return b""
        ack = build_ack(
            message,
            asked,
            application=self.application,
            facility=self.organisation,
            error=error,
            encoding=encoding,
        )
        return str(ack).encode(encoding, errors="replace")


def _shown(control: str) -> str:
    """A control id (MSH-10) fit for a log line: printable, at most 40 characters."""
    return "".join(c if c.isprintable() else "?" for c in control[:40])


def _label(message: Any) -> str:
    """The trigger as a metric label: one of the supported triggers, else `other`."""
    trigger = message_trigger(message) if message is not None else ""
    return trigger if trigger in SUPPORTED_TRIGGERS else "other"
