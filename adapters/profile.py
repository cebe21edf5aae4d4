"""A per-source mapping profile: how one sender's codes and locations mean catalogue terms.

Both gateways (HL7 v2 over MLLP, FHIR R4) read a sender's messages through a profile, a YAML file
kept beside the service catalogue (`deploy/catalogue/profiles/`). It says:

- **locations**: rules, first match wins, from the parts of a location (HL7 PL.4 facility, PL.1
  point of care, PL.2 room, PL.3 bed; a FHIR Location's reference, identifier or display) to a
  catalogue service and the part bed managers know as the unit (a ward, a bay). Patterns are
  shell globs (`WARD*`, `?ED`), compared case-insensitively. No rule: `default_service`.
- **codes**: vendor codes → contract or NHS Data Dictionary meaning, for admission method
  (PV1-4), patient class (PV1-2), discharge destination (PV1-37) and discharge method (PV1-36).
  A vendor code listed here wins over the standard tables.
- **hl7**: the triggers to take or ignore, what to do with any other (acknowledge and ignore,
  the default, or refuse), the processing ids (MSH-11), where NHS numbers are (authorities,
  identifier types, PID-2), the system of messages without MSH-3 and the sender's time zone.

`adapters.profile_file.load_profile` reads a profile file and checks it against the catalogue,
listing every bad entry, one per line. Nothing here does I/O.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from flowsight.schemas.catalogue import Catalogue
from flowsight.schemas.codes import AdmissionMethod, DischargeDestination

#: The HL7 v2 ADT triggers the HL7 gateway maps to events or acknowledges as changing nothing.
#: `adapters.hl7.mapping.SUPPORTED_TRIGGERS` names the same (the events of each are built in
#: `adapters.hl7.triggers`); a test keeps the two in step.
HL7_TRIGGERS = frozenset("A01 A02 A03 A04 A06 A07 A08 A11 A12 A13 A17 A23 A28 A31".split())
_TRIGGER = re.compile(r"^[A-Z][0-9A-Z]{2}$")
#: A source system's name as events carry it after the organisation (`RR8/pas`).
SYSTEM_NAME = re.compile(r"^[a-z0-9._-]{1,64}$")
#: NHS Data Dictionary DISCHARGE METHOD codes (1-5, 8, 9) and the two HL7 v2 extensions
#: trusts use (6, 7); 4 and 5 mean the patient died.
DISCHARGE_METHOD_CODES = frozenset({"1", "2", "3", "4", "5", "6", "7", "8", "9"})
UnitPart = Literal["facility", "point_of_care", "room", "bed", "location"]


class ProfileError(ValueError):
    """A mapping profile that cannot be used; the message lists every bad entry, one a line."""


class PatientClass(StrEnum):
    """What a patient class (HL7 table 0004, PV1-2) means for flow."""

    EMERGENCY = "emergency"  # E: an ED attendance
    INPATIENT = "inpatient"  # I: holds a bed
    OUTPATIENT = "outpatient"  # O: a clinic visit, holds nothing
    PREADMIT = "preadmit"  # P: not arrived yet
    RECURRING = "recurring"  # R: a recurring (e.g. dialysis) patient, holds nothing
    OBSTETRICS = "obstetrics"  # B: holds a bed
    DAY_CASE = "day_case"  # a trust's own class for day surgery: holds a bed for the day
    UNKNOWN = "unknown"  # C, N, U: decides nothing


#: HL7 table 0004 as flow meanings; a profile's `codes.patient_class` adds or overrides codes.
STANDARD_PATIENT_CLASSES: dict[str, PatientClass] = {
    "E": PatientClass.EMERGENCY,
    "I": PatientClass.INPATIENT,
    "O": PatientClass.OUTPATIENT,
    "P": PatientClass.PREADMIT,
    "R": PatientClass.RECURRING,
    "B": PatientClass.OBSTETRICS,
    "C": PatientClass.UNKNOWN,
    "N": PatientClass.UNKNOWN,
    "U": PatientClass.UNKNOWN,
}
#: Classes whose registration (A04) holds no bed and starts no attendance: counted, not published
#: (of these, the end of a visit of the classes never admitted publishes nothing either).
NOT_IN_A_BED = frozenset({PatientClass.OUTPATIENT, PatientClass.PREADMIT, PatientClass.RECURRING})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocationRule(_Strict):
    """Where a location belongs: every pattern given must match; `unit` names the unit's part."""

    facility: str | None = None
    point_of_care: str | None = None
    room: str | None = None
    bed: str | None = None
    location: str | None = None
    service: str
    unit: UnitPart | None = None

    @model_validator(mode="after")
    def _has_a_pattern(self) -> LocationRule:
        if not self.patterns():
            raise ValueError("a rule needs at least one pattern (use default_service instead)")
        return self

    def matches(self, parts: dict[str, str | None]) -> bool:
        """Whether every pattern of this rule matches its part of a location."""
        return all(
            fnmatch.fnmatchcase((parts[name] or "").upper(), pattern.upper())
            for name, pattern in self.patterns().items()
        )

    def patterns(self) -> dict[str, str]:
        """The parts this rule looks at and their glob patterns."""
        named = ("facility", "point_of_care", "room", "bed", "location")
        return {name: getattr(self, name) for name in named if getattr(self, name) is not None}


class CodeMaps(_Strict):
    """Vendor code → meaning, per coded field."""

    admission_method: dict[str, AdmissionMethod] = Field(default_factory=dict)
    patient_class: dict[str, PatientClass] = Field(default_factory=dict)
    discharge_destination: dict[str, DischargeDestination] = Field(default_factory=dict)
    discharge_method: dict[str, str] = Field(default_factory=dict)

    @field_validator("discharge_method")
    @classmethod
    def _nhs_discharge_methods(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(code for code in value.values() if code not in DISCHARGE_METHOD_CODES)
        if bad:
            raise ValueError(
                f"{', '.join(map(repr, bad))} not an NHS Data Dictionary discharge method "
                f"({', '.join(sorted(DISCHARGE_METHOD_CODES))})"
            )
        return value


class NhsNumberRules(_Strict):
    """Where in PID an NHS number is: by CX.4 authority, by CX.5 type, and whether PID-2."""

    authorities: list[str] = Field(default_factory=lambda: ["NHS", "NHSNMBR", "NHSNBR"])
    identifier_types: list[str] = Field(default_factory=lambda: ["NH", "NHS", "NHSNMBR"])
    read_pid2: bool = True


class Hl7Rules(_Strict):
    """Which HL7 v2 messages a source's feed is taken from."""

    take: list[str] = Field(default_factory=lambda: sorted(HL7_TRIGGERS))
    ignore: list[str] = Field(default_factory=list)
    unknown_triggers: Literal["ignore", "refuse"] = "ignore"
    processing_ids: list[str] = Field(default_factory=lambda: ["P"])
    nhs_number: NhsNumberRules = Field(default_factory=NhsNumberRules)
    #: The source system (`RR8/<system>`) of a message without MSH-3: one profile per sender.
    system: str | None = None
    #: The sender's IANA time zone, of its times without an offset; unset, MSH-7's guides.
    time_zone: str | None = None

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str | None) -> str | None:
        try:
            return value if value is None else ZoneInfo(value).key
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (UTC, Europe/London)") from None

    @field_validator("system")
    @classmethod
    def _system_name(cls, value: str | None) -> str | None:
        if value is None or SYSTEM_NAME.match(value):
            return value
        raise ValueError(
            f"{value!r} cannot name a source system: 1 to 64 lower-case letters, digits, "
            "'.', '_' and '-' (e.g. pas)"
        )

    def zone(self) -> ZoneInfo | None:
        """The sender's time zone the profile names, if it names one."""
        return ZoneInfo(self.time_zone) if self.time_zone else None

    @field_validator("take", "ignore")
    @classmethod
    def _trigger_names(cls, value: list[str], info: ValidationInfo) -> list[str]:
        bad = [
            f"{trigger!r} is not an HL7 trigger event code (A01)"
            for trigger in value
            if not _TRIGGER.match(trigger)
        ]
        if info.field_name == "take":
            unknown = sorted(set(value) - HL7_TRIGGERS - set(filter(None, bad)))
            bad += [
                f"flowsight cannot take {trigger}; it takes " + ", ".join(sorted(HL7_TRIGGERS))
                for trigger in unknown
                if _TRIGGER.match(trigger)
            ]
        if bad:
            raise ValueError("; ".join(bad))
        return value

    @field_validator("processing_ids")
    @classmethod
    def _processing_ids(cls, value: list[str]) -> list[str]:
        bad = [code for code in value if code not in {"P", "T", "D"}]
        if bad:
            raise ValueError(f"{', '.join(map(repr, bad))} not a processing id (P, T, D)")
        return value

    def decides(self, trigger: str) -> Literal["take", "ignore", "refuse"]:
        """What to do with a trigger: map it, acknowledge and ignore it, or refuse it."""
        if trigger in self.ignore:
            return "ignore"
        if trigger in self.take:
            return "take"
        return "ignore" if self.unknown_triggers == "ignore" else "refuse"


@dataclass(frozen=True, slots=True)
class Located:
    """The catalogue service a location belongs to, and its unit (ward, bay) when known."""

    service: str
    unit: str | None
    #: A rule of the profile placed it (not the default service): the sender's own statement
    #: of where the location is.
    by_rule: bool = field(default=True, compare=False)


class MappingProfile(_Strict):
    """How one source's messages map onto the catalogue."""

    organisation: str
    default_service: str | None = None
    locations: list[LocationRule] = Field(default_factory=list)
    codes: CodeMaps = Field(default_factory=CodeMaps)
    hl7: Hl7Rules = Field(default_factory=Hl7Rules)

    def locate(
        self,
        *,
        facility: str | None = None,
        point_of_care: str | None = None,
        room: str | None = None,
        bed: str | None = None,
        location: str | None = None,
        match_only: bool = False,
    ) -> Located | None:
        """The service (and unit) of a location: the first rule matching, else the default.

        `match_only` leaves the default out: None unless a rule matches.
        """
        parts = {
            "facility": facility,
            "point_of_care": point_of_care,
            "room": room,
            "bed": bed,
            "location": location,
        }
        for rule in self.locations:
            if rule.matches(parts):
                unit = parts[rule.unit] if rule.unit else point_of_care or location
                return Located(rule.service, unit or None)
        if match_only or self.default_service is None:
            return None
        return Located(self.default_service, point_of_care or location or None, by_rule=False)

    def problems(self, catalogue: Catalogue) -> list[str]:
        """Every entry that does not fit the catalogue, one sentence each."""
        found = catalogue_problems(self.model_dump(), catalogue)
        # Ignoring a trigger the default `take` list holds is how one stops taking it.
        both = sorted(set(self.hl7.take) & set(self.hl7.ignore))
        both = both if "take" in self.hl7.model_fields_set else []
        found += [f"hl7: {trigger} is both taken and ignored" for trigger in both]
        return found


def catalogue_problems(document: dict[str, Any], catalogue: Catalogue) -> list[str]:
    """The services of a profile (parsed or not) that are not the organisation's own."""
    organisation = document.get("organisation")
    if organisation not in catalogue.organisation_codes:
        return [f"organisation: {organisation!r} is not in the catalogue"]
    rules = document.get("locations")
    named = [("default_service", document.get("default_service"))]
    if isinstance(rules, list):
        named += [
            (f"locations[{n}].service", rule.get("service"))
            for n, rule in enumerate(rules)
            if isinstance(rule, dict)
        ]
    found = []
    for where, service in named:
        if not isinstance(service, str):
            continue
        other = catalogue.service(service)
        if other is None:
            found.append(f"{where}: no service {service!r} in the catalogue")
        elif other.organisation != organisation:
            found.append(
                f"{where}: {service!r} is a service of {other.organisation}, not of {organisation}"
            )
    return found


def default_profile(organisation: str, default_service: str | None = None) -> MappingProfile:
    """The profile used when none is given: standard codes, every location to the default."""
    return MappingProfile(organisation=organisation, default_service=default_service)


def profile_from_location_map(
    services: dict[str, str], organisation: str, default_service: str | None = None
) -> MappingProfile:
    """A profile from the old `--location-map` (point of care → service id), unit PL.1."""
    rules = [
        LocationRule(point_of_care=_literal(code), service=service)
        for code, service in services.items()
    ]
    return MappingProfile(
        organisation=organisation, default_service=default_service, locations=rules
    )


def _literal(code: str) -> str:
    """A point-of-care code as a glob that matches only itself."""
    return re.sub(r"([*?\[])", r"[\1]", str(code))
