"""RFC 3161 wire format shared by the authority, the verifier and the client: the supported
message-imprint hashes, `TimeStampReq` construction and a `TimeStampResp` whose token is
optional (RFC 3161 §2.4.2: a rejection carries no token; asn1crypto's class makes it mandatory).

Media types are those of RFC 3161 §3.4: `application/timestamp-query` and
`application/timestamp-reply`."""

from __future__ import annotations

import hashlib
from typing import ClassVar

from asn1crypto import cms, core, tsp

QUERY_MEDIA_TYPE = "application/timestamp-query"
REPLY_MEDIA_TYPE = "application/timestamp-reply"

# Message-imprint hashes we accept, with their digest sizes. SHA-1 and MD5 are refused (badAlg).
HASH_LENGTHS: dict[str, int] = {"sha256": 32, "sha384": 48, "sha512": 64}


class TimeStampResp(core.Sequence):  # type: ignore[misc]
    """RFC 3161 §2.4.2 `TimeStampResp`; `timeStampToken` is OPTIONAL (absent when rejected)."""

    _fields: ClassVar[list[tuple[str, type, dict[str, bool]] | tuple[str, type]]] = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def hash_name_for(digest: bytes) -> str:
    """The supported hash whose output has this digest's length (SHA-256/384/512)."""
    for name, length in HASH_LENGTHS.items():
        if len(digest) == length:
            return name
    raise ValueError(
        f"a {len(digest)}-byte digest matches none of SHA-256, SHA-384 or SHA-512 "
        "(32, 48 or 64 bytes)"
    )


def digest_of(data: bytes, hash_name: str) -> bytes:
    """`hash_name` over `data` (hashlib, OpenSSL-backed)."""
    return hashlib.new(hash_name, data).digest()


def make_request(data_hash: bytes, *, hash_name: str = "sha256", nonce: int | None = None,
                 cert_req: bool = True) -> bytes:
    """A DER `TimeStampReq` (RFC 3161 §2.4.1, version 1) for a precomputed hash.

    `hash_name` is one of sha256, sha384, sha512; the digest length must match it."""
    expected = HASH_LENGTHS.get(hash_name)
    if expected is None:
        raise ValueError(f"unsupported hash {hash_name!r}; use one of {', '.join(HASH_LENGTHS)}")
    if len(data_hash) != expected:
        raise ValueError(f"a {hash_name} digest is {expected} bytes, got {len(data_hash)}")
    fields: dict[str, object] = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": {"algorithm": hash_name},
            "hashed_message": data_hash,
        },
        "cert_req": cert_req,
    }
    if nonce is not None:
        fields["nonce"] = nonce
    der: bytes = tsp.TimeStampReq(fields).dump()
    return der


def load_response(der: bytes) -> TimeStampResp:
    """Parse a DER `TimeStampResp`: its status and the token's content type now, the rest
    lazily when read (asn1crypto's way).

    Raises ValueError when the bytes are not one."""
    try:
        resp: TimeStampResp = TimeStampResp.load(der, strict=True)
        _ = resp["status"].native
        if not isinstance(resp["time_stamp_token"], core.Void):
            _ = resp["time_stamp_token"]["content_type"].native
    except Exception as exc:  # asn1crypto raises many kinds of exception on bad input
        raise ValueError(f"not a DER TimeStampResp: {exc}") from exc
    return resp
