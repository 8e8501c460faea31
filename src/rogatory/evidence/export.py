"""Exporting a case's evidence as a court package: a BagIt bag (RFC 8493) that anyone can check
offline with `rogatory.evidence.verify` (and `bagit.py --validate`, `case_validate`,
`openssl ts -verify`).

Layout of the bag:

- `data/<exhibit>__<name>`: the selected items' files, copied from the content-addressed store
  (the copy is hashed as it is written and must match what was recorded at ingest);
- `manifest-sha256.txt`, `manifest-blake3.txt`, `tagmanifest-sha256.txt`,
  `tagmanifest-blake3.txt`, `bagit.txt` (BagIt 1.0), `bag-info.txt` (Source-Organization = the
  exporting authority, External-Identifier = the case reference, Bagging-Date, Rogatory-Node,
  Rogatory-Package-Format). SHA-256 is the manifest every BagIt tool checks (`bagit.py
  --validate` knows only hashlib's algorithms and leaves the BLAKE3 manifests alone, as tag
  files covered by `tagmanifest-sha256.txt`); BLAKE3 is the second, independent hash, checked by
  `rogatory verify`. Items ingested before BLAKE3 get it computed over their copy here, once the
  copy's SHA-256 and SHA-512 match the recorded ones;
- tag files under `metadata/` (covered by the tag manifests): `case.jsonld` (a CASE 1.5.0 / UCO
  graph), `custody.json` (the custody events in ledger order, each with its ledger leaf data),
  `proofs.json` (an RFC 9162 inclusion proof of every event against the checkpoint),
  `checkpoint.txt` (a C2SP checkpoint of the ledger signed now with the node key),
  `checkpoint.tsr` (an RFC 3161 token over SHA-256 of checkpoint.txt), `node.pub` (the note
  verifier key), `tsa/ca.pem` and `tsa/tsa.pem`, `timestamps/<exhibit>.tsr` for items that
  carry a timestamp token, `custody-report.pdf` (a one-page custody report signed PAdES by
  the node's document-signing certificate, see `rogatory.evidence.report`) and `signer.pem`
  (that certificate, issued by the TSA root CA).

Only the selected items leave; the case narrative (`Case.summary`) does not. Items recorded
as received data that are restricted or deleted (`safeguards.records.withheld_exhibits`) never
leave: the whole case's export leaves them out and says so in `bag-info.txt`
(`Rogatory-Withheld: <exhibit> (<why>)`); asking for one by id is refused. The bag is built in
a temporary folder next to `out_dir` and renamed into place at the end: a failure leaves nothing.
The `bagit` library changes the process's working directory while it hashes; a lock serialises
the exports of one process.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import unicodedata
import uuid
from pathlib import Path
from typing import Any

import bagit
from sqlalchemy.orm import Session

from rogatory.bootstrap import ensure_node_key
from rogatory.clock import Clock, ensure_utc
from rogatory.config import Settings
from rogatory.directory import service as directory
from rogatory.errors import FieldError, NotFound, ValidationFailed, VerificationError
from rogatory.evidence import service
from rogatory.evidence.hashing import ALWAYS, BLAKE3, SHA256, hash_stream
from rogatory.evidence.models import CustodyEvent, EvidenceItem
from rogatory.evidence.report import custody_report_pdf, ensure_signer
from rogatory.evidence.store import EvidenceStore
from rogatory.fsutil import fsync_dir
from rogatory.i18n import N_
from rogatory.identity.policy import Actor
from rogatory.ledger import checkpoint as cp
from rogatory.ledger import merkle
from rogatory.ledger import service as ledger_service
from rogatory.requests import service as requests_service
from rogatory.safeguards import records
from rogatory.timestamp.authority import ensure_tsa
from rogatory.timestamp.client import timestamper

PACKAGE_FORMAT = "rogatory-evidence-package/2"
# the manifest algorithms of each package format (/1: before BLAKE3, still verified)
FORMAT_ALGORITHMS = {"rogatory-evidence-package/1": ("sha256", "sha512"),
                     PACKAGE_FORMAT: ALWAYS}
BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
METADATA = "metadata"
CASE_JSONLD = f"{METADATA}/case.jsonld"
CUSTODY_JSON = f"{METADATA}/custody.json"
PROOFS_JSON = f"{METADATA}/proofs.json"
CHECKPOINT_TXT = f"{METADATA}/checkpoint.txt"
CHECKPOINT_TSR = f"{METADATA}/checkpoint.tsr"
NODE_PUB = f"{METADATA}/node.pub"
TSA_CA = f"{METADATA}/tsa/ca.pem"
TSA_CERT = f"{METADATA}/tsa/tsa.pem"
TIMESTAMPS = f"{METADATA}/timestamps"
CUSTODY_REPORT = f"{METADATA}/custody-report.pdf"
SIGNER_CERT = f"{METADATA}/signer.pem"

# CASE 1.5.0 / UCO 1.4.0 namespaces, checked against case-utils' case-1.5.0.ttl.
CONTEXT: dict[str, str] = {
    "kb": "urn:uuid:",
    "action": "https://ontology.unifiedcyberontology.org/uco/action/",
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
    "location": "https://ontology.unifiedcyberontology.org/uco/location/",
    "observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
    "types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
# types:hashMethod values. UCO's HashNameVocab (UCO 1.4) lists SHA256 and SHA512 but not
# BLAKE3; the property also takes any xsd:string, and a value outside the vocabulary is reported
# by case_validate at severity Info only (shape types:Hash-hashMethod-in-shape).
HASH_METHODS = {"sha256": "SHA256", "blake3": "BLAKE3", "sha512": "SHA512"}
_NS = uuid.UUID("6f2b0c3e-5a51-4d3b-9a57-7d1c2f0e8b11")  # Rogatory's namespace for node IRIs
_UNSAFE = re.compile(r"[^\w.+-]+")
_BAGIT_LOCK = threading.Lock()
MSG_NOTHING = N_("The case has no evidence to export.")
MSG_ALL_WITHHELD = N_("Every item of the case is withheld: the data it holds are restricted or "
                      "deleted.")
MSG_WITHHELD = N_("Exhibit {exhibit} cannot leave in a court package: {why}.")


def safe_name(text: str, limit: int = 120) -> str:
    """A file-name-safe rendering: NFC, anything but letters, digits, '.', '+', '-' and '_'
    becomes '_', no leading dot, at most `limit` characters."""
    text = unicodedata.normalize("NFC", text)
    cleaned = _UNSAFE.sub("_", text).strip("_").lstrip(".")
    return (cleaned or "file")[:limit]


def payload_name(item: EvidenceItem) -> str:
    return f"{safe_name(item.exhibit_number, 80)}__{safe_name(item.display_name, 150)}"


def _node_id(*parts: str) -> str:
    return f"kb:{uuid.uuid5(_NS, '/'.join(parts))}"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _write(path: Path, content: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def _select_items(session: Session, actor: Actor, case_reference: str,
                  item_ids: list[str] | None,
                  withheld: dict[str, str]) -> tuple[list[EvidenceItem], list[str]]:
    """The items to export and the exhibits left out (`records.withheld_exhibits`): all of the
    case's items the actor may see but those, when `item_ids` is None; else exactly those asked
    for, none of them withheld."""
    items = service.list_items(session=session, actor=actor, case_reference=case_reference)
    left_out = [f"{i.exhibit_number} ({withheld[i.exhibit_number]})" for i in items
                if i.exhibit_number in withheld]
    if item_ids is None:
        chosen = [i for i in items if i.exhibit_number not in withheld]
    else:
        by_id = {i.id: i for i in items}
        unknown = [i for i in item_ids if i not in by_id]
        if unknown:
            raise NotFound(f"evidence item not found in case {case_reference}: "
                           f"{', '.join(unknown)}")
        wanted = set(item_ids)
        chosen = [i for i in items if i.id in wanted]
        refused = [FieldError("items", MSG_WITHHELD, {"exhibit": i.exhibit_number,
                                                      "why": withheld[i.exhibit_number]})
                   for i in chosen if i.exhibit_number in withheld]
        if refused:
            raise ValidationFailed(refused)
    if not chosen:
        raise ValidationFailed([FieldError("items", MSG_NOTHING if not left_out
                                           else MSG_ALL_WITHHELD)])
    return chosen, left_out


def export_case(*, session: Session, actor: Actor, case_reference: str,
                item_ids: list[str] | None, out_dir: Path, settings: Settings,
                clock: Clock) -> Path:
    """Write the package of the case's selected items (all when `item_ids` is None) to
    `out_dir`, which must not exist yet (or be an empty folder); returns `out_dir`."""
    case = requests_service.get_case(session=session, actor=actor, reference=case_reference)
    items, left_out = _select_items(session, actor, case_reference, item_ids,
                                    records.withheld_exhibits(session, case.id))
    out_dir = Path(out_dir).absolute()
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ValidationFailed([FieldError("out", f"{out_dir} exists and is not an empty "
                                                  "folder; nothing was written.")])
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    store = EvidenceStore(settings.evidence_dir)
    authority = directory.authority(session=session, authority_id=actor.authority_id)
    now = clock.now()
    chains = {item.id: service.custody_chain(session=session, actor=actor, item_id=item.id)
              for item in items}

    # The checkpoint first: every proof is against its size, even if the log grows meanwhile.
    key = ensure_node_key(settings)
    note = ledger_service.signed_checkpoint(session=session, node_name=settings.node_name,
                                            key=key)
    checkpoint = cp.open_checkpoint(note, settings.node_name, key.public_key())
    vkey = ledger_service.verifier_key(node_name=settings.node_name, key=key)
    stamp = timestamper(settings, clock=clock)
    tsa = ensure_tsa(settings)

    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp",
                                    dir=out_dir.parent))
    try:
        names = {item.id: payload_name(item) for item in items}
        hashes = {item.id: _copy_payload(store, item, staging / names[item.id])
                  for item in items}
        bag_info: dict[str, str | list[str]] = {
            "Source-Organization": authority.name,
            "External-Identifier": case.reference,
            "Bagging-Date": now.date().isoformat(),
            "External-Description": f"Evidence of case {case.reference}: "
                                    f"{len(items)} item(s) with chain of custody, ledger "
                                    "proofs and timestamps.",
            "Rogatory-Node": f"{settings.node_name} ({vkey})",
            "Rogatory-Package-Format": PACKAGE_FORMAT,
        }
        if left_out:  # said in the package, so that the court and the defence know
            bag_info["Rogatory-Withheld"] = left_out
        with _BAGIT_LOCK:
            bag = bagit.make_bag(str(staging), bag_info, processes=1, checksums=[SHA256])
        _check_payload(bag, items, names)
        write_manifest(staging / f"manifest-{BLAKE3}.txt", {
            f"data/{names[i.id]}": hashes[i.id][BLAKE3] for i in items})

        meta = staging / METADATA
        custody, proofs = _custody_and_proofs(session, items, chains, names, checkpoint)
        _write(meta / "custody.json", _json({"format": PACKAGE_FORMAT,
                                             "case_reference": case.reference,
                                             "items": [_item_entry(i, names[i.id],
                                                                   hashes[i.id])
                                                       for i in items],
                                             "events": custody}))
        _write(meta / "proofs.json", _json({
            "checkpoint": {"origin": checkpoint.origin, "size": checkpoint.size,
                           "root": _b64(checkpoint.root_hash)},
            "proofs": proofs}))
        _write(meta / "checkpoint.txt", note)
        _write(meta / "checkpoint.tsr", stamp(_sha256(note.encode("utf-8"))))
        _write(meta / "node.pub", vkey + "\n")
        _write(meta / "tsa" / "ca.pem", tsa.ca_pem)
        _write(meta / "tsa" / "tsa.pem", tsa.cert_pem)
        for item in items:
            if item.timestamp_token is not None:
                _write(meta / "timestamps" / f"{safe_name(item.exhibit_number, 80)}.tsr",
                       bytes(item.timestamp_token))
        authorities = {e.actor_authority_id for chain in chains.values() for e in chain}
        authority_names = {a: directory.authority(session=session, authority_id=a).name
                           for a in sorted(authorities)}
        signer = ensure_signer(settings)
        _write(meta / "custody-report.pdf", custody_report_pdf(
            case_reference=case.reference, items=items,
            custody_events=[e for chain in chains.values() for e in chain],
            checkpoint_text=note, node_name=settings.node_name, generated_at=now,
            signer=signer))
        _write(meta / "signer.pem", signer.cert_pem)
        _write(meta / "case.jsonld", _json(case_graph(
            case_reference=case.reference, case_id=case.id, title=case.title,
            items=items, chains=chains, names=names, authority_names=authority_names,
            node_name=settings.node_name, hashes=hashes)))

        (staging / "bagit.txt").write_text(BAGIT_TXT, encoding="utf-8")
        with _BAGIT_LOCK:
            bagit.Bag(str(staging)).save(processes=1)  # tag manifests over metadata/ too
        write_tag_manifest(staging, BLAKE3)
        os.chmod(staging, 0o755)
        os.rename(staging, out_dir)
        fsync_dir(out_dir.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def recorded_hashes(item: EvidenceItem) -> dict[str, str]:
    """The hashes recorded at ingest that a package carries: SHA-256, BLAKE3 (absent for items
    ingested before it) and SHA-512 when there is one. MD5 and SHA-1 stay on the node."""
    found = {"sha256": item.sha256, "blake3": item.blake3, "sha512": item.sha512}
    return {algorithm: value for algorithm, value in found.items() if value is not None}


def _copy_payload(store: EvidenceStore, item: EvidenceItem, target: Path) -> dict[str, str]:
    """Copy the item's blob to `target` (fsynced), hashing the copy in the same read: every
    recorded hash must match. Returns the copy's SHA-256, BLAKE3 and (when recorded) SHA-512."""
    recorded = recorded_hashes(item)
    with store.path_for(item.sha256).open("rb", buffering=0) as source, \
            target.open("xb", buffering=0) as out:
        def write(view: memoryview) -> None:
            while view:
                view = view[out.write(view) or 0:]

        hashed = hash_stream(source, [*ALWAYS, *(a for a in recorded if a not in ALWAYS)],
                             sink=write)
        os.fsync(out.fileno())
    for algorithm, expected in recorded.items():
        if hashed.digests[algorithm] != expected:
            raise VerificationError(
                f"the stored copy of {item.exhibit_number} does not hash as recorded: "
                f"{algorithm} expected {expected}, found {hashed.digests[algorithm]}")
    return hashed.digests


def _check_payload(bag: Any, items: list[EvidenceItem], names: dict[str, str]) -> None:
    """The SHA-256 bagit computed over the copies is the one recorded at ingest."""
    entries: dict[str, dict[str, str]] = bag.entries
    for item in items:
        found = entries.get(f"data/{names[item.id]}", {}).get(SHA256)
        if found != item.sha256:
            raise VerificationError(
                f"the stored copy of {item.exhibit_number} does not hash as recorded: "
                f"sha256 expected {item.sha256}, found {found}")


def _manifest_name(rel: str) -> str:
    """RFC 8493 §2.1.3: CR, LF and '%' in a manifest path are percent-encoded."""
    return rel.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def write_manifest(path: Path, entries: dict[str, str]) -> None:
    """A BagIt manifest (`<hex digest>  <path>` lines, sorted by path), fsynced."""
    _write(path, "".join(f"{digest}  {_manifest_name(rel)}\n"
                         for rel, digest in sorted(entries.items())))


def write_tag_manifest(root: Path, algorithm: str) -> None:
    """`tagmanifest-<algorithm>.txt` over the tag files `tagmanifest-sha256.txt` lists (written
    by bagit: every file outside data/ except the tag manifests)."""
    listed = (root / f"tagmanifest-{SHA256}.txt").read_text(encoding="utf-8").splitlines()
    rels = [line.split(" ", 1)[1].lstrip(" ") for line in listed if line.strip()]
    entries = {}
    for rel in rels:
        with (root / rel).open("rb", buffering=0) as fh:
            entries[rel] = hash_stream(fh, [algorithm]).digests[algorithm]
    write_manifest(root / f"tagmanifest-{algorithm}.txt", entries)


def _item_entry(item: EvidenceItem, name: str, hashes: dict[str, str]) -> dict[str, Any]:
    token = item.timestamp_token
    return {
        "item_id": item.id, "exhibit_number": item.exhibit_number,
        "file": f"data/{name}", "display_name": item.display_name, "size": item.size,
        **{algorithm: hashes[algorithm] for algorithm in HASH_METHODS if algorithm in hashes},
        "timestamp": None if token is None
        else f"{TIMESTAMPS}/{safe_name(item.exhibit_number, 80)}.tsr",
    }


def _custody_and_proofs(session: Session, items: list[EvidenceItem],
                        chains: dict[str, list[CustodyEvent]], names: dict[str, str],
                        checkpoint: cp.Checkpoint
                        ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    by_id = {i.id: i for i in items}
    events = sorted((e for chain in chains.values() for e in chain),
                    key=lambda e: e.ledger_index)
    custody: list[dict[str, Any]] = []
    proofs: list[dict[str, Any]] = []
    for event in events:
        item = by_id[event.item_id]
        data = service.canonical_json(service.event_payload(event, item))
        if event.ledger_index >= checkpoint.size:
            raise VerificationError(f"custody event {event.id} (leaf {event.ledger_index}) is "
                                    f"beyond the checkpoint of {checkpoint.size} leaves")
        proof = ledger_service.prove(session=session, index=event.ledger_index,
                                     size=checkpoint.size)
        if proof.leaf_hash != merkle.leaf_hash(data) or proof.root != checkpoint.root_hash:
            raise VerificationError(f"custody event {event.id}: the ledger leaf "
                                    f"{event.ledger_index} does not hold this event")
        custody.append({
            "event_id": event.id, "item_id": item.id, "exhibit_number": item.exhibit_number,
            "file": f"data/{names[item.id]}", "ledger_index": event.ledger_index,
            "leaf_data": _b64(data), "event": json.loads(data),
        })
        proofs.append({"event_id": event.id, **proof.to_dict()})
    return custody, proofs


def case_graph(*, case_reference: str, case_id: str, title: str, items: list[EvidenceItem],
               chains: dict[str, list[CustodyEvent]], names: dict[str, str],
               authority_names: dict[str, str], node_name: str,
               hashes: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """The CASE 1.5.0 JSON-LD graph of the exported items: the investigation, each file with
    its hashes (SHA-256, BLAKE3 and, when recorded, SHA-512: `hashes` by item id, else those
    recorded at ingest), its provenance record (exhibit number), the acquisition and every
    custody event as investigative actions, each informed by the one before."""
    graph: list[dict[str, Any]] = []
    investigation_objects: list[dict[str, str]] = []

    def ref(node_id: str) -> dict[str, str]:
        return {"@id": node_id}

    organizations: dict[str, str] = {}
    for authority_id, name in authority_names.items():
        org_id = _node_id(node_name, "authority", authority_id)
        organizations[authority_id] = org_id
        graph.append({"@id": org_id, "@type": "identity:Organization", "core:name": name})

    for item in items:
        file_id = _node_id(node_name, "file", item.id)
        values = hashes[item.id] if hashes is not None else recorded_hashes(item)
        hash_refs = []
        for algorithm, method in HASH_METHODS.items():
            if algorithm not in values:
                continue
            hash_id = _node_id(node_name, "hash", item.id, algorithm)
            hash_refs.append(ref(hash_id))
            graph.append({
                "@id": hash_id, "@type": "types:Hash",
                "types:hashMethod": method,
                "types:hashValue": {"@type": "xsd:hexBinary", "@value": values[algorithm]},
            })
        graph.append({
            "@id": file_id, "@type": "observable:File", "core:name": item.display_name,
            "core:hasFacet": [
                {"@id": _node_id(node_name, "file-facet", item.id),
                 "@type": "observable:FileFacet",
                 "observable:fileName": names[item.id],
                 "observable:filePath": f"data/{names[item.id]}",
                 "observable:sizeInBytes": {"@type": "xsd:integer", "@value": item.size}},
                {"@id": _node_id(node_name, "content-facet", item.id),
                 "@type": "observable:ContentDataFacet",
                 "observable:sizeInBytes": {"@type": "xsd:integer", "@value": item.size},
                 "observable:hash": hash_refs},
            ],
        })
        record_id = _node_id(node_name, "provenance", item.id)
        graph.append({"@id": record_id, "@type": "case-investigation:ProvenanceRecord",
                      "case-investigation:exhibitNumber": item.exhibit_number,
                      "core:object": [ref(file_id)]})
        examiner_id = _node_id(node_name, "examiner", item.id)
        tool_id = _node_id(node_name, "tool", item.id)
        graph.append({"@id": examiner_id, "@type": "identity:Person",
                      "core:name": item.examiner})
        graph.append({"@id": tool_id, "@type": "tool:Tool", "core:name": item.tool,
                      "tool:version": item.tool_version})
        acquisition_id = _node_id(node_name, "acquisition", item.id)
        acquisition: dict[str, Any] = {
            "@id": acquisition_id, "@type": "case-investigation:InvestigativeAction",
            "core:name": "acquisition",
            "core:description": f"{item.method}; source: {item.source_device or 'not given'}; "
                                f"seal: {item.seal_number or 'none'}",
            "action:performer": ref(examiner_id),
            "action:instrument": ref(tool_id),
            "action:startTime": {"@type": "xsd:dateTime",
                                 "@value": ensure_utc(item.acquired_at).isoformat()},
            "action:result": [ref(file_id), ref(record_id)],
        }
        if item.place:
            place_id = _node_id(node_name, "place", item.id, "acquisition")
            graph.append({"@id": place_id, "@type": "location:Location",
                          "core:name": item.place})
            acquisition["action:location"] = ref(place_id)
        graph.append(acquisition)
        investigation_objects += [ref(file_id), ref(record_id), ref(acquisition_id)]
        previous = acquisition_id
        for event in chains[item.id]:
            if event.kind == "acquired" and event.corrects_event_id is None:
                continue  # the acquisition above is this event
            action_id = _node_id(node_name, "custody", item.id, str(event.id))
            action: dict[str, Any] = {
                "@id": action_id, "@type": "case-investigation:InvestigativeAction",
                "core:name": f"custody: {event.kind}"
                             + (f" (corrects event {event.corrects_event_id})"
                                if event.corrects_event_id is not None else ""),
                "action:performer": ref(organizations[event.actor_authority_id]),
                "action:object": [ref(file_id)],
                "action:startTime": {"@type": "xsd:dateTime",
                                     "@value": ensure_utc(event.at).isoformat()},
                "case-investigation:wasInformedBy": ref(previous),
            }
            if event.note:
                action["core:description"] = event.note
            if event.place:
                place_id = _node_id(node_name, "place", item.id, str(event.id))
                graph.append({"@id": place_id, "@type": "location:Location",
                              "core:name": event.place})
                action["action:location"] = ref(place_id)
            graph.append(action)
            investigation_objects.append(ref(action_id))
            previous = action_id

    investigation = {
        "@id": _node_id(node_name, "case", case_id), "@type": "case-investigation:Investigation",
        "core:name": case_reference, "core:description": title,
        "core:object": investigation_objects,
    }
    return {"@context": CONTEXT, "@graph": [investigation, *graph]}
