"""Checkpoints of the ledger and their Ed25519 signatures, in the C2SP text formats.

- `Checkpoint` is a C2SP tlog-checkpoint body (https://c2sp.org/tlog-checkpoint): the origin
  line, the tree size in ASCII decimal, the root hash in standard base64, each ending in a
  newline, then optional non-empty extension lines.
- `sign_note` and `open_note` implement the C2SP signed-note format (https://c2sp.org/signed-note,
  the format of golang.org/x/mod/sumdb/note) with Ed25519: the text, a blank line, then one line
  per signature, `— <key name> <base64(key hash ‖ signature)>` (U+2014 EM DASH, a space). The key
  hash is the first 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key), 0x01 being
  the Ed25519 signature type.
- `verifier_key` / `parse_verifier_key` encode a public key as a note verifier key,
  `<name>+<hex key hash>+<base64(0x01 ‖ public key)>`.

Parsing is strict: anything that is not exactly the canonical encoding is refused, so a note has
one spelling and any change to a signed byte is detected. Failures raise `VerificationError`
saying what was wrong (malformed note, unknown key, bad signature, malformed checkpoint).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from rogatory.errors import VerificationError
from rogatory.ledger.merkle import HASH_SIZE

ED25519_ALGORITHM = 0x01
"""The signature type byte of Ed25519 in signed notes and verifier keys."""

SIGNATURE_PREFIX = "— "
"""Every signature line starts with U+2014 EM DASH and a space."""

MAX_SIGNATURES = 100
"""A note with more signature lines than this is refused, as golang.org/x/mod/sumdb/note does."""

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")


def _b64decode(text: str) -> bytes:
    """Strict standard base64: only canonical encodings (padding, zero trailing bits) decode."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not base64: {exc}") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return raw


def _check_key_name(name: str) -> None:
    """A key name is non-empty, has no whitespace and no '+' (C2SP signed-note)."""
    if not name or "+" in name or any(ch.isspace() for ch in name) or _CONTROL.search(name):
        raise ValueError(f"invalid key name {name!r}: it must be non-empty, without spaces or '+'")


def _raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_hash(key_name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte key hash: SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]."""
    material = (
        key_name.encode("utf-8") + b"\n" + bytes([ED25519_ALGORITHM]) + _raw_public_key(public_key)
    )
    return hashlib.sha256(material).digest()[:4]


# --- checkpoint bodies -------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint body: who (origin), how many leaves (size), which root."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "extensions", tuple(self.extensions))
        if not self.origin or _CONTROL.search(self.origin) or "\n" in self.origin:
            raise ValueError(f"invalid checkpoint origin {self.origin!r}")
        if self.size < 0:
            raise ValueError(f"checkpoint size {self.size} is negative")
        if len(self.root_hash) != HASH_SIZE:
            raise ValueError(f"checkpoint root hash has {len(self.root_hash)} bytes, not 32")
        for line in self.extensions:
            if not line or "\n" in line or _CONTROL.search(line):
                raise ValueError(f"invalid checkpoint extension line {line!r}")

    def body(self) -> str:
        """The checkpoint as text: origin, size, base64 root, extensions, one per line."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode("ascii")]
        return "".join(line + "\n" for line in (*lines, *self.extensions))

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Read a checkpoint body; VerificationError names the line at fault."""
        if not body.endswith("\n"):
            raise VerificationError("malformed checkpoint: the body does not end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise VerificationError(
                f"malformed checkpoint: {len(lines)} lines, expected at least 3 "
                "(origin, size, root hash)"
            )
        origin, size_text, root_text, *extensions = lines
        if not origin or _CONTROL.search(origin):
            raise VerificationError(f"malformed checkpoint: invalid origin line {origin!r}")
        if not _DECIMAL.fullmatch(size_text):
            raise VerificationError(
                f"malformed checkpoint: tree size {size_text!r} is not a decimal number"
            )
        try:
            root_hash = _b64decode(root_text)
        except ValueError as exc:
            raise VerificationError(
                f"malformed checkpoint: root hash {root_text!r} is {exc}"
            ) from None
        if len(root_hash) != HASH_SIZE:
            raise VerificationError(
                f"malformed checkpoint: root hash has {len(root_hash)} bytes, expected {HASH_SIZE}"
            )
        for number, line in enumerate(extensions, start=4):
            if not line or _CONTROL.search(line):
                raise VerificationError(
                    f"malformed checkpoint: extension line {number} is empty or has control "
                    "characters"
                )
        return cls(origin, int(size_text), root_hash, tuple(extensions))


# --- signed notes ------------------------------------------------------------------------------


def _check_note_text(text: str) -> None:
    if not text.endswith("\n"):
        raise ValueError("note text must end with a newline")
    if _CONTROL.search(text):
        raise ValueError("note text must not contain control characters other than newline")


def sign_note(body: str, key_name: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note: `body`, a blank line, and one Ed25519 signature line by `key_name`."""
    _check_note_text(body)
    _check_key_name(key_name)
    signature = private_key.sign(body.encode("utf-8"))
    encoded = base64.b64encode(key_hash(key_name, private_key.public_key()) + signature)
    return f"{body}\n{SIGNATURE_PREFIX}{key_name} {encoded.decode('ascii')}\n"


def _malformed(reason: str) -> VerificationError:
    return VerificationError(f"malformed note: {reason}")


def open_note(note: str, key_name: str, public_key: Ed25519PublicKey) -> str:
    """Verify a signed note against one known key and return its text (the signed body).

    Raises VerificationError: "malformed note" when the note is not in the signed-note format,
    "unknown key" when no signature line is by this key name and key hash, "bad signature" when
    one is but its signature does not verify. Signatures by other keys are ignored.
    """
    if _CONTROL.search(note):
        raise _malformed("control characters other than newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise _malformed("no blank line between the text and the signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    if not signatures or not signatures.endswith("\n"):
        raise _malformed("the signature block is empty or does not end with a newline")
    lines = signatures[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise _malformed(f"{len(lines)} signature lines, at most {MAX_SIGNATURES} allowed")

    wanted = key_hash(key_name, public_key)
    seen: list[str] = []
    verified = False
    for number, line in enumerate(lines, start=1):
        if not line.startswith(SIGNATURE_PREFIX):
            raise _malformed(f"signature line {number} does not start with an em dash and a space")
        name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            _check_key_name(name)
            if not space or not encoded:
                raise ValueError("no signature after the key name")
            raw = _b64decode(encoded)
        except ValueError as exc:
            raise _malformed(f"signature line {number}: {exc}") from None
        if len(raw) < 5:
            raise _malformed(f"signature line {number} is too short")
        hash_, signature = raw[:4], raw[4:]
        seen.append(f"{name} ({hash_.hex()})")
        if name != key_name or hash_ != wanted:
            continue
        try:
            public_key.verify(signature, text.encode("utf-8"))
        except InvalidSignature:
            raise VerificationError(
                f"bad signature: the signature by key '{key_name}' ({wanted.hex()}) "
                "does not verify",
                key_name=key_name,
                key_hash=wanted.hex(),
            ) from None
        verified = True
    if not verified:
        raise VerificationError(
            f"unknown key: the note has no signature by key '{key_name}' ({wanted.hex()}); "
            f"it is signed by {', '.join(seen)}",
            key_name=key_name,
            key_hash=wanted.hex(),
            signers=seen,
        )
    return text


def open_checkpoint(note: str, key_name: str, public_key: Ed25519PublicKey) -> Checkpoint:
    """`open_note` then `Checkpoint.parse`: a verified checkpoint, or VerificationError."""
    return Checkpoint.parse(open_note(note, key_name, public_key))


def sign_checkpoint(checkpoint: Checkpoint, key_name: str, private_key: Ed25519PrivateKey) -> str:
    """The checkpoint's body as a note signed by `key_name`."""
    return sign_note(checkpoint.body(), key_name, private_key)


# --- verifier keys ------------------------------------------------------------------------------


class VerifierKey(NamedTuple):
    """A decoded note verifier key."""

    name: str
    public_key: Ed25519PublicKey


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """`<name>+<hex key hash>+<base64(0x01 ‖ public key)>`, the note verifier key format."""
    _check_key_name(name)
    raw = bytes([ED25519_ALGORITHM]) + _raw_public_key(public_key)
    encoded = base64.b64encode(raw).decode("ascii")
    return f"{name}+{key_hash(name, public_key).hex()}+{encoded}"


def parse_verifier_key(vkey: str) -> VerifierKey:
    """Decode a verifier key and check its key hash; VerificationError if it is malformed."""
    name, _, rest = vkey.partition("+")
    hash_text, _, key_text = rest.partition("+")
    try:
        _check_key_name(name)
    except ValueError as exc:
        raise VerificationError(f"malformed verifier key: {exc}") from None
    if not _HEX8.fullmatch(hash_text):
        raise VerificationError(
            f"malformed verifier key: key hash {hash_text!r} is not 8 hex digits"
        )
    try:
        raw = _b64decode(key_text)
    except ValueError as exc:
        raise VerificationError(f"malformed verifier key: the key is {exc}") from None
    if len(raw) != 33 or raw[0] != ED25519_ALGORITHM:
        raise VerificationError(
            "malformed verifier key: expected 0x01 (Ed25519) and a 32-byte public key, "
            f"got {len(raw)} bytes starting with {raw[:1].hex() or 'nothing'}"
        )
    public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    computed = key_hash(name, public_key)
    if computed.hex() != hash_text.lower():
        raise VerificationError(
            f"verifier key hash {hash_text} does not match the key hash {computed.hex()} "
            f"computed from name '{name}' and the key"
        )
    return VerifierKey(name, public_key)
