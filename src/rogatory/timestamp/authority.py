"""The node's built-in Time-Stamping Authority (RFC 3161, with ESSCertIDv2 from RFC 5816).

`ensure_tsa` creates, once, a root CA and a TSA certificate issued by it under
`keys_dir/tsa/`: the TSA certificate carries extendedKeyUsage = id-kp-timeStamping marked
critical (RFC 3161 §2.3) and keyUsage digitalSignature + nonRepudiation (critical). Keys are
ECDSA P-256. `TSA.respond` answers a DER `TimeStampReq` with a DER `TimeStampResp`: a granted
token (CMS SignedData over a TSTInfo, RFC 3161 §2.4.2 / RFC 5652) or a rejection carrying a
failInfo — never an exception for a bad request."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rogatory.config import Settings
from rogatory.errors import ConfigurationError
from rogatory.fsutil import create_directory_atomically
from rogatory.timestamp.rfc3161 import HASH_LENGTHS, TimeStampResp, make_request

__all__ = ["TSA", "TSA_POLICY_OID", "ensure_tsa", "load_tsa", "make_request", "tsa_dir"]

# Our TSA policy (TSTInfo.policy). PLACEHOLDER: 1.3.6.1.4.1.32473 is the enterprise number
# RFC 5612 reserves for documentation examples; register a Private Enterprise Number with IANA
# and put the real arc here before a production node issues tokens.
TSA_POLICY_OID = "1.3.6.1.4.1.32473.3161.1"
ACCURACY_SECONDS = 1
CA_VALIDITY = timedelta(days=20 * 365)
TSA_VALIDITY = timedelta(days=10 * 365)
BACKDATE = timedelta(hours=1)  # tolerate clocks a little behind the one that made the certs
MAX_NONCE_BITS = 256

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
TSA_CERT = "tsa.pem"
TSA_KEY = "tsa-key.pem"


def tsa_dir(settings: Settings) -> Path:
    """Where the built-in TSA keeps its keys and certificates."""
    return settings.keys_dir / "tsa"


@dataclass(frozen=True)
class _Rejection:
    fail_info: str  # a PKIFailureInfo bit name, e.g. "bad_alg"
    text: str


@dataclass(frozen=True)
class TSA:
    """A loaded Time-Stamping Authority: its root CA, its certificate and signing key."""

    ca_cert: x509.Certificate
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    policy: str = TSA_POLICY_OID

    @property
    def ca_pem(self) -> bytes:
        return self.ca_cert.public_bytes(serialization.Encoding.PEM)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def chain_pem(self) -> bytes:
        """TSA certificate then root CA, PEM (what a verifier needs next to a token)."""
        return self.cert_pem + self.ca_pem

    def respond(self, request_der: bytes, *, now: datetime) -> bytes:
        """Answer a DER TimeStampReq with a DER TimeStampResp (granted or rejection)."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        now = now.astimezone(UTC)
        parsed = _parse_request(request_der, self.policy)
        if isinstance(parsed, _Rejection):
            return _rejection(parsed)
        if not self.cert.not_valid_before_utc <= now <= self.cert.not_valid_after_utc:
            return _rejection(_Rejection(
                "time_not_available",
                f"{now.isoformat()} is outside the TSA certificate's validity "
                f"({self.cert.not_valid_before_utc.isoformat()} to "
                f"{self.cert.not_valid_after_utc.isoformat()})"))
        token = self._token(parsed, now)
        der: bytes = TimeStampResp({"status": {"status": "granted"},
                                    "time_stamp_token": token}).dump()
        return der

    @cached_property
    def _parts(self) -> _TokenParts:
        """DER of the parts that are the same in every token, encoded once: asn1crypto
        re-encodes parsed objects slowly, and loading DER back is lazy and cheap."""
        cert_der = self.cert.public_bytes(serialization.Encoding.DER)
        cert = asn1_x509.Certificate.load(cert_der)
        ess = cms.CMSAttribute({"type": "signing_certificate_v2", "values": [{
            "certs": [{
                # hashAlgorithm sha256 is the DEFAULT, so DER leaves it out (RFC 5035).
                "cert_hash": hashlib.sha256(cert_der).digest(),
                "issuer_serial": {
                    "issuer": [asn1_x509.GeneralName(name="directory_name", value=cert.issuer)],
                    "serial_number": cert.serial_number,
                },
            }],
        }]})
        sid = cms.SignerIdentifier(name="issuer_and_serial_number", value={
            "issuer": cert.issuer, "serial_number": cert.serial_number})
        return _TokenParts(
            tsa_name=asn1_x509.GeneralName(name="directory_name", value=cert.subject).dump(),
            ess_attribute=ess.dump(),
            sid=sid.dump(),
            certificate=cms.CertificateChoices(name="certificate", value=cert).dump(),
        )

    def _token(self, request: tsp.TimeStampReq, now: datetime) -> cms.ContentInfo:
        parts = self._parts
        tst_fields: dict[str, object] = {
            "version": "v1",
            "policy": self.policy,
            # RFC 3161 §2.4.2: the same value as in the request, parameters included.
            "message_imprint": tsp.MessageImprint.load(request["message_imprint"].dump()),
            "serial_number": secrets.randbits(128) or 1,
            "gen_time": now,
            "accuracy": {"seconds": ACCURACY_SECONDS},
            "tsa": asn1_x509.GeneralName.load(parts.tsa_name),
        }
        nonce = request["nonce"].native
        if nonce is not None:
            tst_fields["nonce"] = nonce
        tst_der = tsp.TSTInfo(tst_fields).dump()
        signed_attrs = cms.CMSAttributes([
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "signing_time",
             "values": [cms.Time(name="utc_time", value=now.replace(microsecond=0))]},
            {"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]},
            cms.CMSAttribute.load(parts.ess_attribute),
        ])
        # RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF.
        signature = self.key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
        signer_info = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier.load(parts.sid),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
            "signature": signature,
        })
        signed_data: dict[str, object] = {
            "version": "v3",  # RFC 5652 §5.1: eContentType is not id-data
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": core.ParsableOctetString(tst_der),
            },
            "signer_infos": [signer_info],
        }
        if request["cert_req"].native:
            signed_data["certificates"] = [cms.CertificateChoices.load(parts.certificate)]
        return cms.ContentInfo({"content_type": "signed_data",
                                "content": cms.SignedData(signed_data)})


@dataclass(frozen=True)
class _TokenParts:
    tsa_name: bytes
    ess_attribute: bytes
    sid: bytes
    certificate: bytes


def _rejection(rejection: _Rejection) -> bytes:
    der: bytes = TimeStampResp({"status": {
        "status": "rejection",
        "status_string": [rejection.text],
        "fail_info": tsp.PKIFailureInfo({rejection.fail_info}),
    }}).dump()
    return der


def _parse_request(der: bytes, policy: str) -> tsp.TimeStampReq | _Rejection:
    """RFC 3161 §2.4.1 checks; each failure maps to the failInfo bit §2.4.2 names for it."""
    try:
        request = tsp.TimeStampReq.load(der, strict=True)
        _ = request.native  # asn1crypto parses lazily: force every field now
    except Exception as exc:  # asn1crypto raises many kinds of exception on bad input
        return _Rejection("bad_data_format", f"the request is not a DER TimeStampReq: {exc}")
    if request["version"].native != "v1":
        return _Rejection("bad_request",
                          f"TimeStampReq version {request['version'].native} is not v1")
    algorithm = request["message_imprint"]["hash_algorithm"]
    name = algorithm["algorithm"].native
    if name not in HASH_LENGTHS:
        return _Rejection("bad_alg", f"hash algorithm {name} is not accepted; "
                          f"use one of {', '.join(HASH_LENGTHS)}")
    if algorithm["parameters"].native is not None:
        return _Rejection("bad_alg", f"hash algorithm {name} must have no parameters or NULL")
    digest = request["message_imprint"]["hashed_message"].native
    if len(digest) != HASH_LENGTHS[name]:
        return _Rejection("bad_data_format", f"a {name} message imprint is "
                          f"{HASH_LENGTHS[name]} bytes, the request has {len(digest)}")
    requested_policy = request["req_policy"].native
    if requested_policy is not None and requested_policy != policy:
        return _Rejection("unaccepted_policy",
                          f"policy {requested_policy} is not offered; this TSA uses {policy}")
    if request["extensions"].native:
        return _Rejection("unaccepted_extensions", "this TSA accepts no request extensions")
    nonce = request["nonce"].native
    if nonce is not None and (nonce < 0 or nonce.bit_length() > MAX_NONCE_BITS):
        return _Rejection("bad_request",
                          f"the nonce must be a non-negative integer of at most "
                          f"{MAX_NONCE_BITS} bits")
    return request


# ---- keys and certificates ----------------------------------------------------------------


def ensure_tsa(settings: Settings, *, now: datetime | None = None) -> TSA:
    """The built-in TSA, created once under `keys_dir/tsa` (idempotent).

    All four files (root CA certificate and key, TSA certificate and key; keys mode 0600) are
    written and fsynced in a private staging folder that is then renamed into place in one
    step, so a crash never leaves half an authority. `now` (default: the wall clock) is when
    the certificates start to be valid, less one hour of tolerance."""
    directory = tsa_dir(settings)
    if directory.exists():
        return load_tsa(directory)
    start = (now or datetime.now(UTC)).astimezone(UTC) - BACKDATE
    create_directory_atomically(
        directory, lambda staging: _write_authority(staging, settings.node_name, start))
    return load_tsa(directory)


def load_tsa(directory: Path) -> TSA:
    """Load an authority written by `ensure_tsa`; refuses a key that does not fit its cert."""
    ca_cert = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
    cert = x509.load_pem_x509_certificate((directory / TSA_CERT).read_bytes())
    key = serialization.load_pem_private_key((directory / TSA_KEY).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError(f"{directory / TSA_KEY} does not hold an EC private key")
    if key.public_key() != cert.public_key():
        raise ConfigurationError(
            f"{directory / TSA_KEY} does not match the certificate {directory / TSA_CERT}")
    return TSA(ca_cert=ca_cert, cert=cert, key=key)


def _write_authority(folder: Path, node_name: str, start: datetime) -> None:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Rogatory"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, node_name),
        x509.NameAttribute(NameOID.COMMON_NAME, "Rogatory TSA Root CA"),
    ])
    tsa_name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Rogatory"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, node_name),
        x509.NameAttribute(NameOID.COMMON_NAME, "Rogatory Time-Stamping Authority"),
    ])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_cert = (
        x509.CertificateBuilder()
        .subject_name(tsa_name).issuer_name(ca_name)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + TSA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, content_commitment=True),
                       critical=True)
        # RFC 3161 §2.3: exactly id-kp-timeStamping, and the extension MUST be critical.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(tsa_key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(folder / CA_KEY, _key_pem(ca_key), 0o600)
    _write(folder / TSA_KEY, _key_pem(tsa_key), 0o600)
    _write(folder / CA_CERT, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(folder / TSA_CERT, tsa_cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _key_usage(*, digital_signature: bool = False, content_commitment: bool = False,
               key_cert_sign: bool = False, crl_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=content_commitment,
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        key_cert_sign=key_cert_sign, crl_sign=crl_sign, encipher_only=False,
        decipher_only=False)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, content: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, mode)  # the umask may have narrowed it; keys stay 0600 either way
