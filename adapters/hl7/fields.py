"""What an ADT message's fields mean under a source's mapping profile: patient, place, codes.

The mapping profile (`flowsight.adapters.profile`) says where NHS numbers are, which service a
location (PL.4 facility, PL.1 point of care, PL.2 room, PL.3 bed, PL.9 description) belongs to
and which part is the unit, and what vendor codes mean; the standard tables (HL7 0004 and 0007,
the NHS Data Dictionary codes of `flowsight.services.nhs_codes`) apply to any code the profile
does not list.
Each reader raises `Refused` naming the HL7 field, or adds a warning for what it let through.
Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from flowsight.adapters.hl7.clock import (
    ADMIT_TIME,
    DISCHARGE_TIME,
    first_time,
    named_span,
    own_time,
)
from flowsight.adapters.hl7.parse import INVALID_FIELD, MISSING_FIELD, UNMAPPED_LOCATION, text
from flowsight.adapters.hl7.patient import patient
from flowsight.adapters.hl7.units import no_place, unit_warning
from flowsight.adapters.profile import (
    STANDARD_PATIENT_CLASSES,
    Located,
    MappingProfile,
    PatientClass,
    profile_from_location_map,
)
from flowsight.schemas.catalogue import Catalogue
from flowsight.schemas.codes import AdmissionMethod, DischargeDestination
from flowsight.services import nhs_codes
from flowsight.services.validation import Refused

#: PID-29, the date and time of the patient's death.
DEATH_TIME = ("PID", 29)
_EMERGENCY = AdmissionMethod.EMERGENCY.value
#: Characters a source system name may not hold: each run of them becomes one '-'.
_NOT_IN_A_NAME = re.compile(r"[^a-z0-9._-]+")
_ADMISSION_METHODS: dict[str, str] = {
    **dict.fromkeys(["E", "A", "U", "L", "N"], _EMERGENCY),  # HL7 table 0007
    **dict.fromkeys(["C", "R"], AdmissionMethod.ELECTIVE.value),
    **{code: method.value for code, method in nhs_codes.ADMISSION_METHODS.items()},
}
#: The first word of a textual PV1-4 (as Epic and others send it) → contract admission method.
#: Maternity is an emergency, as NHS admission methods 31 and 32 are (`nhs_codes`). Epic
#: abbreviates the first word: `Matern Ante`, `Emerg Other`, `Elect Wait`, `Elect Book`.
_ADMISSION_WORDS: dict[str, str] = {
    **dict.fromkeys(
        ["EMERGENCY", "EMERG", "URGENT", "ACCIDENT", "MATERNITY", "MATERN"], _EMERGENCY
    ),
    **dict.fromkeys(["ELECTIVE", "ELECT", "ROUTINE", "PLANNED"], AdmissionMethod.ELECTIVE.value),
    "TRANSFER": AdmissionMethod.TRANSFER_IN.value,
}
_FIRST_WORD = re.compile(r"[^A-Z]+")
#: Destinations by NHS Data Dictionary code or by flowsight code word.
_DESTINATIONS: dict[str, str] = {
    **{code: destination.value for code, destination in nhs_codes.DISCHARGE_DESTINATIONS.items()},
    **{destination.value: destination.value for destination in DischargeDestination},
}
#: HL7 table 0112 (discharge disposition) codes of a death in PV1-36: 20 expired, 40 at home, 41
#: in a medical facility, 42 place unknown; no NHS discharge method or destination code is one.
#: 01 to 09 are the profile's to map: `04` is an intermediate care facility in table 0112 and
#: would be NHS discharge method 4 (died) written with a leading zero.
_DISPOSITIONS_DIED = frozenset({"20", "40", "41", "42"})


@dataclass(frozen=True, slots=True)
class LocationMap:
    """The old `--location-map`: point of care (PL.1) → service; `default_service` otherwise."""

    default_service: str | None = None
    services: Mapping[str, str] = field(default_factory=dict)

    def profile(self, organisation: str) -> MappingProfile:
        """This map as a mapping profile of literal point-of-care rules."""
        return profile_from_location_map(dict(self.services), organisation, self.default_service)

    def problems(self, catalogue: Catalogue, organisation: str) -> list[str]:
        """Every service named here that is not a catalogue service of `organisation`."""
        named = [("--service", self.default_service)] if self.default_service else []
        named += [(f"location {code!r}", service) for code, service in self.services.items()]
        owned = {s.id for s in catalogue.services if s.organisation == organisation}
        return [
            f"{where}: {service!r} is not a service of {organisation} in the catalogue"
            for where, service in named
            if service not in owned
        ]


#: PL.9, the location description: some senders name the ward there alone, PL.1 left empty.
LOCATION_DESCRIPTION = 9


def names_a_place(message: Any, number: int) -> bool:
    """Whether PV1-`number` names a place: its point of care (PL.1) or its description (PL.9)."""
    return bool(
        text(message, "PV1", number, 1) or text(message, "PV1", number, LOCATION_DESCRIPTION)
    )


@dataclass(slots=True)
class Reading:
    """One message read under a profile; `warnings` collects what was let through.

    `received`: when flowsight received the message (no retraction was recorded later);
    `times`: the field each event time was read from, by its ISO text (`2027-08-01T12:00:00+01:00`:
    `PV1-45`), so that a refusal of the time names the field the sender fixes."""

    message: Any
    profile: MappingProfile
    front_door: frozenset[str] = frozenset()
    warnings: list[str] = field(default_factory=list)
    received: datetime = field(default_factory=lambda: datetime.now(UTC))
    times: dict[str, str] = field(default_factory=dict)

    def own_time(self, *paths: tuple[str, int]) -> datetime:
        """The event's time: the first of `paths` holding one, else EVN-2 (`clock.own_time`),
        noted in `times`."""
        return self.read_at(*own_time(self.message, *paths, zone=self.zone()))

    def zone(self) -> tzinfo | None:
        """The sender's time zone the profile names; None: guessed per message
        (`clock.sender_zone`)."""
        return self.profile.hl7.zone()

    def read_at(self, moment: datetime, where: str) -> datetime:
        """`moment`, noted in `times` as read from the field `where`."""
        self.times[moment.isoformat()] = where
        return moment

    def patient_class(self) -> PatientClass:
        """PV1-2 as a flow meaning (profile codes first, then HL7 table 0004)."""
        code = text(self.message, "PV1", 2).upper()
        meaning = self.profile.codes.patient_class.get(code) or STANDARD_PATIENT_CLASSES.get(code)
        if meaning is None:
            warning = f"PV1-2: patient class {code!r} is not mapped"
            if code and warning not in self.warnings:  # read more than once per message
                self.warnings.append(warning)
            return PatientClass.UNKNOWN
        return meaning

    def place(self, number: int, *, required: bool) -> Located:
        """The service and unit of the location in PV1-`number` (3 assigned, 6 prior)."""
        where = f"PV1-{number}"
        parts = self._location_parts(number)
        if required and not names_a_place(self.message, number):
            raise no_place(where, parts)
        located = self._locate(parts)
        if located is None:
            shown = "^".join(value or "" for value in parts.values()).rstrip("^")
            raise Refused(
                UNMAPPED_LOCATION,
                where,
                f"location {shown!r} matches no rule of the mapping profile and there is no "
                "default service",
            )
        warning = unit_warning(self.message, where, parts, located)
        if warning and warning not in self.warnings:  # places are read more than once
            self.warnings.append(warning)
        return located

    def class_without_a_bed(
        self, classes: frozenset[PatientClass], places: tuple[int, ...] = (3,)
    ) -> PatientClass | None:
        """PV1-2 when it is one of `classes` (that hold no bed) and none of the PV1 `places`
        (3 assigned; 6 prior, for a move) is an ED's place.

        Read before the places are placed, so a clinic no rule maps is no refusal: nothing is
        published for it. A no-bed class at a place a rule (or the default) gives the ED is
        still an attendance there.
        """
        patient_class = self.patient_class()
        if patient_class not in classes:
            return None
        for number in places:
            located = self._locate(self._location_parts(number))
            if located and located.service in self.front_door:
                return None
        return patient_class

    def places_the_ed_by_rule(self) -> bool:
        """Whether a rule of the profile gives a location to an ED: the sender said where it is."""
        return any(rule.service in self.front_door for rule in self.profile.locations)

    def _location_parts(self, number: int) -> dict[str, str | None]:
        """The parts of the PL in PV1-`number` a profile's rules match on."""
        return {
            "point_of_care": text(self.message, "PV1", number, 1) or None,
            "room": text(self.message, "PV1", number, 2) or None,
            "bed": text(self.message, "PV1", number, 3) or None,
            "facility": text(self.message, "PV1", number, 4) or None,
            "location": text(self.message, "PV1", number, LOCATION_DESCRIPTION) or None,
        }

    def _locate(self, parts: dict[str, str | None]) -> Located | None:
        return self.profile.locate(
            point_of_care=parts["point_of_care"],
            room=parts["room"],
            bed=parts["bed"],
            facility=parts["facility"],
            location=parts["location"],
        )

    def at_front_door(self, located: Located, patient_class: PatientClass | None = None) -> bool:
        """Whether a visit at `located` is an emergency attendance: at an ED service's location,
        or class E at a location the profile placed only by its default service.

        Arrivals, moves out of a location (PV1-6) and cancels are all judged here, so a visit
        counted as an attendance at a location is one there when it leaves. `patient_class` is
        the class the visit had at `located` when PV1-2 no longer says it (an A06's PV1-2 is
        the new class). A location a rule of the profile places in a ward is on that ward
        whatever the class: some PAS keep class E on the emergency spell after the patient is
        admitted. Class E where no ED is known (an organisation without one) is an admission.
        """
        if located.service in self.front_door:
            return True
        patient_class = patient_class or self.patient_class()
        emergency = patient_class is PatientClass.EMERGENCY and bool(self.front_door)
        return emergency and not located.by_rule

    def department(self, located: Located) -> str:
        """The front-door service of an attendance at `located`."""
        if located.service in self.front_door:
            return located.service
        if len(self.front_door) == 1:
            (only,) = self.front_door
            return only
        raise Refused(
            UNMAPPED_LOCATION,
            "PV1-3",
            f"an emergency attendance at {located.service!r}: map this location to the "
            "emergency department's service in the mapping profile",
        )

    def admission_method(self) -> str:
        """PV1-4 as a contract admission method; missing or unknown is `emergency`, with a warning.

        The profile's codes first (any case), then HL7 table 0007 and the NHS Data Dictionary
        codes, then the first word of a textual value (`EMERGENCY`, `Elective`, `Matern Ante`).
        Class E with no PV1-4 is an emergency without a warning.
        """
        value = text(self.message, "PV1", 4)
        code = value.upper()
        if not code and self.patient_class() is PatientClass.EMERGENCY:
            return _EMERGENCY
        mapped = {k.upper(): v for k, v in self.profile.codes.admission_method.items()}.get(code)
        method = mapped.value if mapped is not None else _ADMISSION_METHODS.get(code)
        if method is None and code:
            method = _ADMISSION_WORDS.get(_FIRST_WORD.split(code, maxsplit=1)[0])
        if method is not None:
            return method
        # Refusing would leave the bed looking free for the whole stay; the arrival is what counts.
        self.warnings.append(
            f"PV1-4: admission type {value!r} is not mapped; taken as 'emergency'"
            if code
            else "PV1-4: no admission type; taken as 'emergency'"
        )
        return _EMERGENCY

    def discharge_method(self) -> str:
        """PV1-36 as an NHS Data Dictionary discharge method code (empty when none)."""
        code = text(self.message, "PV1", 36)
        return self.profile.codes.discharge_method.get(code, code)

    def destination(self, *, expected: bool = True) -> str:
        """PV1-37 (discharged to location) as a contract destination, else PV1-36 (discharge
        disposition), read with the same tables; neither mapped is `other`, with a warning, as
        is neither given when a destination is `expected` (a discharge from a bed, not the ED).

        A death (`_died`) is `died`, whatever PV1-37 says. PV1-36 is a fallback: some PAS put
        the destination there, but it is the discharge method, so one of those codes (1-3, 6-9)
        names no destination. A text naming death or the usual residence is read (`nhs_codes.worded`).
        """
        method = self.discharge_method()
        if self._died(method):
            return DischargeDestination.DIED.value
        codes = self.profile.codes.discharge_destination
        unmapped = []
        for where, value in (("PV1-37", text(self.message, "PV1", 37)), ("PV1-36", method)):
            if not value or (where == "PV1-36" and value in nhs_codes.DISCHARGE_METHODS_ALIVE):
                continue
            mapped = codes.get(value)
            destination = (
                mapped.value
                if mapped is not None
                else _DESTINATIONS.get(value)
                or _DESTINATIONS.get(value.lower())
                or _worded_value(value)
            )
            if destination is not None:
                break
            unmapped.append(f"{where}: discharge destination {value!r} is not mapped")
        else:
            destination = DischargeDestination.OTHER.value
            unmapped = [f"{warning}; taken as 'other'" for warning in unmapped]
            if expected and not unmapped:
                unmapped = [
                    "PV1-37: no discharge destination (nor one in PV1-36); taken as 'other'"
                ]
        # Refusing would leave the patient in a bed for ever; leaving is what counts.
        self.warnings.extend(unmapped)
        return destination

    def _died(self, method: str) -> bool:
        """Whether the patient died: PID-30 (the patient death indicator) `Y`, PID-29 (the
        date of death) within the visit (as the FHIR gateway reads a Patient's
        `deceasedDateTime`), or PV1-36 (its code `method`, or the text of a coded PV1-36,
        component 2) NHS discharge method 4 or 5, a destination the profile gives `died`, else
        (a code the profile does not list) a table 0112 code of a death or a text saying so.
        PID-30 `N` beside any of the others is a contradiction: a death, with a warning."""
        indicator = text(self.message, "PID", 30).upper()
        if indicator == "Y":
            return True
        died = self._death_said(method) or self._death_dated()
        if died and indicator == "N":
            self.warnings.append(
                "PID-30: 'N' (not dead), but PID-29 or PV1-36 records a death; taken as died"
            )
        return died

    def _death_dated(self) -> bool:
        """Whether PID-29, the date of death, is within the visit: from PV1-44 to PV1-45, each
        end read to PID-29's precision (a death dated by its day alone, the day of admission)."""
        try:
            zone = self.zone()
            dated = first_time(self.message, DEATH_TIME, zone=zone)
            began, left = (
                first_time(self.message, ADMIT_TIME, zone=zone),
                first_time(self.message, DISCHARGE_TIME, zone=zone),
            )
        except Refused:  # a PID-29, PV1-44 or PV1-45 that is no time says nothing of a death
            return False
        if dated is None:
            return False
        until, _ = named_span(text(self.message, *DEATH_TIME), dated)
        return (began is None or until > began) and (left is None or dated <= left)

    def _death_said(self, method: str) -> bool:
        if method in nhs_codes.DISCHARGE_METHODS_DIED:
            return True
        profiled = self.profile.codes.discharge_destination.get(method)
        if profiled is not None:
            return profiled is DischargeDestination.DIED
        if method in _DISPOSITIONS_DIED:
            return True
        said = (method, text(self.message, "PV1", 36, 2))
        return any(nhs_codes.worded(value) is DischargeDestination.DIED for value in said)

    def patient(self) -> dict[str, str]:
        """The contract patient (`patient.patient`): the NHS number if valid and traced, and
        the first local identifier."""
        hl7 = self.profile.hl7
        return patient(self.message, hl7.nhs_number, self.warnings, hl7.system)


def _worded_value(value: str) -> str | None:
    worded = nhs_codes.worded(value)
    return None if worded is None else worded.value


def system_name(message: Any, configured: str | None = None) -> str:
    """The source system MSH-3 names: its namespace id (HD.1), else its universal id (HD.2),
    else (MSH-3 empty, as it may be: it is optional in HL7 v2.5) the profile's `hl7.system`.

    Lower case, and each run of characters other than letters, digits, '.', '_' and '-' becomes
    one '-' (`CERNER/MILL` is `cerner-mill`), so any sending application an HL7 table 0361 may
    hold names a system; refused only when nothing is left or the name passes 64 characters.
    """
    named = text(message, "MSH", 3) or text(message, "MSH", 3, 2)
    if not named and configured:
        return configured
    if not named:
        raise Refused(
            MISSING_FIELD,
            "MSH-3",
            "MSH-3 (the sending application) is empty and the mapping profile names no source "
            "system: fill MSH-3, or name the system in the profile (hl7: system: pas)",
        )
    name = _NOT_IN_A_NAME.sub("-", named.lower()).strip("-")
    if not name or len(name) > 64:
        raise Refused(
            INVALID_FIELD,
            "MSH-3",
            f"sending application {named!r} cannot name a source system "
            "(letters, digits, '.', '_' and '-', 1 to 64 of them)",
        )
    return name
