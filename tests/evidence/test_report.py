"""The signed one-page custody report in the package (`metadata/custody-report.pdf`): it
validates against the package's TSA root CA, names every exhibit with its SHA-256, and a byte
changed inside the signed range, or a signer from another CA, is refused."""

from __future__ import annotations

import os
import stat
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

import evidence.test_export as exported
from rogatory.clock import ManualClock
from rogatory.config import Settings
from rogatory.errors import VerificationError
from rogatory.evidence.models import CustodyEvent, EvidenceItem
from rogatory.evidence.report import (
    custody_report_pdf,
    ensure_signer,
    signer_dir,
    verify_report_pdf,
)
from rogatory.evidence.verify import verify_package

pytestmark = pytest.mark.usefixtures("factory")  # empties what the tests write

items = exported.items  # the fixtures: two items with custody events, their package
package = exported.package

REPORT = "metadata/custody-report.pdf"
CA = "metadata/tsa/ca.pem"


def _content(pdf: bytes) -> bytes:
    reader = PdfFileReader(BytesIO(pdf))
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    data: bytes = page["/Contents"].get_object().data
    return data


def test_report_is_signed_one_page_and_names_every_exhibit(
        package: Path, items: list[EvidenceItem]) -> None:
    pdf = (package / REPORT).read_bytes()
    subject = verify_report_pdf(pdf, (package / CA).read_bytes())
    assert "Rogatory Custody Report Signer" in subject
    reader = PdfFileReader(BytesIO(pdf))
    assert int(reader.root["/Pages"]["/Count"]) == 1
    assert [float(x) for x in reader.root["/Pages"]["/Kids"][0].get_object()["/MediaBox"]] \
        == [0, 0, 595, 842]
    text = _content(pdf)
    for item in items:
        assert item.exhibit_number.encode() in text
        assert item.sha256.encode() in text
        assert item.examiner.encode() in text
    assert b"sealed in bag 7" in text and b"transferred" in text
    assert b"Ledger checkpoint test.node" in text
    assert b"\xe2\x80\xae" not in text  # the bidi override of a file name is not carried
    assert (package / "metadata/signer.pem").read_bytes().startswith(b"-----BEGIN CERT")
    report = verify_package(package)
    assert report.intact, report.text()
    assert report.check("report").ok
    assert any("custody-report.pdf: signed by" in n for n in report.check("report").notes)


def test_signer_key_is_private_and_made_once(package: Path, settings: Settings) -> None:
    key = signer_dir(settings) / "signer-key.pem"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    first = ensure_signer(settings)
    assert ensure_signer(settings).cert == first.cert
    assert first.cert.issuer == first.ca_cert.subject


def test_flipped_byte_in_signed_range_is_named(package: Path, items: list[EvidenceItem]
                                               ) -> None:
    path = package / REPORT
    pdf = bytearray(path.read_bytes())
    at = pdf.index(items[0].sha256.encode()) + 5  # inside the page text, which is signed
    pdf[at] ^= 0x01
    path.write_bytes(bytes(pdf))
    with pytest.raises(VerificationError, match="modified after signing"):
        verify_report_pdf(bytes(pdf), (package / CA).read_bytes())
    report = verify_package(package)
    assert not report.intact
    failures = report.check("report").failures
    assert failures and failures[0].subject == REPORT
    assert "modified after signing" in failures[0].message
    assert REPORT in report.text()


def test_unsigned_or_garbage_pdf_is_refused(package: Path) -> None:
    ca = (package / CA).read_bytes()
    with pytest.raises(VerificationError, match="not a readable PDF"):
        verify_report_pdf(b"%PDF-1.7\nnothing here", ca)
    pdf = (package / REPORT).read_bytes()
    # the revision before the signature: the unsigned page
    unsigned = pdf[:pdf.index(b"%%EOF") + len(b"%%EOF")] + b"\n"
    with pytest.raises(VerificationError, match="no signature"):
        verify_report_pdf(unsigned, ca)


def test_signer_from_another_ca_is_refused(package: Path, items: list[EvidenceItem],
                                          tmp_path: Path, clock: ManualClock) -> None:
    rogue = Settings(data_dir=tmp_path / "rogue", secret_key="x", node_name="rogue.node")
    pdf = custody_report_pdf(case_reference="FR-2026-LOCKSTORM", items=items,
                             custody_events=[], checkpoint_text="rogue\n1\nAAAA\n",
                             node_name="rogue.node", generated_at=clock.now(),
                             signer=ensure_signer(rogue))
    with pytest.raises(VerificationError, match="untrusted signer"):
        verify_report_pdf(pdf, (package / CA).read_bytes())
    (package / REPORT).write_bytes(pdf)
    report = verify_package(package)
    failures = report.check("report").failures
    assert failures and failures[0].subject == REPORT
    assert "untrusted signer" in failures[0].message


def test_a_long_chain_still_fits_one_page(package: Path, items: list[EvidenceItem],
                                         clock: ManualClock, settings: Settings) -> None:
    events = [CustodyEvent(item_id=items[0].id, kind="accessed", at=clock.now(),
                           place="Lab (room 3)", note=f"look {n} " + "x" * 300,
                           corrects_event_id=None, ledger_index=n) for n in range(300)]
    pdf = custody_report_pdf(case_reference="FR-2026-LOCKSTORM", items=items,
                             custody_events=events, checkpoint_text="o\n300\nAAAA\n",
                             node_name="test.node", generated_at=clock.now(),
                             signer=ensure_signer(settings))
    verify_report_pdf(pdf, (package / CA).read_bytes())
    assert int(PdfFileReader(BytesIO(pdf)).root["/Pages"]["/Count"]) == 1
    text = _content(pdf)
    assert b"more line\\(s\\) omitted" in text and b"Ledger checkpoint o: size 300" in text
    assert b"Lab \\(room 3\\)" in text
    assert all(len(line) < 150 for line in text.split(b"\n"))
