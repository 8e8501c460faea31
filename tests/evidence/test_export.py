"""Exporting a case as a BagIt package and verifying it offline, on SQLite and PostgreSQL: the
external validators (`bagit.py --validate`, `case_validate` for CASE 1.5.0, `openssl ts
-verify`) accept it, `verify_package` says intact, and a one-byte change anywhere — payload,
manifest (SHA-256 or BLAKE3), custody events, proofs, checkpoint, token — or an extra or missing
file is named. Items ingested before BLAKE3 (no blake3, a sha512) export and verify too. Items
whose received data are restricted or deleted stay out, and the package says so."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import bagit
import blake3
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from conftest import World
from rogatory.clock import ManualClock, SystemClock
from rogatory.config import Settings
from rogatory.errors import NotFound, ValidationFailed
from rogatory.evidence import export, service
from rogatory.evidence.export import export_case, payload_name
from rogatory.evidence.models import EvidenceItem
from rogatory.evidence.service import AcquisitionMetadata
from rogatory.evidence.store import EvidenceStore
from rogatory.evidence.verify import Report, verify_package
from rogatory.timestamp.client import timestamper

pytestmark = pytest.mark.usefixtures("factory")  # empties what the tests write

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
    for rel in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-blake3.txt",
                "tagmanifest-sha256.txt", "tagmanifest-blake3.txt", "metadata/case.jsonld",
                "metadata/custody.json", "metadata/proofs.json", "metadata/checkpoint.txt",
                "metadata/checkpoint.tsr", "metadata/node.pub", "metadata/tsa/ca.pem",
                "metadata/tsa/tsa.pem", "metadata/timestamps/FR-2026-LOCKSTORM_EX-0001.tsr"):
        assert (package / rel).is_file(), rel
    assert (package / "bagit.txt").read_text().startswith("BagIt-Version: 1.0\n")
    info = (package / "bag-info.txt").read_text()
    assert "External-Identifier: FR-2026-LOCKSTORM" in info
    assert "Source-Organization: " in info and "Rogatory-Node: test.node" in info
    assert "Rogatory-Package-Format: rogatory-evidence-package/2" in info
    assert not list(package.glob("*manifest-sha512.txt"))  # SHA-512 only when recorded
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
    case_validate = [str(VENV_BIN / "case_validate"), "--built-version", "case-1.5.0"]
    case = subprocess.run([*case_validate, "--allow-infos",
                           str(package / "metadata/case.jsonld")], capture_output=True,
                          text=True)
    assert case.returncode == 0, case.stdout + case.stderr
    assert "Conforms: True" in case.stdout
    # Without --allow-infos the only results are UCO's Info that BLAKE3 is not (yet) in its
    # open HashNameVocab: one per exported file, no warning, no violation.
    strict = subprocess.run([*case_validate, str(package / "metadata/case.jsonld")],
                            capture_output=True, text=True)
    assert "Conforms: False" in strict.stdout and "Results (2):" in strict.stdout, strict.stdout
    assert strict.stdout.count("Severity: sh:Info") == 2, strict.stdout
    assert strict.stdout.count("Source Shape: types:Hash-hashMethod-in-shape") == 2
    assert strict.stdout.count('Value Node: Literal("BLAKE3")') == 2
    meta = package / "metadata"
    ts = subprocess.run(["openssl", "ts", "-verify", "-data", str(meta / "checkpoint.txt"),
                         "-in", str(meta / "checkpoint.tsr"), "-CAfile",
                         str(meta / "tsa/ca.pem"), "-untrusted", str(meta / "tsa/tsa.pem")],
                        capture_output=True, text=True)
    assert ts.returncode == 0, ts.stdout + ts.stderr
    assert "Verification: OK" in ts.stdout


# --- tampering ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [
    "payload", "manifest-sha256.txt", "manifest-blake3.txt", "metadata/custody.json",
    "metadata/proofs.json", "metadata/checkpoint.txt", "metadata/checkpoint.tsr"])
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
    meta = package / "metadata"
    shutil.copyfile(meta / "checkpoint.tsr", meta / "timestamps/FR-2026-LOCKSTORM_EX-0001.tsr")
    _rewrite_tag_manifests(package)
    report = verify_package(package)
    assert report.check("bag").ok and not report.check("timestamps").ok
    failures = _failed_subjects(report)
    assert "metadata/timestamps/FR-2026-LOCKSTORM_EX-0001.tsr: timestamp of " \
           "data/FR-2026-LOCKSTORM_EX-0001__laptop_image.E01 does not verify: message " \
           "imprint mismatch" in failures, failures


def _rewrite_tag_manifests(package: Path) -> None:
    """Recompute both tag manifests, as someone covering their tracks would."""
    import bagit

    from rogatory.evidence.export import write_tag_manifest

    bagit.Bag(str(package)).save()
    write_tag_manifest(package, "blake3")


def test_blake3_is_carried_everywhere(package: Path, items: list[EvidenceItem]) -> None:
    payload = _payload(package, "EX-0001")
    rel = f"data/{payload.name}"
    digest = blake3.blake3(PAYLOAD_A).hexdigest()
    assert items[0].blake3 == digest
    assert f"{digest}  {rel}\n" in (package / "manifest-blake3.txt").read_text()
    tags = (package / "tagmanifest-blake3.txt").read_text()
    assert "manifest-blake3.txt" in tags and "metadata/case.jsonld" in tags
    assert "tagmanifest" not in tags
    custody = json.loads((package / "metadata/custody.json").read_text())
    entry = next(i for i in custody["items"] if i["file"] == rel)
    assert (entry["sha256"], entry["blake3"]) == (items[0].sha256, digest)
    assert "sha512" not in entry
    graph = json.loads((package / "metadata/case.jsonld").read_text())["@graph"]
    methods = {n["types:hashValue"]["@value"]: n["types:hashMethod"] for n in graph
               if n.get("@type") == "types:Hash"}
    assert methods[digest] == "BLAKE3" and methods[items[0].sha256] == "SHA256"
    assert "BLAKE3" in verify_package(package).check("bag").notes[0]


def test_a_changed_blake3_in_the_case_graph_is_named(package: Path) -> None:
    """The CASE graph's BLAKE3 rewritten (and the tag manifests with it): the case check names
    the file and the field."""
    path = package / "metadata/case.jsonld"
    doc = json.loads(path.read_text())
    node = next(n for n in doc["@graph"] if n.get("types:hashMethod") == "BLAKE3")
    node["types:hashValue"]["@value"] = "0" * 64
    path.write_text(json.dumps(doc))
    _rewrite_tag_manifests(package)
    report = verify_package(package)
    assert report.check("bag").ok and not report.check("case").ok
    failures = _failed_subjects(report)
    assert "blake3 in the CASE graph differs from the file (expected " + "0" * 64 in failures


def test_items_ingested_before_blake3_export_and_verify(
        factory: sessionmaker[Session], settings: Settings, world: World,
        items: list[EvidenceItem], tmp_path: Path) -> None:
    """An item from before migration evid0004 has a sha512 and no blake3: the export checks
    the copy against the SHA-512, computes BLAKE3 over it, and carries both."""
    import hashlib

    legacy = items[1]
    with factory() as s:
        s.execute(update(EvidenceItem).where(EvidenceItem.id == legacy.id).values(
            blake3=None, sha512=hashlib.sha512(PAYLOAD_B).hexdigest()))
        s.commit()
    path = _export(factory, settings, world, tmp_path / "legacy")
    report = verify_package(path)
    assert report.intact, report.text()
    custody = json.loads((path / "metadata/custody.json").read_text())
    entry = next(i for i in custody["items"] if i["item_id"] == legacy.id)
    assert entry["blake3"] == blake3.blake3(PAYLOAD_B).hexdigest()
    assert entry["sha512"] == hashlib.sha512(PAYLOAD_B).hexdigest()
    graph = (path / "metadata/case.jsonld").read_text()
    assert hashlib.sha512(PAYLOAD_B).hexdigest() in graph
    # the SHA-512 the CASE graph names is recomputed too: a payload change is named by it
    _flip(_payload(path, "EX-0002"), 3)
    failures = _failed_subjects(verify_package(path))
    assert "sha512 in the CASE graph differs from the file" in failures, failures


def test_a_stored_copy_that_no_longer_matches_is_not_exported(
        factory: sessionmaker[Session], settings: Settings, world: World,
        items: list[EvidenceItem], tmp_path: Path) -> None:
    from rogatory.errors import VerificationError

    blob = EvidenceStore(settings.evidence_dir).path_for(items[1].sha256)
    blob.chmod(0o600)
    _flip(blob, 0)
    try:
        with pytest.raises(VerificationError, match="does not hash as recorded: sha256"):
            _export(factory, settings, world, tmp_path / "bad")
    finally:
        _flip(blob, 0)  # the store outlives this test
        blob.chmod(0o400)
    assert not (tmp_path / "bad").exists()


def test_a_missing_blake3_manifest_is_named(package: Path) -> None:
    (package / "manifest-blake3.txt").unlink()
    failures = _failed_subjects(verify_package(package))
    assert "manifest-blake3.txt: manifest is missing" in failures
    assert "manifest-blake3.txt: missing: listed in tagmanifest-sha256.txt" in failures


def test_a_package_of_the_format_before_blake3_still_verifies(package: Path) -> None:
    """rogatory-evidence-package/1 had SHA-256 and SHA-512 manifests and no BLAKE3 ones, and its
    CASE graph named SHA256 and SHA512."""
    import hashlib

    import bagit

    for name in ("manifest-blake3.txt", "tagmanifest-blake3.txt"):
        (package / name).unlink()
    sha512 = {blake3.blake3(f.read_bytes()).hexdigest(): hashlib.sha512(f.read_bytes()).hexdigest()
              for f in (package / "data").iterdir()}
    graph_path = package / "metadata/case.jsonld"
    doc = json.loads(graph_path.read_text())
    for node in doc["@graph"]:
        if node.get("types:hashMethod") == "BLAKE3":
            node["types:hashMethod"] = "SHA512"
            node["types:hashValue"]["@value"] = sha512[node["types:hashValue"]["@value"]]
    graph_path.write_text(json.dumps(doc))
    bag = bagit.Bag(str(package))
    bag.info["Rogatory-Package-Format"] = "rogatory-evidence-package/1"
    bag.algorithms = ["sha256", "sha512"]
    bag.save(manifests=True)
    report = verify_package(package)
    assert report.intact, report.text()
    assert "SHA-256 and SHA-512 recomputed" in report.check("bag").notes[0]
    _flip(_payload(package, "EX-0001"))
    failures = _failed_subjects(verify_package(package))
    assert "sha512 differs from manifest-sha512.txt" in failures, failures


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

    env = {"ROGATORY_DATA_DIR": str(settings.data_dir), "ROGATORY_SECRET_KEY": "test-secret",
           "ROGATORY_OPERATOR_ACTS_AS": "true"}
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


# --- restricted and deleted data stay out ------------------------------------------------------


def test_restricted_data_stay_out_of_the_package_and_the_package_says_so(
        factory: sessionmaker[Session], settings: Settings, world: World,
        items: list[EvidenceItem], received: Callable[..., None], tmp_path: Path) -> None:
    received(items[0].exhibit_number, restricted="lapsed")
    received(items[1].exhibit_number)  # recorded, neither restricted nor deleted: it leaves
    path = _export(factory, settings, world, tmp_path / "package")
    assert [p.name for p in (path / "data").iterdir()] == [payload_name(items[1])]
    text = b"".join(p.read_bytes() for p in (path / "metadata").rglob("*") if p.is_file())
    assert items[0].sha256.encode() not in text and items[0].id.encode() not in text
    info = (path / "bag-info.txt").read_text(encoding="utf-8").splitlines()
    assert (f"Rogatory-Withheld: {items[0].exhibit_number} (restricted: lapsed, "
            "Reg. (EU) 2023/1543 Art. 4(5))") in info
    assert verify_package(path).intact
    assert bagit.Bag(str(path)).is_valid()


def test_a_withheld_item_asked_for_by_id_is_refused_naming_it(
        factory: sessionmaker[Session], settings: Settings, world: World,
        items: list[EvidenceItem], received: Callable[..., None], tmp_path: Path) -> None:
    received(items[1].exhibit_number, deleted=True)
    with pytest.raises(ValidationFailed) as exc:
        _export(factory, settings, world, tmp_path / "one",
                item_ids=[items[0].id, items[1].id])
    [error] = exc.value.errors
    assert error.field == "items" and error.message == export.MSG_WITHHELD
    assert error.params == {"exhibit": items[1].exhibit_number, "why": "deleted"}
    assert list(tmp_path.iterdir()) == []
    path = _export(factory, settings, world, tmp_path / "other", item_ids=[items[0].id])
    assert verify_package(path).intact


def test_a_case_whose_every_item_is_withheld_exports_nothing(
        factory: sessionmaker[Session], settings: Settings, world: World,
        items: list[EvidenceItem], received: Callable[..., None], tmp_path: Path) -> None:
    for item in items:
        received(item.exhibit_number, restricted="grounds_raised")
    with pytest.raises(ValidationFailed) as exc:
        _export(factory, settings, world, tmp_path / "none")
    assert [(e.field, e.message) for e in exc.value.errors] == [
        ("items", export.MSG_ALL_WITHHELD)]
    assert list(tmp_path.iterdir()) == []
