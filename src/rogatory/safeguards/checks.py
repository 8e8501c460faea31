"""The safeguards the request workflow checks at its verbs, called by
`rogatory.requests.service.act` (this module never imports that service, which imports it):

* validate and send: an intrusive measure has a complete assessment that meets the
  instrument's offence threshold (`rules.ASSESSMENT`, e.g. Reg. (EU) 2023/1543 Art. 5(4));
* send: the enforcing State is notified at the same time as the addressee (Art. 8);
* refuse: the ground is raised within its time limit (e.g. Art. 12);
* execute: no transmission while a suspensive notification is under review, nor after the
  enforcing authority raised grounds (Art. 8(4), 10(2));
* issue without prior validation: only an emergency order of an authority that needs
  validation, for data categories that allow it (Art. 4(5)); while its validation after the
  fact is pending (`ex_post_deadline`), and once it was refused or never came
  (`ex_post_outcome`: the data received are restricted, `restrict_ex_post`).

Each check runs at most one indexed query, and only for the instruments and data categories
that need it; the rest is `rules`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from rogatory.directory import cache as directory
from rogatory.directory.enums import AuthorityKind
from rogatory.errors import FieldError, ValidationFailed
from rogatory.instruments.schema import Instrument, NotificationRule
from rogatory.requests.enums import DataCategory, DeadlineStatus, Verb
from rogatory.requests.models import Deadline, TimelineEvent
from rogatory.safeguards import records, rules
from rogatory.safeguards.models import (
    Assessment,
    Decision,
    EnforcementNotification,
    ReceivedData,
)
from rogatory.safeguards.rules import ExPostOutcome, NotificationStatus, Outcome, Stage

if TYPE_CHECKING:
    from rogatory.requests.models import Request


def current_assessment(session: Session, request_id: str) -> Assessment | None:
    """The request's newest assessment (one indexed lookup)."""
    return session.scalars(select(Assessment).where(Assessment.request_id == request_id)
                           .order_by(Assessment.number.desc()).limit(1)).first()


def _required_assessment(session: Session, request: Request,
                         instrument: Instrument) -> Assessment | None:
    """The current assessment of an intrusive request, checked against the thresholds;
    `None` for a request that needs none. Raises naming `assessment` or its field."""
    if not rules.is_intrusive(instrument, request.data_categories, request.form):
        return None
    assessment = current_assessment(session, request.id)
    if assessment is None:
        raise ValidationFailed([FieldError("assessment", rules.MSG_ASSESSMENT_REQUIRED, {
            "categories": ", ".join(rules.intrusive_categories(request.data_categories))
            or "interception", "article": rules.ASSESSMENT.article})])
    errors = rules.threshold_errors(
        instrument, request.data_categories,
        maximum_penalty_years=assessment.maximum_penalty_years,
        listed_offence=assessment.listed_offence,
        committed_by_information_system=assessment.committed_by_information_system,
        prefix="assessment.")
    if errors:
        raise ValidationFailed(errors)
    return assessment


def check_validate(*, session: Session, request: Request,
                   instrument: Instrument) -> dict[str, Any]:
    """Before `validate`: the assessment of an intrusive measure. Returns the timeline
    details to record (which assessment the validation relied on)."""
    assessment = _required_assessment(session, request, instrument)
    return {"assessment_id": assessment.id} if assessment else {}


def _enforcing_authority(session: Session, state: str) -> tuple[str, str]:
    """The requested State's authority that receives notifications, and its time zone."""
    snapshot = directory.snapshot(session)
    found = sorted(a.id for a in snapshot.authorities.values()
                   if a.jurisdiction == state and a.kind is AuthorityKind.CENTRAL_AUTHORITY)
    if not found:
        raise ValidationFailed([FieldError("notification", rules.MSG_NO_ENFORCING,
                                           {"state": state})])
    jurisdiction = snapshot.jurisdictions.get(state)
    return found[0], jurisdiction.timezone if jurisdiction else "UTC"


def check_send(*, session: Session, request: Request, instrument: Instrument,
               now: datetime) -> dict[str, Any]:
    """Before `send`: the assessment again (it may have changed since the validation), then
    the notification of the enforcing State where the instrument requires one (Art. 8),
    written in this transaction. Returns the timeline details to record."""
    assessment = _required_assessment(session, request, instrument)
    details: dict[str, Any] = {"assessment_id": assessment.id} if assessment else {}
    rule = instrument.notification
    if rule is None:
        return details
    applies = rules.notification_rule(
        instrument, request.data_categories,
        offence_in_issuing_state=bool(assessment and assessment.offence_in_issuing_state),
        person_in_issuing_state=bool(assessment and assessment.person_in_issuing_state))
    if applies is None:
        if {c.value for c in rule.data_categories} & set(request.data_categories):
            details["notification"] = {"required": False,
                                       "legal_basis": rule.exception_article or rule.article}
        return details
    details["notification"] = _notify(session, request, applies, now)
    return details


def _notify(session: Session, request: Request, rule: NotificationRule,
            now: datetime) -> dict[str, Any]:
    authority_id, timezone = _enforcing_authority(session, request.requested_state)
    due = rules.window_due(rule, now, emergency=request.emergency, timezone=timezone)
    suspensive = rule.suspensive and not request.emergency
    certificate = {
        "reference": request.reference, "instrument": request.instrument,
        "instrument_version": request.instrument_version,
        "requesting_state": request.requesting_state, "requested_state": request.requested_state,
        "issuing_authority_id": request.issuing_authority_id,
        "validating_authority_id": request.validating_authority_id,
        "executing_authority_id": request.executing_authority_id,
        "data_categories": list(request.data_categories), "emergency": request.emergency,
        "language": request.language, "form": dict(request.form),
        "translations": dict(request.translations), "sent_at": now.isoformat()}
    session.add(EnforcementNotification(
        id=str(uuid.uuid4()), request_id=request.id, reference=request.reference,
        instrument=request.instrument, certificate=certificate,
        enforcing_authority_id=authority_id, notified_at=now, window_due_at=due,
        emergency=request.emergency, suspensive=suspensive, legal_basis=rule.article,
        status=NotificationStatus.PENDING.value))
    return {"required": True, "enforcing_authority_id": authority_id,
            "window_due_at": due.isoformat(), "suspensive": suspensive,
            "legal_basis": rule.article}


def notification_of(session: Session, request_id: str) -> EnforcementNotification | None:
    return session.scalars(select(EnforcementNotification).where(
        EnforcementNotification.request_id == request_id)).first()


def _raised_in_time(session: Session, request_id: str) -> set[str]:
    """Grounds the enforcing authority raised within its window and has not withdrawn by a
    later decision (one indexed lookup)."""
    later = aliased(Decision)
    rows = session.execute(
        select(Decision.grounds, Decision.decided_at, EnforcementNotification.window_due_at)
        .join(EnforcementNotification,
              EnforcementNotification.request_id == Decision.request_id)
        .where(Decision.request_id == request_id, Decision.stage == Stage.ENFORCEMENT.value,
               Decision.outcome != Outcome.GRANT.value,
               ~exists().where(later.supersedes_id == Decision.id))).all()
    return {g for grounds, at, due in rows if at <= due for g in grounds}


def check_refusal(*, session: Session, request: Request, instrument: Instrument,
                  ground: str | None, now: datetime, timezone: str) -> None:
    """Before `refuse`: the ground is the instrument's and raised within its time limit from
    receipt (`rules.refusal_errors`); a ground the enforcing authority raised in time may be
    relayed by the addressee later (looked up only then)."""
    kwargs: dict[str, Any] = {"received_at": request.sent_at, "now": now,
                              "emergency": request.emergency, "timezone": timezone}
    errors = rules.refusal_errors(instrument, ground, **kwargs)
    if errors and instrument.notification is not None \
            and errors[0].message == rules.MSG_REFUSAL_LATE:
        errors = rules.refusal_errors(instrument, ground, **kwargs,
                                      raised_in_time=_raised_in_time(session, request.id))
    if errors:
        raise ValidationFailed(errors)


def check_transmission(*, session: Session, request: Request, instrument: Instrument,
                       now: datetime) -> None:
    """Before `execute` or `execute_partially`: a notified order is not transmitted while its
    suspensive review runs, nor once the enforcing authority raised grounds."""
    rule = instrument.notification
    if rule is None or not {c.value for c in rule.data_categories} & set(request.data_categories):
        return
    notification = notification_of(session, request.id)
    if notification is None:
        return
    grounds: list[str] = []
    status = NotificationStatus(notification.status)
    if status is NotificationStatus.GROUNDS_RAISED and notification.decision_id:
        decision = session.get(Decision, notification.decision_id)
        grounds = list(decision.grounds) if decision else []
    errors = rules.transmission_errors(
        status, suspensive=notification.suspensive, emergency=notification.emergency,
        due=notification.window_due_at, now=now, grounds=grounds, rule=rule)
    if errors:
        raise ValidationFailed(errors)


# --- issue without prior validation (Reg. (EU) 2023/1543 Art. 4(5)) -----------------------------


def check_issue_without_validation(*, session: Session, request: Request,
                                   instrument: Instrument) -> dict[str, Any]:
    """Before `issue_emergency`: an emergency order, by an authority that needs validation, for
    data categories whose rule allows issuing without it (`rules.without_validation_errors`).
    Returns the timeline details to record."""
    issuing = directory.authority(session, request.issuing_authority_id)
    rank = issuing.rank if issuing else None
    errors = rules.without_validation_errors(
        instrument, [DataCategory(c) for c in request.data_categories], rank,
        emergency=request.emergency)
    if errors:
        raise ValidationFailed(errors)
    return {"without_prior_validation": True, "issuer_rank": rank.value if rank else None,
            "verified": rules.EX_POST_VALIDATION.verified}


def ex_post_deadline(session: Session, request_id: str) -> Deadline | None:
    """The running deadline of a validation after the fact, if the order awaits one (one
    indexed lookup)."""
    return session.scalars(select(Deadline).where(
        Deadline.request_id == request_id, Deadline.kind == rules.EX_POST_VALIDATION_KIND,
        Deadline.status == DeadlineStatus.OPEN.value)).first()


def ex_post_outcome(session: Session, request_id: str) -> ExPostOutcome | None:
    """Why the data of an order issued without prior validation may not be used: refused, lapsed
    or withdrawn before its validation; `None` when it was validated, is still awaited, or was
    issued with prior validation."""
    status = session.scalar(select(Deadline.status).where(
        Deadline.request_id == request_id, Deadline.kind == rules.EX_POST_VALIDATION_KIND))
    if status == DeadlineStatus.BREACHED.value:
        return ExPostOutcome.LAPSED
    if status != DeadlineStatus.CANCELLED.value:
        return None
    refused = session.scalar(select(TimelineEvent.id).where(
        TimelineEvent.request_id == request_id,
        TimelineEvent.verb == Verb.REFUSE_EX_POST.value).limit(1))
    return ExPostOutcome.REFUSED if refused is not None else ExPostOutcome.WITHDRAWN


def restrict_ex_post(*, session: Session, request_id: str, outcome: ExPostOutcome,
                     now: datetime) -> list[str]:
    """The order lapsed without validation (Art. 4(5)): every data item received on it is
    restricted, so that it is not used. Returns the ids of the items flagged."""
    items: list[ReceivedData] = records.restrict_request_data(
        session, request_id, outcome.value, rules.EX_POST_VALIDATION.article, now)
    return [item.id for item in items]
