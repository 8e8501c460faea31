"""Exporting a case as a BagIt package and verifying it offline, on SQLite and PostgreSQL: the
external validators (`bagit.py --validate`, `case_validate` for CASE 1.5.0, `openssl ts
-verify`) accept it, `verify_package` says intact, and a one-byte change anywhere — payload,
manifest, custody events, proofs, checkpoint, token — or an extra or missing file is named."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from conftest import World
from rogatory.clock import ManualClock, SystemClock
from rogatory.config import Settings
from rogatory.errors import NotFound
from rogatory.evidence import service
from rogatory.evidence.export import export_case
from rogatory.evidence.models import EvidenceItem
from rogatory.evidence.service import AcquisitionMetadata
from rogatory.evidence.store import EvidenceStore
from rogatory.evidence.verify import Report, verify_package
from rogatory.timestamp.client import timestamper

pytestmark = pytest.mark.usefixtures("evidence_tables")

VENV_BIN = Path(sys.executable).parent
PAYLOAD_A = os.urandom(3 * (1 << 20) + 17)
PAYLOAD_B = b"Ransom note: all your files are belong to us.\n"


@pytest.fixture
def items(factory: sessionmaker[Session], settings: Settings, world: World,
          clock: ManualClock, metadata: AcquisitionMetadata) -> list[EvidenceItem]:
    """Two items of the case in the node's store, with custody events after acquisition."""
    store = EvidenceStore(settings.evidence_dir)
    actor = world.actors["fr_prosecutor"]
    with factory() as s:
        made = []
        stamp = timestamper(settings, clock=clock)
        for data, name, token in ((PAYLOAD_A, "laptop image.E01", stamp),
                                  (PAYLOAD_B, "note ..\u202eé.txt", None)):
            made.append(service.ingest(
                session=s, store=store, actor=actor, case_reference=world.case_reference,
                chunks=[data], original_name=name, metadata=metadata, claimed=None,
                legacy_hashes=False, clock=clock, timestamp=token))
        first = made[0]
        sealed = service.record_custody(session=s, actor=actor, item_id=first.id,
                                        kind="sealed", place="Paris", note="sealed in bag 7",
                                        corrects=None, clock=clock)
        service.record_custody(session=s, actor=world.actors["fr_judge"], item_id=first.id,
                               kind="transferred", place="Paris TJ", note="to the judge",
                               corrects=None, clock=clock)
        service.record_custody(session=s, actor=actor, item_id=first.id, kind="sealed",
                               place="Paris", note="seal number was SCELLE-0043",
                               corrects=sealed.id, clock=clock)
        service.record_custody(session=s, actor=actor, item_id=made[1].id, kind="analysed",
                               place="", note="", corrects=None, clock=clock)
        s.commit()
        for item in made:
            s.expunge(item)
    return made


def _export(factory: sessionmaker[Session], settings: Settings, world: World, out: Path,
            item_ids: list[str] | None = None, user: str = "fr_prosecutor") -> Path:
    with factory() as s:
        path = export_case(session=s, actor=world.actors[user],
                           case_reference=world.case_reference, item_ids=item_ids,
                           out_dir=out, settings=settings, clock=SystemClock())
        s.rollback()
    return path


@pytest.fixture
def package(factory: sessionmaker[Session], settings: Settings, world: World,
            items: list[EvidenceItem], tmp_path: Path) -> Iterator[Path]:
    yield _export(factory, settings, world, tmp_path / "package")


def _failed_subjects(report: Report) -> str:
    return "\n".join(f.text() for f in report.failures)


def _flip(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    at = len(data) // 2 if offset is None else offset
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _payload(package: Path, exhibit_suffix: str) -> Path:
    return next(p for p in (package / "data").iterdir() if exhibit_suffix in p.name)


# --- the package -------------------------------------------------------------------------------


def test_package_layout_and_verifies(package: Path, items: list[EvidenceItem],
                                     world: World) -> None:
    names = sorted(p.name for p in (package / "data").iterdir())
    assert names == ["FR-2026-LOCKSTORM_EX-0001__laptop_image.E01",
                     "FR-2026-LOCKSTORM_EX-0002__note_.._é.txt"]
    for rel in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt",
                "tagmanifest-sha256.txt", "tagmanifest-sha512.txt", "metadata/case.jsonld",
                "metadata/custody.json", "metadata/proofs.json", "metadata/checkpoint.txt",
                "metadata/checkpoint.tsr", "metadata/node.pub", "metadata/tsa/ca.pem",
                "metadata/tsa/tsa.pem", "metadata/timestamps/FR-2026-LOCKSTORM_EX-0001.tsr"):
        assert (package / rel).is_file(), rel
    assert (package / "bagit.txt").read_text().startswith("BagIt-Version: 1.0\n")
    info = (package / "bag-info.txt").read_text()
    assert "External-Identifier: FR-2026-LOCKSTORM" in info
    assert "Source-Organization: " in info and "Rogatory-Node: test.node" in info
    tags = (package / "tagmanifest-sha256.txt").read_text()
    assert "metadata/custody.json" in tags and "metadata/case.jsonld" in tags
    everything = b"".join(p.read_bytes() for p in package.rglob("*") if p.is_file())
    assert b"Ransomware attack on hospitals" not in everything  # the summary stays home
    custody = json.loads((package / "metadata/custody.json").read_text())
    assert not (package / "metadata/timestamps/FR-2026-LOCKSTORM_EX-0002.tsr").exists()
    assert [e["event"]["kind"] for e in custody["events"]] == [
        "acquired", "acquired", "sealed", "transferred", "sealed", "analysed"]
    report = verify_package(package)
    assert report.intact, report.text()
    assert "intact" in report.text()


def test_external_validators_accept_it(package: Path) -> None:
    bag = subprocess.run([sys.executable, "-m", "bagit", "--validate", str(package)],
                         capture_output=True, text=True)
    assert bag.returncode == 0, bag.stderr
    case = subprocess.run([str(VENV_BIN / "case_validate"), "--built-version", "case-1.5.0",
                           str(package / "metadata/case.jsonld")], capture_output=True,
                          text=True)
    assert case.returncode == 0, case.stdout + case.stderr
    assert "Conforms: True" in case.stdout
    meta = package / "metadata"
    ts = subprocess.run(["openssl", "ts", "-verify", "-data", str(meta / "checkpoint.txt"),
                         "-in", str(meta / "checkpoint.tsr"), "-CAfile",
                         str(meta / "tsa/ca.pem"), "-untrusted", str(meta / "tsa/tsa.pem")],
                        capture_output=True, text=True)
    assert ts.returncode == 0, ts.stdout + ts.stderr
    assert "Verification: OK" in ts.stdout


# --- tampering ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [
    "payload", "manifest-sha256.txt", "metadata/custody.json", "metadata/proofs.json",
    "metadata/checkpoint.txt", "metadata/checkpoint.tsr"])
def test_one_byte_changed_is_named(package: Path, target: str) -> None:
    if target == "payload":
        path = _payload(package, "EX-0001")
        rel = f"data/{path.name}"
        _flip(path)
    else:
        rel, path = target, package / target
        text = path.read_bytes()
        # a byte inside a hash or base64 value, so the file still parses
        anchors = {"metadata/custody.json": b'"leaf_data": "',
                   "metadata/proofs.json": b'"proof": [', "metadata/checkpoint.txt": b"\n"}
        marker = text.index(anchors[target]) + len(anchors[target]) + 8 \
            if target in anchors else (3 if target.startswith("manifest") else None)
        _flip(path, marker)
    report = verify_package(package)
    assert not report.intact
    assert rel in _failed_subjects(report), _failed_subjects(report)


def test_item_token_over_other_data_is_named(package: Path) -> None:
    """A token that verifies, but for other data (with the tag manifests rewritten to match):
    the imprint check names the token and the item's file."""
    import bagit

    meta = package / "metadata"
    shutil.copyfile(meta / "checkpoint.tsr", meta / "timestamps/FR-2026-LOCKSTORM_EX-0001.tsr")
    bagit.Bag(str(package)).save()
    report = verify_package(package)
    assert report.check("bag").ok and not report.check("timestamps").ok
    failures = _failed_subjects(report)
    assert "metadata/timestamps/FR-2026-LOCKSTORM_EX-0001.tsr: timestamp of " \
           "data/FR-2026-LOCKSTORM_EX-0001__laptop_image.E01 does not verify: message " \
           "imprint mismatch" in failures, failures


def test_semantic_failures_name_the_event(package: Path) -> None:
    """A consistent rewrite of custody.json (manifests left alone) still fails on the proof."""
    path = package / "metadata/proofs.json"
    doc = json.loads(path.read_text())
    doc["proofs"][2]["proof"][0] = doc["proofs"][2]["proof"][-1][::-1]
    path.write_text(json.dumps(doc))
    report = verify_package(package)
    failures = _failed_subjects(report)
    assert not report.check("custody").ok
    assert f"custody event {doc['proofs'][2]['event_id']}" in failures
    assert "metadata/proofs.json" in failures


def test_extra_and_missing_files_are_named(package: Path) -> None:
    (package / "data" / "planted.txt").write_bytes(b"not evidence")
    missing = _payload(package, "EX-0002")
    missing.unlink()
    report = verify_package(package)
    failures = _failed_subjects(report)
    assert "data/planted.txt: extra" in failures
    assert f"data/{missing.name}: missing" in failures
    assert not report.check("custody").ok  # the leaf's file is gone too


# --- selection, access, atomicity, CLI ---------------------------------------------------------


def test_only_selected_items_leave(factory: sessionmaker[Session], settings: Settings,
                                   world: World, items: list[EvidenceItem],
                                   tmp_path: Path) -> None:
    path = _export(factory, settings, world, tmp_path / "one", item_ids=[items[1].id])
    assert [p.name for p in (path / "data").iterdir()] == [
        "FR-2026-LOCKSTORM_EX-0002__note_.._é.txt"]
    text = b"".join(p.read_bytes() for p in (path / "metadata").rglob("*") if p.is_file())
    assert items[0].sha256.encode() not in text and items[0].id.encode() not in text
    assert verify_package(path).intact


def test_non_party_cannot_export(factory: sessionmaker[Session], settings: Settings,
                                 world: World, items: list[EvidenceItem],
                                 tmp_path: Path) -> None:
    with pytest.raises(NotFound) as exc:
        _export(factory, settings, world, tmp_path / "nope", user="it_outsider")
    assert exc.value.http_status == 404
    with pytest.raises(NotFound):
        _export(factory, settings, world, tmp_path / "nope", item_ids=["no-such-item"])
    assert list(tmp_path.iterdir()) == []


def test_failure_leaves_nothing(factory: sessionmaker[Session], settings: Settings,
                                world: World, items: list[EvidenceItem], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from rogatory.evidence import export

    def boom(settings: Settings, *, clock: object = None) -> object:
        raise RuntimeError("TSA down")

    monkeypatch.setattr(export, "timestamper", lambda *a, **k: (lambda d: boom(settings)))
    with pytest.raises(RuntimeError):
        _export(factory, settings, world, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_cli_export_and_verify(settings: Settings, world: World, items: list[EvidenceItem],
                               tmp_path: Path) -> None:
    import typer

    from rogatory.cli import app
    from rogatory.evidence.verify_cli import verify

    env = {"ROGATORY_DATA_DIR": str(settings.data_dir), "ROGATORY_SECRET_KEY": "test-secret"}
    if settings.database_url:
        env["ROGATORY_DATABASE_URL"] = settings.database_url
    if settings.database_schema:
        env["ROGATORY_DATABASE_SCHEMA"] = settings.database_schema
    out = tmp_path / "cli"
    runner = CliRunner()
    r = runner.invoke(app, ["evidence", "export", "--case", world.case_reference, "--item",
                            items[0].id, "--out", str(out), "--as", "fr_prosecutor"], env=env)
    assert r.exit_code == 0, r.output
    assert len(list((out / "data").iterdir())) == 1
    verify_app = typer.Typer()
    verify_app.command()(verify)
    verify_app.command("noop")(lambda: None)
    ok = runner.invoke(verify_app, ["verify", str(out)])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    _flip(next((out / "data").iterdir()))
    bad = runner.invoke(verify_app, ["verify", str(out), "--json"])
    assert bad.exit_code == 1
    doc = json.loads(bad.output)
    assert doc["intact"] is False
    assert any(f["subject"].startswith("data/") for c in doc["checks"] for f in c["failures"])
    shutil.rmtree(out)
