"""An event id seen again: the same event delivered again, a new issue of a cancelled event, or
another event under a reused id.

(`source`, `event_id`) is the idempotency key. The same sending delivered again (a retry, Kafka's
at-least-once delivery, a replay, an event moved on to the NHS pseudonym) is absorbed as a
duplicate, and so is the same event sent again in another message. Another event under an id
already recorded (a sender whose numbering restarted, two admissions numbered alike) is not: it
is refused `event_id_reused` and the first event stays.

Two events are the same when what the sender said is the same, as the validator normalised it
(times in UTC, absent and null fields alike, the patient as a pseudonym), leaving out:

- what the pipeline adds or changes: `pseudonym` (the same patient may be named by a local id
  once and by the NHS number later), `moved_from` (`services/identities.py`), `gateway`
  (`services/gateways.py`) and a cancellation's `reaches` (`services/cancellations.py`);
- what describes a delivery, not the event: `correlation_id`, which a sender may draw afresh for
  each attempt;
- what describes a sending: `recorded_at`, when the source recorded it (HL7 EVN-2, FHIR
  meta.lastUpdated), and a cancellation's `occurred_at`, when the retraction was recorded, which
  gateways read from the message or their clock (HL7 EVN-2 else MSH-7, FHIR `meta.lastUpdated`
  else now), so it can differ between two sendings.

**A new issue.** A source may send an event again after cancelling it, under the id it had: a
discharge keyed in, cancelled (A13), keyed in again at the same time (HL7 ids come from the
visit's times, PV1-45 here). An event under a recorded id whose `recorded_at` is later than a
cancellation in effect that retracts every issue recorded under it (`services/cancellations.py`)
is a new issue: recorded beside them, it takes effect again. The same sending delivered again,
even after the cancellation, carries its own `recorded_at` and is a duplicate, and a sending
recorded before the cancellation is retracted with it, so a replay of the topics folds to the
same state. Likewise a cancellation under a recorded id is a new issue when it comes after an
issue that none recorded under its id reaches (the discharge cancelled again). An event without
`recorded_at` is never a new issue: sent again after its cancellation, it stays retracted.

Events that came through the FHIR gateway (`gateway` `fhir`, which only the validator sets, for a
record the gateway sealed) are snapshots: their ids name an Encounter's admission, transfers and
discharge, not a version of them, and each new version of the Encounter restates them, changed or
not. A changed restatement is absorbed, as docs/integration-http-fhir.md documents. A publisher
that names its system `fhir` in `source` is not the gateway: its changed event is refused like any
other.
"""

from __future__ import annotations

from typing import Any

from flowsight.services.cancellations import REACHES, RECORDED_AT, in_effect, reach
from flowsight.services.gateways import GATEWAY
from flowsight.services.identities import MOVED_FROM

Event = dict[str, Any]

#: Fields that are not the sending: added by the pipeline, or describing one delivery of it.
NOT_THE_SENDING = frozenset({"pseudonym", MOVED_FROM, GATEWAY, REACHES, "correlation_id"})
#: Fields left out when deciding whether two events with one id are the same event.
NOT_THE_EVENT = NOT_THE_SENDING | {RECORDED_AT}
#: And, for a cancellation, its time: when it was recorded, not what it retracts.
NOT_THE_CANCELLATION = NOT_THE_EVENT | {"occurred_at"}
#: The gateway whose events are snapshots, their ids naming an Encounter's events whatever its
#: version (`api/routers/fhir.py` GATEWAY).
SNAPSHOT_GATEWAY = "fhir"


def is_repeat(recorded: Event, event: Event) -> bool:
    """Whether `event`, with the source and event id of `recorded`, is `recorded` again."""
    return recorded == event or not differing_fields(recorded, event) or _snapshot(event)


def same_sending(recorded: Event, event: Event) -> bool:
    """Whether `event` is the sending `recorded` delivered again: the same in everything the
    source sent, its `recorded_at` (and a cancellation's time) too."""
    return recorded == event or not _differing(recorded, event, NOT_THE_SENDING)


def differing_fields(recorded: Event, event: Event) -> list[str]:
    """The fields, in name order, in which `event` says something else than `recorded`."""
    ignored = NOT_THE_CANCELLATION if event.get("event_type") == "cancellation" else NOT_THE_EVENT
    return _differing(recorded, event, ignored)


def reissues(issues: list[Event], event: Event, journey: list[Event]) -> bool:
    """Whether `event` is a new issue of the events `issues` recorded under its source and id
    in `journey`: recorded after a cancellation in effect that retracts all of them, or, for a
    cancellation, come after an issue of the event it cancels that none of them reaches."""
    if event.get("event_type") == "cancellation":
        reached = max(reach(issue) for issue in issues)
        target = event["cancels_event_id"]
        return any(
            other["event_id"] == target
            and other["source"] == event["source"]
            and (other.get(RECORDED_AT) or "") > reached
            for other in journey
        )
    recorded = event.get(RECORDED_AT)
    if recorded is None:
        return False
    latest = max((issue.get(RECORDED_AT) or "" for issue in issues), default="")
    return any(
        latest <= reach(cancellation) < recorded
        for cancellation in in_effect(journey, event["source"], event["event_id"])
    )


def _differing(recorded: Event, event: Event, ignored: frozenset[str]) -> list[str]:
    names = (recorded.keys() | event.keys()) - ignored
    return sorted(name for name in names if recorded.get(name) != event.get(name))


def _snapshot(event: Event) -> bool:
    return event.get(GATEWAY) == SNAPSHOT_GATEWAY
