"""Where an Encounter's patient has been: `Encounter.location`, in order, as catalogue services
and the units (wards) bed managers know, read through the sender's mapping profile.

A location is named by its reference's identifier, a conditional reference
(`Location?identifier=system|value`), a literal reference (`Location/<id>`, `#contained`, or a
Bundle entry), the Location's own identifiers and name, or the reference's display. The first of
those names a profile rule matches gives the service; else a name that is a catalogue service
id; else the profile's default service, with a warning. The unit is the Location's own name when
the Location was sent with the Encounter, else the reference's display. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from urllib.parse import parse_qs

from fhir.resources.R4B.encounter import Encounter, EncounterLocation
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.reference import Reference

from flowsight.adapters.fhir.elements import (
    Note,
    identifier_value,
    in_order,
    location_element,
    referenced_id,
)
from flowsight.adapters.fhir.references import NO_BUNDLE, BundleIndex, resolve, whereabouts
from flowsight.adapters.fhir.stay import Stay, in_time_order
from flowsight.adapters.profile import MappingProfile
from flowsight.services.validation import MISSING_FIELD, UNKNOWN_SERVICE, Refused

#: Location entries that have not happened yet: a bed reserved or a move planned is not a move.
NOT_YET = frozenset({"planned", "reserved"})

#: The extension HL7's V2-to-FHIR IG puts on the Encounter.location entries of PV1-11 (temporary
#: location: theatre, X-ray) and PV1-43 (prior temporary location), valued `temporary`.
LOCATION_CLASSIFICATION = "http://hl7.org/fhir/StructureDefinition/subject-locationClassification"
#: The IG's earlier marker of the same entries, valued true, which microsoft/FHIR-Converter's
#: HL7 v2 templates still write.
TEMPORARY_LOCATION = "http://hl7.org/fhir/uv/v2mappings/StructureDefinition/temporary-location"


#: A line break or tab, with the spaces around it: a FHIR string may break lines, a unit's name
#: in the contract is one line.
_LINE_BREAK = re.compile(r"[ \t\r\n]*[\t\r\n][ \t\r\n]*")


#: What a retraction of an Encounter that never began is answered with.
NEVER_BEGAN = (
    "every location is planned or reserved, so the Encounter never began: nothing was "
    "published for it, and nothing is retracted"
)


def never_began(encounter: Encounter) -> bool:
    """Whether the Encounter lists locations and every one of them is only planned or reserved
    (a bare Encounter, with no location at all, says nothing of where it was: not this)."""
    locations = encounter.location or []
    return bool(locations) and all(entry.status in NOT_YET for entry in locations)


@dataclass(frozen=True, slots=True)
class Places:
    """What locations are read against: the sender's profile, the catalogue's service ids, the
    Bundle the Encounter came in, and where to note a location that only the default placed."""

    profile: MappingProfile | None = None
    services: Collection[str] = frozenset()
    bundle: BundleIndex = NO_BUNDLE


def stays(encounter: Encounter, places: Places, notes: list[Note]) -> list[Stay]:
    """The locations the patient has been at, in order; planned and reserved ones left out, and
    the levels of one place (its ward, room and bed at once) one stay."""
    found: list[Stay] = []
    for level in _places(encounter):
        for index, entry in level:
            in_order(entry.period, f"Encounter.location[{index}].period")
        index, entry, placed = _place_levels(level, encounter, places, notes)
        service, unit, unit_element, by_default = placed
        # A level without a period (a ward beside its timed room and bed) is dated by the others.
        timed = [(i, other) for i, other in level if _when(other) != _UNTIMED]
        dated_by, dated = timed[0] if timed and _when(entry) == _UNTIMED else (index, entry)
        start, end = (dated.period.start, dated.period.end) if dated.period else (None, None)
        # "Ward 12<LF>Level 3" is the unit "Ward 12 Level 3"; another control character, which
        # a FHIR string should not hold, is the contract's to refuse, naming the display.
        unit = _LINE_BREAK.sub(" ", unit) if unit else unit
        left = entry.status == "completed"
        by_other = None if dated_by == index else dated_by
        at = Stay(index, len(found), service, unit, unit_element, start, left, by_other, end)
        found.append(replace(at, by_default=by_default))
    if not found:
        raise Refused(
            MISSING_FIELD,
            "Encounter.location",
            "Encounter.location needs at least one location that is not planned, reserved or "
            "temporary, identified by a flowsight service id or a rule of the sender's mapping "
            "profile",
        )
    return in_time_order(found, encounter.period, notes)


def _places(encounter: Encounter) -> list[list[tuple[int, EncounterLocation]]]:
    """The entries of `Encounter.location` a place at a time, planned, reserved and temporary
    ones left out. Entries that follow one another with the same status and period, each with a
    physicalType none of the others has, are the levels of one place (HL7's V2-to-FHIR IG gives
    PV1-3's point of care, room and bed so): one stay, not moves from one level to the next. A
    level without a period is of the same moment as those beside it: the Medical Informatics
    Initiative's department contact gives its room and bed a period and its ward none; an entry
    nothing dates is no move flowsight could publish anyway."""
    grouped: list[list[tuple[int, EncounterLocation]]] = []
    for index, entry in enumerate(encounter.location or []):
        if entry.status in NOT_YET or temporary(entry):
            continue
        level = _level(entry)
        if grouped and level is not None and _same_moment(grouped[-1], entry):
            levels = [_level(other) for _, other in grouped[-1]]
            if None not in levels and level not in levels:
                grouped[-1].append((index, entry))
                continue
        grouped.append([(index, entry)])
    return grouped


def temporary(entry: EncounterLocation) -> bool:
    """Whether an entry is where the patient is for a while away from the assigned bed (HL7 v2
    PV1-11: "a location other than the assigned location required for a temporary period of
    time (e.g., OR, operating theatre, etc.)"), as the V2-to-FHIR IG marks it, active or
    completed: not a move. The patient keeps the bed, as the HL7 gateway reads PV1-3 alone."""
    for extension in entry.extension or []:
        if extension.url == TEMPORARY_LOCATION and extension.valueBoolean is True:
            return True
        concept = extension.valueCodeableConcept
        if extension.url != LOCATION_CLASSIFICATION or concept is None:
            continue
        if any(coding.code == "temporary" for coding in concept.coding or []):
            return True
    return False


def _level(entry: EncounterLocation) -> str | None:
    """The level an entry's physicalType names (`wa`, `ro`, `bd`, ...), if it names one."""
    codings = (entry.physicalType.coding or []) if entry.physicalType else []
    return next((coding.code for coding in codings if coding.code), None)


#: An entry's period when it gives none.
_UNTIMED: tuple[object, object] = (None, None)


def _when(entry: EncounterLocation) -> tuple[object, object]:
    return (entry.period.start, entry.period.end) if entry.period else _UNTIMED


def _same_moment(place: list[tuple[int, EncounterLocation]], entry: EncounterLocation) -> bool:
    """Whether `entry` is of the status of the place's levels, and of their period where both
    give one."""
    periods = {_when(other) for _, other in place} | {_when(entry)}
    return place[0][1].status == entry.status and len(periods - {_UNTIMED}) <= 1


#: Where a location was placed: its service, its unit (if named), the element that named it, and
#: whether only the profile's default service placed it.
_Placed = tuple[str, str | None, str, bool]


#: The levels that name a ward, the unit a bed manager knows a patient by, tried first:
#: location-physical-type's ward, and the point of care (HL7 v2 PL.1, a nursing unit) of the
#: V2-to-FHIR IG.
_WARD_LEVELS = ("wa", "poc")


def _place_levels(
    levels: list[tuple[int, EncounterLocation]],
    encounter: Encounter,
    places: Places,
    notes: list[Note],
) -> tuple[int, EncounterLocation, _Placed]:
    """The entry that places a place given at several levels, and its service and unit: the
    first level, ward levels first, that a profile rule or a catalogue service id places; else
    the first of them, placed as any location is (by default, with a warning, or refused)."""
    ranked = sorted(levels, key=lambda level: _level(level[1]) not in _WARD_LEVELS)
    for index, entry in ranked if len(ranked) > 1 else []:
        unplaced: list[Note] = []
        try:
            placed = _place(entry.location, index, encounter, places, unplaced)
        except Refused:
            continue
        if not unplaced:
            return index, entry, placed
    index, entry = ranked[0]
    return index, entry, _place(entry.location, index, encounter, places, notes)


def _place(
    reference: Reference, index: int, encounter: Encounter, places: Places, notes: list[Note]
) -> _Placed:
    element = location_element(index)
    said_at = f"Encounter.location[{index}].location"
    location = resolve(reference, Location, encounter, places.bundle, said_at)
    where = whereabouts(reference, encounter, places.bundle)
    display, named_at = _called(reference, location, said_at, where)
    direct, facility = _direct_names(reference, location)
    names = [*direct, *_names_of(location), *filter(None, [reference.display])]
    profile = places.profile
    if profile is not None:
        for name in names:
            located = profile.locate(facility=facility, location=name, match_only=True)
            if located is not None:
                return located.service, display or located.unit, named_at, False
        within = _part_of(location, where, encounter, places.bundle, profile)
        if within is not None:
            return within
    for name in direct:
        if name in places.services:
            return name, display, named_at, False
    said = ", ".join(repr(name) for name in names) or "no name"
    unmatched = (
        f"Encounter.location[{index}] ({said}) matches no location rule of "
        f"{profile.organisation if profile else ''}'s mapping profile"
    )
    if profile is not None and profile.default_service is not None:
        message = f"{unmatched}; placed in the default service {profile.default_service!r}"
        notes.append(Note(element, message))
        return profile.default_service, display, named_at, True
    if profile is not None:
        raise Refused(
            UNKNOWN_SERVICE,
            element,
            f"{unmatched} and names no catalogue service; add a rule (or a default_service)",
        )
    if direct:
        return direct[0], display, named_at, False  # refused by validation if unknown
    raise Refused(
        MISSING_FIELD,
        element,
        f"Encounter.location[{index}].location needs an identifier whose value is a flowsight "
        "service id (or a reference Location/<service id>), or a rule in the sender's mapping "
        f"profile for {display!r}" + ("" if display else " (it has no display either)"),
    )


#: The most places up a Location.partOf chain that are tried (a bed, room, ward, wing, site).
_PART_OF_LEVELS = 8


def _part_of(
    location: Location | None,
    where: str,
    encounter: Encounter,
    bundle: BundleIndex,
    profile: MappingProfile,
) -> _Placed | None:
    """The service and unit of the first place `location` is part of that a rule of the
    profile places, up its Location.partOf chain (contained, or in the transaction): HL7's
    V2-to-FHIR IG puts the bed in Encounter.location and chains the ward to it so. The unit is
    that place's name: the ward a bed manager knows the patient by, not the bed. `where` is the
    element of `location` (contained, or a Bundle entry)."""
    for _ in range(_PART_OF_LEVELS):
        parent = location.partOf if location else None
        if parent is None:
            return None
        try:
            location = resolve(parent, Location, encounter, bundle, "Location.partOf")
        except Refused:  # not a Location, or not valid FHIR: the chain ends here
            location = None
        direct, facility = _direct_names(parent, location)
        said_at, where = f"{where}.partOf", whereabouts(parent, encounter, bundle)
        name, named_at = _called(parent, location, said_at, where)
        for candidate in [*direct, *_names_of(location), *filter(None, [parent.display])]:
            located = profile.locate(facility=facility, location=candidate, match_only=True)
            if located is not None:
                return located.service, name or located.unit, named_at, False
    return None


def _called(
    reference: Reference, location: Location | None, said_at: str, where: str
) -> tuple[str | None, str]:
    """What a place is called, and the element that says so: the name of the Location itself
    when it was sent (contained, or in the transaction, at `where`), else the display of the
    reference at `said_at`. R4's display is narrative "in addition to the resource reference",
    the referrer's words: it may name another level of the place (the hospital, in
    microsoft/fhir-server's US Core sample) or an old name. A refusal of the unit names the
    element the name came from, so the sender mends the Location, not a display it never sent."""
    if location is not None and location.name and where:
        return location.name, f"{where}.name"
    return reference.display, f"{said_at}.display"


def _direct_names(reference: Reference, location: Location | None) -> tuple[list[str], str | None]:
    """The names the reference itself gives (identifier, reference id), and the facility."""
    names: list[str] = []
    facility = reference.identifier.system if reference.identifier else None
    if value := identifier_value(reference):
        names.append(value)
    target = reference.reference or ""
    if target.startswith("Location?"):
        # A conditional reference, as Synthea writes: Location?identifier=system|value
        for searched in parse_qs(target.removeprefix("Location?")).get("identifier", []):
            system, _, value = searched.rpartition("|")
            names.append(value)
            facility = facility or system or None
    elif (logical_id := referenced_id(reference, "Location")) is not None:
        names.append(logical_id)
    elif location is not None and location.id:
        names.append(location.id)
    if location is not None and location.managingOrganization is not None:
        facility = identifier_value(location.managingOrganization) or facility
    return [name for name in names if name], facility


def _names_of(location: Location | None) -> list[str]:
    if location is None:
        return []
    names = [i.value for i in location.identifier or [] if i.value]
    return names + ([location.name] if location.name else [])
