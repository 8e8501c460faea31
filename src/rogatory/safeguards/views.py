"""The safeguards as their readers see them (for the API and the CLI): codes with their names
in the reader's language, who decided by name, countdowns, and the threshold an assessment
meets or misses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from rogatory.directory import cache as directory
from rogatory.i18n import translate
from rogatory.identity.models import User
from rogatory.identity.policy import Actor, sees_request_content
from rogatory.instruments import catalogue
from rogatory.requests import deadlines as dl
from rogatory.safeguards import rules, service
from rogatory.safeguards.models import (
    AnalyticTool,
    Assessment,
    Decision,
    EnforcementNotification,
    InformingDeferral,
    NonExecutionNotice,
    OnwardTransfer,
    ReceivedData,
)
from rogatory.safeguards.schemas import (
    AssessmentRead,
    CodeRead,
    DataRead,
    DecisionRead,
    DeferralRead,
    NonExecutionRead,
    NotificationRead,
    PartyRef,
    ToolRead,
    ToolRef,
    TransferRead,
)


def _user(session: Session, user_id: str | None) -> str | None:
    user = session.get(User, user_id) if user_id else None
    return user.display_name if user else None


def _authority(session: Session, authority_id: str | None) -> str | None:
    found = directory.authority(session, authority_id) if authority_id else None
    return found.name if found else None


def code_label(code: str, instrument: str | None, lang: str) -> str:
    """The name of a reason, ground, stage, outcome, Annex III reason or deferral reason."""
    found = catalogue.catalogue().get(instrument) if instrument else None
    ground = next((g for g in found.refusal_grounds if g.code == code), None) if found else None
    if ground is not None:
        return translate(ground.label, lang)
    if code in rules.REASONS:
        return translate(rules.REASONS[code].label, lang)
    if code in rules.LABELS:
        return translate(rules.LABELS[code], lang)
    return code


ASSESSMENT_TEXTS = ("offence", "necessity", "proportionality", "least_intrusive_alternative",
                    "alternative_insufficient_because", "data_scope", "persons_affected",
                    "privileged_safeguards")
"""What an assessment says about the case and the persons: withheld from readers who see a
request's metadata but not its content (`identity.policy.sees_request_content`)."""


def assessment_read(session: Session, row: Assessment, instrument: str, categories: list[str],
                    *, current: bool, actor: Actor, lang: str) -> AssessmentRead:
    found = catalogue.get(instrument)
    problems = rules.threshold_errors(
        found, categories, maximum_penalty_years=row.maximum_penalty_years,
        listed_offence=row.listed_offence,
        committed_by_information_system=row.committed_by_information_system)
    read = AssessmentRead(
        id=row.id, request_id=row.request_id, number=row.number, current=current,
        offence=row.offence, maximum_penalty_years=row.maximum_penalty_years,
        listed_offence=row.listed_offence,
        committed_by_information_system=row.committed_by_information_system,
        necessity=row.necessity, proportionality=row.proportionality,
        least_intrusive_alternative=row.least_intrusive_alternative,
        alternative_insufficient_because=row.alternative_insufficient_because,
        data_from=row.data_from, data_to=row.data_to, data_scope=row.data_scope,
        persons_affected=row.persons_affected, privileged_persons=list(row.privileged_persons),
        privileged_safeguards=row.privileged_safeguards,
        offence_in_issuing_state=row.offence_in_issuing_state,
        person_in_issuing_state=row.person_in_issuing_state,
        threshold_problems=[e.text(lang) for e in problems],
        author=_user(session, row.author_user_id),
        author_authority=_authority(session, row.author_authority_id),
        created_at=row.created_at, ledger_index=row.ledger_index,
        legal_basis=rules.ASSESSMENT.article, verified=rules.ASSESSMENT.verified)
    if sees_request_content(actor):
        return read
    return read.model_copy(update={**dict.fromkeys(ASSESSMENT_TEXTS, ""),
                                   "withheld": list(ASSESSMENT_TEXTS)})


def decision_reads(session: Session, rows: Sequence[Decision], lang: str) -> list[DecisionRead]:
    ids = [d.id for d in rows]
    tools = service.decision_tools(session=session, decision_ids=ids)
    later = service.superseded_by(session=session, decision_ids=ids)
    out = []
    for d in rows:
        refs = []
        for tool_id in tools.get(d.id, []):
            tool = session.get(AnalyticTool, tool_id)
            if tool is not None:
                refs.append(ToolRef(id=tool.id, name=tool.name, version=tool.version))
        out.append(DecisionRead(
            id=d.id, request_id=d.request_id, instrument=d.instrument, stage=d.stage,
            stage_label=code_label(d.stage, None, lang), outcome=d.outcome,
            outcome_label=code_label(d.outcome, None, lang),
            grounds=[CodeRead(code=g, label=code_label(g, d.instrument, lang))
                     for g in d.grounds],
            reasons=d.reasons, legal_basis=d.legal_basis, assessment_id=d.assessment_id,
            tools=refs, supersedes_id=d.supersedes_id, superseded_by_id=later.get(d.id),
            request_version=d.request_version, decided_by=_user(session, d.decided_by_user_id),
            decided_by_authority=_authority(session, d.decided_by_authority_id),
            decided_by_rank=d.decided_by_rank, decided_at=d.decided_at,
            ledger_index=d.ledger_index))
    return out


def notification_read(session: Session, row: EnforcementNotification, now: datetime, *,
                      actor: Actor) -> NotificationRead:
    """The notification; the certificate it carries is the request's content, withheld from
    readers who see only metadata."""
    content = sees_request_content(actor)
    authority = directory.authority(session, row.enforcing_authority_id)
    instrument = catalogue.get(row.instrument)
    pending = row.status == rules.NotificationStatus.PENDING.value
    count = dl.countdown(row.window_due_at, now) if pending else None
    return NotificationRead(
        request_id=row.request_id, reference=row.reference, instrument=row.instrument,
        enforcing_authority=PartyRef(
            id=row.enforcing_authority_id, name=authority.name if authority else "",
            jurisdiction=authority.jurisdiction if authority else ""),
        notified_at=row.notified_at, window_due_at=row.window_due_at,
        window_article=instrument.notification.window_article if instrument.notification
        else row.legal_basis,
        remaining_seconds=int(count.remaining.total_seconds()) if count else None,
        countdown=count.text() if count else None, emergency=row.emergency,
        suspensive=row.suspensive, legal_basis=row.legal_basis,
        status=rules.NotificationStatus(row.status), decision_id=row.decision_id,
        decided_at=row.decided_at, certificate=dict(row.certificate) if content else {},
        withheld=[] if content else ["certificate"])


def non_execution_read(session: Session, row: NonExecutionNotice,
                       lang: str) -> NonExecutionRead:
    return NonExecutionRead(
        id=row.id, request_id=row.request_id,
        reasons=[CodeRead(code=r, label=code_label(r, None, lang)) for r in row.reasons],
        explanation=row.explanation, conflict_details=row.conflict_details,
        information_required=row.information_required, data_preserved=row.data_preserved,
        preserved_until=row.preserved_until, recorded_by=_user(session, row.recorded_by_user_id),
        recorded_by_authority=_authority(session, row.recorded_by_authority_id),
        recorded_at=row.recorded_at, legal_basis=rules.ANNEX_III.article,
        ledger_index=row.ledger_index)


def data_read(row: ReceivedData) -> DataRead:
    return DataRead(
        id=row.id, request_id=row.request_id, category=row.category,
        description=row.description, purpose=row.purpose,
        evidence_reference=row.evidence_reference, received_on=row.received_on,
        retention_until=row.retention_until, review_due_on=row.review_due_on,
        restricted=row.restricted, restriction_reason=row.restriction_reason,
        restriction_basis=row.restriction_basis, deleted_at=row.deleted_at,
        deletion_reason=row.deletion_reason, recorded_at=row.recorded_at)


def transfer_read(row: OnwardTransfer) -> TransferRead:
    return TransferRead(
        id=row.id, data_id=row.data_id, third_state=row.third_state, recipient=row.recipient,
        purpose=row.purpose, consent_reference=row.consent_reference,
        consent_date=row.consent_date, recorded_at=row.recorded_at,
        legal_basis=rules.ONWARD_TRANSFER.article, ledger_index=row.ledger_index)


def deferral_read(row: InformingDeferral, lang: str) -> DeferralRead:
    return DeferralRead(
        id=row.id, request_id=row.request_id,
        reason=CodeRead(code=row.reason, label=code_label(row.reason, None, lang)),
        note=row.note, until=row.until, recorded_at=row.recorded_at,
        legal_basis=rules.INFORMING_DEFERRAL.article, ledger_index=row.ledger_index)


def tool_read(session: Session, row: AnalyticTool) -> ToolRead:
    return ToolRead(
        id=row.id, name=row.name, version=row.version, purpose=row.purpose,
        error_rates=row.error_rates, bias_assessment=row.bias_assessment,
        approved_by=_user(session, row.approved_by_user_id),
        approved_by_authority=_authority(session, row.approved_by_authority_id),
        approved_at=row.approved_at, ledger_index=row.ledger_index)
