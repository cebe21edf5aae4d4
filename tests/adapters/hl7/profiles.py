"""The mapping profile most HL7 tests map with: the ED and the wards placed by rule (`ED*` the
front door, `LGI` the wards, its room as the unit), anything else by the default service."""

from __future__ import annotations

from flowsight.adapters.profile import LocationRule, MappingProfile

ED_AND_WARDS = MappingProfile(
    organisation="RR8",
    default_service="lth-wards",
    locations=[
        LocationRule(point_of_care="ED*", service="lth-ed"),
        LocationRule(point_of_care="LGI", service="lth-wards", unit="room"),
    ],
)
