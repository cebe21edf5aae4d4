"""Code lists of the event contract (SPEC section 8) and the service catalogue."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    ATTENDANCE = "attendance"
    ADMISSION = "admission"
    TRANSFER = "transfer"
    REFERRAL = "referral"
    ASSESSMENT = "assessment"
    DISCHARGE = "discharge"
    CAPACITY = "capacity"
    CANCELLATION = "cancellation"


class ServiceKind(StrEnum):
    ACUTE_FRONT_DOOR = "acute_front_door"
    ACUTE_INPATIENT = "acute_inpatient"
    TRANSFERS_OF_CARE = "transfers_of_care"
    UCR = "ucr"
    REABLEMENT = "reablement"
    SHORT_TERM_BEDS = "short_term_beds"
    HOME_CARE = "home_care"
    RESIDENTIAL_NURSING = "residential_nursing"


class CapacityUnit(StrEnum):
    BEDS = "beds"
    SLOTS = "slots"
    HOURS = "hours"


class AttendanceOutcome(StrEnum):
    ADMITTED = "admitted"
    DISCHARGED = "discharged"
    TRANSFERRED = "transferred"
    LEFT = "left"


class AdmissionMethod(StrEnum):
    EMERGENCY = "emergency"
    ELECTIVE = "elective"
    TRANSFER_IN = "transfer_in"
    START_OF_CARE = "start_of_care"


class Pathway(StrEnum):
    """Discharge pathways, Hospital discharge and community support guidance (2024)."""

    P0 = "P0"  # home, no new support
    P1 = "P1"  # home with new support
    P2 = "P2"  # short-term bed-based rehabilitation or recovery
    P3 = "P3"  # new long-term care-home placement


class ReferralStatus(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class AssessmentKind(StrEnum):
    CTR_REVIEW = "ctr_review"
    CARE_ACT = "care_act"
    CHC = "chc"
    THERAPY = "therapy"


class AssessmentStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


class DelayReason(StrEnum):
    """Reasons a patient who no longer meets the criteria to reside is still in a bed (8.2)."""

    AWAITING_MEDICAL_DECISION = "awaiting_medical_decision"
    AWAITING_EQUIPMENT = "awaiting_equipment"
    AWAITING_COMMUNITY_HUB = "awaiting_community_hub"
    AWAITING_DIAGNOSTIC = "awaiting_diagnostic"
    AWAITING_MEDICINES_TTO = "awaiting_medicines_tto"
    AWAITING_REFERRAL_TO_SPA = "awaiting_referral_to_spa"
    AWAITING_THERAPY_DECISION = "awaiting_therapy_decision"
    AWAITING_TRANSPORT = "awaiting_transport"
    REMEETS_CRITERIA = "remeets_criteria"
    HOMELESS_NO_PLACE = "homeless_no_place"
    PATIENT_FAMILY_DISAGREEMENT = "patient_family_disagreement"
    NO_PLAN = "no_plan"
    P1_AWAITING_RESOURCE = "p1_awaiting_resource"
    P2_AWAITING_BED = "p2_awaiting_bed"
    P3_AWAITING_CARE_HOME = "p3_awaiting_care_home"
    INFECTION_CONTROL = "infection_control"
    AWAITING_REPATRIATION = "awaiting_repatriation"
    SAFEGUARDING_COURT_OF_PROTECTION = "safeguarding_court_of_protection"
    AWAITING_CHC_ASSESSMENT = "awaiting_chc_assessment"
    AWAITING_READMISSION_DECISION = "awaiting_readmission_decision"


class DischargeDestination(StrEnum):
    USUAL_RESIDENCE = "usual_residence"
    USUAL_RESIDENCE_WITH_SUPPORT = "usual_residence_with_support"
    SHORT_TERM_BED = "short_term_bed"
    CARE_HOME_RESIDENTIAL = "care_home_residential"
    CARE_HOME_NURSING = "care_home_nursing"
    OTHER_HOSPITAL = "other_hospital"
    HOSPICE = "hospice"
    DIED = "died"
    OTHER = "other"
