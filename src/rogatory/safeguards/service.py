"""Safeguards service: assessments, reasoned decisions, the enforcing State's notifications, a
provider's Annex III answers, data-protection records of data received, and the register of
analytic tools.

Functions take `*, session` and never commit. Who may see what follows the request's parties
(`rogatory.identity.policy.require_visible`): unknown and not visible both raise NotFound. The
enforcing authority of a notification is no party to the request: it sees the notification and
the certificate copied into it, and the decisions of its own review. Every record is a leaf of
the node's ledger (canonical JSON), written in the caller's transaction.

A decision that the request's workflow is waiting for also performs the verb it amounts to, in
the same transaction: a validation granted (wholly or partly) validates the order and a denied
one returns it to draft; on the executing side a grant begins execution and a denial refuses
the order with the first ground for refusal it names. On an order issued without prior
validation (Reg. (EU) 2023/1543 Art. 4(5)), a validation decision while the 48 hours run
validates it after the fact, or refuses that and so withdraws it. A decision that supersedes
another is a record only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from rogatory.clock import Clock, ensure_utc
from rogatory.directory import cache as directory
from rogatory.directory.enums import AuthorityKind
from rogatory.errors import FieldError, Forbidden, NotFound, ValidationFailed
from rogatory.i18n import N_
from rogatory.identity.models import Role
from rogatory.identity.policy import OVERSIGHT_ROLES, SIDE_ROLES, Actor, acting_side
from rogatory.instruments import catalogue
from rogatory.instruments.schema import Instrument
from rogatory.requests import service as requests_service
from rogatory.requests.enums import OPEN_STATES, Side, State, Verb
from rogatory.safeguards import checks, records, rules
from rogatory.safeguards.models import (
    AnalyticTool,
    Assessment,
    Decision,
    DecisionTool,
    EnforcementNotification,
    InformingDeferral,
    NonExecutionNotice,
    OnwardTransfer,
    ReceivedData,
)
from rogatory.safeguards.rules import (
    AssessmentInput,
    NotificationStatus,
    Outcome,
    Stage,
)

if TYPE_CHECKING:
    from rogatory.requests.models import Request

MSG_ASSESSMENT_STATE = N_("An assessment can be recorded only until the request is sent.")
MSG_NOT_AWAITED = N_("No {stage} decision is awaited while the request is '{state}'.")
MSG_SUPERSEDES = N_(
    "Must be a decision of the same stage on this request that no other decision supersedes.")
MSG_ALREADY_DECIDED = N_("Already decided: a new decision must supersede the current one.")
MSG_VERSION = N_("The version you decided on is required.")
MSG_NOT_CURRENT = N_("A grant relies on the request's current assessment.")
MSG_NOT_PROVIDER_ORDER = N_("Only an order to a service provider is answered on Annex III.")
MSG_NOT_ANSWERABLE = N_("This order is not open for an answer of the executing side.")
MSG_DATA_STATE = N_("Data can only be recorded once the request has been sent.")
MSG_DELETED = N_("These data have been deleted.")
MSG_RESTRICTED = N_("The use of these data is restricted: {reason}.")
MSG_TOOL_EXISTS = N_("This version of the tool is already registered.")

ASSESSABLE_STATES = frozenset({State.DRAFT, State.VALIDATION, State.ISSUED})
ENFORCING_ROLES = frozenset({Role.CENTRAL_AUTHORITY_OFFICER, Role.PROSECUTOR, Role.JUDGE,
                             Role.INVESTIGATING_JUDGE, Role.EXECUTING_OFFICER})
TOOL_APPROVERS = frozenset({Role.JUDGE, Role.INVESTIGATING_JUDGE, Role.ADMINISTRATOR})
"""Who approves an analytic tool: a judge or the node's administrator — not the prosecutor whose
requests rely on it."""
GROUNDS_RAISED = "grounds_raised_by_enforcing_authority"
"""Why data are restricted once the enforcing authority raised grounds (Art. 10(4))."""
_STATUS_AFTER = {Outcome.GRANT: NotificationStatus.NO_GROUNDS,
                 Outcome.PARTIAL: NotificationStatus.CONDITIONS,
                 Outcome.DENY: NotificationStatus.GROUNDS_RAISED}


def _new_id() -> str:
    return str(uuid.uuid4())


def _columns(row: Any, *exclude: str) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns
            if c.key not in exclude}


def _side_of(actor: Actor, request: Request, *sides: Side) -> Side:
    """The first of `sides` the actor's authority and role act on, or Forbidden."""
    held = requests_service.parties_of(request).sides_of(actor.authority_id)
    for side in sides:
        if side in held and actor.role in SIDE_ROLES[side]:
            return side
    names = ", ".join(s.value for s in sides)
    raise Forbidden(f"this is for the {names} side of the request; your authority and role "
                    f"({actor.role.value}) do not act on it")


# --- assessments ---------------------------------------------------------------------------------


def record_assessment(*, session: Session, actor: Actor, request_id: str,
                      values: AssessmentInput, clock: Clock) -> Assessment:
    """Record the assessment of a request's intrusive measure, by its issuing or validating
    side, until it is sent; it becomes the request's current assessment (`rules.ASSESSMENT`)."""
    request = requests_service.get_request(session=session, actor=actor, request_id=request_id)
    _side_of(actor, request, Side.ISSUING, Side.VALIDATING)
    if State(request.state) not in ASSESSABLE_STATES:
        raise ValidationFailed([FieldError("state", MSG_ASSESSMENT_STATE)])
    instrument = catalogue.get(request.instrument)
    errors = rules.assessment_errors(instrument, values)
    if errors:
        raise ValidationFailed(errors)
    previous = checks.current_assessment(session, request.id)
    now = clock.now()
    row = Assessment(
        id=_new_id(), request_id=request.id, number=previous.number + 1 if previous else 1,
        offence=values.offence, maximum_penalty_years=values.maximum_penalty_years,
        listed_offence=values.listed_offence,
        committed_by_information_system=values.committed_by_information_system,
        necessity=values.necessity, proportionality=values.proportionality,
        least_intrusive_alternative=values.least_intrusive_alternative,
        alternative_insufficient_because=values.alternative_insufficient_because,
        data_from=values.data_from, data_to=values.data_to, data_scope=values.data_scope,
        persons_affected=values.persons_affected,
        privileged_persons=list(values.privileged_persons),
        privileged_safeguards=values.privileged_safeguards,
        offence_in_issuing_state=values.offence_in_issuing_state,
        person_in_issuing_state=values.person_in_issuing_state,
        author_user_id=actor.user_id, author_authority_id=actor.authority_id, created_at=now)
    row.ledger_index = records.leaf(session, "assessment", {
        **_columns(row, "ledger_index"), "reference": request.reference}, now)
    session.add(row)
    session.flush()
    return row


def _assessment_visible(actor: Actor, request: Request) -> None:
    """Assessments stay with the issuing side: its issuing and validating authorities, and
    oversight."""
    if actor.role in OVERSIGHT_ROLES:
        return
    held = requests_service.parties_of(request).sides_of(actor.authority_id)
    if not held & {Side.ISSUING, Side.VALIDATING}:
        raise NotFound("request not found")


def list_assessments(*, session: Session, actor: Actor, request_id: str) -> list[Assessment]:
    """Every assessment of the request, oldest first (the last is the current one)."""
    request = requests_service.get_request(session=session, actor=actor, request_id=request_id)
    _assessment_visible(actor, request)
    return list(session.scalars(select(Assessment).where(Assessment.request_id == request.id)
                                .order_by(Assessment.number)))


# --- decisions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionDraft:
    """What the decider states. `expected_version`: the request version decided on, needed
    when the decision performs a workflow verb."""

    stage: Stage
    outcome: Outcome
    grounds: list[str]
    reasons: str
    assessment_id: str | None = None
    tools: list[str] = field(default_factory=list)
    supersedes: str | None = None
    expected_version: int | None = None


def _tool_errors(session: Session, tools: Sequence[str]) -> list[FieldError]:
    known = set(session.scalars(select(AnalyticTool.id).where(AnalyticTool.id.in_(tools)))) \
        if tools else set()
    errors = [FieldError(f"tools.{i}", rules.MSG_UNKNOWN)
              for i, tool in enumerate(tools) if tool not in known]
    if len(set(tools)) != len(tools):
        errors.append(FieldError("tools", rules.MSG_UNKNOWN))
    return errors


def _supersede_errors(session: Session, request_id: str, stage: Stage,
                      decision_id: str | None) -> list[FieldError]:
    """A decision supersedes one of the same stage on the same request that no other
    decision supersedes yet."""
    if decision_id is None:
        return []
    previous = session.get(Decision, decision_id)
    taken = session.scalar(select(exists().where(Decision.supersedes_id == decision_id)))
    if previous is None or previous.request_id != request_id or previous.stage != stage \
            or taken:
        return [FieldError("supersedes", MSG_SUPERSEDES)]
    return []


def _verb_for(stage: Stage, outcome: Outcome, state: State, *,
              ex_post_pending: bool = False) -> Verb | None:
    """The workflow verb a decision amounts to in `state`, if the workflow awaits it;
    `ex_post_pending`: the order was issued without prior validation and awaits one (Art.
    4(5))."""
    if stage is Stage.VALIDATION and state is State.VALIDATION:
        return Verb.RETURN_TO_DRAFT if outcome is Outcome.DENY else Verb.VALIDATE
    if stage is Stage.VALIDATION and ex_post_pending:
        return Verb.REFUSE_EX_POST if outcome is Outcome.DENY else Verb.VALIDATE_EX_POST
    if stage is Stage.EXECUTION:
        if outcome is Outcome.DENY and state in (State.RECEIVED, State.ACKNOWLEDGED,
                                                  State.UNDER_REVIEW):
            return Verb.REFUSE
        if outcome is not Outcome.DENY and state is State.UNDER_REVIEW:
            return Verb.BEGIN_EXECUTION
    return None


def _assessment_for(session: Session, request: Request, instrument: Instrument,
                    draft: DecisionDraft) -> tuple[str | None, list[FieldError]]:
    """The assessment a decision relies on: the one named, else the current one; required to
    grant an intrusive measure at validation, and then it is the current one (the one the
    workflow checks); none on the executing side."""
    if draft.stage is not Stage.VALIDATION:
        if draft.assessment_id is not None:
            return None, [FieldError("assessment_id", rules.MSG_UNKNOWN)]
        return None, []
    current = checks.current_assessment(session, request.id)
    if draft.assessment_id is not None:
        named = session.get(Assessment, draft.assessment_id)
        if named is None or named.request_id != request.id:
            return None, [FieldError("assessment_id", rules.MSG_UNKNOWN)]
        if current is not None and named.id != current.id and draft.outcome is not Outcome.DENY:
            return None, [FieldError("assessment_id", MSG_NOT_CURRENT)]
        return named.id, []
    if current is None and draft.outcome is not Outcome.DENY and rules.is_intrusive(
            instrument, request.data_categories, request.form):
        return None, [FieldError("assessment_id", rules.MSG_ASSESSMENT_REQUIRED, {
            "categories": ", ".join(rules.intrusive_categories(request.data_categories))
            or "interception", "article": rules.ASSESSMENT.article})]
    return (current.id if current else None), []


def decide(*, session: Session, actor: Actor, request_id: str, draft: DecisionDraft,
           clock: Clock) -> Decision:
    """Record a reasoned decision on a request, by the side whose decision it is (validation:
    the validating authority; execution: the executing authority; enforcement: the notified
    enforcing authority); performs the workflow verb it amounts to when the request awaits it.
    Raises naming every field at fault; nothing is written then."""
    if draft.stage is Stage.ENFORCEMENT:
        return _decide_enforcement(session, actor, request_id, draft, clock)
    request = requests_service.get_request(session=session, actor=actor, request_id=request_id)
    instrument = catalogue.get(request.instrument)
    acting_side(actor, requests_service.parties_of(request),
                Verb.VALIDATE if draft.stage is Stage.VALIDATION else Verb.REFUSE)
    errors = rules.decision_errors(instrument, draft.stage, draft.outcome, draft.grounds,
                                   draft.reasons)
    errors += _tool_errors(session, draft.tools)
    assessment_id, more = _assessment_for(session, request, instrument, draft)
    errors += more
    errors += _supersede_errors(session, request.id, draft.stage, draft.supersedes)
    verb = None
    if draft.supersedes is None:
        state = State(request.state)
        pending = draft.stage is Stage.VALIDATION and state is not State.VALIDATION \
            and checks.ex_post_deadline(session, request.id) is not None
        verb = _verb_for(draft.stage, draft.outcome, state, ex_post_pending=pending)
        if verb is None:
            errors.append(FieldError("stage", MSG_NOT_AWAITED, {
                "stage": draft.stage.value, "state": request.state}))
        elif draft.expected_version is None:
            errors.append(FieldError("version", MSG_VERSION))
    if errors:
        raise ValidationFailed(errors)
    basis = rules.decision_basis(instrument, draft.stage, draft.outcome, draft.grounds,
                                 request.data_categories)
    if verb in (Verb.VALIDATE_EX_POST, Verb.REFUSE_EX_POST):
        basis = f"{rules.EX_POST_VALIDATION.article}; {basis}"
    version = request.version
    if verb is not None:
        assert draft.expected_version is not None
        refusal = {g.code for g in instrument.refusal_grounds}
        ground = next((g for g in draft.grounds if g in refusal), None)
        requests_service.act(session=session, actor=actor, request_id=request.id,
                             action=requests_service.Action(
                                 verb=verb, expected_version=draft.expected_version,
                                 reason=draft.reasons, legal_basis=basis,
                                 ground=ground if verb is Verb.REFUSE else None),
                             clock=clock)
        version = draft.expected_version
    return _record_decision(session, actor, request.id, request.reference, instrument, draft,
                            basis=basis, assessment_id=assessment_id, version=version,
                            now=clock.now())


def _record_decision(session: Session, actor: Actor, request_id: str, reference: str,
                     instrument: Instrument, draft: DecisionDraft, *, basis: str,
                     assessment_id: str | None, version: int | None,
                     now: datetime) -> Decision:
    authority = directory.authority(session, actor.authority_id)
    row = Decision(
        id=_new_id(), request_id=request_id, instrument=instrument.code,
        stage=draft.stage.value, outcome=draft.outcome.value, grounds=list(draft.grounds),
        reasons=draft.reasons, legal_basis=basis, assessment_id=assessment_id,
        supersedes_id=draft.supersedes, request_version=version,
        decided_by_user_id=actor.user_id, decided_by_authority_id=actor.authority_id,
        decided_by_rank=authority.rank.value if authority and authority.rank else None,
        decided_at=now)
    row.ledger_index = records.leaf(session, "decision", {
        **_columns(row, "ledger_index"), "reference": reference, "tools": list(draft.tools)},
        now)
    session.add(row)
    session.flush()  # the decision before the tools that point at it
    for tool in draft.tools:
        session.add(DecisionTool(decision_id=row.id, tool_id=tool))
    session.flush()
    return row


def _notification_for(session: Session, actor: Actor,
                      request_id: str) -> EnforcementNotification:
    """The request's notification, for the notified authority, oversight and the request's
    parties; NotFound for anyone else, and when there is none."""
    notification = checks.notification_of(session, request_id)
    if notification is not None and (actor.role in OVERSIGHT_ROLES or actor.authority_id
                                     == notification.enforcing_authority_id):
        return notification
    requests_service.get_request(session=session, actor=actor, request_id=request_id)
    if notification is None:
        raise NotFound("notification not found")
    return notification


def _decide_enforcement(session: Session, actor: Actor, request_id: str, draft: DecisionDraft,
                        clock: Clock) -> Decision:
    """The enforcing authority's review of a notification (Reg. (EU) 2023/1543 Art. 8, 10(4),
    12): no grounds (grant), conditions on use (partial) or grounds raised (deny), within its
    time limit; raising grounds restricts the data already received (Art. 10(4))."""
    notification = _notification_for(session, actor, request_id)
    if actor.authority_id != notification.enforcing_authority_id \
            or actor.role not in ENFORCING_ROLES:
        raise Forbidden("only the notified enforcing authority reviews this notification")
    instrument = catalogue.get(notification.instrument)
    rule = instrument.notification
    now = clock.now()
    errors = rules.decision_errors(instrument, draft.stage, draft.outcome, draft.grounds,
                                   draft.reasons)
    errors += _tool_errors(session, draft.tools)
    if draft.assessment_id is not None:
        errors.append(FieldError("assessment_id", rules.MSG_UNKNOWN))
    errors += _supersede_errors(session, request_id, draft.stage, draft.supersedes)
    if draft.supersedes is None and notification.status != NotificationStatus.PENDING.value:
        errors.append(FieldError("supersedes", MSG_ALREADY_DECIDED))
    if draft.outcome is not Outcome.GRANT and ensure_utc(now) > ensure_utc(
            notification.window_due_at):
        errors.append(FieldError("grounds", rules.MSG_WINDOW_CLOSED, {
            "due": ensure_utc(notification.window_due_at).isoformat(),
            "article": rule.window_article if rule else notification.legal_basis}))
    if errors:
        raise ValidationFailed(errors)
    basis = rules.decision_basis(instrument, draft.stage, draft.outcome, draft.grounds,
                                 notification.certificate.get("data_categories", []))
    decision = _record_decision(session, actor, request_id, notification.reference, instrument,
                                draft, basis=basis, assessment_id=None, version=None, now=now)
    notification.status = _STATUS_AFTER[draft.outcome].value
    notification.decision_id = decision.id
    notification.decided_at = now
    if draft.outcome is Outcome.DENY:
        records.restrict_request_data(session, request_id, GROUNDS_RAISED,
                                      rules.RESTRICTION_AFTER_OBJECTION.article, now)
    session.flush()
    return decision


def _visible_decisions(session: Session, actor: Actor, request_id: str) -> list[str] | None:
    """The stages of decisions on the request `actor` may see (`None`: every stage)."""
    try:
        requests_service.get_request(session=session, actor=actor, request_id=request_id)
        return None
    except NotFound:
        notification = checks.notification_of(session, request_id)
        if notification is None or actor.authority_id != notification.enforcing_authority_id:
            raise
        return [Stage.ENFORCEMENT.value]


def list_decisions(*, session: Session, actor: Actor, request_id: str) -> list[Decision]:
    """The decisions on a request, oldest first: every one for its parties and oversight, the
    enforcing State's review for the notified authority."""
    stages = _visible_decisions(session, actor, request_id)
    query = select(Decision).where(Decision.request_id == request_id)
    if stages is not None:
        query = query.where(Decision.stage.in_(stages))
    return list(session.scalars(query.order_by(Decision.ledger_index)))


def get_decision(*, session: Session, actor: Actor, decision_id: str) -> Decision:
    decision = session.get(Decision, decision_id)
    if decision is None:
        raise NotFound("decision not found")
    try:
        stages = _visible_decisions(session, actor, decision.request_id)
    except NotFound:
        raise NotFound("decision not found") from None
    if stages is not None and decision.stage not in stages:
        raise NotFound("decision not found")
    return decision


def decision_tools(*, session: Session, decision_ids: Sequence[str]) -> dict[str, list[str]]:
    """The tools that contributed to each decision."""
    found: dict[str, list[str]] = {d: [] for d in decision_ids}
    if decision_ids:
        for decision_id, tool_id in session.execute(
                select(DecisionTool.decision_id, DecisionTool.tool_id)
                .where(DecisionTool.decision_id.in_(decision_ids))
                .order_by(DecisionTool.tool_id)):
            found[decision_id].append(tool_id)
    return found


def superseded_by(*, session: Session, decision_ids: Sequence[str]) -> dict[str, str]:
    """For each of `decision_ids` that a later decision supersedes, that decision's id."""
    if not decision_ids:
        return {}
    return {old: new for new, old in session.execute(
        select(Decision.id, Decision.supersedes_id)
        .where(Decision.supersedes_id.in_(decision_ids))) if old is not None}


# --- notifications of the enforcing State ------------------------------------------------------


def get_notification(*, session: Session, actor: Actor,
                     request_id: str) -> EnforcementNotification:
    """The request's notification: for its parties, oversight and the notified authority."""
    return _notification_for(session, actor, request_id)


def list_notifications(*, session: Session, actor: Actor,
                       status: NotificationStatus | None = None) -> list[EnforcementNotification]:
    """Notifications addressed to the actor's authority (every one for oversight), newest
    first."""
    query = select(EnforcementNotification)
    if actor.role not in OVERSIGHT_ROLES:
        query = query.where(EnforcementNotification.enforcing_authority_id == actor.authority_id)
    if status is not None:
        query = query.where(EnforcementNotification.status == status.value)
    return list(session.scalars(query.order_by(EnforcementNotification.notified_at.desc(),
                                               EnforcementNotification.id)))


# --- a provider's inability to execute (Annex III) ----------------------------------------------


@dataclass(frozen=True)
class NonExecutionDraft:
    reasons: list[str]
    explanation: str
    data_preserved: bool
    preserved_until: date | None = None
    conflict_details: str = ""
    information_required: str = ""


def record_non_execution(*, session: Session, actor: Actor, request_id: str,
                         draft: NonExecutionDraft, clock: Clock) -> NonExecutionNotice:
    """A provider answers that it cannot execute an order, on the Annex III form
    (`rules.ANNEX_III`). The workflow verbs stay separate: the provider may still ask for
    information or refuse on a ground of the instrument."""
    request = requests_service.get_request(session=session, actor=actor, request_id=request_id)
    _side_of(actor, request, Side.EXECUTING)
    instrument = catalogue.get(request.instrument)
    executing = directory.authority(session, request.executing_authority_id)
    if AuthorityKind.PROVIDER_LEGAL_REPRESENTATIVE not in instrument.addressed_to or (
            executing is None or executing.kind is not AuthorityKind.PROVIDER_LEGAL_REPRESENTATIVE):
        raise ValidationFailed([FieldError("request_id", MSG_NOT_PROVIDER_ORDER)])
    if State(request.state) not in OPEN_STATES:
        raise ValidationFailed([FieldError("state", MSG_NOT_ANSWERABLE)])
    now = clock.now()
    errors = rules.non_execution_errors(
        draft.reasons, draft.explanation, data_preserved=draft.data_preserved,
        preserved_until=draft.preserved_until, conflict_details=draft.conflict_details,
        today=now.date())
    if len(draft.information_required) > rules.TEXT_MAX:
        errors.append(FieldError("information_required", rules.MSG_TOO_LONG,
                                 {"max": rules.TEXT_MAX}))
    if errors:
        raise ValidationFailed(errors)
    row = NonExecutionNotice(
        id=_new_id(), request_id=request.id, reasons=list(draft.reasons),
        explanation=draft.explanation, conflict_details=draft.conflict_details,
        information_required=draft.information_required, data_preserved=draft.data_preserved,
        preserved_until=draft.preserved_until, recorded_by_user_id=actor.user_id,
        recorded_by_authority_id=actor.authority_id, recorded_at=now)
    row.ledger_index = records.leaf(session, "non_execution", {
        **_columns(row, "ledger_index"), "reference": request.reference,
        "legal_basis": rules.ANNEX_III.article}, now)
    session.add(row)
    session.flush()
    return row


def list_non_execution(*, session: Session, actor: Actor,
                       request_id: str) -> list[NonExecutionNotice]:
    request = requests_service.get_request(session=session, actor=actor, request_id=request_id)
    return list(session.scalars(select(NonExecutionNotice)
                                .where(NonExecutionNotice.request_id == request.id)
                                .order_by(NonExecutionNotice.ledger_index)))


# --- data protection for data received -----------------------------------------------------------


def _issuing_request(session: Session, actor: Actor, request_id: str) -> Request:
    """The request, for its issuing side (the authority that receives and controls the data);
    oversight reads. NotFound for anyone else."""
    request = requests_service.get_request(session=session, actor=actor, request_id=request_id)
    if actor.role not in OVERSIGHT_ROLES and actor.authority_id != request.issuing_authority_id:
        raise NotFound("request not found")
    return request


@dataclass(frozen=True)
class DataDraft:
    category: str
    description: str
    purpose: str
    retention_until: date | None
    evidence_reference: str = ""


def record_data(*, session: Session, actor: Actor, request_id: str, draft: DataDraft,
                clock: Clock) -> ReceivedData:
    """Record data received in answer to a request, with the purpose they may serve
    (`rules.PURPOSE_LIMITATION`) and how long they are kept (`rules.RETENTION`). Data of an
    order the enforcing authority objected to are restricted at once (Art. 10(4))."""
    request = _issuing_request(session, actor, request_id)
    _side_of(actor, request, Side.ISSUING)
    if request.sent_at is None:
        raise ValidationFailed([FieldError("state", MSG_DATA_STATE)])
    now = clock.now()
    errors = rules.data_errors(description=draft.description, purpose=draft.purpose,
                               category=draft.category,
                               request_categories=list(request.data_categories),
                               received_on=now.date(), retention_until=draft.retention_until)
    if len(draft.evidence_reference) > 100:
        errors.append(FieldError("evidence_reference", rules.MSG_TOO_LONG, {"max": 100}))
    if errors:
        raise ValidationFailed(errors)
    assert draft.retention_until is not None
    item = ReceivedData(
        id=_new_id(), request_id=request.id, category=draft.category,
        description=draft.description, purpose=draft.purpose,
        evidence_reference=draft.evidence_reference, received_on=now.date(),
        retention_until=draft.retention_until,
        review_due_on=rules.review_due_on(now.date(), draft.retention_until),
        restricted=False, recorded_by_user_id=actor.user_id,
        recorded_by_authority_id=actor.authority_id, recorded_at=now)
    session.add(item)
    records.data_event(session, item, "recorded", now, **_columns(
        item, "restricted", "restriction_reason", "restriction_basis", "deleted_at",
        "deletion_reason"), legal_basis=rules.PURPOSE_LIMITATION.article)
    notification = checks.notification_of(session, request.id) \
        if catalogue.get(request.instrument).notification else None
    if notification is not None and \
            notification.status == NotificationStatus.GROUNDS_RAISED.value:
        records.restrict(session, item, GROUNDS_RAISED, rules.RESTRICTION_AFTER_OBJECTION.article,
                         now)
    elif (lapsed := checks.ex_post_outcome(session, request.id)) is not None:
        records.restrict(session, item, lapsed.value, rules.EX_POST_VALIDATION.article, now)
    session.flush()
    return item


def list_data(*, session: Session, actor: Actor, request_id: str) -> list[ReceivedData]:
    request = _issuing_request(session, actor, request_id)
    return list(session.scalars(select(ReceivedData).where(ReceivedData.request_id == request.id)
                                .order_by(ReceivedData.recorded_at, ReceivedData.id)))


def _data_item(session: Session, actor: Actor, data_id: str) -> tuple[ReceivedData, Request]:
    item = session.get(ReceivedData, data_id)
    if item is None:
        raise NotFound("data not found")
    try:
        request = _issuing_request(session, actor, item.request_id)
    except NotFound:
        raise NotFound("data not found") from None
    _side_of(actor, request, Side.ISSUING)
    if item.deleted_at is not None:
        raise ValidationFailed([FieldError("data_id", MSG_DELETED)])
    return item, request


def review_data(*, session: Session, actor: Actor, data_id: str, retention_until: date | None,
                note: str, clock: Clock) -> ReceivedData:
    """The periodic review of the need to keep data (`rules.RETENTION`): a new end of the
    retention period, with the reason, and the next review date."""
    item, _ = _data_item(session, actor, data_id)
    today = clock.now().date()
    errors = []
    if retention_until is None:
        errors.append(FieldError("retention_until", rules.MSG_REQUIRED))
    elif retention_until <= today:
        errors.append(FieldError("retention_until", rules.MSG_FUTURE))
    if not note.strip():
        errors.append(FieldError("note", rules.MSG_REASON))
    if errors:
        raise ValidationFailed(errors)
    assert retention_until is not None
    before = item.retention_until
    item.retention_until = retention_until
    item.review_due_on = rules.review_due_on(today, retention_until)
    records.data_event(session, item, "reviewed", clock.now(),
                       previous_retention_until=before, retention_until=retention_until,
                       review_due_on=item.review_due_on, note=note,
                       legal_basis=rules.RETENTION.article)
    session.flush()
    return item


def delete_data(*, session: Session, actor: Actor, data_id: str, reason: str,
                clock: Clock) -> ReceivedData:
    """Record that the data were deleted (the record stays, saying when and why)."""
    item, _ = _data_item(session, actor, data_id)
    if not reason.strip():
        raise ValidationFailed([FieldError("reason", rules.MSG_REASON)])
    now = clock.now()
    item.deleted_at = now
    item.deletion_reason = reason
    records.data_event(session, item, "deleted", now, reason=reason,
                       legal_basis=rules.RETENTION.article)
    session.flush()
    return item


@dataclass(frozen=True)
class TransferDraft:
    third_state: str
    recipient: str
    purpose: str
    consent_reference: str
    consent_date: date | None


def transfer_data(*, session: Session, actor: Actor, data_id: str, draft: TransferDraft,
                  clock: Clock) -> OnwardTransfer:
    """Record an onward transfer of received data to a third State, which needs the prior
    consent of the State that provided them (`rules.ONWARD_TRANSFER`)."""
    item, request = _data_item(session, actor, data_id)
    now = clock.now()
    errors = rules.transfer_errors(
        third_state=draft.third_state, requesting_state=request.requesting_state,
        requested_state=request.requested_state, recipient=draft.recipient,
        purpose=draft.purpose, consent_reference=draft.consent_reference,
        consent_date=draft.consent_date, today=now.date())
    if item.restricted:
        errors.append(FieldError("data_id", MSG_RESTRICTED,
                                 {"reason": item.restriction_reason or ""}))
    if errors:
        raise ValidationFailed(errors)
    assert draft.consent_date is not None
    row = OnwardTransfer(
        id=_new_id(), data_id=item.id, third_state=draft.third_state.strip().upper(),
        recipient=draft.recipient, purpose=draft.purpose,
        consent_reference=draft.consent_reference, consent_date=draft.consent_date,
        recorded_by_user_id=actor.user_id, recorded_by_authority_id=actor.authority_id,
        recorded_at=now)
    row.ledger_index = records.leaf(session, "onward_transfer", {
        **_columns(row, "ledger_index"), "legal_basis": rules.ONWARD_TRANSFER.article}, now)
    session.add(row)
    session.flush()
    return row


def list_transfers(*, session: Session, actor: Actor, data_id: str) -> list[OnwardTransfer]:
    item = session.get(ReceivedData, data_id)
    if item is None:
        raise NotFound("data not found")
    try:
        _issuing_request(session, actor, item.request_id)
    except NotFound:
        raise NotFound("data not found") from None
    return list(session.scalars(select(OnwardTransfer).where(OnwardTransfer.data_id == item.id)
                                .order_by(OnwardTransfer.ledger_index)))


def defer_informing(*, session: Session, actor: Actor, request_id: str, reason: str, note: str,
                    until: date | None, clock: Clock) -> InformingDeferral:
    """Record that informing the persons whose data were obtained is deferred, why and until
    when (`rules.INFORMING_DEFERRAL`)."""
    request = _issuing_request(session, actor, request_id)
    _side_of(actor, request, Side.ISSUING)
    now = clock.now()
    errors = rules.deferral_errors(reason=reason, note=note, until=until, today=now.date())
    if errors:
        raise ValidationFailed(errors)
    assert until is not None
    row = InformingDeferral(
        id=_new_id(), request_id=request.id, reason=reason, note=note, until=until,
        recorded_by_user_id=actor.user_id, recorded_by_authority_id=actor.authority_id,
        recorded_at=now)
    row.ledger_index = records.leaf(session, "informing_deferral", {
        **_columns(row, "ledger_index"), "legal_basis": rules.INFORMING_DEFERRAL.article}, now)
    session.add(row)
    session.flush()
    return row


def list_deferrals(*, session: Session, actor: Actor,
                   request_id: str) -> list[InformingDeferral]:
    request = _issuing_request(session, actor, request_id)
    return list(session.scalars(select(InformingDeferral)
                                .where(InformingDeferral.request_id == request.id)
                                .order_by(InformingDeferral.ledger_index)))


@dataclass(frozen=True)
class DataDue:
    """Reminders: data whose review is due, and data kept past their retention period."""

    review: list[ReceivedData]
    retention_ended: list[ReceivedData]


def data_due(*, session: Session, actor: Actor, today: date) -> DataDue:
    """The actor's authority's data (every authority's for oversight) due for review or past
    their retention period, not yet deleted (`rules.RETENTION`)."""
    query = select(ReceivedData).where(ReceivedData.deleted_at.is_(None),
                                       ReceivedData.review_due_on <= today)
    if actor.role not in OVERSIGHT_ROLES:
        query = query.where(ReceivedData.recorded_by_authority_id == actor.authority_id)
    rows = list(session.scalars(query.order_by(ReceivedData.review_due_on, ReceivedData.id)))
    return DataDue(review=[r for r in rows if r.retention_until > today],
                   retention_ended=[r for r in rows if r.retention_until <= today])


# --- the register of analytic tools --------------------------------------------------------------


@dataclass(frozen=True)
class ToolDraft:
    name: str
    version: str
    purpose: str
    error_rates: str
    bias_assessment: str


def register_tool(*, session: Session, actor: Actor, draft: ToolDraft,
                  clock: Clock) -> AnalyticTool:
    """Register (and so approve) an analytic tool whose output may be used in a request or a
    decision; the approver is the registering judge or node administrator."""
    if actor.role not in TOOL_APPROVERS:
        raise Forbidden("analytic tools are approved by a judge or the node's administrator")
    errors = rules.tool_errors(name=draft.name, version=draft.version, purpose=draft.purpose,
                               error_rates=draft.error_rates,
                               bias_assessment=draft.bias_assessment)
    if not errors and session.scalar(select(AnalyticTool.id).where(
            AnalyticTool.name == draft.name, AnalyticTool.version == draft.version)):
        errors.append(FieldError("version", MSG_TOOL_EXISTS))
    if errors:
        raise ValidationFailed(errors)
    now = clock.now()
    row = AnalyticTool(
        id=_new_id(), name=draft.name, version=draft.version, purpose=draft.purpose,
        error_rates=draft.error_rates, bias_assessment=draft.bias_assessment,
        approved_by_user_id=actor.user_id, approved_by_authority_id=actor.authority_id,
        approved_at=now)
    row.ledger_index = records.leaf(session, "analytic_tool", _columns(row, "ledger_index"), now)
    session.add(row)
    session.flush()
    return row


def list_tools(*, session: Session) -> list[AnalyticTool]:
    return list(session.scalars(select(AnalyticTool).order_by(AnalyticTool.name,
                                                              AnalyticTool.version)))


def get_tool(*, session: Session, tool_id: str) -> AnalyticTool:
    tool = session.get(AnalyticTool, tool_id)
    if tool is None:
        raise NotFound("tool not found")
    return tool
