"""Tokens from the built-in TSA verify with `verify_token` and with `openssl ts -verify`; any
one-byte change to the token, or a different digest, fails both, naming what failed."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from timestamp_support import decode, flip, openssl_verify

from rogatory.config import Settings
from rogatory.errors import VerificationError
from rogatory.timestamp.authority import TSA, ensure_tsa, make_request
from rogatory.timestamp.verify import verify_token

DATA = b"seized disk image, exhibit FR-2026-0042"


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> TSA:
    return ensure_tsa(Settings(data_dir=tmp_path_factory.mktemp("tsa-verify"),
                               secret_key="test-secret"))


@pytest.fixture(scope="module")
def other_tsa(tmp_path_factory: pytest.TempPathFactory) -> TSA:
    return ensure_tsa(Settings(data_dir=tmp_path_factory.mktemp("tsa-other"),
                               secret_key="test-secret"))


def stamp(tsa: TSA, hash_name: str = "sha256", nonce: int | None = 99) -> tuple[bytes, bytes]:
    digest = hashlib.new(hash_name, DATA).digest()
    reply = tsa.respond(make_request(digest, hash_name=hash_name, nonce=nonce),
                        now=datetime.now(UTC))
    return reply, digest


@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
def test_token_verifies_with_us_and_openssl(tsa: TSA, tmp_path: Path, hash_name: str) -> None:
    reply, digest = stamp(tsa, hash_name)
    info = verify_token(reply, data=DATA, ca_pem=tsa.ca_pem)
    assert info.hash_algorithm == hash_name and info.hashed_message == digest
    assert info.nonce == 99 and info.accuracy == timedelta(seconds=1)
    assert info.tsa_certificate == tsa.cert
    assert verify_token(reply, digest=digest, ca_pem=tsa.ca_pem,
                        untrusted_pem=tsa.cert_pem) == info
    token = decode(reply)["time_stamp_token"].dump()  # a bare token verifies as well
    assert verify_token(token, digest=digest, ca_pem=tsa.ca_pem).serial_number == \
        info.serial_number
    result = openssl_verify(tmp_path, reply, digest, tsa)
    assert result.returncode == 0, result.stderr
    assert "Verification: OK" in result.stdout


@pytest.mark.parametrize("hash_name", ["sha256", "sha512"])
def test_flipped_token_byte_fails_openssl_and_us(tsa: TSA, tmp_path: Path,
                                                 hash_name: str) -> None:
    reply, digest = stamp(tsa, hash_name)
    # The last byte of the reply is the last byte of the ECDSA signature.
    tampered = flip(reply, len(reply) - 1)
    result = openssl_verify(tmp_path, tampered, digest, tsa)
    assert result.returncode != 0 and "Verification: OK" not in result.stdout
    with pytest.raises(VerificationError, match="the CMS signature over the signed attributes "
                       "does not verify with the TSA certificate's key"):
        verify_token(tampered, digest=digest, ca_pem=tsa.ca_pem)
    # A byte of genTime inside the signed TSTInfo: the messageDigest no longer matches.
    at = reply.index(b"\x18", reply.index(digest) + len(digest)) + 5
    tampered = flip(reply, at)
    assert openssl_verify(tmp_path, tampered, digest, tsa).returncode != 0
    with pytest.raises(VerificationError, match=r"messageDigest mismatch: the signed "
                       r"attributes say [0-9a-f]+, the encapsulated TSTInfo hashes to"):
        verify_token(tampered, digest=digest, ca_pem=tsa.ca_pem)


@pytest.mark.parametrize("hash_name", ["sha256", "sha512"])
def test_flipped_digest_fails_openssl_and_us(tsa: TSA, tmp_path: Path, hash_name: str) -> None:
    reply, digest = stamp(tsa, hash_name)
    wrong = flip(digest, 0)
    result = openssl_verify(tmp_path, reply, wrong, tsa)
    assert result.returncode != 0 and "Verification: OK" not in result.stdout
    assert "message imprint mismatch" in result.stderr
    with pytest.raises(VerificationError, match=f"message imprint mismatch: the token covers "
                       f"{hash_name} {digest.hex()}, the digest given is {wrong.hex()}"):
        verify_token(reply, digest=wrong, ca_pem=tsa.ca_pem)
    with pytest.raises(VerificationError, match="the data hashes to"):
        verify_token(reply, data=DATA + b"!", ca_pem=tsa.ca_pem)


def test_every_one_byte_change_to_the_token_is_caught(tsa: TSA) -> None:
    reply, digest = stamp(tsa)
    token = decode(reply)["time_stamp_token"].dump()
    for index in range(len(token)):
        for mask in (0x01, 0x80):
            with pytest.raises(VerificationError):
                verify_token(flip(token, index, mask), digest=digest, ca_pem=tsa.ca_pem)


def test_another_ca_is_not_trusted(tsa: TSA, other_tsa: TSA, tmp_path: Path) -> None:
    reply, digest = stamp(tsa)
    with pytest.raises(VerificationError, match=r"does not chain to the given CA: no trusted "
                       r"issuer .*CN=Rogatory TSA Root CA.* signed .*CN=Rogatory Time-Stamping"):
        verify_token(reply, digest=digest, ca_pem=other_tsa.ca_pem)
    foreign = TSA(ca_cert=other_tsa.ca_cert, cert=tsa.cert, key=tsa.key)
    assert openssl_verify(tmp_path, reply, digest, foreign).returncode != 0


def test_garbage_and_rejections_are_named(tsa: TSA) -> None:
    with pytest.raises(VerificationError, match="not a timestamp token"):
        verify_token(b"\x30\x03\x02\x01", digest=b"x" * 32, ca_pem=tsa.ca_pem)
    rejection = tsa.respond(b"junk", now=datetime.now(UTC))
    with pytest.raises(VerificationError, match="the TSA did not grant the timestamp: status "
                       "rejection, failInfo bad_data_format: the request is not a DER"):
        verify_token(rejection, digest=b"x" * 32, ca_pem=tsa.ca_pem)
    with pytest.raises(VerificationError, match="ca_pem is not PEM certificates"):
        verify_token(stamp(tsa)[0], data=DATA, ca_pem=b"not a certificate")
    with pytest.raises(TypeError, match="needs data or digest"):
        verify_token(stamp(tsa)[0], ca_pem=tsa.ca_pem)


def _rogue_tsa(tsa: TSA, *, critical: bool = True,
               usages: list[x509.ObjectIdentifier] | None = None) -> TSA:
    """A TSA certificate issued by a throwaway CA, with the EKU as given."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    start = datetime.now(UTC) - timedelta(hours=1)
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(1)
               .not_valid_before(start).not_valid_after(start + timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Rogue TSA")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(start).not_valid_after(start + timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage(
                usages or [ExtendedKeyUsageOID.TIME_STAMPING]), critical=critical)
            .sign(ca_key, hashes.SHA256()))
    return TSA(ca_cert=ca_cert, cert=cert, key=key)


def test_eku_not_critical_is_refused(tsa: TSA, tmp_path: Path) -> None:
    rogue = _rogue_tsa(tsa, critical=False)
    reply, digest = stamp(rogue)
    with pytest.raises(VerificationError, match="has the timeStamping extendedKeyUsage not "
                       r"marked critical \(RFC 3161 §2.3\)"):
        verify_token(reply, digest=digest, ca_pem=rogue.ca_pem)
    assert openssl_verify(tmp_path, reply, digest, rogue).returncode != 0


def test_eku_other_than_timestamping_is_refused(tsa: TSA) -> None:
    rogue = _rogue_tsa(tsa, usages=[ExtendedKeyUsageOID.TIME_STAMPING,
                                     ExtendedKeyUsageOID.CODE_SIGNING])
    reply, digest = stamp(rogue)
    with pytest.raises(VerificationError, match="requires timeStamping alone"):
        verify_token(reply, digest=digest, ca_pem=rogue.ca_pem)
