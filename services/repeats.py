"""An event id seen again: the same event delivered again, or another event under a reused id.

(`source`, `event_id`) is the idempotency key. The same event delivered again (a retry, Kafka's
at-least-once delivery, a replay, an event moved on to the NHS pseudonym) is absorbed as a
duplicate. Another event under an id already recorded (a sender whose numbering restarted, two
admissions numbered alike) is not: it is refused `event_id_reused` and the first event stays.

Two events are the same when what the sender said is the same, as the validator normalised it
(times in UTC, absent and null fields alike, the patient as a pseudonym), leaving out:

- what the pipeline adds or changes: `pseudonym` (the same patient may be named by a local id
  once and by the NHS number later), `moved_from` (`services/identities.py`) and `gateway`
  (`services/gateways.py`);
- what describes a delivery, not the event: `correlation_id`, which a sender may draw afresh for
  each attempt;
- a cancellation's `occurred_at`: a retraction is the same when it retracts the same event, and
  its time is when it was recorded, which gateways read from the message or their clock (HL7 EVN-2
  else MSH-7, FHIR `meta.lastUpdated` else now), so it can differ between two sendings.

Events that came through the FHIR gateway (`gateway` `fhir`, which only the validator sets, for a
record the gateway sealed) are snapshots: their ids name an Encounter's admission, transfers and
discharge, not a version of them, and each new version of the Encounter restates them, changed or
not. A changed restatement is absorbed, as docs/integration-http-fhir.md documents (a correction
is sent as `entered-in-error` and a new Encounter identifier). A publisher that names its system
`fhir` in `source` is not the gateway: its changed event is refused like any other.
"""

from __future__ import annotations

from typing import Any

from flowsight.services.gateways import GATEWAY
from flowsight.services.identities import MOVED_FROM

Event = dict[str, Any]

#: Fields left out when deciding whether two events with one id are the same event.
NOT_THE_EVENT = frozenset({"pseudonym", MOVED_FROM, GATEWAY, "correlation_id"})
#: And, for a cancellation, its time: when it was recorded, not what it retracts.
NOT_THE_CANCELLATION = NOT_THE_EVENT | {"occurred_at"}
#: The gateway whose events are snapshots, their ids naming an Encounter's events whatever its
#: version (`api/routers/fhir.py` GATEWAY).
SNAPSHOT_GATEWAY = "fhir"


def is_repeat(recorded: Event, event: Event) -> bool:
    """Whether `event`, with the source and event id of `recorded`, is `recorded` again."""
    return recorded == event or not differing_fields(recorded, event) or _snapshot(event)


def differing_fields(recorded: Event, event: Event) -> list[str]:
    """The fields, in name order, in which `event` says something else than `recorded`."""
    ignored = NOT_THE_CANCELLATION if event.get("event_type") == "cancellation" else NOT_THE_EVENT
    names = (recorded.keys() | event.keys()) - ignored
    return sorted(name for name in names if recorded.get(name) != event.get(name))


def _snapshot(event: Event) -> bool:
    return event.get(GATEWAY) == SNAPSHOT_GATEWAY
