"""Routes of cases and requests: thin — parse, authorize (in the service), call one service
function, commit once, render. Includes the live timeline as Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from rogatory.deps import (
    ClockDep,
    CurrentActor,
    SessionDep,
    get_session_factory,
    language_for,
    run_read,
)
from rogatory.i18n import LANGUAGES
from rogatory.identity.policy import Actor, sees_case_narrative, sees_request_content
from rogatory.requests import service, views
from rogatory.requests.enums import DeadlineStatus, State, Verb
from rogatory.requests.models import Deadline, TimelineEvent
from rogatory.requests.schemas import (
    ActionBody,
    CaseCreate,
    CaseRead,
    DraftUpdate,
    EventRead,
    RenderedRequest,
    RequestCreate,
    RequestPage,
    RequestRead,
    TranslationSet,
)

router = APIRouter(tags=["requests"])

SSE_POLL_SECONDS = 0.25
SSE_KEEPALIVE_SECONDS = 15.0


def _case_read(case: object, actor: Actor) -> CaseRead:
    read = CaseRead.model_validate(case, from_attributes=True)
    if not sees_case_narrative(actor):
        read = read.model_copy(update={"summary": "", "withheld": ["summary"]})
    return read


@router.get("/cases", response_model=list[CaseRead], summary="Cases you may see")
def list_cases(session: SessionDep, actor: CurrentActor) -> list[CaseRead]:
    return [_case_read(c, actor) for c in service.list_cases(session=session, actor=actor)]


@router.post("/cases", response_model=CaseRead, status_code=201, summary="Open a case")
def create_case(body: CaseCreate, session: SessionDep, actor: CurrentActor,
                clock: ClockDep) -> CaseRead:
    case = service.create_case(session=session, actor=actor, reference=body.reference,
                               title=body.title, summary=body.summary, clock=clock,
                               participants=body.participants)
    session.commit()
    return _case_read(case, actor)


@router.get("/cases/{reference}", response_model=CaseRead, summary="One case")
def get_case(reference: str, session: SessionDep, actor: CurrentActor) -> CaseRead:
    return _case_read(service.get_case(session=session, actor=actor, reference=reference),
                      actor)


@router.get("/requests", response_model=RequestPage, summary="Requests you may see")
def list_requests(
    request: Request, session: SessionDep, actor: CurrentActor,
    state: State | None = None, instrument: str | None = None,
    case: str | None = None, q: str | None = Query(default=None, max_length=64),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> RequestPage:
    rows, total = service.list_requests(
        session=session, actor=actor, state=state, instrument=instrument,
        case_reference=case, search=q, limit=limit, offset=offset,
    )
    lang = language_for(request, actor)
    due: dict[str, datetime] = {}
    if rows:
        due = {request_id: first_due for request_id, first_due in session.execute(
            select(Deadline.request_id, func.min(Deadline.due_at))
            .where(Deadline.request_id.in_([r.id for r in rows]),
                   Deadline.status == DeadlineStatus.OPEN.value)
            .group_by(Deadline.request_id))}
    items = [views.request_summary(r, due.get(r.id), lang) for r in rows]
    return RequestPage(items=items, total=total, limit=limit, offset=offset)


@router.post("/requests", response_model=RequestRead, status_code=201,
             summary="Draft a request")
def create_request(body: RequestCreate, request: Request, session: SessionDep,
                   actor: CurrentActor, clock: ClockDep) -> RequestRead:
    issuing = body.issuing_authority_id or actor.authority_id
    draft = service.RequestDraft(
        case_reference=body.case_reference, instrument=body.instrument,
        issuing_authority_id=issuing,
        validating_authority_id=body.validating_authority_id or issuing,
        executing_authority_id=body.executing_authority_id,
        data_categories=body.data_categories, emergency=body.emergency, form=body.form,
        language=body.language,
    )
    created = service.create_request(session=session, actor=actor, draft=draft, clock=clock)
    session.commit()
    return views.request_read(session, created, actor, clock.now(), language_for(request, actor))


@router.get("/requests/{request_id}", response_model=RequestRead, summary="One request")
async def get_request(request_id: str, request: Request, session: SessionDep,
                      actor: CurrentActor, clock: ClockDep) -> Response:
    # The most frequent call: reads run as `run_read` says, and the read model, validated
    # when built, is serialized once by pydantic.
    def read() -> RequestRead:
        found = service.read_request(session=session, actor=actor, request_id=request_id)
        return views.snapshot_read(session, found, actor, clock.now(),
                                   language_for(request, actor))

    body = await run_read(request, read)
    return Response(body.model_dump_json(), media_type="application/json")


@router.patch("/requests/{request_id}", response_model=RequestRead,
              summary="Edit a draft's form")
def update_draft(request_id: str, body: DraftUpdate, request: Request, session: SessionDep,
                 actor: CurrentActor, clock: ClockDep) -> RequestRead:
    updated = service.update_draft(session=session, actor=actor, request_id=request_id,
                                   expected_version=body.version, form=body.form, clock=clock)
    session.commit()
    return views.request_read(session, updated, actor, clock.now(), language_for(request, actor))


@router.put("/requests/{request_id}/translations/{field}", response_model=RequestRead,
            summary="Provide the translation of a free-text field")
def set_translation(request_id: str, field: str, body: TranslationSet, request: Request,
                    session: SessionDep, actor: CurrentActor, clock: ClockDep) -> RequestRead:
    updated = service.set_translation(
        session=session, actor=actor, request_id=request_id, expected_version=body.version,
        field_name=field, language=body.language, text=body.text, certified=body.certified,
        clock=clock,
    )
    session.commit()
    return views.request_read(session, updated, actor, clock.now(), language_for(request, actor))


@router.post("/requests/{request_id}/actions/{verb}", response_model=RequestRead,
             summary="Perform a workflow verb (submit, validate, send, acknowledge, …)",
             description="`issue_emergency` issues an emergency draft without prior validation "
                         "(Reg. (EU) 2023/1543 Art. 4(5)); the validating authority then has 48 "
                         "hours for `validate_ex_post` or `refuse_ex_post`. `lapse` is the "
                         "deadline job's and is refused (403).")
def act(request_id: str, verb: Verb, body: ActionBody, request: Request, session: SessionDep,
        actor: CurrentActor, clock: ClockDep) -> RequestRead:
    action = service.Action(verb=verb, expected_version=body.version, reason=body.reason,
                            legal_basis=body.legal_basis, ground=body.ground,
                            deadline_kind=body.deadline_kind)
    updated = service.act(session=session, actor=actor, request_id=request_id, action=action,
                          clock=clock)
    session.commit()
    return views.request_read(session, updated, actor, clock.now(), language_for(request, actor))


@router.get("/requests/{request_id}/timeline", response_model=list[EventRead],
            summary="The request's timeline")
def timeline(request_id: str, session: SessionDep, actor: CurrentActor) -> list[EventRead]:
    found = service.get_request(session=session, actor=actor, request_id=request_id)
    events = session.scalars(select(TimelineEvent).where(
        TimelineEvent.request_id == found.id).order_by(TimelineEvent.id))
    return [views.event_read(session, e) for e in events]


@router.get("/requests/{request_id}/render", response_model=RenderedRequest,
            summary="The form in two languages side by side")
def render(
    request_id: str, session: SessionDep, actor: CurrentActor,
    languages: str | None = Query(default=None, description="Comma-separated, e.g. fr,de"),
) -> RenderedRequest:
    found = service.get_request(session=session, actor=actor, request_id=request_id)
    if languages:
        langs = [lang.strip() for lang in languages.split(",") if lang.strip() in LANGUAGES]
    else:
        langs = [found.language] + [
            lang for lang in service.accepted_languages(session, found)[:1]
            if lang != found.language
        ]
    langs = [lang for lang in langs if lang in LANGUAGES] or ["en"]
    return views.render(session, found, langs, content=sees_request_content(actor))


@router.get("/requests/{request_id}/events", summary="Live timeline (Server-Sent Events)",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
def events(
    request_id: str, request: Request, session: SessionDep, actor: CurrentActor,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    found = service.get_request(session=session, actor=actor, request_id=request_id)
    start = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
    factory = get_session_factory(request)
    rid = found.id

    async def stream() -> AsyncIterator[str]:
        last, idle = start, 0.0
        yield "retry: 2000\n\n"
        def poll() -> list[EventRead]:
            with factory() as s:
                rows = s.scalars(select(TimelineEvent).where(
                    TimelineEvent.request_id == rid, TimelineEvent.id > last
                ).order_by(TimelineEvent.id)).all()
                return [views.event_read(s, e) for e in rows]

        while not await request.is_disconnected():
            # on a database across a network, each poll waits in a worker thread, not here
            payloads = await run_read(request, poll)
            for event in payloads:
                last = event.id
                data = json.dumps(event.model_dump(mode="json"))
                yield f"id: {event.id}\nevent: timeline\ndata: {data}\n\n"
            if payloads:
                idle = 0.0
            else:
                idle += SSE_POLL_SECONDS
                if idle >= SSE_KEEPALIVE_SECONDS:
                    idle = 0.0
                    yield ": keepalive\n\n"
            await asyncio.sleep(SSE_POLL_SECONDS)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
