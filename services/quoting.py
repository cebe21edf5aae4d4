"""Text a caller or a sender chose, made safe for one log line: printable and short as it is,
else quoted (a newline or an escape sequence cannot start a forged line or repaint a terminal)
and cut. Pure."""

from __future__ import annotations

#: The most characters of caller-chosen text a log line keeps.
LOGGED_CHARS = 200
#: The most characters of any one text an answer's problem document carries.
ANSWERED_CHARS = 1_000


def quoted(text: str, limit: int = LOGGED_CHARS) -> str:
    """`text` as it is when at most `limit` characters and printable; else quoted and cut."""
    if len(text) <= limit and text.isprintable():
        return text
    shown = repr(text[:limit])
    return shown + (f" (cut from {len(text)} characters)" if len(text) > limit else "")


def cut(text: str, limit: int = ANSWERED_CHARS) -> str:
    """`text` as it is when at most `limit` characters; else its start, and how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (cut from {len(text)} characters)"
