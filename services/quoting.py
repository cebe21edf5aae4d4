"""Text a caller or a sender chose, made safe for one log line: printable and short as it is,
else quoted (a newline or an escape sequence cannot start a forged line or repaint a terminal)
and cut. Pure."""

from __future__ import annotations

#: The most characters of caller-chosen text a log line keeps.
LOGGED_CHARS = 200


def quoted(text: str, limit: int = LOGGED_CHARS) -> str:
    """`text` as it is when at most `limit` characters and printable; else quoted and cut."""
    if len(text) <= limit and text.isprintable():
        return text
    shown = repr(text[:limit])
    return shown + (f" (cut from {len(text)} characters)" if len(text) > limit else "")
