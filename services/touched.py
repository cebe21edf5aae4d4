"""Which days' figures a change to patients' facts touches, so only those are recomputed.

A fact that changed counts on the days of its moments, old and new (the sink marks each
service from the earliest such day to today). A fact that only *closed* (a discharge, a
decision, a departure, a completion: a closing moment set or moved, with the fields that come
with it) counts only on the days of its closing moments: every figure reads those fields of a
fact closed in the period counted, and a day before the closing moment saw the fact open either
way (`services.kpis`, `services.flow_figures`). A stay discharged after a year in a care home
no longer makes the next refresh recompute the year.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from flowsight.services.facts import london_day
from flowsight.services.journey import JourneyState


@dataclass(frozen=True, slots=True)
class _Kind:
    """A kind of fact: where it lives on a JourneyState, its service, its moments, what names
    one fact across versions (its opening), its closing moments, and the fields figures read
    only of a fact closed in the period counted. A change beyond the closing moments and fields
    (an opening moved, a pathway corrected, a readmission found) counts on all its moments; a
    change only in fields no figure reads (`unread`, the caseload's) counts on none."""

    attribute: str
    service: str
    moments: tuple[str, ...]
    identity: tuple[str, ...]
    closing: tuple[str, ...]
    closing_fields: tuple[str, ...] = ()
    unread: tuple[str, ...] = ()


_KINDS = (
    _Kind(
        "stays",
        "service",
        ("started_at", "ended_at"),
        ("service", "started_at"),
        ("ended_at",),
        ("ended_by", "destination", "pathway", "nctr_days", "end_care_hours", "independent"),
        ("next_step", "reviewed_at"),  # what its criteria-to-reside reviews said, and when
    ),
    # A referral's status says which of its moments closes it (`kpis.waiting_at`).
    _Kind(
        "referrals",
        "to_service",
        ("referred_at", "accepted_at", "decided_at", "started_at"),
        ("to_service", "from_service", "referred_at"),
        ("decided_at", "started_at"),
        ("status",),
    ),
    _Kind(
        "attendances",
        "service",
        ("arrived_at", "departed_at"),
        ("service", "episode_id", "arrived_at"),
        ("departed_at",),
        ("outcome",),
    ),
    _Kind(
        "assessments",
        "service",
        ("opened_at", "completed_at"),
        ("service", "kind", "opened_at"),
        ("completed_at",),
    ),
    _Kind(
        "delays", "service", ("started_at", "ended_at"), ("service", "started_at"), ("ended_at",)
    ),
)


def changed_days(
    before: Sequence[JourneyState], after: Sequence[JourneyState]
) -> set[tuple[str, date]]:
    """(service, day) pairs whose figures the change from `before` to `after` (the same
    patients in the same order) may have changed."""
    touched: set[tuple[str, date]] = set()
    for was, state in zip(before, after, strict=True):
        for kind in _KINDS:
            gone, new = _differing(getattr(was, kind.attribute), getattr(state, kind.attribute))
            for old, fact in _paired(gone, new, kind.identity):
                if _only_unread(kind, old, fact):
                    continue
                names = kind.closing if _only_closed(kind, old, fact) else kind.moments
                for version in (old, fact):
                    if version is None:
                        continue
                    for name in names:
                        moment = getattr(version, name)
                        if moment:
                            touched.add((getattr(version, kind.service), london_day(moment)))
    return touched


def _differing(was: list[Any], now: list[Any]) -> tuple[list[Any], list[Any]]:
    """The facts of `was` not in `now`, and those of `now` not in `was`."""
    remaining = list(now)
    gone = []
    for fact in was:
        if fact in remaining:
            remaining.remove(fact)
        else:
            gone.append(fact)
    return gone, remaining


def _paired(
    gone: list[Any], new: list[Any], identity: tuple[str, ...]
) -> Iterator[tuple[Any | None, Any | None]]:
    """Each changed fact as (old version, new version): paired when exactly one of each has
    the same identity; otherwise alone, with None for the missing version."""

    def key(fact: Any) -> tuple[Any, ...]:
        return tuple(getattr(fact, name) for name in identity)

    olds: dict[tuple[Any, ...], list[Any]] = {}
    for fact in gone:
        olds.setdefault(key(fact), []).append(fact)
    news: dict[tuple[Any, ...], list[Any]] = {}
    for fact in new:
        news.setdefault(key(fact), []).append(fact)
    for name in olds.keys() | news.keys():
        old, fresh = olds.get(name, []), news.get(name, [])
        if len(old) == 1 and len(fresh) == 1:
            yield old[0], fresh[0]
        else:
            yield from ((fact, None) for fact in old)
            yield from ((None, fact) for fact in fresh)


def _only_unread(kind: _Kind, old: Any, new: Any) -> bool:
    """Whether `old` became `new` by a change no figure reads."""
    if old is None or new is None or not kind.unread:
        return False
    return all(
        getattr(old, name) == getattr(new, name)
        for name in old.__slots__
        if name not in kind.unread
    )


def _only_closed(kind: _Kind, old: Any, new: Any) -> bool:
    """Whether `old` became `new` by closing: only closing moments and closing fields differ,
    and a closing moment is set in one of them (closing fields changed on a fact open in both
    count as any change)."""
    if old is None or new is None:
        return False
    allowed = set(kind.closing) | set(kind.closing_fields) | set(kind.unread)
    differing = {name for name in old.__slots__ if getattr(old, name) != getattr(new, name)}
    return differing <= allowed and any(
        getattr(version, name) for version in (old, new) for name in kind.closing
    )
