"""The portal's pages: thin routes that read through the same services and policy as the API
(each a reader of the session cookie, each form carrying the session's CSRF token) and render
Jinja2 templates. A verb is performed by the request service, in one transaction, exactly as
the API performs it."""

from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from rogatory import __version__
from rogatory.deps import ClockDep, SessionDep, SettingsDep
from rogatory.directory import service as directory
from rogatory.directory.finder import find_authority
from rogatory.errors import FieldError, RogatoryError, ValidationFailed
from rogatory.evidence import service as evidence
from rogatory.evidence.export import export_case
from rogatory.i18n import LANGUAGES, N_, translate
from rogatory.identity.policy import (
    DRAFTING_ROLES,
    Actor,
    require_drafting,
    sees_request_content,
)
from rogatory.instruments import catalogue
from rogatory.instruments.schema import FormField, Instrument
from rogatory.requests import service, views
from rogatory.requests.enums import DataCategory, Measure, Rank, State, Verb
from rogatory.requests.labels import label
from rogatory.requests.models import TimelineEvent
from rogatory.safeguards import records
from rogatory.safeguards import service as safeguards
from rogatory.web import workspace
from rogatory.web.auth import PortalActor
from rogatory.web.render import page, zone

router = APIRouter(include_in_schema=False)

MSG_YES, MSG_NO = N_("Yes"), N_("No")


def _shown(instrument: Instrument) -> Any:
    """How a form value reads in a column of the page: yes/no and a choice's label in that
    column's language, a list joined."""
    fields = {f.name: f for s in instrument.sections for f in s.fields}

    def shown(name: str, value: Any, lang: str) -> str:
        if isinstance(value, bool):
            return translate(MSG_YES if value else MSG_NO, lang)
        if isinstance(value, list):
            return ", ".join(shown(name, v, lang) for v in value)
        field = fields.get(name)
        if field is not None and field.choices and isinstance(value, str):
            return translate(field.choice_label(value), lang)
        return str(value)

    return shown


TRANSLATION_STATES = {"needed": N_("needed"), "provided": N_("provided"),
                      "certified": N_("certified")}
JUDICIAL_RANKS = frozenset({Rank.JUDGE, Rank.COURT, Rank.INVESTIGATING_JUDGE})
VALIDATOR_RANKS = JUDICIAL_RANKS | {Rank.PROSECUTOR}


@router.get("/")
async def home(actor: PortalActor) -> Response:
    return RedirectResponse("/inbox", status_code=303)


# --- workspaces ----------------------------------------------------------------------------


@router.get("/inbox")
def inbox(
    request: Request, session: SessionDep, actor: PortalActor,
    tab: workspace.Tab | None = None, state: State | None = None,
    instrument: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    emergency: bool = False, sort: workspace.Sort = workspace.Sort.DUE,
    page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    tabs = workspace.tabs_for(actor.role)
    current = tab if tab in tabs else tabs[0]
    filters = workspace.Filters(tab=current, state=state, instrument=instrument or None,
                                search=q or None, emergency_only=emergency, sort=sort,
                                page=page_number)
    result = workspace.inbox(session, actor, filters)
    emergencies = []
    if current is workspace.Tab.INCOMING and not emergency:  # the 8-hour queue on top
        emergencies = workspace.inbox(session, actor, workspace.Filters(
            tab=current, emergency_only=True)).rows
        emergencies = [r for r in emergencies if r.state not in
                       (State.EXECUTED, State.PARTIALLY_EXECUTED, State.REFUSED, State.CLOSED,
                        State.WITHDRAWN)]
    return page(
        request, "inbox.html", actor, result=result, tabs=tabs, current=current,
        counts=workspace.tab_counts(session, actor, tabs), filters=filters,
        tab_labels=workspace.TAB_LABELS, title=workspace.title_for(actor.role),
        states=list(State), instruments=catalogue.catalogue(), emergencies=emergencies,
        sorts=list(workspace.Sort), now=request.app.state.clock.now(),
        may_draft=actor.role in DRAFTING_ROLES)


@router.get("/dashboard")
def dashboard(request: Request, session: SessionDep, actor: PortalActor) -> HTMLResponse:
    data = workspace.dashboard(session, actor)
    instruments = catalogue.catalogue()
    reader = request.state.language
    return page(request, "dashboard.html", actor, data=data,
                state_bars=[(label(s, reader), n) for s, n in data.by_state],
                instrument_bars=[(instruments[c].short_name if c in instruments else c, n)
                                 for c, n in data.by_instrument])


# --- the request wizard --------------------------------------------------------------------


@router.get("/requests/new")
def wizard(
    request: Request, session: SessionDep, actor: PortalActor,
    requested: Annotated[str | None, Query(max_length=2)] = None,
    measure: Measure | None = None, data_category: DataCategory | None = None,
    urgent: bool = False,
) -> HTMLResponse:
    """Step 1: requesting and requested state, measure, data category and urgency; the
    authority finder proposes the instrument and the competent authority, with its reason."""
    jurisdictions = directory.jurisdictions(session=session)
    validators = [a for a in directory.authorities(session=session,
                                                   jurisdiction=actor.jurisdiction)
                  if a.rank in VALIDATOR_RANKS]
    judicial = [a.id for a in validators if a.rank in JUDICIAL_RANKS]
    proposals: list[Any] = []
    if requested and measure:
        proposals = find_authority(
            requesting=actor.jurisdiction, requested=requested.upper(), measure=measure,
            data_category=data_category, urgent=urgent, jurisdictions=jurisdictions,
            authorities=directory.authorities(session=session),
            instruments=catalogue.catalogue())
    return page(request, "wizard.html", actor, jurisdictions=jurisdictions,
                requested=(requested or "").upper(), measure=measure,
                data_category=data_category, urgent=urgent, proposals=proposals,
                measures=list(Measure), categories=list(DataCategory),
                cases=service.list_cases(session=session, actor=actor),
                instruments=catalogue.catalogue(), validators=validators,
                default_validator=judicial[0] if judicial else actor.authority_id)


@router.post("/requests/new")
def start_draft(
    request: Request, session: SessionDep, actor: PortalActor, clock: ClockDep,
    instrument: Annotated[str, Form(max_length=40)],
    executing_authority_id: Annotated[str, Form(max_length=100)],
    case_reference: Annotated[str, Form(max_length=100)] = "",
    validating_authority_id: Annotated[str, Form(max_length=100)] = "",
    data_categories: Annotated[list[str] | None, Form()] = None,
    emergency: Annotated[bool, Form()] = False,
) -> Response:
    """Step 2: the draft is saved on the server at once; its form is filled in next."""
    draft = service.RequestDraft(
        case_reference=case_reference, instrument=instrument,
        issuing_authority_id=actor.authority_id,
        validating_authority_id=validating_authority_id or actor.authority_id,
        executing_authority_id=executing_authority_id,
        data_categories=data_categories or [], emergency=emergency, form={}, language=None)
    try:
        created = service.create_request(session=session, actor=actor, draft=draft,
                                         clock=clock)
    except ValidationFailed as failed:
        session.rollback()
        return page(request, "problem.html", actor, status=422, failure=failed,
                    back="/requests/new")
    session.commit()
    return RedirectResponse(f"/requests/{created.id}/edit", status_code=303)


def _form_value(spec: FormField, raw: list[str], timezone: str) -> Any:
    """An HTML form's text as the field's type (the service checks it and names the field)."""
    values = [v for v in raw if v != ""]
    if spec.type == "multichoice":
        return values or None
    value = values[-1] if values else None
    if spec.type == "boolean":
        return value is not None and value in ("true", "on", "1")
    if value is None:
        return None
    if spec.type == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    if spec.type == "datetime" and "T" in value and not value.endswith("Z") \
            and "+" not in value[10:] and "-" not in value[10:]:
        try:
            local = datetime.fromisoformat(value).replace(tzinfo=zone(timezone))
            return local.isoformat()
        except ValueError:
            return value
    return value


def _edit_page(request: Request, session: Session, actor: Actor, found: Any,
               errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
               notice: str | None = None, status: int = 200) -> HTMLResponse:
    instrument = catalogue.get(found.instrument)
    read = views.request_read(session, found, actor, request.app.state.clock.now(),
                              request.state.language)
    return page(request, "edit.html", actor, status=status, req=read, instrument=instrument,
                here=f"/requests/{found.id}/edit",
                values=values if values is not None else dict(found.form),
                errors=errors or {}, notice=notice)


@router.get("/requests/{request_id}/edit")
def edit_draft(request: Request, request_id: str, session: SessionDep,
               actor: PortalActor) -> HTMLResponse:
    found = service.get_request(session=session, actor=actor, request_id=request_id)
    require_drafting(actor, found.issuing_authority_id)  # the form is the drafters' to see
    return _edit_page(request, session, actor, found)


@router.post("/requests/{request_id}/edit")
async def save_draft(request: Request, request_id: str, session: SessionDep,
                     actor: PortalActor, clock: ClockDep) -> Response:
    submitted = await request.form()
    found = service.get_request(session=session, actor=actor, request_id=request_id)
    instrument: Instrument = catalogue.get(found.instrument)
    form: dict[str, Any] = {}
    for section in instrument.sections:
        for spec in section.fields:
            raw = [v for v in submitted.getlist(spec.name) if isinstance(v, str)]
            value = _form_value(spec, raw, actor.timezone)
            form[spec.name] = value if value not in ("", [], False) or spec.type == "boolean" \
                else None
    version = str(submitted.get("version", ""))
    try:
        updated = service.update_draft(
            session=session, actor=actor, request_id=request_id,
            expected_version=int(version) if version.isdigit() else 0, form=form, clock=clock)
    except ValidationFailed as failed:
        session.rollback()
        errors = {e.field.removeprefix("form."): e.text(request.state.language)
                  for e in failed.errors}
        shown = {k: v for k, v in {**found.form, **form}.items() if v is not None}
        return _edit_page(request, session, actor, found, errors=errors, values=shown,
                          status=422)
    session.commit()
    target = f"/requests/{updated.id}" if submitted.get("then") == "review" \
        else f"/requests/{updated.id}/edit?saved=1"
    return RedirectResponse(target, status_code=303)


# --- one request ---------------------------------------------------------------------------


def _request_page(request: Request, session: Session, actor: Actor, request_id: str,
                  failure: RogatoryError | None = None, status: int = 200) -> HTMLResponse:
    found = service.get_request(session=session, actor=actor, request_id=request_id)
    now = request.app.state.clock.now()
    lang: str = request.state.language
    read = views.request_read(session, found, actor, now, lang)
    instrument = catalogue.get(found.instrument)
    rendered = None
    if sees_request_content(actor):
        second = [x for x in service.accepted_languages(session, found) if x != found.language]
        rendered = views.render(session, found, [found.language, *second[:1]])
    events = [views.event_read(session, e) for e in session.scalars(
        select(TimelineEvent).where(TimelineEvent.request_id == found.id)
        .order_by(TimelineEvent.id))]
    items = evidence.list_items(session=session, actor=actor,
                                case_reference=read.case_reference)
    withheld = records.withheld_exhibits(session, found.case_id) if items else {}
    assessments = _quietly(lambda: safeguards.list_assessments(
        session=session, actor=actor, request_id=found.id))
    decisions = _quietly(lambda: safeguards.list_decisions(
        session=session, actor=actor, request_id=found.id))
    return page(request, "request.html", actor, status=status, req=read, rendered=rendered,
                here=f"/requests/{found.id}",
                events=events, instrument=instrument, items=items, withheld=withheld,
                assessments=assessments,
                decisions=decisions, failure=failure, languages_names=LANGUAGES,
                may_upload=actor.role in evidence.INGEST_ROLES, now=now,
                translation_states=TRANSLATION_STATES, tool_version=__version__,
                shown=_shown(instrument))


def _quietly(read: Any) -> list[Any]:
    """A list the reader may not be entitled to is simply not shown."""
    try:
        return list(read())
    except RogatoryError:
        return []


def _perform(request: Request, session: Session, actor: Actor, request_id: str, then: str,
             work: Callable[[], object]) -> Response:
    """One service call of a request page's form, in one transaction: committed and redirected
    to `then`, or rolled back and the request page shown again with the reason (a request the
    reader may not see stays a 404)."""
    try:
        work()
    except RogatoryError as failure:
        session.rollback()
        if failure.http_status == 404:
            raise
        return _request_page(request, session, actor, request_id, failure=failure,
                             status=failure.http_status)
    session.commit()
    return RedirectResponse(then, status_code=303)


@router.get("/requests/{request_id}")
def show_request(request: Request, request_id: str, session: SessionDep,
                 actor: PortalActor) -> HTMLResponse:
    return _request_page(request, session, actor, request_id)


@router.post("/requests/{request_id}/act")
def act(
    request: Request, request_id: str, session: SessionDep, actor: PortalActor,
    clock: ClockDep, verb: Annotated[Verb, Form()], version: Annotated[int, Form(ge=1)],
    reason: Annotated[str, Form(max_length=10_000)] = "",
    legal_basis: Annotated[str, Form(max_length=500)] = "",
    ground: Annotated[str, Form(max_length=100)] = "",
    deadline_kind: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    action = service.Action(verb=verb, expected_version=version, reason=reason,
                            legal_basis=legal_basis, ground=ground or None,
                            deadline_kind=deadline_kind or None)
    return _perform(request, session, actor, request_id, f"/requests/{request_id}",
                    lambda: service.act(session=session, actor=actor, request_id=request_id,
                                        action=action, clock=clock))


@router.post("/requests/{request_id}/translations")
def translate_field(
    request: Request, request_id: str, session: SessionDep, actor: PortalActor,
    clock: ClockDep, field: Annotated[str, Form(max_length=100)],
    language: Annotated[str, Form(max_length=2)], text: Annotated[str, Form(max_length=50_000)],
    version: Annotated[int, Form(ge=1)], certified: Annotated[bool, Form()] = False,
) -> Response:
    return _perform(request, session, actor, request_id,
                    f"/requests/{request_id}#translations",
                    lambda: service.set_translation(
                        session=session, actor=actor, request_id=request_id,
                        expected_version=version, field_name=field, language=language,
                        text=text, certified=certified, clock=clock))


# --- evidence ------------------------------------------------------------------------------


@router.get("/evidence/{item_id}")
def evidence_item(request: Request, item_id: str, session: SessionDep,
                  actor: PortalActor) -> HTMLResponse:
    item = evidence.get_item(session=session, actor=actor, item_id=item_id)
    chain = evidence.custody_chain(session=session, actor=actor, item_id=item_id)
    case = service.get_case_by_id(session=session, actor=actor, case_id=item.case_id)
    return page(request, "evidence.html", actor, item=item, chain=chain, case=case)


@router.get("/cases/{reference}/package")
def court_package(request: Request, reference: str, session: SessionDep, actor: PortalActor,
                  settings: SettingsDep, clock: ClockDep) -> Response:
    """The case's court package (BagIt with CASE/UCO, hashes and custody), as one zip."""
    workdir = Path(tempfile.mkdtemp(prefix="rogatory-package-"))
    try:
        out = export_case(session=session, actor=actor, case_reference=reference,
                          item_ids=None, out_dir=workdir / "package", settings=settings,
                          clock=clock)
        session.commit()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    archive.write(path, Path(reference) / path.relative_to(out))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in reference)
    return Response(buffer.getvalue(), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{safe}-court-package.zip"'})


__all__ = ["FieldError", "router"]
