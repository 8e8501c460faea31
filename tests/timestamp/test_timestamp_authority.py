"""The built-in TSA: its certificates (RFC 3161 §2.3), idempotent creation, TimeStampReq
round trips, nonce echo and rejections with the failInfo RFC 3161 §2.4.2 names."""

from __future__ import annotations

import hashlib
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from timestamp_support import decode, openssl_verify, tst_info

from rogatory.config import Settings
from rogatory.timestamp.authority import (
    TSA,
    TSA_POLICY_OID,
    ensure_tsa,
    make_request,
    tsa_dir,
)
from rogatory.timestamp.verify import verify_token

DIGEST = hashlib.sha256(b"exhibit 1").digest()


@pytest.fixture(scope="module")
def tsa_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("tsa-node"), secret_key="test-secret",
                    node_name="tsa.test")


@pytest.fixture(scope="module")
def tsa(tsa_settings: Settings) -> TSA:
    return ensure_tsa(tsa_settings)


def now() -> datetime:
    return datetime.now(UTC)


def test_ensure_tsa_is_idempotent_and_keys_are_0600(tsa_settings: Settings, tsa: TSA) -> None:
    again = ensure_tsa(tsa_settings)
    assert again.cert == tsa.cert and again.ca_cert == tsa.ca_cert
    assert again.key.private_numbers() == tsa.key.private_numbers()
    folder = tsa_dir(tsa_settings)
    assert sorted(p.name for p in folder.iterdir()) == [
        "ca-key.pem", "ca.pem", "tsa-key.pem", "tsa.pem"]
    for key in ("ca-key.pem", "tsa-key.pem"):
        assert stat.S_IMODE((folder / key).stat().st_mode) == 0o600
    assert not list(tsa_settings.keys_dir.glob(".tsa-*"))  # no staging folder left behind


def test_tsa_certificate_has_critical_timestamping_eku(tsa: TSA, tmp_path: Path) -> None:
    eku = tsa.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    usage = tsa.cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    tsa.cert.verify_directly_issued_by(tsa.ca_cert)
    (tmp_path / "tsa.pem").write_bytes(tsa.cert_pem)
    text = subprocess.run(["openssl", "x509", "-in", str(tmp_path / "tsa.pem"), "-noout",
                           "-text"], capture_output=True, text=True, check=True).stdout
    lines = [line.strip() for line in text.splitlines()]
    at = lines.index("X509v3 Extended Key Usage: critical")
    assert lines[at + 1] == "Time Stamping"
    assert "X509v3 Key Usage: critical" in lines


def test_root_ca_is_a_critical_ca(tsa: TSA) -> None:
    basic = tsa.ca_cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca
    usage = tsa.ca_cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign
    assert tsa.ca_cert.subject == tsa.ca_cert.issuer
    tsa.ca_cert.verify_directly_issued_by(tsa.ca_cert)


def test_make_request_round_trip() -> None:
    der = make_request(DIGEST, nonce=12345, cert_req=False)
    request = tsp.TimeStampReq.load(der)
    assert request["version"].native == "v1"
    assert request["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert request["message_imprint"]["hashed_message"].native == DIGEST
    assert request["nonce"].native == 12345
    assert request["cert_req"].native is False
    assert request.dump(force=True) == der
    digest512 = hashlib.sha512(b"x").digest()
    assert tsp.TimeStampReq.load(make_request(digest512, hash_name="sha512"))[
        "message_imprint"]["hash_algorithm"]["algorithm"].native == "sha512"


def test_make_request_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="a sha512 digest is 64 bytes, got 32"):
        make_request(DIGEST, hash_name="sha512")
    with pytest.raises(ValueError, match="unsupported hash 'md5'"):
        make_request(hashlib.md5(b"x").digest(), hash_name="md5")


def test_granted_token_fields_and_nonce_echo(tsa: TSA) -> None:
    when = now()
    reply = tsa.respond(make_request(DIGEST, nonce=2**70 + 3), now=when)
    assert decode(reply)["status"]["status"].native == "granted"
    info = tst_info(reply)
    assert info["nonce"].native == 2**70 + 3
    assert info["policy"].dotted == TSA_POLICY_OID
    assert info["gen_time"].native == when
    assert info["accuracy"]["seconds"].native == 1
    assert info["message_imprint"]["hashed_message"].native == DIGEST
    token = verify_token(reply, digest=DIGEST, ca_pem=tsa.ca_pem)
    assert token.nonce == 2**70 + 3 and token.gen_time == when


def test_no_nonce_means_none_in_token(tsa: TSA) -> None:
    reply = tsa.respond(make_request(DIGEST), now=now())
    assert tst_info(reply)["nonce"].native is None


def test_serial_numbers_are_unique(tsa: TSA) -> None:
    serials = {tst_info(tsa.respond(make_request(DIGEST), now=now()))["serial_number"].native
               for _ in range(50)}
    assert len(serials) == 50


def test_cert_req_false_leaves_certificates_out(tsa: TSA, tmp_path: Path) -> None:
    reply = tsa.respond(make_request(DIGEST, cert_req=False), now=now())
    token = decode(reply)["time_stamp_token"]
    assert token["content"]["certificates"].native is None
    from rogatory.errors import VerificationError

    with pytest.raises(VerificationError, match="neither in the token nor among the untrusted"):
        verify_token(reply, digest=DIGEST, ca_pem=tsa.ca_pem)
    verify_token(reply, digest=DIGEST, ca_pem=tsa.ca_pem, untrusted_pem=tsa.cert_pem)
    result = openssl_verify(tmp_path, reply, DIGEST, tsa)  # -untrusted supplies the cert
    assert result.returncode == 0 and "Verification: OK" in result.stdout


def _rejection(reply: bytes) -> tuple[str, set[str], str]:
    resp = decode(reply)
    assert resp["time_stamp_token"].native is None
    status = resp["status"]
    return (status["status"].native, set(status["fail_info"].native),
            " ".join(status["status_string"].native))


@pytest.mark.parametrize("hash_name", ["md5", "sha1", "sha224"])
def test_unsupported_hash_is_rejected_with_bad_alg(tsa: TSA, hash_name: str) -> None:
    digest = hashlib.new(hash_name, b"x").digest()
    request = tsp.TimeStampReq({"version": "v1", "message_imprint": {
        "hash_algorithm": {"algorithm": hash_name}, "hashed_message": digest}}).dump()
    status, fail, text = _rejection(tsa.respond(request, now=now()))
    assert (status, fail) == ("rejection", {"bad_alg"})
    assert f"hash algorithm {hash_name} is not accepted" in text


@pytest.mark.parametrize(("request_der", "fail", "text"), [
    (b"not DER at all", "bad_data_format", "not a DER TimeStampReq"),
    (b"", "bad_data_format", "not a DER TimeStampReq"),
    (make_request(DIGEST)[:-3], "bad_data_format", "not a DER TimeStampReq"),
    (tsp.TimeStampReq({"version": 2, "message_imprint": {
        "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": DIGEST}}).dump(),
     "bad_request", "TimeStampReq version v2 is not v1"),
    (tsp.TimeStampReq({"version": "v1", "message_imprint": {
        "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": DIGEST[:20]}}).dump(),
     "bad_data_format", "a sha256 message imprint is 32 bytes, the request has 20"),
    (tsp.TimeStampReq({"version": "v1", "req_policy": "1.2.3.4", "message_imprint": {
        "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": DIGEST}}).dump(),
     "unaccepted_policy", "policy 1.2.3.4 is not offered"),
    (tsp.TimeStampReq({"version": "v1", "nonce": -5, "message_imprint": {
        "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": DIGEST}}).dump(),
     "bad_request", "nonce must be a non-negative integer"),
    (tsp.TimeStampReq({"version": "v1", "message_imprint": {
        "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": DIGEST},
        "extensions": [{"extn_id": "1.2.3.4", "extn_value": b"x"}]}).dump(),
     "unaccepted_extensions", "accepts no request extensions"),
], ids=["garbage", "empty", "truncated", "version", "imprint-length", "policy", "nonce",
        "extensions"])
def test_bad_requests_are_rejected_not_raised(tsa: TSA, request_der: bytes, fail: str,
                                              text: str) -> None:
    status, fail_info, status_text = _rejection(tsa.respond(request_der, now=now()))
    assert (status, fail_info) == ("rejection", {fail})
    assert text in status_text


def test_openssl_reads_a_rejection(tsa: TSA, tmp_path: Path) -> None:
    (tmp_path / "reject.tsr").write_bytes(tsa.respond(b"garbage", now=now()))
    out = subprocess.run(["openssl", "ts", "-reply", "-in", str(tmp_path / "reject.tsr"),
                          "-text"], capture_output=True, text=True, check=True).stdout
    assert "Status: Rejected." in out
    assert "Failure info: the data submitted has the wrong format" in out


def test_time_outside_certificate_validity_is_rejected(tsa: TSA) -> None:
    before = tsa.cert.not_valid_before_utc - timedelta(days=1)
    status, fail, text = _rejection(tsa.respond(make_request(DIGEST), now=before))
    assert (status, fail) == ("rejection", {"time_not_available"})
    assert "outside the TSA certificate's validity" in text


def test_naive_time_is_a_programming_error(tsa: TSA) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        tsa.respond(make_request(DIGEST), now=datetime(2026, 1, 1))
