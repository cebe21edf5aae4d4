"""One rule for an NHS number's trace status, whichever gateway it came by."""

from __future__ import annotations

from flowsight.services.nhs_number_status import identity, untraced

LOCAL = {"local_id": "RR8123456", "id_system": "RR8"}


def test_a_number_not_traced_gives_way_to_the_local_id_and_alone_is_used_as_sent() -> None:
    why = untraced([("04", None)])

    assert why == "04, trace attempted, no match or multiple match found"
    assert identity("9434765919", LOCAL, why) == LOCAL
    assert identity("9434765919", None, why) == {"nhs_number": "9434765919"}


def test_a_traced_number_or_none_sent_keeps_both() -> None:
    assert untraced([("02", None), ("01", None)]) is None
    assert untraced([]) is None
    assert identity("9434765919", LOCAL, None) == {"nhs_number": "9434765919", **LOCAL}


def test_an_unknown_code_is_named_by_its_display() -> None:
    assert untraced([("99", "Pending")]) == "99, Pending"
