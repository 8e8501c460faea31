"""HTTP face of the built-in Time-Stamping Authority (RFC 3161 §3.4, "Time-Stamp Protocol via
HTTP"): `POST /tsa` takes a DER TimeStampReq as `application/timestamp-query` and answers a DER
TimeStampResp as `application/timestamp-reply` (a rejection is also a 200 reply: its status is
in the body). `GET /tsa/certs.pem` gives the TSA certificate and its root CA for verifiers.
No authentication: a TSA is a public service and learns only a hash.

Needs `app.state.settings`; uses `app.state.clock` when present, else the system clock."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from rogatory.clock import Clock, SystemClock
from rogatory.config import Settings
from rogatory.timestamp.authority import TSA, ensure_tsa
from rogatory.timestamp.rfc3161 import QUERY_MEDIA_TYPE, REPLY_MEDIA_TYPE

MAX_QUERY_BYTES = 16 * 1024  # a TimeStampReq is a few hundred bytes

router = APIRouter(tags=["timestamp"])


async def _authority(request: Request) -> TSA:
    state = request.app.state
    tsa: TSA | None = getattr(state, "tsa", None)
    if tsa is None:
        settings: Settings = state.settings
        tsa = await run_in_threadpool(ensure_tsa, settings)
        state.tsa = tsa
    return tsa


@router.post(
    "/tsa",
    summary="RFC 3161 Time-Stamp Protocol via HTTP",
    response_class=Response,
    responses={200: {"content": {REPLY_MEDIA_TYPE: {}},
                     "description": "DER TimeStampResp (granted or rejection)"},
               413: {"description": "request body too large"},
               415: {"description": "body is not application/timestamp-query"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        QUERY_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}},
)
async def timestamp(request: Request) -> Response:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != QUERY_MEDIA_TYPE:
        return Response(f"send a DER TimeStampReq as {QUERY_MEDIA_TYPE}\n", 415,
                        media_type="text/plain")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_QUERY_BYTES:
            return Response(f"a TimeStampReq is at most {MAX_QUERY_BYTES} bytes here\n", 413,
                            media_type="text/plain")
    tsa = await _authority(request)
    clock: Clock = getattr(request.app.state, "clock", None) or SystemClock()
    reply = tsa.respond(bytes(body), now=clock.now())
    return Response(reply, 200, media_type=REPLY_MEDIA_TYPE)


@router.get(
    "/tsa/certs.pem",
    summary="The TSA certificate and its root CA (PEM)",
    response_class=Response,
    responses={200: {"content": {"application/pem-certificate-chain": {}}}},
)
async def certificates(request: Request) -> Response:
    tsa = await _authority(request)
    return Response(tsa.chain_pem, 200, media_type="application/pem-certificate-chain")
