"""Verifying an evidence package offline: nothing from the issuing node, no network, only the
folder written by `rogatory.evidence.export`.

Checks, each reported with every difference it found (which file or event, expected, found):

1. `bag`: the BagIt structure (RFC 8493) and every payload and tag manifest entry, each file
   read once (`rogatory.evidence.hashing.hash_stream`: SHA-256 on one core, BLAKE3 on the other,
   in 1 MiB buffers); files that are in no manifest (extra) and entries whose file is gone
   (missing). The manifests required are those of the package's format (`bag-info.txt`
   Rogatory-Package-Format: sha256 and blake3; sha256 and sha512 for packages made before
   BLAKE3); any other manifest present is checked too when its algorithm is known, and named
   when it is not;
2. `checkpoint`: the signed checkpoint (C2SP signed note) against `metadata/node.pub`;
3. `custody`: for every custody event, its leaf hash recomputed from the leaf data, its
   RFC 9162 inclusion proof against the checkpoint root, and the leaf's sha256 against the file;
4. `timestamps`: every RFC 3161 token (checkpoint and items) against `metadata/tsa/ca.pem`, its
   imprint being the right digest;
5. `case`: `metadata/case.jsonld` parses, describes every payload file, and every hash it
   names for a file is that file's (recomputed in the same read; SHA-256 and the format's second
   hash are required);
6. `report`: the PAdES signature of `metadata/custody-report.pdf` against `metadata/tsa/ca.pem`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rogatory.errors import VerificationError
from rogatory.evidence.export import (
    CASE_JSONLD,
    CHECKPOINT_TSR,
    CHECKPOINT_TXT,
    CUSTODY_JSON,
    CUSTODY_REPORT,
    FORMAT_ALGORITHMS,
    HASH_METHODS,
    NODE_PUB,
    PACKAGE_FORMAT,
    PROOFS_JSON,
    TSA_CA,
    TSA_CERT,
)
from rogatory.evidence.hashing import CHUNK_SIZE, HEX_LENGTHS, LABELS, SHA256, hash_stream
from rogatory.evidence.report import verify_report_pdf
from rogatory.ledger import checkpoint as cp
from rogatory.ledger import merkle
from rogatory.timestamp.verify import verify_token

CHUNK = CHUNK_SIZE
_HEX_LENGTHS = HEX_LENGTHS
# types:hashMethod value (as written by the export, any case) -> algorithm
_METHODS = {**{m.lower(): a for a, m in HASH_METHODS.items()}, "md5": "md5", "sha1": "sha1"}


@dataclass(frozen=True)
class Failure:
    """One difference: what (a file or an event), what is wrong, expected and found."""

    subject: str
    message: str
    expected: str | None = None
    found: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"subject": self.subject, "message": self.message, "expected": self.expected,
                "found": self.found}

    def text(self) -> str:
        line = f"{self.subject}: {self.message}"
        if self.expected is not None or self.found is not None:
            line += f" (expected {self.expected}, found {self.found})"
        return line


@dataclass
class Check:
    name: str
    title: str
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, subject: str, message: str, expected: str | None = None,
             found: str | None = None) -> None:
        self.failures.append(Failure(subject, message, expected, found))


@dataclass
class Report:
    path: Path
    checks: list[Check]

    @property
    def intact(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Failure]:
        return [f for c in self.checks for f in c.failures]

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "intact": self.intact, "checks": [
            {"name": c.name, "title": c.title, "ok": c.ok, "notes": c.notes,
             "failures": [f.to_dict() for f in c.failures]} for c in self.checks]}

    def text(self) -> str:
        lines = [f"Package {self.path}"]
        for c in self.checks:
            lines.append(f"  [{'ok' if c.ok else 'FAILED'}] {c.title}")
            lines += [f"      {n}" for n in c.notes]
            lines += [f"      - {f.text()}" for f in c.failures]
        lines.append("The package is intact: nothing was changed." if self.intact else
                     f"The package is NOT intact: {len(self.failures)} difference(s) found.")
        return "\n".join(lines)


# --- helpers -----------------------------------------------------------------------------------


def _hash_file(path: Path, algorithms: set[str]) -> dict[str, str]:
    """Every hash in `algorithms` in one streaming read, SHA-256 and the others on two cores."""
    with path.open("rb", buffering=0) as fh:
        return hash_stream(fh, sorted(algorithms)).digests


def _labels(algorithms: list[str] | tuple[str, ...]) -> str:
    return " and ".join(LABELS.get(a, a) for a in algorithms)


def _decode_name(text: str) -> str:
    """BagIt percent-encodes CR, LF and '%' in manifest paths (RFC 8493 §2.1.3)."""
    return text.replace("%0A", "\n").replace("%0a", "\n").replace("%0D", "\r") \
        .replace("%0d", "\r").replace("%25", "%")


def _safe_rel(rel: str) -> bool:
    parts = rel.split("/")
    return bool(rel) and not rel.startswith("/") and ".." not in parts and "" not in parts


def _read_manifest(root: Path, name: str, algorithm: str, check: Check
                   ) -> dict[str, str] | None:
    path = root / name
    if not path.is_file():
        check.fail(name, "manifest is missing")
        return None
    entries: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        check.fail(name, f"manifest is not UTF-8 text ({exc})")
        return None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, rel = line.partition(" ")
        rel = _decode_name(rel.lstrip(" \t"))
        digest = digest.lower()
        if len(digest) != _HEX_LENGTHS[algorithm] or \
                any(c not in "0123456789abcdef" for c in digest) or not rel:
            check.fail(f"{name} line {number}", "malformed manifest line", found=line)
            continue
        if not _safe_rel(rel):
            check.fail(f"{name} line {number}", "path leaves the bag", found=rel)
            continue
        if rel in entries:
            check.fail(f"{name} line {number}", "file listed twice", found=rel)
        entries[rel] = digest
    return entries


def _all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() or p.is_symlink())


# --- 1. bag ------------------------------------------------------------------------------------


def _stated_format(root: Path) -> str | None:
    info = root / "bag-info.txt"
    lines = info.read_text("utf-8", "replace").splitlines() if info.is_file() else []
    return next((line.split(":", 1)[1].strip() for line in lines
                 if line.startswith("Rogatory-Package-Format:")), None)


def _package_format(root: Path, check: Check) -> tuple[str, ...]:
    """The manifest algorithms the package's format requires (`bag-info.txt`)."""
    stated = _stated_format(root)
    if stated not in FORMAT_ALGORITHMS:
        check.fail("bag-info.txt", "Rogatory-Package-Format is missing or unknown",
                   expected=" or ".join(FORMAT_ALGORITHMS), found=stated)
        return FORMAT_ALGORITHMS[PACKAGE_FORMAT]
    return FORMAT_ALGORITHMS[stated]


def _manifest_algorithms(root: Path, prefix: str, required: tuple[str, ...],
                         check: Check) -> list[str]:
    """The algorithms of the `<prefix>-<algorithm>.txt` files present, required ones first;
    a missing required manifest and one of an unknown algorithm are failures."""
    present = sorted(p.name[len(prefix) + 1:-4] for p in root.glob(f"{prefix}-*.txt")
                     if p.is_file())
    for algorithm in required:
        if algorithm not in present:
            check.fail(f"{prefix}-{algorithm}.txt", "manifest is missing")
    for algorithm in present:
        if algorithm not in _HEX_LENGTHS:
            check.fail(f"{prefix}-{algorithm}.txt",
                       "manifest of an algorithm this verifier does not know; not checked")
    return [a for a in required if a in present] + \
        [a for a in present if a not in required and a in _HEX_LENGTHS]


def _check_bag(root: Path, check: Check,
               described: dict[str, dict[str, str]] | None) -> dict[str, dict[str, str]]:
    """Returns the recomputed hashes of every file that exists, by relative path: SHA-256, the
    algorithms of the manifests that cover it and those the CASE graph names for it."""
    bagit_txt = root / "bagit.txt"
    if not bagit_txt.is_file():
        check.fail("bagit.txt", "missing: not a BagIt bag")
    else:
        lines = bagit_txt.read_bytes().decode("utf-8", "replace").splitlines()
        if not lines or not lines[0].startswith("BagIt-Version: ") or \
                "Tag-File-Character-Encoding: UTF-8" not in lines:
            check.fail("bagit.txt", "not a BagIt declaration",
                       expected="BagIt-Version and Tag-File-Character-Encoding: UTF-8",
                       found=" | ".join(lines[:2]))
    required = _package_format(root, check)
    payload_algorithms = _manifest_algorithms(root, "manifest", required, check)
    tag_algorithms = _manifest_algorithms(root, "tagmanifest", required, check)
    files = _all_files(root)
    for rel in files:
        if (root / rel).is_symlink():
            check.fail(rel, "is a symbolic link; a package holds only regular files")
    payload = {rel for rel in files if rel.startswith("data/")}
    tag_files = {rel for rel in files if not rel.startswith("data/")
                 and not rel.startswith("tagmanifest-")}

    def algorithms(rel: str) -> set[str]:
        wanted = {SHA256, *(payload_algorithms if rel in payload else tag_algorithms)}
        wanted |= {a for a in (described or {}).get(rel, {}) if a in _HEX_LENGTHS}
        return wanted

    computed = {rel: _hash_file(root / rel, algorithms(rel)) for rel in files
                if not (root / rel).is_symlink()}
    for kind, algorithm_list, scope in (("payload", payload_algorithms, payload),
                                        ("tag", tag_algorithms, tag_files)):
        for algorithm in algorithm_list:
            name = f"{'manifest' if kind == 'payload' else 'tagmanifest'}-{algorithm}.txt"
            entries = _read_manifest(root, name, algorithm, check)
            if entries is None:
                continue
            for rel, digest in sorted(entries.items()):
                if kind == "payload" and not rel.startswith("data/"):
                    check.fail(f"{name}", "payload manifest lists a file outside data/",
                               found=rel)
                if rel not in computed:
                    check.fail(rel, f"missing: listed in {name} but not in the package")
                elif computed[rel].get(algorithm) != digest:
                    check.fail(rel, f"{algorithm} differs from {name}", expected=digest,
                               found=computed[rel].get(algorithm))
            for rel in sorted(scope - set(entries)):
                check.fail(rel, f"extra: not listed in {name}")
    info = root / "bag-info.txt"
    if info.is_file():
        oxum = next((line.split(":", 1)[1].strip() for line in
                     info.read_text("utf-8", "replace").splitlines()
                     if line.startswith("Payload-Oxum:")), None)
        actual = f"{sum((root / r).stat().st_size for r in payload)}.{len(payload)}"
        if oxum is not None and oxum != actual:
            check.fail("bag-info.txt", "Payload-Oxum (bytes.files) differs from the payload",
                       expected=oxum, found=actual)
    check.notes.append(f"{len(payload)} payload file(s), {len(tag_files)} tag file(s), "
                       f"{_labels(payload_algorithms)} recomputed")
    return computed


# --- 2. checkpoint -----------------------------------------------------------------------------


def _check_checkpoint(root: Path, check: Check) -> cp.Checkpoint | None:
    try:
        vkey = (root / NODE_PUB).read_text(encoding="utf-8").strip()
        note = (root / CHECKPOINT_TXT).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        check.fail(NODE_PUB if "node.pub" in str(exc) else CHECKPOINT_TXT,
                   f"cannot be read: {exc}")
        return None
    try:
        key = cp.parse_verifier_key(vkey)
    except VerificationError as exc:
        check.fail(NODE_PUB, exc.message)
        return None
    try:
        checkpoint = cp.open_checkpoint(note, key.name, key.public_key)
    except VerificationError as exc:
        check.fail(CHECKPOINT_TXT, exc.message)
        return None
    check.notes.append(f"signed by {key.name} (verifier key {vkey}); {checkpoint.size} "
                       f"leaves, root {checkpoint.root_hash.hex()}")
    return checkpoint


# --- 3. custody --------------------------------------------------------------------------------


def _load_json(root: Path, rel: str, check: Check) -> Any:
    try:
        return json.loads((root / rel).read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        check.fail(rel, f"cannot be read as JSON: {exc}")
        return None


def _b64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"not a base64 string: {text!r}")
    return base64.b64decode(text, validate=True)


def _check_custody(root: Path, check: Check, checkpoint: cp.Checkpoint | None,
                   computed: dict[str, dict[str, str]]) -> dict[str, Any] | None:
    custody = _load_json(root, CUSTODY_JSON, check)
    proofs_doc = _load_json(root, PROOFS_JSON, check)
    if not isinstance(custody, dict) or not isinstance(custody.get("events"), list):
        if custody is not None:
            check.fail(CUSTODY_JSON, "has no list of events")
        return None
    if not isinstance(proofs_doc, dict) or not isinstance(proofs_doc.get("proofs"), list):
        if proofs_doc is not None:
            check.fail(PROOFS_JSON, "has no list of proofs")
        return custody
    proofs = {p.get("event_id"): p for p in proofs_doc["proofs"] if isinstance(p, dict)}
    if checkpoint is None:
        check.fail(CHECKPOINT_TXT, "no verified checkpoint: the proofs cannot be checked")
    for entry in custody["events"]:
        event_id = entry.get("event_id") if isinstance(entry, dict) else None
        subject = f"custody event {event_id} (ledger leaf {entry.get('ledger_index')})" \
            if isinstance(entry, dict) else "custody event ?"
        if not isinstance(entry, dict):
            check.fail(CUSTODY_JSON, "an event is not an object", found=repr(entry))
            continue
        try:
            data = _b64(entry.get("leaf_data"))
            leaf = merkle.leaf_hash(data)
            event = json.loads(data.decode("utf-8"))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            check.fail(f"{subject} in {CUSTODY_JSON}", f"leaf data unreadable: {exc}")
            continue
        if entry.get("event") != event:
            check.fail(f"{subject} in {CUSTODY_JSON}",
                       "the readable event differs from the ledger leaf data",
                       expected=json.dumps(event, sort_keys=True),
                       found=json.dumps(entry.get("event"), sort_keys=True))
        file_rel = entry.get("file")
        actual = computed.get(file_rel, {}).get("sha256") if isinstance(file_rel, str) else None
        if event.get("sha256") != actual:
            check.fail(f"{subject}", f"the ledger leaf's sha256 does not match {file_rel}",
                       expected=event.get("sha256"), found=actual)
        proof = proofs.get(event_id)
        if proof is None:
            check.fail(f"{subject}", f"no inclusion proof in {PROOFS_JSON}")
            continue
        try:
            stated = _b64(proof.get("leaf_hash"))
            path = [_b64(h) for h in proof.get("proof", [])]
            index, size = int(proof["index"]), int(proof["size"])
            proof_root = _b64(proof.get("root"))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            check.fail(f"{subject} in {PROOFS_JSON}", f"malformed proof: {exc}")
            continue
        if stated != leaf:
            check.fail(f"{subject}", f"leaf hash in {PROOFS_JSON} differs from the hash of the "
                       f"leaf data in {CUSTODY_JSON}", expected=leaf.hex(), found=stated.hex())
        if index != entry.get("ledger_index"):
            check.fail(f"{subject} in {PROOFS_JSON}", "proof is for another leaf index",
                       expected=str(entry.get("ledger_index")), found=str(index))
        if checkpoint is None:
            continue
        if size != checkpoint.size or proof_root != checkpoint.root_hash:
            check.fail(f"{subject} in {PROOFS_JSON}", "proof is not against the checkpoint",
                       expected=f"size {checkpoint.size}, root {checkpoint.root_hash.hex()}",
                       found=f"size {size}, root {proof_root.hex()}")
        try:
            merkle.verify_inclusion(leaf, index, checkpoint.size, path, checkpoint.root_hash)
        except (VerificationError, ValueError) as exc:
            message = exc.message if isinstance(exc, VerificationError) else str(exc)
            check.fail(f"{subject}", f"inclusion proof in {PROOFS_JSON} fails: {message}")
    listed = {e.get("event_id") for e in custody["events"] if isinstance(e, dict)}
    for extra in sorted(str(k) for k in set(proofs) - listed):
        check.fail(f"{PROOFS_JSON}", f"proof for event {extra}, which {CUSTODY_JSON} lacks")
    check.notes.append(f"{len(custody['events'])} custody event(s) checked against the ledger "
                       "checkpoint")
    return custody


# --- 4. timestamps -----------------------------------------------------------------------------


def _check_timestamps(root: Path, check: Check, custody: dict[str, Any] | None,
                      computed: dict[str, dict[str, str]]) -> None:
    try:
        ca_pem = (root / TSA_CA).read_bytes()
    except OSError as exc:
        check.fail(TSA_CA, f"cannot be read: {exc}")
        return
    untrusted = (root / TSA_CERT).read_bytes() if (root / TSA_CERT).is_file() else None
    tokens: list[tuple[str, bytes | None, bytes | None, str]] = []
    try:
        tokens.append((CHECKPOINT_TSR, (root / CHECKPOINT_TXT).read_bytes(), None,
                       CHECKPOINT_TXT))
    except OSError as exc:
        check.fail(CHECKPOINT_TXT, f"cannot be read: {exc}")
    items = custody.get("items", []) if isinstance(custody, dict) else []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not item.get("timestamp"):
            continue
        if not _safe_rel(str(item["timestamp"])):
            check.fail(CUSTODY_JSON, "a timestamp path leaves the package",
                       found=str(item["timestamp"]))
            continue
        file_rel = str(item.get("file"))
        found = computed.get(file_rel, {}).get("sha256")
        if found is None:
            check.fail(str(item["timestamp"]), f"the file it stamps, {file_rel}, is missing")
            continue
        tokens.append((str(item["timestamp"]), None, bytes.fromhex(found), file_rel))
    for rel, data, digest, what in tokens:
        try:
            info = verify_token((root / rel).read_bytes(), data=data, digest=digest,
                                ca_pem=ca_pem, untrusted_pem=untrusted)
        except OSError as exc:
            check.fail(rel, f"cannot be read: {exc}")
        except VerificationError as exc:
            check.fail(rel, f"timestamp of {what} does not verify: {exc.message}")
        else:
            check.notes.append(f"{rel}: {what} existed at {info.gen_time.isoformat()} "
                               f"(TSA {info.tsa_certificate.subject.rfc4514_string()})")


# --- 5. CASE graph -----------------------------------------------------------------------------


def _types(node: dict[str, Any]) -> list[str]:
    kind = node.get("@type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def _read_case(root: Path, check: Check) -> dict[str, dict[str, str]] | None:
    """The hashes the CASE graph names for each file, by its path in the package and by
    algorithm (the hash method lowercased when it is not one this verifier knows)."""
    doc = _load_json(root, CASE_JSONLD, check)
    if doc is None:
        return None
    graph = doc.get("@graph") if isinstance(doc, dict) else None
    if not isinstance(graph, list):
        check.fail(CASE_JSONLD, "has no @graph list")
        return None
    nodes = {n["@id"]: n for n in graph if isinstance(n, dict) and "@id" in n}
    if not any("case-investigation:Investigation" in _types(n) for n in nodes.values()):
        check.fail(CASE_JSONLD, "names no case-investigation:Investigation")
    described: dict[str, dict[str, str]] = {}
    for node in nodes.values():
        if "observable:File" not in _types(node):
            continue
        facets = [f for f in node.get("core:hasFacet", []) if isinstance(f, dict)]
        path = next((f.get("observable:filePath") for f in facets
                     if "observable:FileFacet" in _types(f)), None)
        if not isinstance(path, str):
            check.fail(CASE_JSONLD, f"a File ({node['@id']}) has no observable:filePath")
            continue
        hashes = described.setdefault(path, {})
        for facet in facets:
            for ref in facet.get("observable:hash", []) if isinstance(facet, dict) else []:
                h = nodes.get(ref.get("@id")) if isinstance(ref, dict) else None
                if h is None:
                    continue
                method = h.get("types:hashMethod", {})
                value = h.get("types:hashValue", {})
                method = method.get("@value") if isinstance(method, dict) else method
                value = value.get("@value") if isinstance(value, dict) else value
                if isinstance(method, str) and isinstance(value, str):
                    hashes[_METHODS.get(method.lower(), method.lower())] = value.lower()
    return described


def _check_case(root: Path, check: Check, described: dict[str, dict[str, str]] | None,
                computed: dict[str, dict[str, str]]) -> None:
    if described is None:
        return
    required = FORMAT_ALGORITHMS.get(_stated_format(root) or "",
                                     FORMAT_ALGORITHMS[PACKAGE_FORMAT])
    for path, hashes in sorted(described.items()):
        subject = f"{CASE_JSONLD} file {path}"
        actual = computed.get(path)
        if actual is None:
            check.fail(subject, "names a file that is not in the package")
            continue
        for algorithm in [*required, *sorted(set(hashes) - set(required))]:
            if algorithm not in _HEX_LENGTHS:
                check.fail(subject, f"names a hash method this verifier does not know "
                           f"({algorithm}); not checked", found=hashes[algorithm])
            elif hashes.get(algorithm) != actual.get(algorithm):
                check.fail(subject, f"{algorithm} in the CASE graph differs from the file",
                           expected=hashes.get(algorithm), found=actual.get(algorithm))
    for rel in sorted(r for r in computed if r.startswith("data/") and r not in described):
        check.fail(rel, f"not described in {CASE_JSONLD}")
    check.notes.append(f"{len(described)} file(s) described with {_labels(required)}")


# --- 6. signed custody report ------------------------------------------------------------------


def _check_report(root: Path, check: Check) -> None:
    try:
        pdf, ca_pem = (root / CUSTODY_REPORT).read_bytes(), (root / TSA_CA).read_bytes()
    except OSError as exc:
        check.fail(CUSTODY_REPORT, f"cannot be read: {exc}")
        return
    try:
        subject = verify_report_pdf(pdf, ca_pem)
    except VerificationError as exc:
        check.fail(CUSTODY_REPORT, f"signature does not verify: {exc.message}")
    else:
        check.notes.append(f"{CUSTODY_REPORT}: signed by {subject}")


def verify_package(path: Path) -> Report:
    """Check the package at `path`; the report says which checks passed and what differs."""
    root = Path(path)
    checks = [Check("bag", "BagIt structure, payload and tag manifests (SHA-256, BLAKE3)"),
              Check("checkpoint", "Ledger checkpoint signed by the node key (node.pub)"),
              Check("custody", "Custody events: leaf hashes, inclusion proofs, file hashes"),
              Check("timestamps", "RFC 3161 timestamp tokens against the TSA certificate"),
              Check("case", "CASE 1.5 JSON-LD graph names the same hashes"),
              Check("report", "Signed custody report (PAdES)")]
    if not root.is_dir():
        checks[0].fail(str(root), "is not a folder")
        return Report(root, checks)
    described = _read_case(root, checks[4])  # first: the hashes it names are read with the rest
    computed = _check_bag(root, checks[0], described)
    checkpoint = _check_checkpoint(root, checks[1])
    custody = _check_custody(root, checks[2], checkpoint, computed)
    _check_timestamps(root, checks[3], custody, computed)
    _check_case(root, checks[4], described, computed)
    _check_report(root, checks[5])
    return Report(root, checks)
