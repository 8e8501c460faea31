"""Human names of the lifecycle vocabularies, as gettext msgids (translated when shown)."""

from __future__ import annotations

from enum import StrEnum

from rogatory.directory.enums import AuthorityKind
from rogatory.i18n import N_, translate
from rogatory.identity.models import Role
from rogatory.requests.enums import (
    DataCategory,
    DeadlineStatus,
    Measure,
    Rank,
    Side,
    State,
    Verb,
)

LABELS: dict[type[StrEnum], dict[str, str]] = {
    State: {
        State.DRAFT: N_("Draft"),
        State.VALIDATION: N_("Awaiting validation"),
        State.ISSUED: N_("Issued"),
        State.RECEIVED: N_("Received"),
        State.ACKNOWLEDGED: N_("Acknowledged"),
        State.UNDER_REVIEW: N_("Under review"),
        State.MORE_INFORMATION_REQUESTED: N_("More information requested"),
        State.EXECUTING: N_("Being executed"),
        State.REFUSED: N_("Refused"),
        State.EXECUTED: N_("Executed"),
        State.PARTIALLY_EXECUTED: N_("Partly executed"),
        State.CLOSED: N_("Closed"),
        State.WITHDRAWN: N_("Withdrawn"),
    },
    Verb: {
        Verb.SUBMIT: N_("Submit for validation"),
        Verb.VALIDATE: N_("Validate"),
        Verb.RETURN_TO_DRAFT: N_("Return to draft"),
        Verb.SEND: N_("Send"),
        Verb.ACKNOWLEDGE: N_("Acknowledge receipt"),
        Verb.BEGIN_REVIEW: N_("Begin review"),
        Verb.REQUEST_INFORMATION: N_("Request more information"),
        Verb.PROVIDE_INFORMATION: N_("Provide information"),
        Verb.BEGIN_EXECUTION: N_("Recognise and begin execution"),
        Verb.REFUSE: N_("Refuse"),
        Verb.EXECUTE: N_("Mark executed"),
        Verb.EXECUTE_PARTIALLY: N_("Mark partly executed"),
        Verb.CLOSE: N_("Close"),
        Verb.WITHDRAW: N_("Withdraw"),
        Verb.EXTEND_DEADLINE: N_("Extend deadline"),
        Verb.ISSUE_EMERGENCY: N_("Issue without prior validation (emergency)"),
        Verb.VALIDATE_EX_POST: N_("Validate after the fact"),
        Verb.REFUSE_EX_POST: N_("Refuse validation after the fact"),
        Verb.LAPSE: N_("Lapsed without validation"),
    },
    Side: {
        Side.ISSUING: N_("Issuing authority"),
        Side.VALIDATING: N_("Validating authority"),
        Side.EXECUTING: N_("Executing authority"),
    },
    DataCategory: {
        DataCategory.SUBSCRIBER: N_("Subscriber data"),
        DataCategory.IDENTIFICATION: N_("Identification data"),
        DataCategory.TRAFFIC: N_("Traffic data"),
        DataCategory.CONTENT: N_("Content data"),
        DataCategory.OTHER: N_("Other data"),
    },
    DeadlineStatus: {
        DeadlineStatus.OPEN: N_("Running"),
        DeadlineStatus.MET: N_("Met"),
        DeadlineStatus.BREACHED: N_("Breached"),
        DeadlineStatus.EXPIRED: N_("Expired"),
        DeadlineStatus.CANCELLED: N_("Cancelled"),
    },
    Measure: {
        Measure.PRODUCTION: N_("Production of data"),
        Measure.PRESERVATION: N_("Preservation of data"),
        Measure.INVESTIGATIVE_MEASURE: N_("Investigative measure"),
        Measure.EMERGENCY_DISCLOSURE: N_("Emergency disclosure"),
        Measure.JOINT_INVESTIGATION: N_("Joint investigation team"),
        Measure.EXTRADITION: N_("Extradition"),
        Measure.FREEZING: N_("Freezing of assets"),
    },
    Rank: {
        Rank.JUDGE: N_("Judge"),
        Rank.COURT: N_("Court"),
        Rank.INVESTIGATING_JUDGE: N_("Investigating judge"),
        Rank.PROSECUTOR: N_("Prosecutor"),
        Rank.INVESTIGATING_AUTHORITY: N_("Investigating authority"),
        Rank.CENTRAL_AUTHORITY: N_("Central authority"),
        Rank.POLICE: N_("Police"),
    },
    AuthorityKind: {
        AuthorityKind.ISSUING: N_("Issuing authority"),
        AuthorityKind.VALIDATING: N_("Validating authority"),
        AuthorityKind.CENTRAL_AUTHORITY: N_("Central authority"),
        AuthorityKind.EXECUTING: N_("Executing authority"),
        AuthorityKind.CONTACT_POINT_24_7: N_("24/7 contact point"),
        AuthorityKind.PROVIDER_LEGAL_REPRESENTATIVE: N_("Service provider's legal representative"),
    },
    Role: {
        Role.PROSECUTOR: N_("Prosecutor"),
        Role.JUDGE: N_("Judge"),
        Role.INVESTIGATING_JUDGE: N_("Investigating judge"),
        Role.CENTRAL_AUTHORITY_OFFICER: N_("Central authority officer"),
        Role.EXECUTING_OFFICER: N_("Executing officer"),
        Role.FORENSIC_EXAMINER: N_("Forensic examiner"),
        Role.PROVIDER_RESPONDER: N_("Service provider responder"),
        Role.COORDINATOR: N_("Coordinator"),
        Role.VICTIM_LIAISON: N_("Victim liaison"),
        Role.OVERSIGHT_AUDITOR: N_("Oversight auditor"),
        Role.ADMINISTRATOR: N_("Administrator"),
    },
}


def label(value: StrEnum, lang: str = "en") -> str:
    """The human name of an enum value in `lang`."""
    return translate(LABELS[type(value)][value], lang)
