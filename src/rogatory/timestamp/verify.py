"""Verifying an RFC 3161 timestamp token offline, against a CA the caller trusts.

Steps, each failing with a `VerificationError` that names what failed:
 1. the bytes are a TimeStampResp with status granted (or a bare token, a CMS ContentInfo);
 2. the token is SignedData (RFC 5652) encapsulating a TSTInfo (RFC 3161 §2.4.2), version 1;
 3. the message imprint matches the data or digest given;
 4. the signed attributes hold contentType id-ct-TSTInfo and a messageDigest equal to the hash
    of the encapsulated TSTInfo;
 5. the signer certificate (from the token or `untrusted_pem`) matches the ESSCertIDv2
    (RFC 5816) or ESSCertID (RFC 2634) in the signingCertificate attribute;
 6. the CMS signature over the signed attributes verifies with that certificate's key;
 7. the certificate has extendedKeyUsage id-kp-timeStamping alone and critical (RFC 3161
    §2.3), and chains to a certificate in `ca_pem`, every link valid at genTime.
Only SHA-256/384/512 are accepted for imprints and signatures."""

from __future__ import annotations

import hashlib
import hmac
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtendedKeyUsageOID

from rogatory.errors import VerificationError
from rogatory.timestamp.rfc3161 import HASH_LENGTHS, TimeStampResp

MAX_CHAIN = 8
# What asn1crypto raises on bytes that are not the DER it expects.
_ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError)
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


@dataclass(frozen=True)
class TokenInfo:
    """What a verified token asserts."""

    gen_time: datetime
    serial_number: int
    policy: str
    hash_algorithm: str
    hashed_message: bytes
    nonce: int | None
    accuracy: timedelta | None
    tsa_certificate: x509.Certificate


def verify_token(token_der: bytes, *, data: bytes | None = None, digest: bytes | None = None,
                 ca_pem: bytes, untrusted_pem: bytes | None = None) -> TokenInfo:
    """Verify a timestamp token (a `.tsr` TimeStampResp or a bare token) over `data` or its
    `digest`, against the trust anchors in `ca_pem`. Raises `VerificationError`."""
    if data is None and digest is None:
        raise TypeError("verify_token needs data or digest")
    try:
        return _verify(token_der, data, digest, ca_pem, untrusted_pem)
    except _ASN1_ERRORS as exc:  # asn1crypto parses lazily: bad DER surfaces on access
        raise VerificationError(f"the timestamp token is malformed DER: {exc}") from exc


def _verify(token_der: bytes, data: bytes | None, digest: bytes | None, ca_pem: bytes,
            untrusted_pem: bytes | None) -> TokenInfo:
    # 1-2. structure
    content_info = token_from_der(token_der)
    if content_info["content_type"].native != "signed_data":
        raise VerificationError(
            f"the token is CMS {content_info['content_type'].native}, not SignedData")
    signed_data = content_info["content"]
    if signed_data["version"].native != "v3":
        raise VerificationError(
            f"SignedData version is {signed_data['version'].native}, RFC 5652 requires v3 here")
    encap = signed_data["encap_content_info"]
    if encap["content_type"].native != "tst_info":
        raise VerificationError(
            f"the token encapsulates {encap['content_type'].native}, not a TSTInfo")
    if isinstance(encap["content"], core.Void):
        raise VerificationError("the token has no encapsulated TSTInfo")
    tst_der = encap["content"].contents
    try:
        tst_info = tsp.TSTInfo.load(tst_der, strict=True)
        _ = tst_info.native
    except _ASN1_ERRORS as exc:
        raise VerificationError(f"the encapsulated TSTInfo is not valid DER: {exc}") from exc
    if tst_info["version"].native != "v1":
        raise VerificationError(f"TSTInfo version is {tst_info['version'].native}, not 1")

    # 3. message imprint
    imprint = tst_info["message_imprint"]
    hash_name = imprint["hash_algorithm"]["algorithm"].native
    if hash_name not in HASH_LENGTHS:
        raise VerificationError(f"the token's message imprint uses {hash_name}; only "
                                f"{', '.join(HASH_LENGTHS)} are accepted")
    hashed: bytes = imprint["hashed_message"].native
    if len(hashed) != HASH_LENGTHS[hash_name]:
        raise VerificationError(f"the token's {hash_name} message imprint is {len(hashed)} "
                                f"bytes, not {HASH_LENGTHS[hash_name]}")
    if digest is not None and not hmac.compare_digest(digest, hashed):
        raise VerificationError(f"message imprint mismatch: the token covers {hash_name} "
                                f"{hashed.hex()}, the digest given is {digest.hex()}")
    if data is not None:
        actual = hashlib.new(hash_name, data).digest()
        if not hmac.compare_digest(actual, hashed):
            raise VerificationError(f"message imprint mismatch: the token covers {hash_name} "
                                    f"{hashed.hex()}, the data hashes to {actual.hex()}")

    # 4. signed attributes
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise VerificationError(f"the token has {len(signer_infos)} signers, RFC 3161 "
                                "requires exactly one")
    signer = signer_infos[0]
    digest_name = signer["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES:
        raise VerificationError(f"the signer's digest algorithm {digest_name} is not accepted")
    listed = signed_data["digest_algorithms"]
    if digest_name not in {a["algorithm"].native for a in listed}:
        raise VerificationError(f"the signer's digest algorithm {digest_name} is not listed "
                                "in SignedData.digestAlgorithms")
    for algorithm, where in [*((a, "SignedData.digestAlgorithms") for a in listed),
                             (signer["digest_algorithm"], "the signer's digestAlgorithm")]:
        if algorithm["parameters"].dump() not in (b"", b"\x05\x00"):
            raise VerificationError(f"{where} has parameters for "
                                    f"{algorithm['algorithm'].native}; only absent or NULL "
                                    "are allowed")
    attrs = signer["signed_attrs"]
    if isinstance(attrs, core.Void) or len(attrs) == 0:
        raise VerificationError("the signer has no signed attributes")
    counts = Counter(a["type"].native for a in attrs)
    repeated = sorted(str(name) for name, n in counts.items() if n > 1)
    if repeated:
        raise VerificationError(f"signed attributes repeated: {', '.join(repeated)}")
    values = {a["type"].native: a["values"] for a in attrs}
    for required in ("content_type", "message_digest"):
        if required not in values or len(values[required]) != 1:
            raise VerificationError(f"the signed attribute {required} is missing or not "
                                    "single-valued")
    if values["content_type"][0].native != "tst_info":
        raise VerificationError(f"the signed contentType is {values['content_type'][0].native}"
                                ", not id-ct-TSTInfo")
    expected_md = hashlib.new(digest_name, tst_der).digest()
    found_md = values["message_digest"][0].native
    if not hmac.compare_digest(expected_md, found_md):
        raise VerificationError(f"messageDigest mismatch: the signed attributes say "
                                f"{found_md.hex()}, the encapsulated TSTInfo hashes to "
                                f"{expected_md.hex()} ({digest_name})")

    # 5. signer certificate and ESS binding
    pool = _certificates(signed_data, untrusted_pem)
    signer_cert, signer_asn1 = _signer_certificate(signer, pool)
    _check_ess(values, signer_cert, signer_asn1)

    # 6. CMS signature
    _check_signature(signer, signer_cert, digest_name, attrs.untag().dump(force=False))

    # 7. certificate: EKU, tsa name, chain to the CA at genTime
    gen_time: datetime = tst_info["gen_time"].native.astimezone(UTC)
    _check_eku(signer_cert)
    _check_tsa_name(tst_info, signer_asn1)
    anchors = _load_pem_list(ca_pem, "ca_pem")
    if not anchors:
        raise VerificationError("ca_pem holds no certificate")
    _check_chain(signer_cert, [c for c, _ in pool], anchors, gen_time)

    accuracy = tst_info["accuracy"]
    return TokenInfo(
        gen_time=gen_time,
        serial_number=tst_info["serial_number"].native,
        policy=tst_info["policy"].dotted,
        hash_algorithm=hash_name,
        hashed_message=hashed,
        nonce=tst_info["nonce"].native,
        accuracy=None if accuracy.native is None else timedelta(
            seconds=accuracy["seconds"].native or 0,
            milliseconds=accuracy["millis"].native or 0,
            microseconds=accuracy["micros"].native or 0),
        tsa_certificate=signer_cert,
    )


def token_from_der(der: bytes) -> cms.ContentInfo:
    """The timestamp token inside a TimeStampResp (status must be granted), or `der` itself
    parsed as a bare token (CMS ContentInfo)."""
    try:
        info = cms.ContentInfo.load(der, strict=True)
        _ = info["content_type"].native
        return info
    except _ASN1_ERRORS:  # not a bare token: try a TimeStampResp below
        pass
    try:
        resp = TimeStampResp.load(der, strict=True)
        _ = resp["status"].native
    except _ASN1_ERRORS as exc:
        raise VerificationError(
            f"not a timestamp token: neither a TimeStampResp nor a CMS ContentInfo ({exc})"
        ) from exc
    status = resp["status"]
    if status["status"].native not in ("granted", "granted_with_mods"):
        texts = "; ".join(status["status_string"].native or [])
        fail = ", ".join(sorted(status["fail_info"].native or []))
        raise VerificationError(f"the TSA did not grant the timestamp: status "
                                f"{status['status'].native}, failInfo {fail or 'none'}"
                                f"{': ' + texts if texts else ''}")
    token = resp["time_stamp_token"]
    if isinstance(token, core.Void):
        raise VerificationError("the TimeStampResp is granted but carries no token")
    return token


def _load_pem_list(pem: bytes, what: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise VerificationError(f"{what} is not PEM certificates: {exc}") from exc


def _certificates(signed_data: cms.SignedData, untrusted_pem: bytes | None
                  ) -> list[tuple[x509.Certificate, asn1_x509.Certificate]]:
    pool: list[tuple[x509.Certificate, asn1_x509.Certificate]] = []
    ders: list[bytes] = []
    certificates = signed_data["certificates"]
    for choice in [] if isinstance(certificates, core.Void) else certificates:
        if choice.name == "certificate":
            ders.append(choice.chosen.dump())
    if untrusted_pem:
        ders.extend(c.public_bytes(Encoding.DER)
                    for c in _load_pem_list(untrusted_pem, "untrusted_pem"))
    for der in ders:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", CryptographyDeprecationWarning)
                cert = x509.load_der_x509_certificate(der)
        except (ValueError, x509.InvalidVersion, CryptographyDeprecationWarning) as exc:
            raise VerificationError(f"a certificate in the token is malformed: {exc}") from exc
        pool.append((cert, asn1_x509.Certificate.load(der)))
    return pool


def _signer_certificate(signer: cms.SignerInfo,
                        pool: list[tuple[x509.Certificate, asn1_x509.Certificate]]
                        ) -> tuple[x509.Certificate, asn1_x509.Certificate]:
    sid = signer["sid"]
    if sid.name == "issuer_and_serial_number":
        if signer["version"].native != "v1":
            raise VerificationError(f"SignerInfo version is {signer['version'].native}; "
                                    "issuerAndSerialNumber requires v1")
        issuer, serial = sid.chosen["issuer"], sid.chosen["serial_number"].native
        for cert, asn1 in pool:
            if asn1.serial_number == serial and asn1.issuer == issuer:
                return cert, asn1
        wanted = f"issuer {issuer.human_friendly}, serial {serial:x}"
    else:
        if signer["version"].native != "v3":
            raise VerificationError(f"SignerInfo version is {signer['version'].native}; "
                                    "subjectKeyIdentifier requires v3")
        key_id = sid.chosen.native
        for cert, asn1 in pool:
            if asn1.key_identifier == key_id:
                return cert, asn1
        wanted = f"subject key identifier {key_id.hex()}"
    raise VerificationError(f"the signing certificate ({wanted}) is neither in the token nor "
                            "among the untrusted certificates given")


def _check_ess(values: dict[str, cms.SetOfAny], cert: x509.Certificate,
               asn1: asn1_x509.Certificate) -> None:
    """RFC 5816 / RFC 2634: the signed signingCertificate(V2) names the signer's cert."""
    cert_der = asn1.dump()
    if "signing_certificate_v2" in values:
        ids = values["signing_certificate_v2"][0]["certs"]
        attr = "signingCertificateV2"
    elif "signing_certificate" in values:
        ids = values["signing_certificate"][0]["certs"]
        attr = "signingCertificate"
    else:
        raise VerificationError("the signed attributes have neither signingCertificateV2 nor "
                                "signingCertificate (RFC 3161 §2.4.1, RFC 5816)")
    if len(ids) == 0:
        raise VerificationError(f"{attr} lists no certificate")
    first = ids[0]
    name = first["hash_algorithm"]["algorithm"].native if attr.endswith("V2") else "sha1"
    if name not in ("sha1", *_HASHES) or (name == "sha1" and attr.endswith("V2")):
        raise VerificationError(f"{attr} uses hash {name}, which is not accepted")
    actual = hashlib.new(name, cert_der).digest()
    if not hmac.compare_digest(actual, first["cert_hash"].native):
        raise VerificationError(f"{attr} does not match the signing certificate: it names a "
                                f"certificate whose {name} is {first['cert_hash'].native.hex()}"
                                f", the signer's is {actual.hex()}")
    issuer_serial = first["issuer_serial"]
    if issuer_serial.native is not None:
        names = [g.chosen for g in issuer_serial["issuer"] if g.name == "directory_name"]
        if issuer_serial["serial_number"].native != asn1.serial_number or \
                not any(n == asn1.issuer for n in names):
            raise VerificationError(f"{attr} issuerSerial does not match the signing "
                                    f"certificate ({cert.issuer.rfc4514_string()}, serial "
                                    f"{cert.serial_number:x})")


def _check_signature(signer: cms.SignerInfo, cert: x509.Certificate, digest_name: str,
                     signed_bytes: bytes) -> None:
    """RFC 5652 §5.4: the signature is over the DER SET OF the signed attributes."""
    algorithm = signer["signature_algorithm"]
    try:
        sig_algo = algorithm.signature_algo
    except ValueError as exc:
        raise VerificationError(f"unsupported signature algorithm "
                                f"{algorithm['algorithm'].dotted}") from exc
    name = algorithm["algorithm"].native
    if name not in ("ecdsa", "rsassa_pkcs1v15", "rsassa_pss", "ed25519"):
        try:
            named_hash = algorithm.hash_algo
        except ValueError as exc:
            raise VerificationError(f"unsupported signature algorithm {name}") from exc
        if named_hash != digest_name:
            raise VerificationError(f"the signature algorithm {name} does not use the "
                                    f"signer's digest algorithm {digest_name}")
    signature: bytes = signer["signature"].native
    hash_algorithm = _HASHES[digest_name]()
    key = cert.public_key()
    try:
        if sig_algo == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed_bytes, ec.ECDSA(hash_algorithm))
        elif sig_algo == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed_bytes, padding.PKCS1v15(), hash_algorithm)
        elif sig_algo == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
            params = algorithm["parameters"]
            pss_hash = params["hash_algorithm"]["algorithm"].native
            if pss_hash not in _HASHES:
                raise VerificationError(f"RSASSA-PSS with hash {pss_hash} is not accepted")
            key.verify(signature, signed_bytes, padding.PSS(
                mgf=padding.MGF1(_HASHES[pss_hash]()),
                salt_length=params["salt_length"].native), _HASHES[pss_hash]())
        elif sig_algo == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, signed_bytes)
        else:
            raise VerificationError(f"the signature algorithm {sig_algo} does not fit the "
                                    f"signing certificate's {type(key).__name__}")
    except InvalidSignature as exc:
        raise VerificationError("the CMS signature over the signed attributes does not verify "
                                "with the TSA certificate's key") from exc


def _check_eku(cert: x509.Certificate) -> None:
    """RFC 3161 §2.3: exactly one EKU, id-kp-timeStamping, in a critical extension."""
    subject = cert.subject.rfc4514_string()
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound as exc:
        raise VerificationError(f"the TSA certificate {subject} has no extendedKeyUsage; "
                                "RFC 3161 §2.3 requires timeStamping") from exc
    if list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        usages = ", ".join(u.dotted_string for u in eku.value)
        raise VerificationError(f"the TSA certificate {subject} has extendedKeyUsage {usages}; "
                                "RFC 3161 §2.3 requires timeStamping alone")
    if not eku.critical:
        raise VerificationError(f"the TSA certificate {subject} has the timeStamping "
                                "extendedKeyUsage not marked critical (RFC 3161 §2.3)")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not (usage.digital_signature or usage.content_commitment):
        raise VerificationError(f"the TSA certificate {subject} keyUsage allows neither "
                                "digitalSignature nor nonRepudiation")


def _check_tsa_name(tst_info: tsp.TSTInfo, cert: asn1_x509.Certificate) -> None:
    """RFC 3161 §2.4.2: if present, `tsa` names the signing certificate's subject."""
    tsa = tst_info["tsa"]
    if tsa.native is None:
        return
    if tsa.name == "directory_name" and tsa.chosen == cert.subject:
        return
    alt = cert.subject_alt_name_value
    if alt is not None and any(g.dump() == tsa.dump() for g in alt):
        return
    raise VerificationError(f"the TSTInfo tsa name {tsa.native} is not the signing "
                            f"certificate's subject {cert.subject.human_friendly}")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        if not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
    except x509.ExtensionNotFound:
        return False
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    except x509.ExtensionNotFound:
        return True


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _check_valid_at(cert: x509.Certificate, when: datetime, role: str) -> None:
    if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
        raise VerificationError(
            f"the {role} certificate {cert.subject.rfc4514_string()} was not valid at genTime "
            f"{when.isoformat()} (valid {cert.not_valid_before_utc.isoformat()} to "
            f"{cert.not_valid_after_utc.isoformat()})")


def _check_chain(signer: x509.Certificate, pool: list[x509.Certificate],
                 anchors: list[x509.Certificate], when: datetime) -> None:
    """Walk issuer links from the signer to a trust anchor, each valid at `when`."""
    _check_valid_at(signer, when, "TSA")
    current = signer
    for _ in range(MAX_CHAIN):
        for anchor in anchors:
            if _issued_by(current, anchor):
                if not _is_ca(anchor):
                    raise VerificationError(f"the trusted certificate "
                                            f"{anchor.subject.rfc4514_string()} is not a CA")
                _check_valid_at(anchor, when, "CA")
                return
        step = next((c for c in pool if c != current and _is_ca(c) and _issued_by(current, c)),
                    None)
        if step is None:
            raise VerificationError(
                f"the TSA certificate does not chain to the given CA: no trusted issuer "
                f"{current.issuer.rfc4514_string()} signed {current.subject.rfc4514_string()}")
        _check_valid_at(step, when, "intermediate CA")
        current = step
    raise VerificationError(f"the TSA certificate chain is longer than {MAX_CHAIN}")
