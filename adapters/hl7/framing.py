"""MLLP framing: a TCP byte stream split into `0x0B message 0x1C 0x0D` frames.

Bytes outside a frame are skipped and counted; a frame broken off by a new start byte or by the
connection closing is reported and never acknowledged, so the sender resends it; a frame over the
size limit is dropped as it streams in, keeping only its first bytes to acknowledge (AR) and
dead-letter it.

Why this framer and not python-hl7's `hl7.mllp` (`start_hl7_server`, `HL7StreamReader`, 0.4.5):
its `readblock()` is `StreamReader.readuntil(b"\\x1c\\x0d")` followed by a check that the block
starts with 0x0B, which, on the edge cases a hospital feed does produce, loses messages silently:

- **Bytes before a start block** (a stray LF or keep-alive between frames): the whole block,
  including the good message after the stray bytes, raises `InvalidBlockError` and is consumed;
  here the stray bytes are skipped (counted as `garbage`) and the message is taken.
- **A frame abandoned by a new start block** (a sender that gave up mid-message and began
  again): `readuntil` returns both as one block, `MSH|cut\\x0bMSH|whole`, so the resent message is
  parsed with the broken one glued in front; here the broken part is dropped (`incomplete`) and
  the resent message is taken whole.
- **A message over the limit**: `readuntil` raises `ValueError` and clears its buffer, keeping
  neither the size nor the first bytes, and the rest of the frame then arrives as a block without
  a start byte (`InvalidBlockError`). The sender gets no answer and resends forever; here the
  frame is dropped as it streams (memory stays bounded by the limit), and its size and first
  bytes are kept so the listener answers AR and dead-letters the head.
- **Counting**: each kind of discarded bytes is reported to the listener's
  `flowsight_hl7_framing_errors` metric; the library raises or drops without saying how much.
- Its `readmessage()` decodes every message of a connection with one fixed encoding (ASCII by
  default) before parsing; flowsight decodes each message by its own MSH-18.

- **An end block without its carriage return** (`0x1C` alone, which some interface engines
  send): a frame ends at `0x1C`, which never occurs in HL7 text, and the `0x0D` after it is
  taken when it comes, in the same read or the next; the library would wait for ever, and the
  sender would time out and resend the same message without end.

It was checked against 0.4.5 on these inputs (see tests/integration/test_hl7_mllp.py for ours).
"""

from __future__ import annotations

from dataclasses import dataclass

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
#: What ends a frame: the end block's first byte; its carriage return is taken if it follows.
FILE_SEPARATOR = b"\x1c"
#: Under Kafka's default 1 MB record limit, so a refused message still fits on the DLQ.
DEFAULT_MAX_MESSAGE_BYTES = 512 * 1024
#: The reason a message over the limit is refused with (AR).
TOO_LARGE = "hl7_message_too_large"


def too_large(size: int, limit: int) -> str:
    """What a refusal of a message of `size` bytes over `limit` says (the listener's and the
    dry run's alike)."""
    return f"the message is {size} bytes, over the {limit}-byte limit"


#: How much of an oversize message is kept to acknowledge and dead-letter it.
HEAD_BYTES = 8 * 1024


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
        self._carriage_due = False  # a frame ended at 0x1C as a read ended: 0x0D may follow

    def feed(self, data: bytes) -> list[Frame | Oversize | Discarded]:
        """Take the next bytes read; return the frames (and discards) they complete."""
        self._buffer += data
        if self._carriage_due and self._buffer:
            if self._buffer[:1] == b"\r":
                del self._buffer[:1]
            self._carriage_due = False
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
            end = self._buffer.find(FILE_SEPARATOR, self._scanned)
            restart = self._buffer.find(START_BLOCK, self._scanned)
            if restart >= 0 and (end < 0 or restart < end):
                # 0x0B never occurs inside HL7 text: the sender gave up and began again.
                found.append(Discarded("incomplete", self._dropped + restart))
                del self._buffer[:restart]
                self._in_frame, self._dropped, self._head = False, 0, b""
                continue
            if end < 0:
                self._scanned = len(self._buffer)
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
            after = end + 1
            if self._buffer[after : after + 1] == b"\r":
                after += 1
            else:
                self._carriage_due = after == len(self._buffer)
            del self._buffer[:after]
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
