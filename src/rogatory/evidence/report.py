"""The one-page custody report that goes with an evidence package: an A4 PDF listing every
exhibit (number, file, size, SHA-256, acquisition) with its chain of custody and the ledger
checkpoint, signed PAdES-B-B with pyHanko by the node's document-signing certificate.

The signing certificate (`keys_dir/signer/signer.pem`, EC P-256 key `signer-key.pem` mode
0600) is issued once by the root CA of the node's built-in TSA (`keys_dir/tsa/ca.pem`), so a
recipient checks the report against the same `metadata/tsa/ca.pem` as the timestamp tokens.
The page's content stream is left uncompressed: its text can be read (and searched) as is.

`verify_report_pdf` validates the signature offline (no fetching, no revocation look-ups) and
raises `VerificationError` naming the problem.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from rogatory.clock import ensure_utc
from rogatory.config import Settings
from rogatory.errors import ConfigurationError, VerificationError
from rogatory.evidence.models import CustodyEvent, EvidenceItem
from rogatory.fsutil import create_directory_atomically
from rogatory.timestamp.authority import CA_CERT, CA_KEY, ensure_tsa, tsa_dir

__all__ = ["ReportSigner", "custody_report_pdf", "ensure_signer", "load_signer",
           "signer_dir", "verify_report_pdf"]

SIGNER_CERT = "signer.pem"
SIGNER_KEY = "signer-key.pem"
SIGNER_VALIDITY = timedelta(days=5 * 365)
BACKDATE = timedelta(hours=1)
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")  # Microsoft documentSigning
FIELD_NAME = "CustodyReport"

# A4 in points; Courier is monospaced (0.6 em per character), so lines are cut exactly.
PAGE_W, PAGE_H = 595, 842
MARGIN = 36
BODY_SIZE = 6.5
LEADING = 8.0
TITLE_SIZE = 12.0
CHARS_PER_LINE = int((PAGE_W - 2 * MARGIN) / (0.6 * BODY_SIZE))
TOP = PAGE_H - MARGIN - TITLE_SIZE
MAX_LINES = int((TOP - TITLE_SIZE - 2 - 2 * LEADING - MARGIN) / LEADING)


# ---- the signing certificate --------------------------------------------------------------


@dataclass(frozen=True)
class ReportSigner:
    """The document-signing certificate and key, with the root CA that issued it."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    ca_cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def _pyhanko(self) -> Any:
        key_der = self.key.private_bytes(serialization.Encoding.DER,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
        cert = _cert(self.cert.public_bytes(serialization.Encoding.DER))
        ca = _cert(self.ca_cert.public_bytes(serialization.Encoding.DER))
        return signers.SimpleSigner(
            signing_cert=cert, signing_key=load_private_key_from_pemder_data(key_der, None),
            cert_registry=SimpleCertificateStore.from_certs([ca]))


def _cert(data: bytes) -> Any:
    """An asn1crypto certificate from PEM or DER bytes."""
    certs = list(load_certs_from_pemder_data(data))
    if len(certs) != 1:
        raise ValueError(f"expected one certificate, found {len(certs)}")
    return certs[0]


def signer_dir(settings: Settings) -> Path:
    return settings.keys_dir / "signer"


def ensure_signer(settings: Settings, *, now: datetime | None = None) -> ReportSigner:
    """The node's document-signing certificate, created once under `keys_dir/signer/` and
    issued by the built-in TSA's root CA (made first if need be). Written in a private staging
    folder renamed into place in one step, like the TSA."""
    directory = signer_dir(settings)
    if directory.exists():
        return load_signer(settings)
    ensure_tsa(settings, now=now)
    start = (now or datetime.now(UTC)).astimezone(UTC) - BACKDATE
    create_directory_atomically(directory,
                                lambda staging: _write_signer(staging, settings, start))
    return load_signer(settings)


def load_signer(settings: Settings) -> ReportSigner:
    directory = signer_dir(settings)
    ca_cert = x509.load_pem_x509_certificate((tsa_dir(settings) / CA_CERT).read_bytes())
    cert = x509.load_pem_x509_certificate((directory / SIGNER_CERT).read_bytes())
    key = serialization.load_pem_private_key((directory / SIGNER_KEY).read_bytes(),
                                             password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError(f"{directory / SIGNER_KEY} does not hold an EC private key")
    if key.public_key() != cert.public_key():
        raise ConfigurationError(
            f"{directory / SIGNER_KEY} does not match the certificate {directory / SIGNER_CERT}")
    if cert.issuer != ca_cert.subject:
        raise ConfigurationError(f"{directory / SIGNER_CERT} was not issued by the TSA root CA "
                                 f"{tsa_dir(settings) / CA_CERT}")
    return ReportSigner(cert=cert, key=key, ca_cert=ca_cert)


def _write_signer(folder: Path, settings: Settings, start: datetime) -> None:
    ca_dir = tsa_dir(settings)
    ca_cert = x509.load_pem_x509_certificate((ca_dir / CA_CERT).read_bytes())
    ca_key = serialization.load_pem_private_key((ca_dir / CA_KEY).read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError(f"{ca_dir / CA_KEY} does not hold an EC private key")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Rogatory"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, settings.node_name),
        x509.NameAttribute(NameOID.COMMON_NAME, "Rogatory Custody Report Signer"),
    ])
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(min(start + SIGNER_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=True, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION,
                                              DOCUMENT_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(folder / SIGNER_KEY,
           key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()), 0o600)
    _write(folder / SIGNER_CERT, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _write(path: Path, content: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, mode)


# ---- the page -----------------------------------------------------------------------------


def _pdf_text(text: str) -> bytes:
    """A PDF literal string in WinAnsiEncoding: characters it lacks and control characters
    (bidi overrides included) become '?'."""
    raw = text.encode("cp1252", errors="replace")
    out = bytearray(b"(")
    for byte in raw:
        if byte < 0x20 or byte == 0x7F:
            out += b"?"
        elif byte in b"()\\":
            out += b"\\" + bytes([byte])
        else:
            out.append(byte)
    return bytes(out + b")")


def _cut(line: str) -> str:
    return line if len(line) <= CHARS_PER_LINE else line[:CHARS_PER_LINE - 1] + "\u2026"


def _time(moment: datetime) -> str:
    return ensure_utc(moment).strftime("%Y-%m-%d %H:%M:%SZ")


def _checkpoint_line(checkpoint_text: str) -> str:
    lines = checkpoint_text.split("\n")
    if len(lines) < 3:
        return "Ledger checkpoint: unreadable"
    try:
        root = base64.b64decode(lines[2], validate=True).hex()
    except (ValueError, binascii.Error):
        root = lines[2]
    return f"Ledger checkpoint {lines[0]}: size {lines[1]}, root (SHA-256) {root}"


def _body(*, case_reference: str, items: Sequence[EvidenceItem],
          custody_events: Sequence[CustodyEvent], checkpoint_text: str
          ) -> list[str]:
    lines: list[str] = []
    by_item: dict[str, list[CustodyEvent]] = {}
    for event in custody_events:
        by_item.setdefault(event.item_id, []).append(event)
    for item in items:
        lines.append(f"{item.exhibit_number}   {item.display_name}   {item.size:,} bytes")
        lines.append(f"  SHA-256 {item.sha256}")
        lines.append(f"  Acquired {_time(item.acquired_at)} by {item.examiner} with "
                     f"{item.tool} {item.tool_version} ({item.method})"
                     + (f", seal {item.seal_number}" if item.seal_number else "")
                     + (f", at {item.place}" if item.place else ""))
        for event in sorted(by_item.get(item.id, []), key=lambda e: e.ledger_index):
            note = event.note + (f" [corrects event {event.corrects_event_id}]"
                                 if event.corrects_event_id is not None else "")
            lines.append(f"    {_time(event.at)}  {event.kind:<11} {event.place or '-':<20} "
                         f"{note}")
        lines.append("")
    lines = [_cut(line) for line in lines]
    tail = [_checkpoint_line(checkpoint_text),
            f"Every event above is a leaf of this ledger; the inclusion proofs are in "
            f"metadata/proofs.json of the package of case {case_reference}."]
    room = MAX_LINES - len(tail)
    if len(lines) > room:
        omitted = len(lines) - room + 1
        lines = [*lines[:room - 1], f"... {omitted} more line(s) omitted: the full chain of "
                                    "custody is in metadata/custody.json"]
    return lines + [_cut(line) for line in tail]


def _unsigned_pdf(*, case_reference: str, node_name: str, generated_at: datetime,
                  body: list[str]) -> bytes:
    ops: list[bytes] = [b"BT", b"/F2 %.1f Tf" % TITLE_SIZE,
                        b"%d %.1f Td" % (MARGIN, TOP),
                        _pdf_text(f"Custody report - case {case_reference}") + b" Tj",
                        b"/F1 %.1f Tf" % BODY_SIZE, b"%.1f TL" % LEADING,
                        b"0 %.1f Td" % -(TITLE_SIZE + 2),
                        _pdf_text(_cut(f"Generated {_time(generated_at)} by node {node_name}; "
                                       "signed (PAdES) by its document-signing certificate, "
                                       "issued by metadata/tsa/ca.pem.")) + b" Tj", b"T*"]
    for line in body:
        ops.append(b"T*")
        if line:
            ops.append(_pdf_text(line) + b" Tj")
    ops.append(b"ET")
    content = b"\n".join(ops) + b"\n"

    writer = PdfFileWriter()
    fonts = generic.DictionaryObject({
        generic.pdf_name("/F1"): writer.add_object(_font("/Courier")),
        generic.pdf_name("/F2"): writer.add_object(_font("/Helvetica-Bold")),
    })
    resources = generic.DictionaryObject({generic.pdf_name("/Font"): fonts})
    stream = generic.StreamObject(stream_data=content)  # no filter: the text stays readable
    page = PageObject(contents=writer.add_object(stream),
                      media_box=(0, 0, PAGE_W, PAGE_H), resources=resources)
    writer.insert_page(page)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _font(base: str) -> Any:
    return generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Font"),
        generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
        generic.pdf_name("/BaseFont"): generic.pdf_name(base),
        generic.pdf_name("/Encoding"): generic.pdf_name("/WinAnsiEncoding"),
    })


def custody_report_pdf(*, case_reference: str, items: Sequence[EvidenceItem],
                       custody_events: Sequence[CustodyEvent], checkpoint_text: str,
                       node_name: str, generated_at: datetime, signer: ReportSigner) -> bytes:
    """The signed one-page A4 custody report (PAdES-B-B, SHA-256, ECDSA P-256)."""
    body = _body(case_reference=case_reference, items=items, custody_events=custody_events,
                 checkpoint_text=checkpoint_text)
    pdf = _unsigned_pdf(case_reference=case_reference, node_name=node_name,
                        generated_at=generated_at, body=body)
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME, md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=f"Chain of custody of the evidence of case {case_reference}",
        location=node_name)
    pdf_signer = signers.PdfSigner(meta, signer=signer._pyhanko())
    out = pdf_signer.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), in_place=False)
    signed: bytes = out.getvalue()
    return signed


# ---- verification -------------------------------------------------------------------------


def verify_report_pdf(pdf: bytes, ca_pem: bytes) -> str:
    """Validate the report's signature against `ca_pem`, offline; returns the signer's subject
    (RFC 4514). Raises `VerificationError` when the PDF has no signature, was modified after
    signing, or the signer is not certified by the CA."""
    try:
        ca = _cert(ca_pem)
    except ValueError as exc:
        raise VerificationError(f"the CA certificate cannot be read: {exc}") from exc
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        signatures = list(reader.embedded_signatures)
    except Exception as exc:  # pyHanko raises many kinds of error on a damaged file
        raise VerificationError(f"not a readable PDF: {exc}") from exc
    if not signatures:
        raise VerificationError("the PDF has no signature")
    if len(signatures) > 1:
        raise VerificationError(f"the PDF has {len(signatures)} signatures; one is expected")
    context = ValidationContext(trust_roots=[ca], allow_fetching=False,
                                revocation_mode="soft-fail")
    try:
        status = validate_pdf_signature(signatures[0], context)
    except Exception as exc:  # SigningError, asn1crypto and PDF errors of many kinds
        raise VerificationError(f"the signature cannot be validated: {exc}") from exc
    subject = str(status.signing_cert.subject.human_friendly)
    if not status.intact:
        raise VerificationError("modified after signing: the signed bytes no longer match "
                                "the digest in the signature")
    if not status.valid:
        raise VerificationError("the signature value does not verify")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        raise VerificationError("modified after signing: bytes were appended to the signed "
                                "document")
    if not status.trusted:
        raise VerificationError(f"untrusted signer {subject}: not certified by the CA "
                                "certificate given")
    return subject
