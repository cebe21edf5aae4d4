"""What the strict JSON reader refuses that Python's takes: a lone surrogate, in any encoding
`json.loads` reads (UTF-8, -16, -32)."""

from __future__ import annotations

import pytest

from flowsight.schemas.strict_json import LoneSurrogate, loads


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_a_lone_surrogate_is_refused_in_every_encoding_json_reads(encoding: str) -> None:
    with pytest.raises(LoneSurrogate):
        loads('{"display": "Ward \\udc00 12"}'.encode(encoding))
    # A pair escaped is one character, and an escaped backslash no escape at all.
    assert loads('{"a": "\\ud83d\\ude00"}'.encode(encoding)) == {"a": "\U0001f600"}
    assert loads('["\\\\udc00"]'.encode(encoding)) == ["\\udc00"]
