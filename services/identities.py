"""One patient under two identities: a source's local id first, the NHS number later.

A source often knows a patient only by its own number (the MRN) when they arrive, and by their
NHS number once it is traced: an ED arrival or an admission carries the MRN alone, the discharge
both. The two identities give two pseudonyms (`services/pseudonym.py`), so without a link the
admission and the discharge land in two journeys and the patient holds a bed for ever.

An event that carries both identities links them. The validator sends a **link** record, keyed
by the local pseudonym, onto the events topic beside the event (once per process and pair). The
tracker that holds the local pseudonym's partition then:

- sends every event of the local journey on under the NHS pseudonym (**moved** events, marked
  with `moved_from`), so that journey is rebuilt where the patient's other events are;
- keeps, in place of the local journey, the link itself (an **alias**): an event that later
  carries only the local id is moved on to the NHS pseudonym as well;
- writes the local pseudonym's state as empty: its rows leave the read model.

Every step is idempotent: a moved event is absorbed as a duplicate by the journey it reaches
(same source and event id), a link already stored changes nothing. Moved events skip the
lateness check (`Journey.record`): they were accepted once already, and an admission moved days
after its discharge arrived is not late. A link to another NHS pseudonym than the stored one
replaces it for later events; the events already moved stay where they went.
"""

from __future__ import annotations

from typing import Any

Event = dict[str, Any]

#: The event type of a link record on the events topic (never accepted from a publisher:
#: validation refuses every event type but the contract's).
LINK = "link"
#: The field a moved event names the pseudonym it was moved from in.
MOVED_FROM = "moved_from"


def link(alias: str, event: Event) -> Event:
    """The link record saying that `alias` (a local pseudonym) is `event`'s patient."""
    return {
        "event_type": LINK,
        "pseudonym": alias,
        "to": event["pseudonym"],
        "source": event["source"],
        "event_id": event["event_id"],
        "occurred_at": event["occurred_at"],
    }


def alias_of(stored: list[Event] | None) -> Event | None:
    """The link a stored journey is, if it is one (the journey of a linked local pseudonym)."""
    if stored and len(stored) == 1 and stored[0].get("event_type") == LINK:
        return stored[0]
    return None


def moved(event: Event, link: Event) -> Event:
    """`event` as it travels on under the NHS pseudonym `link` names."""
    return {**event, "pseudonym": link["to"], MOVED_FROM: link["pseudonym"]}


def is_link(document: object) -> bool:
    return isinstance(document, dict) and document.get("event_type") == LINK
