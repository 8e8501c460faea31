"""Request service: create and list requests, and every workflow verb.

Each verb checks the actor through the policy, moves the state only through the workflow table,
closes and starts the instrument's deadlines and appends one timeline event — all in the caller's
transaction (services never commit). A request changed meanwhile raises `StaleState`.

An emergency order issued without prior validation (`issue_emergency`, Reg. (EU) 2023/1543 Art.
4(5), unverified) gets a stored deadline of 48 hours (`rules.EX_POST_VALIDATION_KIND`) for its
validation after the fact: `validate_ex_post` meets it; `refuse_ex_post`, a withdrawal before it,
or the deadline job when it passes (`scan_deadlines`, verb `lapse`) end the order and restrict
the data received on it. The order cannot be closed while the validation is pending."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from rogatory.clock import Clock
from rogatory.db import driver_execute, loaded
from rogatory.directory import cache as directory
from rogatory.directory.info import AuthorityInfo
from rogatory.directory.models import Authority
from rogatory.errors import (
    FieldError,
    Forbidden,
    InvalidTransition,
    NotFound,
    StaleState,
    ValidationFailed,
)
from rogatory.i18n import N_
from rogatory.identity.policy import (
    OVERSIGHT_ROLES,
    Actor,
    Parties,
    acting_side,
    require_drafting,
    require_visible,
)
from rogatory.instruments import catalogue
from rogatory.instruments.schema import DeadlineRule, Instrument
from rogatory.requests import deadlines as dl
from rogatory.requests import timeline, workflow
from rogatory.requests.enums import (
    DataCategory,
    DeadlineEffect,
    DeadlineStatus,
    Side,
    State,
    Verb,
)
from rogatory.requests.forms import check_form, translatable_fields
from rogatory.requests.models import Case, Deadline, Request
from rogatory.requests.timeline import LEDGER_KIND  # noqa: F401  (re-exported)
from rogatory.requests.timeline import event_entry as ledger_entry  # noqa: F401
from rogatory.safeguards import checks as safeguards
from rogatory.safeguards import rules as safeguard_rules
from rogatory.safeguards.rules import ExPostOutcome

MSG_UNKNOWN = N_("Unknown value.")
MSG_NOT_BINDING = N_("{instrument} does not bind both {requesting} and {requested}.")
MSG_WRONG_ADDRESSEE = N_("{instrument} is addressed to: {kinds}.")
MSG_STATE_MISMATCH = N_("Must be an authority of {state}.")
MSG_CATEGORY = N_("Not a data category of {instrument}: {categories}.")
MSG_NO_EMERGENCY = N_("{instrument} has no emergency procedure.")
MSG_REASON = N_("A reason is required.")
MSG_GROUND = N_("Must be a ground for refusal of {instrument}: {grounds}.")
MSG_TRANSLATION = N_("A translation into one of {languages} is needed before sending.")
MSG_DEADLINE_KIND = N_("No open deadline of that kind can be extended.")
MSG_EXTENSIONS_USED = N_("The extension allowed by {article} has been used.")
MSG_SAME_STATE = N_("The requested state must differ from the requesting state.")
MSG_EMPTY = N_("At least one is required.")
MSG_LANGUAGE = N_("Not a language of the requested state or the executing authority.")

REASON_REQUIRED = frozenset(
    {
        Verb.RETURN_TO_DRAFT,
        Verb.REQUEST_INFORMATION,
        Verb.PROVIDE_INFORMATION,
        Verb.REFUSE,
        Verb.EXECUTE_PARTIALLY,
        Verb.WITHDRAW,
        Verb.EXTEND_DEADLINE,
        Verb.ISSUE_EMERGENCY,  # the emergency that justifies going without validation
        Verb.REFUSE_EX_POST,
    }
)


@dataclass(frozen=True)
class RequestDraft:
    """What a prosecutor fills in to start a request."""

    case_reference: str
    instrument: str
    issuing_authority_id: str
    validating_authority_id: str
    executing_authority_id: str
    data_categories: list[str]
    emergency: bool = False
    form: dict[str, Any] = field(default_factory=dict)
    language: str | None = None


@dataclass(frozen=True)
class Action:
    """A verb with its reasons; `ground` for refusals, `deadline_kind` for extensions."""

    verb: Verb
    expected_version: int
    reason: str = ""
    legal_basis: str = ""
    ground: str | None = None
    deadline_kind: str | None = None


def parties_of(request: Request) -> Parties:
    return Parties(
        issuing=request.issuing_authority_id,
        validating=request.validating_authority_id,
        executing=request.executing_authority_id,
        submitted=request.state != State.DRAFT,
        sent=request.sent_at is not None,
    )


def _party_filter(authority_id: str) -> ColumnElement[bool]:
    """SQL twin of `Parties.sides_of`: requests this authority is currently a party to."""
    return or_(
        Request.issuing_authority_id == authority_id,
        and_(Request.validating_authority_id == authority_id, Request.state != State.DRAFT),
        and_(Request.executing_authority_id == authority_id, Request.sent_at.is_not(None)),
    )


def visible_to(actor: Actor) -> ColumnElement[bool]:
    """SQL twin of `policy.can_see`: the requests `actor` may see (every one for oversight)."""
    if actor.role in OVERSIGHT_ROLES:
        return true()
    return _party_filter(actor.authority_id)


_REQUESTS = cast(Table, Request.__table__)
_REQUEST_INSERT = insert(_REQUESTS)
_REQUEST_MOVE = update(_REQUESTS).where(
    _REQUESTS.c.id == bindparam("request_id"), _REQUESTS.c.version == bindparam("expected"))
_CASES = cast(Table, Case.__table__)
_CASE_BY_REFERENCE = select(_CASES.c.id, _CASES.c.participants).where(
    _CASES.c.reference == bindparam("reference"))


def _new_id() -> str:
    return str(uuid.uuid4())


# --- cases -----------------------------------------------------------------------------------


def create_case(
    *, session: Session, actor: Actor, reference: str, title: str, summary: str, clock: Clock,
    participants: list[str] | None = None,
) -> Case:
    """Open a case led by the actor's authority; `participants` are other authorities of the
    same state working on it (e.g. the investigating judge)."""
    require_drafting(actor, actor.authority_id)  # first: the rest must tell an outsider nothing
    errors = []
    reference, title = reference.strip(), title.strip()
    if not reference:
        errors.append(FieldError("reference", N_("This field is required.")))
    if not title:
        errors.append(FieldError("title", N_("This field is required.")))
    if session.scalar(select(Case.id).where(Case.reference == reference)):
        errors.append(FieldError("reference", N_("This reference is already in use.")))
    if errors:
        raise ValidationFailed(errors)
    others = [p for p in participants or [] if p != actor.authority_id]
    for index, authority_id in enumerate(others):
        if session.get(Authority, authority_id) is None:
            raise ValidationFailed([FieldError(f"participants.{index}", MSG_UNKNOWN)])
    case = Case(
        id=_new_id(),
        reference=reference,
        title=title,
        summary=summary,
        lead_authority_id=actor.authority_id,
        participants=[actor.authority_id, *others],
        created_at=clock.now(),
    )
    session.add(case)
    session.flush()
    return case


def case_visible(session: Session, actor: Actor, case: Case) -> bool:
    """Whether `actor` may see `case`: its authority works on it, is a party to one of its
    requests, or the actor has the oversight role."""
    return _case_visible(session, actor, case.id, case.participants)


def _case_visible(session: Session, actor: Actor, case_id: str,
                  participants: list[str] | None) -> bool:
    if actor.role in OVERSIGHT_ROLES or actor.authority_id in (participants or []):
        return True
    party = _party_filter(actor.authority_id)
    found = session.scalar(select(Request.id).where(Request.case_id == case_id, party).limit(1))
    return found is not None


def get_case(*, session: Session, actor: Actor, reference: str) -> Case:
    case = session.scalar(select(Case).where(Case.reference == reference))
    if case is None or not case_visible(session, actor, case):
        raise NotFound("case not found")
    return case


def get_case_by_id(*, session: Session, actor: Actor, case_id: str) -> Case:
    """The case with this id, if `actor` may see it; NotFound either way."""
    case = session.get(Case, case_id)
    if case is None or not case_visible(session, actor, case):
        raise NotFound("case not found")
    return case


def list_cases(*, session: Session, actor: Actor) -> list[Case]:
    cases = session.scalars(select(Case).order_by(Case.created_at, Case.reference)).all()
    return [c for c in cases if case_visible(session, actor, c)]


# --- creation ----------------------------------------------------------------------------------


def _rank_errors(instrument: Instrument, issuing: AuthorityInfo, validating: AuthorityInfo,
                 categories: list[DataCategory]) -> list[FieldError]:
    """Who may issue and validate for each data category (`safeguards.rules.rank_errors`)."""
    return safeguard_rules.rank_errors(instrument, issuing, validating, categories)


def create_request(
    *, session: Session, actor: Actor, draft: RequestDraft, clock: Clock
) -> Request:
    """Open a draft request; everything checkable now is checked, naming each field."""
    errors: list[FieldError] = []
    instrument = catalogue.catalogue().get(draft.instrument)
    if instrument is None:
        raise ValidationFailed([FieldError("instrument", MSG_UNKNOWN)])
    case = driver_execute(session.connection(), _CASE_BY_REFERENCE,
                          {"reference": draft.case_reference}).first_mapping()
    if case is None or not _case_visible(session, actor, case["id"], case["participants"]):
        errors.append(FieldError("case_reference", MSG_UNKNOWN))
    authorities: dict[str, AuthorityInfo] = {}
    for name in ("issuing_authority_id", "validating_authority_id", "executing_authority_id"):
        found = directory.authority(session, getattr(draft, name))
        if found is None:
            errors.append(FieldError(name, MSG_UNKNOWN))
        else:
            authorities[name] = found
    categories: list[DataCategory] = []
    allowed_categories = [c.code for c in instrument.data_categories]
    if not draft.data_categories:
        errors.append(FieldError("data_categories", MSG_EMPTY))
    for value in draft.data_categories:
        try:
            category = DataCategory(value)
        except ValueError:
            category = None
        if category is None or category not in allowed_categories:
            errors.append(FieldError("data_categories", MSG_CATEGORY, {
                "instrument": instrument.short_name,
                "categories": ", ".join(c.value for c in allowed_categories)}))
        else:
            categories.append(category)
    if draft.emergency and instrument.emergency is None:
        errors.append(FieldError("emergency", MSG_NO_EMERGENCY,
                                 {"instrument": instrument.short_name}))
    errors += check_form(instrument, draft.form, complete=False)
    if errors:
        raise ValidationFailed(errors)
    issuing = authorities["issuing_authority_id"]
    validating = authorities["validating_authority_id"]
    executing = authorities["executing_authority_id"]
    require_drafting(actor, issuing.id)
    requesting = directory.jurisdiction(session, issuing.jurisdiction)
    requested = directory.jurisdiction(session, executing.jurisdiction)
    assert requesting is not None and requested is not None  # foreign keys
    if validating.jurisdiction != requesting.code:
        errors.append(FieldError("validating_authority_id", MSG_STATE_MISMATCH,
                                 {"state": requesting.code}))
    if requested.code == requesting.code:
        errors.append(FieldError("executing_authority_id", MSG_SAME_STATE))
    elif not (requesting.bound_by(instrument.binding)
              and requested.bound_by(instrument.binding)):
        errors.append(FieldError("instrument", MSG_NOT_BINDING, {
            "instrument": instrument.short_name, "requesting": requesting.code,
            "requested": requested.code}))
    if executing.kind not in instrument.addressed_to:
        errors.append(FieldError("executing_authority_id", MSG_WRONG_ADDRESSEE, {
            "instrument": instrument.short_name,
            "kinds": ", ".join(k.value for k in instrument.addressed_to)}))
    errors += _rank_errors(instrument, issuing, validating, categories)
    language = draft.language or (requesting.languages[0] if requesting.languages else "en")
    if len(language) != 2 or not language.isalpha():
        errors.append(FieldError("language", MSG_UNKNOWN))
    if errors:
        raise ValidationFailed(errors)
    now = clock.now()
    values: dict[str, Any] = {
        "id": _new_id(),
        "reference": (
            f"{instrument.short_name}-{requesting.code}{requested.code}-{now.year}-"
            f"{secrets.token_hex(5).upper()}"  # 40 random bits: no repeat in practice
        ),
        "case_id": case["id"] if case else "",
        "instrument": instrument.code,
        "instrument_version": instrument.version,
        "requesting_state": requesting.code,
        "requested_state": requested.code,
        "issuing_authority_id": issuing.id,
        "validating_authority_id": validating.id,
        "executing_authority_id": executing.id,
        "data_categories": [c.value for c in categories],
        "emergency": draft.emergency,
        "language": language,
        "form": dict(draft.form),
        "translations": {},
        "state": State.DRAFT.value,
        "created_by": actor.user_id,
        "created_at": now,
        "updated_at": now,
        "sent_at": None,
        "version": 1,
    }
    # Written with one Core INSERT, then attached to the session as the stored row it now is
    # (the ORM's unit of work costs more than the insert itself on this path).
    driver_execute(session.connection(), _REQUEST_INSERT, values)
    request = loaded(Request, values)
    make_transient_to_detached(request)
    session.add(request)
    _event(session, request, actor, "create", None, reason="", legal_basis=instrument.legal_basis,
           details={"instrument_version": instrument.version}, at=now)
    return request


def update_draft(
    *, session: Session, actor: Actor, request_id: str, expected_version: int,
    form: dict[str, Any], clock: Clock,
) -> Request:
    """Change form values of a draft (merged into the saved ones; `None` clears a field)."""
    request = get_request(session=session, actor=actor, request_id=request_id)
    _check_version(request, expected_version)
    require_drafting(actor, request.issuing_authority_id)
    if request.state != State.DRAFT:
        raise ValidationFailed([FieldError("state", N_("Only a draft can be edited."))])
    merged = {k: v for k, v in {**request.form, **form}.items() if v is not None}
    instrument = catalogue.get(request.instrument)
    errors = check_form(instrument, merged, complete=False)
    if errors:
        raise ValidationFailed(errors)
    request.form = merged
    request.updated_at = clock.now()
    _flush(session, request)
    _event(session, request, actor, "edit_draft", State(request.state), reason="",
           legal_basis="", details={"fields": sorted(form)}, at=request.updated_at)
    return request


def set_translation(
    *, session: Session, actor: Actor, request_id: str, expected_version: int, field_name: str,
    language: str, text: str, certified: bool, clock: Clock,
) -> Request:
    """Record the translation of one free-text field (status provided or certified)."""
    request = get_request(session=session, actor=actor, request_id=request_id)
    _check_version(request, expected_version)
    require_drafting(actor, request.issuing_authority_id)
    instrument = catalogue.get(request.instrument)
    errors: list[FieldError] = []
    if field_name not in translatable_fields(instrument, request.form):
        errors.append(FieldError("field", N_("Not a filled-in field that needs translation.")))
    if language not in accepted_languages(session, request):
        errors.append(FieldError("language", MSG_LANGUAGE))
    if not text.strip():
        errors.append(FieldError("text", N_("This field is required.")))
    if State(request.state) not in (State.DRAFT, State.VALIDATION, State.ISSUED,
                                    State.MORE_INFORMATION_REQUESTED):
        errors.append(FieldError("state", N_("Translations can no longer be changed.")))
    if errors:
        raise ValidationFailed(errors)
    translations = dict(request.translations)
    translations[field_name] = {
        "language": language,
        "text": text,
        "status": "certified" if certified else "provided",
    }
    request.translations = translations
    request.updated_at = clock.now()
    _flush(session, request)
    _event(session, request, actor, "translate", State(request.state), reason="",
           legal_basis="", details={"field": field_name, "language": language,
                                    "certified": certified}, at=request.updated_at)
    return request


# --- reading -----------------------------------------------------------------------------------


def get_request(*, session: Session, actor: Actor, request_id: str) -> Request:
    """The request, if it exists and `actor` may see it; otherwise NotFound either way."""
    request = session.get(Request, request_id)
    if request is None:
        raise NotFound("request not found")
    require_visible(actor, parties_of(request), "request")
    return request


_READ = select(_REQUESTS, _CASES.c.reference.label("case_reference")).join(
    _CASES, _CASES.c.id == _REQUESTS.c.case_id).where(_REQUESTS.c.id == bindparam("request_id"))
_DEADLINES = cast(Table, Deadline.__table__)
_READ_DEADLINES = select(_DEADLINES).where(
    _DEADLINES.c.request_id == bindparam("request_id")).order_by(_DEADLINES.c.id)


@dataclass(frozen=True)
class RequestSnapshot:
    """A request as read for display: copies outside the session (never to be added to one),
    with its case's reference and its deadlines."""

    request: Request
    case_reference: str
    deadlines: list[Deadline]


def read_request(*, session: Session, actor: Actor, request_id: str) -> RequestSnapshot:
    """What `get_request` and the view of it need, in two Core queries (the most frequent read
    of the node); NotFound when absent or not visible to `actor`."""
    connection = session.connection()
    values = driver_execute(connection, _READ, {"request_id": request_id}).first_mapping()
    if values is None:
        raise NotFound("request not found")
    case_reference = values.pop("case_reference")
    request = loaded(Request, values)
    require_visible(actor, parties_of(request), "request")
    deadlines = [loaded(Deadline, d) for d in
                 driver_execute(connection, _READ_DEADLINES, {"request_id": request_id}).mappings()]
    return RequestSnapshot(request=request, case_reference=case_reference, deadlines=deadlines)


def list_requests(
    *, session: Session, actor: Actor, state: str | None = None, instrument: str | None = None,
    case_reference: str | None = None, search: str | None = None, limit: int = 50,
    offset: int = 0,
) -> tuple[list[Request], int]:
    """The requests `actor` may see, newest first, with the total for pagination."""
    query = select(Request).where(visible_to(actor))
    if state:
        query = query.where(Request.state == state)
    if instrument:
        query = query.where(Request.instrument == instrument)
    if case_reference:
        query = query.join(Case, Case.id == Request.case_id).where(
            Case.reference == case_reference)
    if search:
        query = query.where(Request.reference.ilike(f"%{search}%"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Request.created_at.desc(), Request.id).limit(limit).offset(offset)
    ).all()
    return list(rows), total


def accepted_languages(session: Session, request: Request) -> list[str]:
    """Languages the executing authority accepts (else the requested state's official ones)."""
    executing = directory.authority(session, request.executing_authority_id)
    if executing is not None and executing.languages:
        return list(executing.languages)
    state = directory.jurisdiction(session, request.requested_state)
    return list(state.languages) if state else []


def translation_status(session: Session, request: Request) -> dict[str, str]:
    """For each filled free-text field: not_needed, needed, provided or certified."""
    instrument = catalogue.get(request.instrument)
    accepted = accepted_languages(session, request)
    result: dict[str, str] = {}
    for name in translatable_fields(instrument, request.form):
        given = request.translations.get(name)
        if request.language in accepted:
            result[name] = "not_needed"
        elif given and given.get("language") in accepted:
            result[name] = str(given["status"])
        else:
            result[name] = "needed"
    return result


# --- verbs -------------------------------------------------------------------------------------


def verb_conditions(session: Session, request: Request,
                    deadlines: Sequence[Deadline] | None = None) -> dict[str, bool]:
    """What decides which verbs a request's state allows are open to it now
    (`workflow.unavailable`): a pending validation after the fact, and whether the draft may be
    issued without prior validation (Reg. (EU) 2023/1543 Art. 4(5)). `deadlines`: the
    request's, when already read."""
    if deadlines is None:
        pending = safeguards.ex_post_deadline(session, request.id) is not None
    else:
        pending = any(d.kind == safeguard_rules.EX_POST_VALIDATION_KIND
                      and d.status == DeadlineStatus.OPEN.value for d in deadlines)
    without = False
    if request.emergency and request.state == State.DRAFT.value:
        issuing = directory.authority(session, request.issuing_authority_id)
        without = safeguard_rules.may_issue_without_prior_validation(
            catalogue.get(request.instrument), [DataCategory(c) for c in request.data_categories],
            issuing.rank if issuing else None, emergency=True)
    return {"ex_post_pending": pending, "without_validation": without}


def act(
    *, session: Session, actor: Actor, request_id: str, action: Action, clock: Clock
) -> Request:
    """Perform one workflow verb on a request, or raise without changing anything."""
    request = get_request(session=session, actor=actor, request_id=request_id)
    _check_version(request, action.expected_version)
    instrument = catalogue.get(request.instrument)
    current = State(request.state)
    if action.verb in workflow.SYSTEM_VERBS:
        raise Forbidden(f"'{action.verb.value}' is recorded by the node's deadline job, not by "
                        "a user")
    try:
        target = workflow.next_state(current, action.verb, instrument.verbs)
    except InvalidTransition as exc:  # name only the verbs this request could take now
        hidden = workflow.unavailable(**verb_conditions(session, request))
        raise InvalidTransition(action.verb.value, current.value, [
            v for v in exc.details["allowed"] if Verb(v) not in hidden]) from None
    side = acting_side(actor, parties_of(request), action.verb)
    if action.verb in REASON_REQUIRED and not action.reason.strip():
        raise ValidationFailed([FieldError("reason", MSG_REASON)])
    now = clock.now()
    details: dict[str, Any] = {}
    legal_basis = action.legal_basis
    ex_post: Deadline | None = None
    if action.verb in (Verb.SUBMIT, Verb.ISSUE_EMERGENCY):
        errors = check_form(instrument, request.form, complete=True)
        if errors:
            raise ValidationFailed(errors)
    if action.verb is Verb.ISSUE_EMERGENCY:
        details.update(safeguards.check_issue_without_validation(
            session=session, request=request, instrument=instrument))
        _check_ranks(session, request, instrument)
        legal_basis = legal_basis or safeguard_rules.EX_POST_VALIDATION.article
    elif action.verb in (Verb.VALIDATE, Verb.VALIDATE_EX_POST):
        if action.verb is Verb.VALIDATE_EX_POST:
            ex_post = _pending_ex_post(session, request, now)
        _check_ranks(session, request, instrument)
        details.update(safeguards.check_validate(session=session, request=request,
                                                 instrument=instrument))
        legal_basis = legal_basis or "; ".join(
            sorted({instrument.issuer_rule(DataCategory(c)).article
                    for c in request.data_categories}))
        if ex_post is not None and safeguard_rules.EX_POST_VALIDATION.article not in legal_basis:
            legal_basis = f"{safeguard_rules.EX_POST_VALIDATION.article}; {legal_basis}"
    elif action.verb is Verb.REFUSE_EX_POST:
        ex_post = _pending_ex_post(session, request, now)
        legal_basis = legal_basis or safeguard_rules.EX_POST_VALIDATION.article
    elif action.verb in (Verb.CLOSE, Verb.WITHDRAW):
        ex_post = safeguards.ex_post_deadline(session, request.id)
        if ex_post is not None and action.verb is Verb.CLOSE:
            raise ValidationFailed([FieldError("state", safeguard_rules.MSG_EX_POST_PENDING, {
                "due": ex_post.due_at.isoformat(),
                "article": safeguard_rules.EX_POST_VALIDATION.article})])
    elif action.verb is Verb.SEND:
        _require_translations(session, request)
        details.update(safeguards.check_send(session=session, request=request,
                                             instrument=instrument, now=now))
    elif action.verb is Verb.REFUSE:
        legal_basis = _refusal_basis(instrument, action.ground) or legal_basis
        safeguards.check_refusal(session=session, request=request, instrument=instrument,
                                 ground=action.ground, now=now,
                                 timezone=_timezone_for(session, request, Side.EXECUTING))
        details["ground"] = action.ground
    elif action.verb in (Verb.EXECUTE, Verb.EXECUTE_PARTIALLY):
        safeguards.check_transmission(session=session, request=request, instrument=instrument,
                                      now=now)
    elif action.verb is Verb.EXTEND_DEADLINE:
        details.update(_extend(session, request, instrument, action.deadline_kind, side))
        legal_basis = legal_basis or details["article"]
    if ex_post is not None:
        details.update(_end_ex_post(session, request, ex_post, action.verb, now))
    _close_deadlines(session, request, instrument, action.verb, now)
    started = _start_deadlines(session, request, instrument, action.verb, now)
    if action.verb is Verb.ISSUE_EMERGENCY:
        details["ex_post_validation_due_at"] = _start_ex_post(session, request, now).isoformat()
    # the most specific basis: the caller's, then the deadline this verb starts, then the act
    legal_basis = legal_basis or "; ".join(r.article for r in started) or instrument.legal_basis
    # the request row changes once, after the deadline queries, so its version moves by one
    _move(session, request, target, now, sent=action.verb is Verb.SEND)
    _event(session, request, actor, action.verb.value, current, reason=action.reason,
           legal_basis=legal_basis, details={"side": side.value, **details}, at=now)
    return request


def _check_ranks(session: Session, request: Request, instrument: Instrument) -> None:
    """Who may issue and validate for each category, against the directory as it is now."""
    validating = directory.authority(session, request.validating_authority_id)
    issuing = directory.authority(session, request.issuing_authority_id)
    assert validating is not None and issuing is not None
    errors = _rank_errors(instrument, issuing, validating,
                          [DataCategory(c) for c in request.data_categories])
    if errors:
        raise ValidationFailed(errors)


# --- validation after the fact (Reg. (EU) 2023/1543 Art. 4(5)) ---------------------------------


def _start_ex_post(session: Session, request: Request, now: datetime) -> datetime:
    """Store the deadline of the validation after the fact: 48 hours from the issue, held by
    the validating side (`rules.ex_post_validation_due`)."""
    rule = safeguard_rules.EX_POST_VALIDATION
    due = safeguard_rules.ex_post_validation_due(now)
    session.add(Deadline(
        request_id=request.id, kind=safeguard_rules.EX_POST_VALIDATION_KIND,
        label=safeguard_rules.EX_POST_VALIDATION_LABEL, legal_basis=rule.article,
        verified=rule.verified, effect=DeadlineEffect.RESPOND_BY.value,
        holder=Side.VALIDATING.value, emergency=request.emergency, starts_at=now, due_at=due,
        status=DeadlineStatus.OPEN.value, extensions_used=0,
    ))
    return due


def _pending_ex_post(session: Session, request: Request, now: datetime) -> Deadline:
    """The pending validation after the fact, still within its 48 hours; or ValidationFailed
    saying there is none or that it came too late (`rules.ex_post_validation_errors`)."""
    deadline = safeguards.ex_post_deadline(session, request.id)
    errors = safeguard_rules.ex_post_validation_errors(
        deadline.due_at if deadline else None, now)
    if errors:
        raise ValidationFailed(errors)
    assert deadline is not None
    return deadline


_EX_POST_END: dict[Verb, tuple[DeadlineStatus, ExPostOutcome | None]] = {
    Verb.VALIDATE_EX_POST: (DeadlineStatus.MET, None),
    Verb.REFUSE_EX_POST: (DeadlineStatus.CANCELLED, ExPostOutcome.REFUSED),
    Verb.WITHDRAW: (DeadlineStatus.CANCELLED, ExPostOutcome.WITHDRAWN),
    Verb.LAPSE: (DeadlineStatus.BREACHED, ExPostOutcome.LAPSED),
}


def _end_ex_post(session: Session, request: Request, deadline: Deadline, verb: Verb,
                 now: datetime) -> dict[str, Any]:
    """Close the pending validation after the fact as `verb` ends it; unless validated, the
    order ends and every data item received on it is restricted. Returns timeline details."""
    status, outcome = _EX_POST_END[verb]
    if deadline.status == DeadlineStatus.OPEN.value:
        deadline.status = status.value
        deadline.closed_at = now
    details: dict[str, Any] = {"ex_post_validation": outcome.value if outcome else "validated",
                               "ex_post_validation_due_at": deadline.due_at.isoformat()}
    if outcome is not None:
        details["restricted_data"] = safeguards.restrict_ex_post(
            session=session, request_id=request.id, outcome=outcome, now=now)
        details["restriction_basis"] = safeguard_rules.EX_POST_VALIDATION.article
    return details


def _move(session: Session, request: Request, target: State, now: datetime, *,
          sent: bool) -> None:
    """Write the request's new state with one Core UPDATE guarded by its version (StaleState if
    another transaction changed it meanwhile), then bring the session's object in line without
    a second write."""
    if session.new or session.dirty:
        session.flush()  # the deadlines this verb started or closed
    changes: dict[str, Any] = {"state": target.value, "updated_at": now,
                               "version": request.version + 1,
                               "sent_at": now if sent else request.sent_at}
    result = driver_execute(session.connection(), _REQUEST_MOVE,
                            {**changes, "request_id": request.id, "expected": request.version})
    if result.rowcount != 1:
        current = session.connection().execute(
            select(_REQUESTS.c.version, _REQUESTS.c.state).where(_REQUESTS.c.id == request.id)
        ).first()
        session.rollback()
        raise StaleState(request.version, current.version if current else -1,
                         current.state if current else "unknown")
    for name, value in changes.items():
        set_committed_value(request, name, value)


def _check_version(request: Request, expected: int) -> None:
    if request.version != expected:
        raise StaleState(expected, request.version, request.state)


def _flush(session: Session, request: Request) -> None:
    """Write now, so that a concurrent change surfaces here as StaleState."""
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        current = session.get(Request, request.id)
        raise StaleState(
            request.version, current.version if current else -1,
            current.state if current else "unknown",
        ) from None


def _require_translations(session: Session, request: Request) -> None:
    accepted = accepted_languages(session, request)
    missing = [k for k, v in translation_status(session, request).items() if v == "needed"]
    if missing:
        raise ValidationFailed([
            FieldError(f"translations.{name}", MSG_TRANSLATION,
                       {"languages": ", ".join(accepted)})
            for name in missing
        ])


def _refusal_basis(instrument: Instrument, ground: str | None) -> str | None:
    if not instrument.refusal_grounds:
        return None
    codes = [g.code for g in instrument.refusal_grounds]
    if ground not in codes:
        raise ValidationFailed([FieldError("ground", MSG_GROUND, {
            "instrument": instrument.short_name, "grounds": ", ".join(codes)})])
    return next(g.article for g in instrument.refusal_grounds if g.code == ground)


def _timezone_for(session: Session, request: Request, holder: Side) -> str:
    authority_id = {
        Side.ISSUING: request.issuing_authority_id,
        Side.VALIDATING: request.validating_authority_id,
        Side.EXECUTING: request.executing_authority_id,
    }[holder]
    authority = directory.authority(session, authority_id)
    state = directory.jurisdiction(session, authority.jurisdiction) if authority else None
    return state.timezone if state else "UTC"


def _open_deadlines(session: Session, request: Request) -> list[Deadline]:
    return list(session.scalars(select(Deadline).where(
        Deadline.request_id == request.id, Deadline.status == DeadlineStatus.OPEN.value)))


_ENDING = frozenset({Verb.WITHDRAW, Verb.CLOSE, Verb.REFUSE_EX_POST, Verb.LAPSE})
"""Verbs that end the request: every deadline still running is cancelled."""


def _close_deadlines(session: Session, request: Request, instrument: Instrument, verb: Verb,
                     now: datetime) -> None:
    if verb not in _ENDING and not any(verb in rule.met_by for rule in instrument.deadlines):
        return  # this verb closes no deadline of the instrument: nothing to look up
    for deadline in _open_deadlines(session, request):
        if deadline.status != DeadlineStatus.OPEN.value:
            continue  # closed earlier in this transaction (a validation after the fact)
        rule = instrument.deadline(deadline.kind)
        if verb in _ENDING:
            deadline.status = DeadlineStatus.CANCELLED.value
        elif rule is not None and verb in rule.met_by:
            deadline.status = dl.closing_status(rule, deadline.due_at, now).value
        else:
            continue
        deadline.closed_at = now


def _start_deadlines(session: Session, request: Request, instrument: Instrument, verb: Verb,
                     now: datetime) -> list[DeadlineRule]:
    rules = dl.rules_started_by(instrument, verb)
    for rule in rules:
        tz = _timezone_for(session, request, rule.holder)
        session.add(Deadline(
            request_id=request.id, kind=rule.kind, label=rule.label, legal_basis=rule.article,
            verified=rule.verified and dl.COMPUTATION_VERIFIED, effect=rule.effect.value,
            holder=rule.holder.value, emergency=request.emergency, starts_at=now,
            due_at=dl.due_at(rule, now, emergency=request.emergency, timezone=tz),
            status=DeadlineStatus.OPEN.value, extensions_used=0,
        ))
    return rules


def _extend(session: Session, request: Request, instrument: Instrument, kind: str | None,
            side: Side) -> dict[str, Any]:
    rule = instrument.deadline(kind) if kind else None
    deadline = next((d for d in _open_deadlines(session, request) if d.kind == kind), None)
    if rule is None or rule.extension is None or deadline is None:
        raise ValidationFailed([FieldError("deadline_kind", MSG_DEADLINE_KIND)])
    if rule.extension.by is not side:
        raise Forbidden(f"only the {rule.extension.by.value} side may extend this deadline "
                        f"({rule.extension.article})")
    if deadline.extensions_used >= rule.extension.times:
        raise ValidationFailed([FieldError("deadline_kind", MSG_EXTENSIONS_USED,
                                           {"article": rule.extension.article})])
    previous = deadline.due_at
    tz = _timezone_for(session, request, rule.holder)
    deadline.due_at = dl.extended_due_at(rule, previous, tz)
    deadline.extensions_used += 1
    return {"deadline": kind, "previous_due_at": previous.isoformat(),
            "due_at": deadline.due_at.isoformat(), "article": rule.extension.article}


def _event(session: Session, request: Request, actor: Actor | None, verb: str,
           from_state: State | None, *, reason: str, legal_basis: str, details: dict[str, Any],
           at: datetime) -> None:
    timeline.record(session, request, actor, verb, from_state, reason=reason,
                    legal_basis=legal_basis, details=details, at=at)


# --- the deadline job --------------------------------------------------------------------------


def scan_deadlines(*, session: Session, clock: Clock) -> list[Deadline]:
    """Mark every open deadline past due as breached (or expired, for preservation periods),
    with a timeline event each; returns those it changed. An order whose validation after the
    fact did not come within its 48 hours lapses (`_lapse`)."""
    now = clock.now()
    due = list(session.scalars(select(Deadline).where(
        Deadline.status == DeadlineStatus.OPEN.value, Deadline.due_at < now
    ).order_by(Deadline.due_at, Deadline.id)))
    changed: list[Deadline] = []
    for deadline in due:
        if deadline.status != DeadlineStatus.OPEN.value:
            continue  # cancelled by a lapse earlier in this scan
        status = dl.lapse_status(DeadlineEffect(deadline.effect))
        deadline.status = status.value
        deadline.closed_at = now
        changed.append(deadline)
        request = session.get(Request, deadline.request_id)
        assert request is not None
        _event(session, request, None, f"deadline_{status.value}", State(request.state),
               reason=f"{deadline.label}: due {deadline.due_at.isoformat()}",
               legal_basis=deadline.legal_basis,
               details={"deadline": deadline.kind, "due_at": deadline.due_at.isoformat()},
               at=now)
        if deadline.kind == safeguard_rules.EX_POST_VALIDATION_KIND:
            _lapse(session, request, deadline, now)
    return changed


def _lapse(session: Session, request: Request, deadline: Deadline, now: datetime) -> None:
    """The 48 hours passed without a validation after the fact (Reg. (EU) 2023/1543 Art. 4(5),
    unverified): the order is withdrawn on the issuing authority's behalf (verb `lapse`), its
    other deadlines cancelled, and every data item received on it restricted. The executing
    side sees the state and the event."""
    instrument = catalogue.get(request.instrument)
    current = State(request.state)
    target = workflow.next_state(current, Verb.LAPSE, instrument.verbs)
    details = _end_ex_post(session, request, deadline, Verb.LAPSE, now)
    _close_deadlines(session, request, instrument, Verb.LAPSE, now)
    _move(session, request, target, now, sent=False)
    _event(session, request, None, Verb.LAPSE.value, current,
           reason=f"{deadline.label}: not given by {deadline.due_at.isoformat()}",
           legal_basis=safeguard_rules.EX_POST_VALIDATION.article,
           details={"side": Side.ISSUING.value, "deadline": deadline.kind, **details}, at=now)
