"""Routes of the evidence vault: thin — parse, call one service function, commit once, render.

Upload streams the raw request body (`application/octet-stream`) chunk by chunk into the store;
the whole body is never in memory. SHA-256 and BLAKE3 are always computed; `with_sha512=true`
adds SHA-512, `legacy_hashes=true` MD5 and SHA-1; `X-Claimed-SHA256`, `X-Claimed-BLAKE3` and
`X-Claimed-SHA512` are compared with what the server computed. The file name and the
acquisition metadata are query parameters; the file name is taken from the raw query string so
that bytes that are not UTF-8 reach the service's check (and are refused, naming
`original_name`). A body shorter than its Content-Length (the client went away) leaves nothing
stored."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Annotated
from urllib.parse import parse_qsl

import anyio.from_thread
from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from rogatory.deps import ClockDep, CurrentActor, SessionDep, SettingsDep
from rogatory.errors import FieldError, ValidationFailed
from rogatory.evidence import service
from rogatory.evidence.models import CustodyEvent, CustodyKind, EvidenceItem
from rogatory.evidence.store import EvidenceStore
from rogatory.requests.schemas import Body
from rogatory.safeguards import records
from rogatory.timestamp.client import timestamper

router = APIRouter(tags=["evidence"])

MSG_TRUNCATED = "The upload ended after {received} of {expected} bytes; nothing was stored."


class EvidenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    exhibit_number: str
    original_name: str
    display_name: str
    size: int
    sha256: str
    blake3: str | None  # None only for items ingested before BLAKE3 (they have a sha512)
    sha512: str | None
    md5: str | None
    sha1: str | None
    examiner: str
    acquired_at: datetime
    tool: str
    tool_version: str
    method: str
    source_device: str
    seal_number: str
    place: str
    ingested_at: datetime
    ingested_by: str
    authority_id: str
    # why the item may no longer be used: the data it holds were received on a request and are
    # restricted or deleted (it never leaves in a court package); None when nothing restricts it
    withheld: str | None = None

    @classmethod
    def of(cls, item: EvidenceItem, withheld: dict[str, str]) -> EvidenceRead:
        return cls.model_validate(item).model_copy(
            update={"withheld": withheld.get(item.exhibit_number)})


class CustodyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    item_id: str
    kind: CustodyKind
    at: datetime
    actor_user_id: str
    actor_authority_id: str
    place: str
    note: str
    corrects_event_id: int | None
    ledger_index: int


class CustodyCreate(Body):
    kind: CustodyKind
    place: str = Field(default="", max_length=200)
    note: str = Field(default="", max_length=10_000)
    corrects: int | None = Field(default=None, ge=1, le=2**62)


class _Truncated(ValidationFailed):
    pass


def _raw_query_value(request: Request, name: str) -> bytes | None:
    """A query parameter's bytes as sent (percent-decoded, not decoded as UTF-8)."""
    raw: bytes = request.scope.get("query_string", b"")
    query = raw.decode("latin-1")
    for key, value in parse_qsl(query, keep_blank_values=True, encoding="latin-1"):
        if key == name:
            return value.encode("latin-1")
    return None


def _body_chunks(request: Request) -> Iterator[bytes]:
    """The request body, pulled from the event loop chunk by chunk (for a worker thread)."""
    declared = request.headers.get("content-length")
    stream: AsyncIterator[bytes] = request.stream()
    received = 0

    async def next_chunk() -> bytes | None:
        try:
            return await stream.__anext__()
        except ClientDisconnect:
            return None

    while True:
        try:
            chunk = anyio.from_thread.run(next_chunk)
        except StopAsyncIteration:
            break
        if chunk is None:
            expected = declared if declared and declared.isdigit() else "?"
            raise _Truncated([FieldError("file", MSG_TRUNCATED,
                                         {"received": received, "expected": expected})])
        if chunk:
            received += len(chunk)
            yield chunk
    if declared and declared.isdigit() and int(declared) != received:
        raise _Truncated([FieldError("file", MSG_TRUNCATED,
                                     {"received": received, "expected": declared})])


@router.post(
    "/cases/{reference}/evidence", response_model=EvidenceRead, status_code=201,
    summary="Ingest an evidence file (the raw request body) into a case",
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
)
async def ingest(
    reference: str, request: Request, session: SessionDep, actor: CurrentActor,
    clock: ClockDep, settings: SettingsDep,
    original_name: Annotated[str, Query(description="The file's name as acquired")] = "",
    examiner: str = "", acquired_at: datetime | None = None, tool: str = "",
    tool_version: str = "", method: str = "", source_device: str = "", seal_number: str = "",
    place: str = "", legacy_hashes: bool = False,
    with_sha512: Annotated[bool, Query(
        description="Also compute SHA-512 (SHA-256 and BLAKE3 are always computed)")] = False,
    x_claimed_sha256: Annotated[str | None, Header()] = None,
    x_claimed_blake3: Annotated[str | None, Header()] = None,
    x_claimed_sha512: Annotated[str | None, Header()] = None,
) -> EvidenceRead:
    raw_name = _raw_query_value(request, "original_name")
    metadata = service.AcquisitionMetadata(
        examiner=examiner, acquired_at=acquired_at, tool=tool, tool_version=tool_version,
        method=method, source_device=source_device, seal_number=seal_number, place=place)
    claimed = {k: v for k, v in (("sha256", x_claimed_sha256), ("blake3", x_claimed_blake3),
                                 ("sha512", x_claimed_sha512)) if v is not None}
    store = EvidenceStore(settings.evidence_dir)

    def run() -> EvidenceRead:
        try:
            item = service.ingest(
                session=session, store=store, actor=actor, case_reference=reference,
                chunks=_body_chunks(request),
                original_name=raw_name if raw_name is not None else original_name,
                metadata=metadata, claimed=claimed, legacy_hashes=legacy_hashes, clock=clock,
                timestamp=timestamper(settings, clock=clock), sha512=with_sha512)
        except service.ClaimedHashMismatch as refused:
            session.rollback()
            for refusal in refused.refusals:
                service.record_refusal(session=session, refusal=refusal, clock=clock)
            session.commit()
            raise
        session.commit()
        return EvidenceRead.of(item, records.withheld_exhibits(session, item.case_id))

    return await run_in_threadpool(run)


@router.get("/cases/{reference}/evidence", response_model=list[EvidenceRead],
            summary="The evidence items of a case")
def list_items(reference: str, session: SessionDep, actor: CurrentActor) -> list[EvidenceRead]:
    items = service.list_items(session=session, actor=actor, case_reference=reference)
    withheld = records.withheld_exhibits(session, items[0].case_id) if items else {}
    return [EvidenceRead.of(i, withheld) for i in items]


@router.get("/evidence/{item_id}", response_model=EvidenceRead, summary="One evidence item")
def get_item(item_id: str, session: SessionDep, actor: CurrentActor) -> EvidenceRead:
    item: EvidenceItem = service.get_item(session=session, actor=actor, item_id=item_id)
    return EvidenceRead.of(item, records.withheld_exhibits(session, item.case_id))


@router.get("/evidence/{item_id}/custody", response_model=list[CustodyRead],
            summary="The item's chain of custody")
def custody_chain(item_id: str, session: SessionDep, actor: CurrentActor) -> list[CustodyRead]:
    events = service.custody_chain(session=session, actor=actor, item_id=item_id)
    return [CustodyRead.model_validate(e) for e in events]


@router.post("/evidence/{item_id}/custody", response_model=CustodyRead, status_code=201,
             summary="Record a custody event (a correction points at the event it corrects)")
def record_custody(item_id: str, body: CustodyCreate, session: SessionDep, actor: CurrentActor,
                   clock: ClockDep) -> CustodyRead:
    event: CustodyEvent = service.record_custody(
        session=session, actor=actor, item_id=item_id, kind=body.kind.value, place=body.place,
        note=body.note, corrects=body.corrects, clock=clock)
    session.commit()
    return CustodyRead.model_validate(event)
