"""Routes of the safeguards: thin — parse, call one service function (which authorizes), commit
once, render. Everything is under /api/v1 and needs a bearer token, except the anonymized public
register of decisions at `GET /public/register`, which anyone may read."""

from __future__ import annotations

from enum import Enum

from fastapi import APIRouter, Query, Request

from rogatory.deps import ClockDep, CurrentActor, SessionDep, language_for
from rogatory.i18n import LANGUAGES, negotiate
from rogatory.requests import service as requests_service
from rogatory.safeguards import register, service, views
from rogatory.safeguards.rules import AssessmentInput, NotificationStatus
from rogatory.safeguards.schemas import (
    AssessmentCreate,
    AssessmentRead,
    DataCreate,
    DataDeletion,
    DataDueRead,
    DataRead,
    DataReview,
    DecisionCreate,
    DecisionRead,
    DeferralCreate,
    DeferralRead,
    NonExecutionCreate,
    NonExecutionRead,
    NotificationRead,
    PublicRegister,
    ToolCreate,
    ToolRead,
    TransferCreate,
    TransferRead,
)

router = APIRouter()
API = "/api/v1"
TAGS: list[str | Enum] = ["safeguards"]


# --- assessments ---------------------------------------------------------------------------------


def _assessment_reads(session: SessionDep, actor: CurrentActor, request_id: str,
                      lang: str) -> list[AssessmentRead]:
    rows = service.list_assessments(session=session, actor=actor, request_id=request_id)
    found = requests_service.get_request(session=session, actor=actor, request_id=request_id)
    return [views.assessment_read(session, a, found.instrument, list(found.data_categories),
                                  current=i == len(rows) - 1, actor=actor, lang=lang)
            for i, a in enumerate(rows)]


@router.post(API + "/requests/{request_id}/assessments", response_model=AssessmentRead,
             status_code=201, tags=TAGS,
             summary="Record the necessity and proportionality assessment of an intrusive measure")
def record_assessment(request_id: str, body: AssessmentCreate, request: Request,
                      session: SessionDep, actor: CurrentActor,
                      clock: ClockDep) -> AssessmentRead:
    values = AssessmentInput(**{**body.model_dump(),
                                "privileged_persons": tuple(body.privileged_persons)})
    row = service.record_assessment(session=session, actor=actor, request_id=request_id,
                                    values=values, clock=clock)
    session.commit()
    found = requests_service.get_request(session=session, actor=actor, request_id=request_id)
    return views.assessment_read(session, row, found.instrument, list(found.data_categories),
                                 current=True, actor=actor, lang=language_for(request, actor))


@router.get(API + "/requests/{request_id}/assessments", response_model=list[AssessmentRead],
            tags=TAGS, summary="The assessments of a request (the last is the current one)")
def list_assessments(request_id: str, request: Request, session: SessionDep,
                     actor: CurrentActor) -> list[AssessmentRead]:
    return _assessment_reads(session, actor, request_id, language_for(request, actor))


# --- decisions -----------------------------------------------------------------------------------


@router.post(API + "/requests/{request_id}/decisions", response_model=DecisionRead,
             status_code=201, tags=TAGS,
             summary="Decide with reasons (performs the verb the request awaits)")
def decide(request_id: str, body: DecisionCreate, request: Request, session: SessionDep,
           actor: CurrentActor, clock: ClockDep) -> DecisionRead:
    draft = service.DecisionDraft(
        stage=body.stage, outcome=body.outcome, grounds=list(body.grounds), reasons=body.reasons,
        assessment_id=body.assessment_id, tools=list(body.tools), supersedes=body.supersedes,
        expected_version=body.version)
    decision = service.decide(session=session, actor=actor, request_id=request_id, draft=draft,
                              clock=clock)
    session.commit()
    return views.decision_reads(session, [decision], language_for(request, actor))[0]


@router.get(API + "/requests/{request_id}/decisions", response_model=list[DecisionRead],
            tags=TAGS, summary="The decisions on a request")
def list_decisions(request_id: str, request: Request, session: SessionDep,
                   actor: CurrentActor) -> list[DecisionRead]:
    rows = service.list_decisions(session=session, actor=actor, request_id=request_id)
    return views.decision_reads(session, rows, language_for(request, actor))


@router.get(API + "/decisions/{decision_id}", response_model=DecisionRead, tags=TAGS,
            summary="One decision")
def get_decision(decision_id: str, request: Request, session: SessionDep,
                 actor: CurrentActor) -> DecisionRead:
    row = service.get_decision(session=session, actor=actor, decision_id=decision_id)
    return views.decision_reads(session, [row], language_for(request, actor))[0]


# --- notifications of the enforcing State --------------------------------------------------------


@router.get(API + "/notifications", response_model=list[NotificationRead], tags=TAGS,
            summary="Orders notified to your authority as enforcing authority")
def list_notifications(session: SessionDep, actor: CurrentActor, clock: ClockDep,
                       status: NotificationStatus | None = None) -> list[NotificationRead]:
    rows = service.list_notifications(session=session, actor=actor, status=status)
    now = clock.now()
    return [views.notification_read(session, n, now, actor=actor) for n in rows]


@router.get(API + "/requests/{request_id}/notification", response_model=NotificationRead,
            tags=TAGS, summary="The notification of the enforcing State, if any")
def get_notification(request_id: str, session: SessionDep, actor: CurrentActor,
                     clock: ClockDep) -> NotificationRead:
    row = service.get_notification(session=session, actor=actor, request_id=request_id)
    return views.notification_read(session, row, clock.now(), actor=actor)


# --- a provider's inability to execute (Annex III) ----------------------------------------------


@router.post(API + "/requests/{request_id}/non-execution", response_model=NonExecutionRead,
             status_code=201, tags=TAGS,
             summary="A provider cannot execute: coded reasons and preservation (Annex III)")
def record_non_execution(request_id: str, body: NonExecutionCreate, request: Request,
                         session: SessionDep, actor: CurrentActor,
                         clock: ClockDep) -> NonExecutionRead:
    row = service.record_non_execution(
        session=session, actor=actor, request_id=request_id, clock=clock,
        draft=service.NonExecutionDraft(**body.model_dump()))
    session.commit()
    return views.non_execution_read(session, row, language_for(request, actor))


@router.get(API + "/requests/{request_id}/non-execution", response_model=list[NonExecutionRead],
            tags=TAGS, summary="Annex III answers on a request")
def list_non_execution(request_id: str, request: Request, session: SessionDep,
                       actor: CurrentActor) -> list[NonExecutionRead]:
    rows = service.list_non_execution(session=session, actor=actor, request_id=request_id)
    lang = language_for(request, actor)
    return [views.non_execution_read(session, r, lang) for r in rows]


# --- data protection -----------------------------------------------------------------------------


@router.post(API + "/requests/{request_id}/data", response_model=DataRead, status_code=201,
             tags=TAGS, summary="Record data received: purpose and retention")
def record_data(request_id: str, body: DataCreate, session: SessionDep, actor: CurrentActor,
                clock: ClockDep) -> DataRead:
    row = service.record_data(session=session, actor=actor, request_id=request_id,
                              draft=service.DataDraft(**body.model_dump()), clock=clock)
    session.commit()
    return views.data_read(row)


@router.get(API + "/requests/{request_id}/data", response_model=list[DataRead], tags=TAGS,
            summary="Data received on a request")
def list_data(request_id: str, session: SessionDep, actor: CurrentActor) -> list[DataRead]:
    return [views.data_read(r) for r in service.list_data(session=session, actor=actor,
                                                         request_id=request_id)]


@router.post(API + "/data/{data_id}/review", response_model=DataRead, tags=TAGS,
             summary="Review the need to keep data: a new end of retention")
def review_data(data_id: str, body: DataReview, session: SessionDep, actor: CurrentActor,
                clock: ClockDep) -> DataRead:
    row = service.review_data(session=session, actor=actor, data_id=data_id,
                              retention_until=body.retention_until, note=body.note, clock=clock)
    session.commit()
    return views.data_read(row)


@router.post(API + "/data/{data_id}/deletion", response_model=DataRead, tags=TAGS,
             summary="Record that data were deleted")
def delete_data(data_id: str, body: DataDeletion, session: SessionDep, actor: CurrentActor,
                clock: ClockDep) -> DataRead:
    row = service.delete_data(session=session, actor=actor, data_id=data_id, reason=body.reason,
                              clock=clock)
    session.commit()
    return views.data_read(row)


@router.post(API + "/data/{data_id}/transfers", response_model=TransferRead, status_code=201,
             tags=TAGS, summary="Record an onward transfer to a third State, with its consent")
def transfer_data(data_id: str, body: TransferCreate, session: SessionDep, actor: CurrentActor,
                  clock: ClockDep) -> TransferRead:
    row = service.transfer_data(session=session, actor=actor, data_id=data_id,
                                draft=service.TransferDraft(**body.model_dump()), clock=clock)
    session.commit()
    return views.transfer_read(row)


@router.get(API + "/data/{data_id}/transfers", response_model=list[TransferRead], tags=TAGS,
            summary="Onward transfers of data")
def list_transfers(data_id: str, session: SessionDep, actor: CurrentActor) -> list[TransferRead]:
    return [views.transfer_read(r) for r in service.list_transfers(session=session, actor=actor,
                                                                   data_id=data_id)]


@router.post(API + "/requests/{request_id}/informing-deferrals", response_model=DeferralRead,
             status_code=201, tags=TAGS,
             summary="Defer informing the data subject, with the reason")
def defer_informing(request_id: str, body: DeferralCreate, request: Request,
                    session: SessionDep, actor: CurrentActor, clock: ClockDep) -> DeferralRead:
    row = service.defer_informing(session=session, actor=actor, request_id=request_id,
                                  reason=body.reason, note=body.note, until=body.until,
                                  clock=clock)
    session.commit()
    return views.deferral_read(row, language_for(request, actor))


@router.get(API + "/requests/{request_id}/informing-deferrals", response_model=list[DeferralRead],
            tags=TAGS, summary="Deferrals of informing the data subject")
def list_deferrals(request_id: str, request: Request, session: SessionDep,
                   actor: CurrentActor) -> list[DeferralRead]:
    lang = language_for(request, actor)
    return [views.deferral_read(r, lang) for r in service.list_deferrals(
        session=session, actor=actor, request_id=request_id)]


@router.get(API + "/data-protection/due", response_model=DataDueRead, tags=TAGS,
            summary="Data due for review, or kept past their retention period")
def data_due(session: SessionDep, actor: CurrentActor, clock: ClockDep) -> DataDueRead:
    due = service.data_due(session=session, actor=actor, today=clock.now().date())
    return DataDueRead(review=[views.data_read(r) for r in due.review],
                       retention_ended=[views.data_read(r) for r in due.retention_ended])


# --- analytic tools ------------------------------------------------------------------------------


@router.get(API + "/tools", response_model=list[ToolRead], tags=TAGS,
            summary="The register of analytic tools")
def list_tools(session: SessionDep, actor: CurrentActor) -> list[ToolRead]:
    return [views.tool_read(session, t) for t in service.list_tools(session=session)]


@router.post(API + "/tools", response_model=ToolRead, status_code=201, tags=TAGS,
             summary="Register and approve an analytic tool")
def register_tool(body: ToolCreate, session: SessionDep, actor: CurrentActor,
                  clock: ClockDep) -> ToolRead:
    row = service.register_tool(session=session, actor=actor,
                                draft=service.ToolDraft(**body.model_dump()), clock=clock)
    session.commit()
    return views.tool_read(session, row)


@router.get(API + "/tools/{tool_id}", response_model=ToolRead, tags=TAGS,
            summary="One analytic tool")
def get_tool(tool_id: str, session: SessionDep, actor: CurrentActor) -> ToolRead:
    return views.tool_read(session, service.get_tool(session=session, tool_id=tool_id))


# --- the public register -------------------------------------------------------------------------


@router.get("/public/register", response_model=PublicRegister, tags=["public"],
            summary="Anonymized register of decisions (no authentication)")
def public_register(request: Request, session: SessionDep,
                    instrument: str | None = Query(default=None, max_length=40),
                    lang: str | None = Query(default=None, max_length=8)) -> PublicRegister:
    language = lang if lang in LANGUAGES else negotiate(request.headers.get("accept-language"))
    return PublicRegister.model_validate(
        register.public_register(session=session, instrument=instrument, lang=language))
