"""Requests as their readers see them: the read model with holder, allowed verbs and deadline
countdowns, and the form rendered in two languages side by side."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rogatory.directory import cache as directory
from rogatory.i18n import translate
from rogatory.identity.models import User
from rogatory.identity.policy import SIDE_ROLES, Actor, sees_request_content
from rogatory.instruments import catalogue
from rogatory.instruments.schema import FormField
from rogatory.requests import deadlines as dl
from rogatory.requests import workflow
from rogatory.requests.enums import DeadlineStatus, Side, State
from rogatory.requests.labels import label
from rogatory.requests.models import Case, Deadline, Request, TimelineEvent
from rogatory.requests.schemas import (
    DeadlineRead,
    EventRead,
    PartyRead,
    RenderedField,
    RenderedRequest,
    RenderedSection,
    RequestRead,
    RequestSummary,
)
from rogatory.requests.service import (
    RequestSnapshot,
    parties_of,
    translation_status,
    verb_conditions,
)


def _party(session: Session, authority_id: str) -> PartyRead:
    a = directory.authority(session, authority_id)
    assert a is not None  # a foreign key of the request
    return PartyRead(id=a.id, name=a.name, jurisdiction=a.jurisdiction)


def deadline_read(d: Deadline, now: datetime, lang: str) -> DeadlineRead:
    running = d.status == DeadlineStatus.OPEN.value
    count = dl.countdown(d.due_at, now) if running else None
    return DeadlineRead(
        kind=d.kind, label=translate(d.label, lang), legal_basis=d.legal_basis,
        verified=d.verified, effect=d.effect, holder=d.holder, emergency=d.emergency,
        starts_at=d.starts_at, due_at=d.due_at, status=d.status,
        status_label=label(DeadlineStatus(d.status), lang),
        extensions_used=d.extensions_used, closed_at=d.closed_at,
        remaining_seconds=int(count.remaining.total_seconds()) if count else None,
        countdown=count.text() if count else None,
    )


def actor_verbs(actor: Actor, request: Request, *, ex_post_pending: bool = False,
                without_validation: bool = False) -> list[str]:
    """Verbs this actor could perform now (state, instrument, side and the request's
    circumstances all allow it: `workflow.unavailable`, `service.verb_conditions`)."""
    instrument = catalogue.get(request.instrument)
    sides = parties_of(request).sides_of(actor.authority_id)
    hidden = workflow.unavailable(ex_post_pending=ex_post_pending,
                                  without_validation=without_validation)
    result = []
    for verb in workflow.allowed_verbs(State(request.state), instrument.verbs):
        if verb in hidden:
            continue
        wanted = workflow.TRANSITIONS[verb].sides & sides
        if any(actor.role in SIDE_ROLES[s] for s in wanted):
            result.append(verb.value)
    return result


def request_read(
    session: Session, request: Request, actor: Actor, now: datetime, lang: str
) -> RequestRead:
    case_reference = session.scalar(select(Case.reference).where(Case.id == request.case_id))
    deadlines = session.scalars(
        select(Deadline).where(Deadline.request_id == request.id).order_by(Deadline.id)
    ).all()
    return _request_read(session, request, case_reference or "", list(deadlines), actor, now,
                         lang)


def snapshot_read(session: Session, snapshot: RequestSnapshot, actor: Actor, now: datetime,
                  lang: str) -> RequestRead:
    return _request_read(session, snapshot.request, snapshot.case_reference, snapshot.deadlines,
                         actor, now, lang)


def _request_read(session: Session, request: Request, case_reference: str,
                  deadlines: list[Deadline], actor: Actor, now: datetime,
                  lang: str) -> RequestRead:
    instrument = catalogue.get(request.instrument)
    content = sees_request_content(actor)
    side = workflow.holder(State(request.state))
    parties = {
        Side.ISSUING: request.issuing_authority_id,
        Side.VALIDATING: request.validating_authority_id,
        Side.EXECUTING: request.executing_authority_id,
    }
    holder_authority = directory.authority(session, parties[side]) if side else None
    return RequestRead(
        id=request.id, reference=request.reference,
        case_reference=case_reference,
        instrument=request.instrument, instrument_name=translate(instrument.name, lang),
        instrument_version=request.instrument_version, instrument_verified=instrument.verified,
        requesting_state=request.requesting_state, requested_state=request.requested_state,
        issuing_authority=_party(session, request.issuing_authority_id),
        validating_authority=_party(session, request.validating_authority_id),
        executing_authority=_party(session, request.executing_authority_id),
        data_categories=list(request.data_categories), emergency=request.emergency,
        language=request.language, state=request.state,
        state_label=label(State(request.state), lang),
        holder=side.value if side else None,
        holder_authority=holder_authority.name if holder_authority else None,
        allowed_verbs=actor_verbs(actor, request,
                                  **verb_conditions(session, request, deadlines)),
        version=request.version,
        created_at=request.created_at, updated_at=request.updated_at, sent_at=request.sent_at,
        form=dict(request.form) if content else {},
        translations=translation_status(session, request) if content else {},
        withheld=[] if content else ["form", "translations"],
        deadlines=[deadline_read(d, now, lang) for d in deadlines],
    )


def request_summary(request: Request, next_due: datetime | None, lang: str) -> RequestSummary:
    return RequestSummary(
        id=request.id, reference=request.reference, instrument=request.instrument,
        requesting_state=request.requesting_state, requested_state=request.requested_state,
        state=request.state, state_label=label(State(request.state), lang),
        emergency=request.emergency, version=request.version, next_due_at=next_due,
        updated_at=request.updated_at,
    )


def event_read(session: Session, event: TimelineEvent) -> EventRead:
    user = session.get(User, event.actor_user_id) if event.actor_user_id else None
    authority = directory.authority(session, event.actor_authority_id) \
        if event.actor_authority_id else None
    return EventRead(
        id=event.id, at=event.at, verb=event.verb, from_state=event.from_state,
        to_state=event.to_state, version=event.version,
        actor=user.display_name if user else None,
        authority=authority.name if authority else None, reason=event.reason,
        legal_basis=event.legal_basis, details=dict(event.details),
    )


def _choice_labels(field: FormField, value: Any,
                   languages: list[str]) -> dict[str, str | list[str]] | None:
    """A choice field's value (a code, or a list of codes) as labels in each language."""
    if not field.choices or value in (None, "", []):
        return None
    if isinstance(value, list):
        return {lang: [translate(field.choice_label(str(v)), lang) for v in value]
                for lang in languages}
    return {lang: translate(field.choice_label(str(value)), lang) for lang in languages}


def render(session: Session, request: Request, languages: list[str],
           content: bool = True) -> RenderedRequest:
    """The form in each of `languages`: labels translate themselves; free text shows the
    original and its translation with the translation's status. Without `content` (a reader
    who sees metadata only, `policy.sees_request_content`) every value and translation is
    withheld and only the form's structure shows."""
    instrument = catalogue.get(request.instrument)
    status = translation_status(session, request)
    sections = []
    for section in instrument.sections:
        fields = [
            RenderedField(
                name=f.name,
                labels={lang: translate(f.label, lang) for lang in languages},
                value=request.form.get(f.name) if content else None,
                value_labels=_choice_labels(f, request.form.get(f.name), languages)
                if content else None,
                translate=f.translate,
                translation_status=status.get(f.name) if content else None,
                translation=request.translations.get(f.name) if content else None,
                verified=f.verified,
            )
            for f in section.fields
        ]
        sections.append(RenderedSection(
            code=section.code, titles={lang: translate(section.title, lang) for lang in languages},
            fields=fields,
        ))
    return RenderedRequest(
        reference=request.reference, instrument=instrument.short_name, languages=languages,
        source_language=request.language, sections=sections,
    )
