"""Whether a location's unit is one bed managers would know: NHS PAS put the site's code in PV1-3's
point of care (the NHS ITK ADT specification's `RCB^OBS1^BAY2-6^RCB55`) or leave it empty and
name the ward as the room, and without a rule saying where the ward is, moves between its wards
read as no move. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from flowsight.adapters.hl7.parse import MISSING_FIELD, identifier
from flowsight.adapters.profile import Located
from flowsight.services.validation import Refused


def no_place(where: str, parts: dict[str, str | None]) -> Refused:
    """The refusal of a location with neither point of care nor description: naming what it
    has instead (a room, a bed, a facility) and how a profile rule places it by them."""
    named = [name for name in ("room", "bed", "facility") if parts[name]]
    also = (
        f"; it names a {' and a '.join(named)}: a location rule of the mapping profile "
        f"with `unit: {named[0]}` places it by them"
        if named
        else ""
    )
    return Refused(
        MISSING_FIELD, where, f"{where} (point of care, or location description) is required{also}"
    )


def unit_warning(
    message: Any, where: str, parts: dict[str, str | None], located: Located
) -> str | None:
    """The warning on the unit of the location read from `where` (its PL `parts`, placed at
    `located`), when it is missing or is the site's code rather than a ward; else None."""
    named = [name for name in ("room", "bed") if parts[name]]
    unit = located.unit
    sites = {parts["facility"] or "", identifier(message, "MSH", 4) or ""}
    if unit is None and named:
        said = f"{where}: no unit (PL.1 and PL.9 are empty)"
    elif unit and unit == parts["point_of_care"] and named and _a_site(unit, sites):
        said = f"{where}: the unit {unit!r} (PL.1) is the site's code, not a ward"
    else:
        return None
    return (
        f"{said}; a location rule of the mapping profile with `unit: {named[0]}` takes "
        f"PL.{2 if named[0] == 'room' else 3} as the unit"
    )


def _a_site(unit: str, sites: set[str]) -> bool:
    """Whether `unit` is a site's code: the facility's (PL.4, `RCB55` of `RCB`) or MSH-4's."""
    code = unit.upper()
    return any(site.upper().startswith(code) for site in sites if site)
