"""A FHIR message is about what its MessageHeader's focus names. An Encounter beside it that the
focus does not name is context, not a stay or an attendance at the receiver: NHS England's
Booking and Referral Standard (BaRS) sends the sender's 111 or 999 assessment Encounter (triaged,
class EMER, no location, no serviceProvider) with the ServiceRequest the referral is. Before,
it became an attendance at the receiving trust's emergency department that never happened."""

from __future__ import annotations

import json
from typing import Any

from flowsight.adapters.fhir.intake import examine_message
from flowsight.adapters.fhir.outcome import Examined
from flowsight.adapters.profile import LocationRule, MappingProfile
from tests.adapters.fhir.encounters import CORPUS, NHS_NUMBER
from tests.adapters.fhir.test_real_feeds import reading

#: RR8's profile for NHS England feeds: a default service, and its emergency department.
PROFILE = MappingProfile(
    organisation="RR8",
    default_service="lth-wards",
    locations=[LocationRule(location="*Emergency*", service="lth-ed")],
)
#: BaRS 1.4.0's validation request (999 to a clinical assessment service), as published.
VALIDATION_REQUEST = "nhs-bars__ValidationRequest-POST.json"


def message() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((CORPUS / VALIDATION_REQUEST).read_text("utf-8"))
    return document


#: Da Vinci's admit notification event, a message that is about its Encounter.
DA_VINCI_ADMIT = {
    "system": "http://hl7.org/fhir/us/davinci-alerts/CodeSystem/notification-event",
    "code": "notification-admit",
}


def about_its_encounter(event: dict[str, str] | None = None) -> dict[str, Any]:
    """The BaRS example with its focus on its Encounter (as a BaRS validation response's is),
    its event `event` (None: BaRS's own), and a valid NHS number."""
    document = message()
    header = document["entry"][0]["resource"]
    header["focus"] = [{"reference": document["entry"][3]["fullUrl"]}]
    if event is not None:
        header["eventCoding"] = event
    for entry in document["entry"]:
        for identifier in entry["resource"].get("identifier", []):
            if entry["resource"]["resourceType"] == "Patient" and "nhs-number" in str(identifier):
                identifier["value"] = NHS_NUMBER
    return document


def examined(document: dict[str, Any]) -> Examined:
    result = examine_message(document, b"", reading({"RR8": PROFILE}))
    assert isinstance(result, Examined), result
    return result


def test_a_bars_referral_s_encounter_is_not_an_attendance_but_one_the_focus_names_is() -> None:
    result = examined(message())

    assert result.events == []
    (note,) = [issue for issue in result.notes if issue.expression == "Bundle.entry[3]"]
    assert note.severity == "information"
    assert "is about Bundle.entry[1] (a ServiceRequest)" in note.diagnostics
    assert "POST /v1/events" in note.diagnostics

    # Outside BaRS the rule is the focus: a message about its Encounter (Da Vinci's
    # notifications) is read as it was. (The example's NHS number fails its check digit.)
    focused = examined(about_its_encounter(event=DA_VINCI_ADMIT))

    published = [e.event for e in focused.events if not e.event.get("if_present")]
    assert [(e["event_type"], e["service"]) for e in published] == [("attendance", "lth-ed")]
    assert not [issue for issue in focused.notes if "focus" in issue.diagnostics]


def test_a_bars_message_about_its_encounter_publishes_nothing_either() -> None:
    # A BaRS validation response (a clinical assessment service back to 999) names in its focus
    # the assessment service's own Encounter: finished, class EMER, no location. It was refused
    # for want of a period.end, and with one it became an attendance at the trust's ED.
    result = examined(about_its_encounter())

    assert result.events == []
    (note,) = [issue for issue in result.notes if issue.expression == "Bundle.entry[3]"]
    assert "Booking and Referral Standard (BaRS)" in note.diagnostics
    assert "not a stay or an attendance at a hospital" in note.diagnostics
