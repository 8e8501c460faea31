"""Getting timestamps: from an external TSA by URL (RFC 3161 §3.4, HTTP POST of
`application/timestamp-query`, answer `application/timestamp-reply`) or from the node's
built-in TSA. Both give the DER `TimeStampResp` (a `.tsr` file), which `openssl ts -verify -in`
and `rogatory.timestamp.verify.verify_token` read as it is.

The reply of an external TSA is checked against the request here (status granted, same
message imprint, nonce echoed); its signature and chain are checked by `verify_token` with
that TSA's CA certificate."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable

from asn1crypto import tsp

from rogatory.clock import Clock, SystemClock
from rogatory.config import Settings
from rogatory.errors import RogatoryError, VerificationError
from rogatory.timestamp.authority import ensure_tsa
from rogatory.timestamp.rfc3161 import (
    QUERY_MEDIA_TYPE,
    REPLY_MEDIA_TYPE,
    hash_name_for,
    make_request,
)
from rogatory.timestamp.verify import token_from_der

DEFAULT_TIMEOUT = 10.0
MAX_REPLY_BYTES = 1 << 20


class TimestampUnavailable(RogatoryError):
    """The TSA could not be reached or did not answer with a timestamp reply."""

    code = "timestamp_unavailable"
    http_status = 503


def request_timestamp(url: str, data_hash: bytes, *, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Ask the TSA at `url` to timestamp `data_hash` (SHA-256, -384 or -512, told apart by
    length) and return its DER TimeStampResp, after checking it answers this request."""
    import httpx  # only needed when an external TSA is configured

    hash_name = hash_name_for(data_hash)
    nonce = secrets.randbits(64)
    query = make_request(data_hash, hash_name=hash_name, nonce=nonce, cert_req=True)
    try:
        response = httpx.post(url, content=query, timeout=timeout, headers={
            "Content-Type": QUERY_MEDIA_TYPE, "Accept": REPLY_MEDIA_TYPE})
    except httpx.HTTPError as exc:
        raise TimestampUnavailable(f"the TSA at {url} could not be reached: {exc}") from exc
    if response.status_code != 200:
        raise TimestampUnavailable(
            f"the TSA at {url} answered HTTP {response.status_code}, not 200")
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != REPLY_MEDIA_TYPE:
        raise TimestampUnavailable(f"the TSA at {url} answered {media_type or 'no content type'}"
                                   f", not {REPLY_MEDIA_TYPE}")
    if len(response.content) > MAX_REPLY_BYTES:
        raise TimestampUnavailable(f"the TSA at {url} answered more than {MAX_REPLY_BYTES} bytes")
    check_reply(response.content, digest=data_hash, hash_name=hash_name, nonce=nonce)
    return response.content


def check_reply(reply_der: bytes, *, digest: bytes, hash_name: str, nonce: int | None) -> None:
    """The reply grants a token for this request: same imprint (RFC 3161 §2.4.2) and, when a
    nonce was sent, the same nonce. Raises `VerificationError`."""
    token = token_from_der(reply_der)
    try:
        tst_info = tsp.TSTInfo.load(token["content"]["encap_content_info"]["content"].contents)
        imprint = tst_info["message_imprint"]
        got_name = imprint["hash_algorithm"]["algorithm"].native
        got_digest = imprint["hashed_message"].native
        got_nonce = tst_info["nonce"].native
    except Exception as exc:  # asn1crypto raises many kinds of exception on bad input
        raise VerificationError(f"the TSA reply holds no readable TSTInfo: {exc}") from exc
    if got_name != hash_name or not hmac.compare_digest(got_digest, digest):
        raise VerificationError(f"the TSA stamped {got_name} {got_digest.hex()}, not the "
                                f"{hash_name} {digest.hex()} that was asked for")
    if nonce is not None and got_nonce != nonce:
        raise VerificationError(f"the TSA reply's nonce {got_nonce} is not the request's {nonce}")


def timestamper(settings: Settings, *, clock: Clock | None = None
                ) -> Callable[[bytes], bytes]:
    """A function from a SHA-256/384/512 digest to a DER TimeStampResp.

    Uses the external TSA at `settings.tsa_url` when that setting exists and is set, else the
    node's built-in TSA (created on first use) with `clock` (default: the system clock)."""
    url = settings.tsa_url
    if url:
        def external(data_hash: bytes) -> bytes:
            return request_timestamp(url, data_hash)

        return external
    tsa = ensure_tsa(settings)
    now = (clock or SystemClock()).now

    def builtin(data_hash: bytes) -> bytes:
        hash_name = hash_name_for(data_hash)
        nonce = secrets.randbits(64)
        reply = tsa.respond(make_request(data_hash, hash_name=hash_name, nonce=nonce),
                            now=now())
        check_reply(reply, digest=data_hash, hash_name=hash_name, nonce=nonce)
        return reply

    return builtin
