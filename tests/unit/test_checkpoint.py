"""C2SP checkpoints and signed notes (`rogatory.ledger.checkpoint`): round trips, the
golang.org/x/mod/sumdb/note known answer, and every tampered byte refused."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from rogatory.errors import VerificationError
from rogatory.ledger import merkle
from rogatory.ledger.checkpoint import (
    Checkpoint,
    key_hash,
    open_checkpoint,
    open_note,
    parse_verifier_key,
    sign_checkpoint,
    sign_note,
    verifier_key,
)

ROOT = merkle.root([merkle.leaf_hash(bytes([i])) for i in range(8)])
ORIGIN = "rogatory.example/ledger/be-fpf"
URLSAFE_ROOT = base64.urlsafe_b64encode(bytes([0xFF] * 32)).decode()

# The example of golang.org/x/mod/sumdb/note's documentation.
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXg"
    "KvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture(scope="module")
def other_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))


# --- checkpoint bodies ------------------------------------------------------------------------


def test_body_is_origin_size_root_each_on_a_line() -> None:
    checkpoint = Checkpoint(ORIGIN, 8, ROOT)
    assert checkpoint.body() == f"{ORIGIN}\n8\n{base64.b64encode(ROOT).decode()}\n"


@pytest.mark.parametrize(
    "checkpoint",
    [
        Checkpoint(ORIGIN, 0, merkle.EMPTY_ROOT),
        Checkpoint(ORIGIN, 8, ROOT),
        Checkpoint("example.com/log", 2**63 - 1, ROOT, ("extension one", "— two")),
    ],
    ids=["empty", "eight", "extensions"],
)
def test_body_round_trip(checkpoint: Checkpoint) -> None:
    body = checkpoint.body()
    assert Checkpoint.parse(body) == checkpoint
    assert Checkpoint.parse(body).body() == body


def test_extensions_are_kept_as_a_tuple() -> None:
    checkpoint = Checkpoint(ORIGIN, 1, ROOT, ["one"])  # type: ignore[arg-type]
    assert checkpoint.extensions == ("one",)
    assert checkpoint.body().endswith("\none\n")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"{ORIGIN}\n8\n{base64.b64encode(ROOT).decode()}", "does not end with a newline"),
        (f"{ORIGIN}\n8\n", "2 lines, expected at least 3"),
        (f"\n8\n{base64.b64encode(ROOT).decode()}\n", "invalid origin line"),
        (f"{ORIGIN}\n08\n{base64.b64encode(ROOT).decode()}\n", "tree size '08'"),
        (f"{ORIGIN}\n-1\n{base64.b64encode(ROOT).decode()}\n", "tree size '-1'"),
        (f"{ORIGIN}\n 8\n{base64.b64encode(ROOT).decode()}\n", "tree size ' 8'"),
        (f"{ORIGIN}\n8\n{base64.b64encode(ROOT).decode()[:-1]}\n", "not base64"),
        (f"{ORIGIN}\n8\n{base64.b64encode(ROOT[:20]).decode()}\n", "root hash has 20 bytes"),
        (f"{ORIGIN}\n8\n{base64.b64encode(ROOT).decode()}\n\n", "extension line 4 is empty"),
        (f"{ORIGIN}\n8\n{URLSAFE_ROOT}\n", "not base64"),
    ],
    ids=[
        "no-final-newline",
        "two-lines",
        "empty-origin",
        "leading-zero",
        "negative",
        "space",
        "bad-base64",
        "short-root",
        "empty-extension",
        "urlsafe-base64",
    ],
)
def test_parse_refuses_malformed_bodies(body: str, message: str) -> None:
    with pytest.raises(VerificationError, match="^malformed checkpoint: .*" + message):
        Checkpoint.parse(body)


def test_non_canonical_base64_root_is_refused() -> None:
    text = base64.b64encode(ROOT[:31] + b"\x00").decode()  # 32 bytes: one '=' of padding
    last = text[-2]
    tweaked = text[:-2] + chr(ord(last) + 1) + "="  # same bytes, non-zero trailing bits
    assert base64.b64decode(tweaked) == base64.b64decode(text)
    with pytest.raises(VerificationError, match="not canonical base64"):
        Checkpoint.parse(f"{ORIGIN}\n8\n{tweaked}\n")


@pytest.mark.parametrize(
    "arguments",
    [("", 1, ROOT), ("a\nb", 1, ROOT), (ORIGIN, -1, ROOT), (ORIGIN, 1, ROOT[:31])],
    ids=["empty-origin", "newline-origin", "negative-size", "short-root"],
)
def test_constructor_refuses_what_cannot_be_written(arguments: tuple[str, int, bytes]) -> None:
    with pytest.raises(ValueError):
        Checkpoint(*arguments)


def test_constructor_refuses_empty_extension_lines() -> None:
    with pytest.raises(ValueError, match="extension"):
        Checkpoint(ORIGIN, 1, ROOT, ("",))


# --- signed notes -----------------------------------------------------------------------------


def test_go_note_known_answer() -> None:
    """Same key, same text: the same note as golang.org/x/mod/sumdb/note (Ed25519 is
    deterministic), and that note opens."""
    seed = base64.b64decode(GO_SIGNER_KEY.split("+", 4)[4])
    assert seed[0] == 0x01
    signer = Ed25519PrivateKey.from_private_bytes(seed[1:])
    assert verifier_key("PeterNeumann", signer.public_key()) == GO_VERIFIER_KEY
    assert sign_note(GO_TEXT, "PeterNeumann", signer) == GO_NOTE
    verifier = parse_verifier_key(GO_VERIFIER_KEY)
    assert open_note(GO_NOTE, verifier.name, verifier.public_key) == GO_TEXT


def test_note_layout(key: Ed25519PrivateKey) -> None:
    body = Checkpoint(ORIGIN, 8, ROOT).body()
    note = sign_note(body, "rogatory-be", key)
    text, blank, signature_line = note.partition("\n\n")
    assert text + "\n" == body and blank
    assert signature_line.startswith("\u2014 rogatory-be ") and signature_line.endswith("\n")
    raw = base64.b64decode(signature_line.split(" ")[2])
    assert len(raw) == 4 + 64
    assert raw[:4] == key_hash("rogatory-be", key.public_key())
    key.public_key().verify(raw[4:], body.encode())


def test_key_hash_is_sha256_of_name_newline_type_and_key(key: Ed25519PrivateKey) -> None:
    expected = hashlib.sha256(b"rogatory-be\n\x01" + _raw(key)).digest()[:4]
    assert key_hash("rogatory-be", key.public_key()) == expected


def test_note_round_trip(key: Ed25519PrivateKey) -> None:
    checkpoint = Checkpoint(ORIGIN, 8, ROOT, ("timestamp 2025-01-01T00:00:00Z",))
    note = sign_checkpoint(checkpoint, "rogatory-be", key)
    assert open_note(note, "rogatory-be", key.public_key()) == checkpoint.body()
    assert open_checkpoint(note, "rogatory-be", key.public_key()) == checkpoint


def test_every_tampered_character_is_refused(key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 8, ROOT), "rogatory-be", key)
    for position, char in enumerate(note):
        for replacement in {chr(ord(char) ^ 1), chr(ord(char) ^ 0x20), "A"} - {char}:
            tampered = note[:position] + replacement + note[position + 1 :]
            with pytest.raises(VerificationError):
                open_note(tampered, "rogatory-be", key.public_key())


def test_every_flipped_signature_bit_is_a_bad_signature(key: Ed25519PrivateKey) -> None:
    body = Checkpoint(ORIGIN, 8, ROOT).body()
    note = sign_note(body, "rogatory-be", key)
    prefix, encoded = note.rstrip("\n").rsplit(" ", 1)
    raw = base64.b64decode(encoded)
    for bit in range(32, len(raw) * 8):  # every bit after the key hash
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        tampered = f"{prefix} {base64.b64encode(bytes(flipped)).decode()}\n"
        with pytest.raises(VerificationError, match=r"^bad signature: "):
            open_note(tampered, "rogatory-be", key.public_key())


def test_a_changed_body_is_a_bad_signature(key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 8, ROOT), "rogatory-be", key)
    forged = note.replace("\n8\n", "\n9\n", 1)
    with pytest.raises(
        VerificationError, match=r"^bad signature: the signature by key 'rogatory-be'"
    ):
        open_note(forged, "rogatory-be", key.public_key())


def test_wrong_key_name_is_an_unknown_key(key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 8, ROOT), "rogatory-be", key)
    with pytest.raises(VerificationError, match=r"^unknown key: .*'rogatory-fr'") as caught:
        open_note(note, "rogatory-fr", key.public_key())
    assert "rogatory-be" in caught.value.message


def test_wrong_public_key_is_an_unknown_key(
    key: Ed25519PrivateKey, other_key: Ed25519PrivateKey
) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 8, ROOT), "rogatory-be", key)
    with pytest.raises(VerificationError, match=r"^unknown key: "):
        open_note(note, "rogatory-be", other_key.public_key())


def test_cosigned_note_opens_with_either_key(
    key: Ed25519PrivateKey, other_key: Ed25519PrivateKey
) -> None:
    body = Checkpoint(ORIGIN, 8, ROOT).body()
    first = sign_note(body, "rogatory-be", key)
    second_line = sign_note(body, "witness", other_key).split("\n\n", 1)[1]
    note = first + second_line
    assert open_note(note, "rogatory-be", key.public_key()) == body
    assert open_note(note, "witness", other_key.public_key()) == body


@pytest.mark.parametrize(
    ("note", "reason"),
    [
        ("origin\n8\nroot\n", "no blank line"),
        ("origin\n8\nroot\n\n", "signature block is empty"),
        ("origin\n8\nroot\n\n— name AAAAAAAA", "does not end with a newline"),
        ("origin\n8\nroot\n\n- name AAAAAAAA\n", "does not start with an em dash"),
        ("origin\n8\nroot\n\n— name\n", "no signature after the key name"),
        ("origin\n8\nroot\n\n— name AAAA\n", "too short"),
        ("origin\n8\nroot\n\n— name !!!!!!!!\n", "not base64"),
        ("origin\n8\nroot\n\n—  AAAAAAAA\n", "invalid key name"),
        ("origin\n8\nroot\n\n— na+me AAAAAAAA\n", "invalid key name"),
        ("origin\t\n8\nroot\n\n— name AAAAAAAA\n", "control characters"),
        ("origin\n8\nroot\n\n" + "— name AAAAAAAA\n" * 101, "at most 100"),
    ],
    ids=[
        "no-signatures",
        "empty-block",
        "no-final-newline",
        "hyphen",
        "no-signature",
        "short-signature",
        "bad-base64",
        "empty-name",
        "plus-in-name",
        "tab",
        "too-many",
    ],
)
def test_malformed_notes_are_named(key: Ed25519PrivateKey, note: str, reason: str) -> None:
    with pytest.raises(VerificationError, match=f"^malformed note: .*{reason}"):
        open_note(note, "name", key.public_key())


@pytest.mark.parametrize(
    ("body", "name"),
    [("no newline", "k"), ("tab\there\n", "k"), ("fine\n", "with space"), ("fine\n", "a+b")],
)
def test_sign_refuses_what_cannot_be_opened(key: Ed25519PrivateKey, body: str, name: str) -> None:
    with pytest.raises(ValueError):
        sign_note(body, name, key)


# --- verifier keys ----------------------------------------------------------------------------


def test_verifier_key_round_trip(key: Ed25519PrivateKey) -> None:
    vkey = verifier_key("rogatory-be", key.public_key())
    name, hash_hex, encoded = vkey.split("+", 2)  # base64 may contain '+' too
    assert name == "rogatory-be"
    assert hash_hex == key_hash("rogatory-be", key.public_key()).hex()
    assert base64.b64decode(encoded) == b"\x01" + _raw(key)
    parsed = parse_verifier_key(vkey)
    assert parsed.name == "rogatory-be"
    assert parsed.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw) == _raw(key)
    assert verifier_key(parsed.name, parsed.public_key) == vkey


def test_verifier_key_opens_notes_it_names(key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), "rogatory-be", key)
    parsed = parse_verifier_key(verifier_key("rogatory-be", key.public_key()))
    assert open_checkpoint(note, parsed.name, parsed.public_key).size == 1


def _parts(vkey: str) -> list[str]:
    return vkey.split("+", 2)  # name, key hash, base64 key (which may contain '+')


def _other_algorithm(vkey: str) -> str:
    name, hash_hex, encoded = _parts(vkey)
    raw = bytes([0x02]) + base64.b64decode(encoded)[1:]
    return f"{name}+{hash_hex}+{base64.b64encode(raw).decode()}"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda v: v.replace("rogatory-be", "rogatory-fr"), "does not match the key hash"),
        (lambda v: "+".join([_parts(v)[0], "0000000", _parts(v)[2]]), "8 hex digits"),
        (lambda v: "+".join(["", *_parts(v)[1:]]), "invalid key name"),
        (lambda v: v[:-1], "not base64"),
        (_other_algorithm, "expected 0x01"),
        (lambda v: "+".join(_parts(v)[:2]), "expected 0x01 .* got 0 bytes"),
    ],
    ids=["other-name", "short-hash", "empty-name", "bad-base64", "other-algorithm", "no-key"],
)
def test_malformed_verifier_keys_are_refused(
    key: Ed25519PrivateKey, mutate: Callable[[str], str], message: str
) -> None:
    vkey = verifier_key("rogatory-be", key.public_key())
    with pytest.raises(VerificationError, match=message):
        parse_verifier_key(mutate(vkey))
