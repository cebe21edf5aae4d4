"""A dry run of the HL7 gateway over files: per message, the ACK, events or refusal, and warnings.

What `flowsight hl7 check` shows an integration team before a feed goes live. The same parsing,
mapping and contract validation as the listener, without Kafka. Cancels are matched against the
events of the messages checked before them, so a cancel that would find nothing is a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flowsight.adapters.hl7.ack import acknowledgement_code, in_hl7_terms
from flowsight.adapters.hl7.framing import (
    DEFAULT_MAX_MESSAGE_BYTES,
    START_BLOCK,
    TOO_LARGE,
    Frame,
    MllpFramer,
    too_large,
)
from flowsight.adapters.hl7.mapping import MESSAGE_REJECTIONS, Mapped, NoChange, map_message
from flowsight.adapters.hl7.parse import (
    Unparseable,
    control_id,
    message_trigger,
    parse_message,
    split_messages,
)
from flowsight.adapters.profile import MappingProfile
from flowsight.services.recorded import Journey, Recorded
from flowsight.services.validation import Rejected, ValidationContext, validate_document


@dataclass(slots=True)
class Outcome:
    """What the listener would do with one message."""

    ack: str  # AA, AE or AR: the outcome, as original mode answers it
    trigger: str = ""
    control_id: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    refusal: Rejected | None = None
    ignored: str = ""
    warnings: list[str] = field(default_factory=list)
    #: What the listener sends for it: `ack` in original mode; in enhanced mode (MSH-15, MSH-16)
    #: the accept acknowledgement (CA, CE, CR) or nothing (None), as `ack.acknowledgement_code`.
    answer: str | None = None

    def __post_init__(self) -> None:
        if self.answer is None:
            self.answer = self.ack


@dataclass(slots=True)
class Checker:
    """Checks messages in order as one source's feed, remembering the events they became."""

    organisation: str
    profile: MappingProfile
    context: ValidationContext
    processing_ids: frozenset[str] | None = None
    #: The tracker's lateness window (setting `lateness_window_days`).
    lateness: timedelta = timedelta(days=7)
    seen: set[str] = field(default_factory=set)
    #: Each patient's events as the tracker would record them, to say what it would refuse.
    journeys: dict[str, Journey] = field(default_factory=dict)

    def check_bytes(self, raw: bytes) -> list[Outcome]:
        """Every message in `raw` (a file or a frame), checked in order. A file captured off the
        wire, still in its MLLP frames (a start byte 0x0B first), is read frame by frame, as
        the listener reads it; what lies outside a frame is left out, as the listener does."""
        if raw.lstrip(b" \t\r\n").startswith(START_BLOCK):
            framer = MllpFramer(max(len(raw), 1))
            frames = [piece.payload for piece in framer.feed(raw) if isinstance(piece, Frame)]
            return [outcome for frame in frames for outcome in self.check_bytes(frame)]
        return [self.check_message(message) for message in split_messages(raw) or [raw]]

    def check_message(self, raw: bytes) -> Outcome:
        """One message: its ACK code and events, refusal or reason for changing nothing."""
        outcome, message = self._checked(raw)
        outcome.answer = acknowledgement_code(message, outcome.ack)
        return outcome

    def _checked(self, raw: bytes) -> tuple[Outcome, Any]:
        if len(raw) > DEFAULT_MAX_MESSAGE_BYTES:  # as the listener refuses it, by its default
            refusal = Rejected(TOO_LARGE, "", too_large(len(raw), DEFAULT_MAX_MESSAGE_BYTES))
            return Outcome("AR", refusal=refusal), None
        try:
            parsed = parse_message(raw)
        except Unparseable as unreadable:
            refusal = Rejected(unreadable.reason, unreadable.field, str(unreadable))
            rejected = unreadable.reason in MESSAGE_REJECTIONS  # else a field's bytes: AE
            return Outcome("AR" if rejected else "AE", refusal=refusal), None
        message = parsed.message
        outcome = Outcome("AA", message_trigger(message), control_id(message))
        front_door = self.context.departments_of(self.organisation)
        received = datetime.now(UTC)
        result = map_message(
            message,
            organisation=self.organisation,
            profile=self.profile,
            front_door=front_door,
            processing_ids=self.processing_ids,
            received=received,
        )
        if isinstance(result, Rejected):
            outcome.ack = "AR" if result.reason in MESSAGE_REJECTIONS else "AE"
            outcome.refusal = result
            return outcome, message
        outcome.warnings = [*parsed.warnings, *result.warnings]
        if isinstance(result, NoChange):
            outcome.ignored = result.why
            return outcome, message
        return self._validated(outcome, result, received), message

    def _validated(self, outcome: Outcome, result: Mapped, now: datetime) -> Outcome:
        recorded = []
        for event in result.events:
            verdict = validate_document(
                event, organisation=self.organisation, context=self.context, now=now
            )
            if isinstance(verdict, Rejected):
                outcome.ack, outcome.refusal = "AE", in_hl7_terms(verdict, event, result.times)
                return outcome
            recorded.append((verdict.key, verdict.event))
        for key, event in recorded:  # as the tracker records them, after the ACK's AA
            tracked = self.journeys.setdefault(key, Journey()).record(event, self.lateness)
            if tracked in _TRACKER_REFUSES:
                outcome.warnings.append(f"{event['event_id']}: {_TRACKER_REFUSES[tracked]}")
        targets = [e["cancels_event_id"] for e in result.events if "cancels_event_id" in e]
        if targets and not any(target in self.seen for target in targets):
            outcome.warnings.append(
                "the cancel matches no event of the messages checked before it: "
                + ", ".join(targets)
            )
        self.seen.update(event["event_id"] for event in result.events)
        outcome.events = result.events
        return outcome


#: What the tracker does with an event the ACK took (AA) but it refuses (to the dead letters).
_TRACKER_REFUSES = {
    Recorded.ID_REUSED: (
        "the tracker refuses it (event_id_reused): an earlier message gave this id to an event "
        "with other fields, and the first is kept; correct an admission by cancelling it (A11) "
        "and sending it again"
    ),
    Recorded.TOO_LATE: (
        "the tracker refuses it (too_late): it is older than the lateness window before the "
        "patient's newest event"
    ),
}
