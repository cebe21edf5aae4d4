"""The character sets an HL7 v2 message may declare in MSH-18, and the Python codec of each.

Only the values of HL7 table 0211 (v2.5 and later) and the spellings senders use in practice are
known (any case, `_` as a space); any other is refused before a codec is looked up, so a message can never name a codec
that is slow (`punycode` is quadratic) or that changes text on the way (`idna`, `rot13`), or
that does not exist. Every codec here is one of CPython's C codecs, linear in the message size.
"""

from __future__ import annotations

import re

#: MSH-18 (upper case, as declared) → Python codec. Empty: none declared (UTF-8, else
#: Windows-1252, else Latin-1: `parse._undeclared`).
CHARACTER_SETS: dict[str, str] = {
    "": "",
    "ASCII": "ascii",
    **{f"8859/{part}": f"iso8859-{part}" for part in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13)},
    "8859/14": "iso8859-14",
    "8859/15": "iso8859-15",
    "ISO IR6": "ascii",
    "ISO IR14": "shift_jis",  # JIS X 0201 (katakana) in a Shift JIS stream
    "ISO IR87": "iso2022_jp",  # JIS X 0208, ISO 2022 escapes
    "ISO IR159": "iso2022_jp_1",  # JIS X 0212
    "ISO IR100": "iso8859-1",
    "ISO IR101": "iso8859-2",
    "ISO IR109": "iso8859-3",
    "ISO IR110": "iso8859-4",
    "ISO IR126": "iso8859-7",
    "ISO IR127": "iso8859-6",
    "ISO IR138": "iso8859-8",
    "ISO IR144": "iso8859-5",
    "ISO IR148": "iso8859-9",
    "ISO IR192": "utf-8",
    "GB 18030-2000": "gb18030",
    "KS X 1001": "euc_kr",
    "BIG-5": "big5",
    "CNS 11643-1992": "big5",  # Python has no CNS 11643 codec; Big5 is its common subset
    "UNICODE": "utf-8",  # v2.5 names no form; every sender seen means UTF-8
    "UNICODE UTF-8": "utf-8",  # (UTF-16 and UTF-32 are left out: their MSH is not ASCII bytes)
    # Not in table 0211, but sent in practice.
    "UTF-8": "utf-8",
    "UTF8": "utf-8",
    "ISO-8859-1": "iso8859-1",
    "ISO8859-1": "iso8859-1",
    "LATIN1": "iso8859-1",
    "WINDOWS-1252": "cp1252",
    "CP1252": "cp1252",
}


#: Other spellings of the ISO 8859 parts and ISO-IR registrations of the table (`ISO-8859-15`,
#: `ISO 8859/1`, `I8859/1`, `ISO_IR 100`, `ISO-IR-100`), read as the table's own value.
_ISO_8859 = re.compile(r"^(?:ISO|I)?[ -]?8859[-/ ]?(\d{1,2})$")
_ISO_IR = re.compile(r"^ISO[ -]?IR[ -]?(\d{1,3})$")


def codec_of(declared: str) -> str | None:
    """The Python codec of an MSH-18 value ('' when none is declared); None when unknown."""
    spelled = " ".join(declared.upper().replace("_", " ").split())
    if spelled in CHARACTER_SETS:
        return CHARACTER_SETS[spelled]
    if part := _ISO_8859.match(spelled):
        return CHARACTER_SETS.get(f"8859/{int(part[1])}")
    if registration := _ISO_IR.match(spelled):
        return CHARACTER_SETS.get(f"ISO IR{int(registration[1])}")
    return None


#: C0 and C1 control characters and DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: The digits of a hexadecimal escape: whole bytes, two digits each.
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
#: What the hl7 library reads as HL7 v2.5 2.7 defines it: a separator or the escape character
#: (2.7.4), hexadecimal digits (2.7.5: an odd number of them, `\X0\`, gives a control character,
#: which an identifier refuses), formatting commands with a number where they take one (2.7.6).
_READABLE = re.compile(r"[FSTRE]|X[0-9A-Fa-f]+|\.(?:br|sp|fi|nf|in|ti|sk|ce)(?:[+-]?\d+)?")
#: Highlighting on and off (2.7.3): how text is shown, no part of it. The library wrote `_`.
_HIGHLIGHTING = frozenset({"H", "N"})
#: What an escape flowsight cannot read becomes: SUB, a control character, which an identifier
#: refuses naming its field and contract text refuses too. The library deleted such an escape
#: (`\Z01\`, `\C2842\`, `\XZZ\`, `\\`), or what followed a lone escape character to the
#: end of the component (`RR8\123456` read as `RR8`: two patients merged), or failed on it
#: (`\.brx\`).
UNREADABLE = "\x1a"


def escapes_read(text: str, encoding: str) -> str:
    """`text`, an HL7 message's segments, with its escape sequences made what the hl7 library
    reads as the standard means them (HL7 v2.5 2.7).

    - With `encoding`, the message's character set, each hexadecimal escape (`\\XC3A9\\`) is read
      as the bytes it is in it: `é` in UTF-8. The library reads each byte as the character of
      that number, `Ã©`. What the bytes read as is put back escaped where it must be: a
      separator or the escape character as `\\F\\`, `\\S\\`, `\\R\\`, `\\T\\`, `\\E\\`, and a
      control character as a one-byte `\\X..\\`, which the library reads as that character, so
      an identifier holding one is still refused. Bytes that `encoding` cannot read, and an odd
      number of digits, are left to the library.
    - Highlighting (`\\H\\`, `\\N\\`) is dropped.
    - Any other escape, and an escape character with no sequence after it, is `UNREADABLE`.

    MSH-1 and MSH-2, which hold the escape character itself, are left as they are.
    """
    if not text.startswith("MSH") or len(text) < 8:
        return text
    field = text[3]
    delimiters = text[4:].split(field, 1)[0]  # MSH-2: component, repetition, escape, sub
    if len(delimiters) < 3:  # no escape character
        return text
    escape = delimiters[2]
    # What each separator and the escape character are written as (HL7 v2.5 2.7.4).
    escaped = {field: "F", delimiters[0]: "S", delimiters[1]: "R", escape: "E"}
    escaped |= {delimiters[3]: "T"} if len(delimiters) > 3 else {}
    body = "".join(re.escape(c) for c in {field, *delimiters[:4], "\r"})
    sequence = re.compile(f"{re.escape(escape)}([^{body}]*)({re.escape(escape)})?")
    unreadable = f"{escape}X{ord(UNREADABLE):02X}{escape}"

    def read(found: re.Match[str]) -> str:
        code = found[1]
        if found[2] is None:  # a lone escape character: what follows it is kept
            return unreadable + code
        if code in _HIGHLIGHTING:
            return ""
        if not _READABLE.fullmatch(code):
            return unreadable
        if not encoding or code[:1] != "X" or not _HEX.fullmatch(code[1:]):
            return found[0]
        try:
            value = bytes.fromhex(code[1:]).decode(encoding)
        except ValueError:
            return found[0]
        return "".join(
            f"{escape}{escaped[c]}{escape}"
            if c in escaped
            else f"{escape}X{ord(c):02X}{escape}"
            if _CONTROL.match(c)
            else c
            for c in value
        )

    head = len("MSH") + 1 + len(delimiters)
    return text[:head] + sequence.sub(read, text[head:])
