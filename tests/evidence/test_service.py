"""The evidence service on SQLite and PostgreSQL: ingest, custody with corrections, every
custody event a verifiable ledger leaf, and every refusal (with nothing stored)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from datetime import timedelta

import blake3
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from conftest import World
from rogatory.clock import ManualClock
from rogatory.errors import Forbidden, NotFound, ValidationFailed
from rogatory.evidence import service
from rogatory.evidence.models import EvidenceItem, IngestRefusal
from rogatory.evidence.service import AcquisitionMetadata
from rogatory.evidence.store import CHUNK_SIZE, EvidenceStore
from rogatory.ledger import merkle
from rogatory.ledger import store as ledger

pytestmark = pytest.mark.usefixtures("factory")  # empties what the tests write


def _chunks(data: bytes) -> list[bytes]:
    return [data[i:i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)]


def _ingest(session: Session, store: EvidenceStore, world: World, clock: ManualClock,
            metadata: AcquisitionMetadata, data: bytes, *, user: str = "fr_prosecutor",
            name: str | bytes = "disk.E01", claimed: dict[str, str] | None = None,
            legacy: bool = False, sha512: bool = False) -> EvidenceItem:
    return service.ingest(session=session, store=store, actor=world.actors[user],
                          case_reference=world.case_reference, chunks=_chunks(data),
                          original_name=name, metadata=metadata, claimed=claimed,
                          legacy_hashes=legacy, clock=clock, sha512=sha512)


def _errors(exc: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return {e.field: e.text() for e in exc.value.errors}


def _stored(store: EvidenceStore) -> list[str]:
    return sorted(p.name for p in store.root.glob("??/*"))


def test_ingest_round_trip(session: Session, store: EvidenceStore, world: World,
                           clock: ManualClock, metadata: AcquisitionMetadata) -> None:
    data = os.urandom(2 * CHUNK_SIZE + 5)
    item = _ingest(session, store, world, clock, metadata, data, legacy=True, sha512=True)
    session.commit()
    assert item.sha256 == hashlib.sha256(data).hexdigest()
    assert item.blake3 == blake3.blake3(data).hexdigest()
    assert item.sha512 == hashlib.sha512(data).hexdigest()
    assert item.md5 == hashlib.md5(data).hexdigest()
    assert item.sha1 == hashlib.sha1(data).hexdigest()
    assert item.size == len(data)
    assert item.exhibit_number == "FR-2026-LOCKSTORM/EX-0001"
    assert store.path_for(item.sha256).read_bytes() == data
    assert list(store.tmp_dir.iterdir()) == []
    actor = world.actors["fr_prosecutor"]
    assert [i.id for i in service.list_items(session=session, actor=actor,
                                             case_reference=world.case_reference)] == [item.id]
    got = service.get_item(session=session, actor=actor, item_id=item.id)
    assert (got.examiner, got.tool, got.seal_number) == ("Lt. Claire Dubois", "FTK Imager",
                                                         "SCELLE-0042")
    assert got.acquired_at == metadata.acquired_at
    chain = service.custody_chain(session=session, actor=actor, item_id=item.id)
    assert [e.kind for e in chain] == ["acquired"]
    second = _ingest(session, store, world, clock, metadata, b"another file", name="b.txt")
    assert second.exhibit_number == "FR-2026-LOCKSTORM/EX-0002"
    assert second.blake3 == blake3.blake3(b"another file").hexdigest()
    assert (second.sha512, second.md5, second.sha1) == (None, None, None)  # on request only


def test_custody_is_append_only_with_corrections_and_ledger_proofs(
        session: Session, store: EvidenceStore, world: World, clock: ManualClock,
        metadata: AcquisitionMetadata) -> None:
    actor = world.actors["fr_prosecutor"]
    item = _ingest(session, store, world, clock, metadata, b"seized mailbox export")
    clock.advance(timedelta(hours=1))
    sealed = service.record_custody(session=session, actor=actor, item_id=item.id,
                                    kind="sealed", place="Paris", note="seal SCELLE-0042",
                                    corrects=None, clock=clock)
    clock.advance(timedelta(hours=1))
    fix = service.record_custody(session=session, actor=actor, item_id=item.id,
                                 kind="sealed", place="Paris, OFAC lab",
                                 note="place was incomplete", corrects=sealed.id, clock=clock)
    session.commit()
    chain = service.custody_chain(session=session, actor=actor, item_id=item.id)
    assert [(e.kind, e.corrects_event_id) for e in chain] == [
        ("acquired", None), ("sealed", None), ("sealed", sealed.id)]
    assert chain[1].place == "Paris"  # the corrected event is unchanged
    assert fix.corrects_event_id == sealed.id
    # every event is a ledger leaf whose data is the event, provably in the log
    size = ledger.size(session=session)
    root = ledger.root_at(session=session, size=size)
    for event in chain:
        data = service.canonical_json(service.event_payload(event, item))
        proof = ledger.inclusion_proof(session=session, index=event.ledger_index, size=size)
        merkle.verify_inclusion(merkle.leaf_hash(data), event.ledger_index, size, proof, root)
    # no update or delete path: the service has none, and the models expose none
    assert not [n for n in dir(service) if n.startswith(("update", "delete", "edit", "remove"))]


def test_custody_refusals(session: Session, store: EvidenceStore, world: World,
                          clock: ManualClock, metadata: AcquisitionMetadata) -> None:
    actor = world.actors["fr_prosecutor"]
    item = _ingest(session, store, world, clock, metadata, b"x" * 10)
    with pytest.raises(ValidationFailed) as exc:
        service.record_custody(session=session, actor=actor, item_id=item.id, kind="lost",
                               place="", note="", corrects=None, clock=clock)
    assert "kind" in _errors(exc)
    with pytest.raises(ValidationFailed) as exc:
        service.record_custody(session=session, actor=actor, item_id=item.id, kind="sealed",
                               place="", note="", corrects=999999, clock=clock)
    assert set(_errors(exc)) == {"corrects", "note"}
    with pytest.raises(ValidationFailed) as exc:
        service.record_custody(session=session, actor=actor, item_id=item.id,
                               kind="acquired", place="", note="", corrects=None, clock=clock)
    assert "acquired once" in _errors(exc)["kind"]
    service.record_custody(session=session, actor=actor, item_id=item.id, kind="destroyed",
                           place="", note="court order", corrects=None, clock=clock)
    with pytest.raises(ValidationFailed) as exc:
        service.record_custody(session=session, actor=actor, item_id=item.id,
                               kind="accessed", place="", note="", corrects=None, clock=clock)
    assert "destroyed" in _errors(exc)["kind"]
    with pytest.raises(NotFound):
        service.record_custody(session=session, actor=world.actors["it_outsider"],
                               item_id=item.id, kind="accessed", place="", note="",
                               corrects=None, clock=clock)


def test_wrong_claimed_hash_is_refused_and_recorded(
        factory: sessionmaker[Session], store: EvidenceStore, world: World,
        clock: ManualClock, metadata: AcquisitionMetadata) -> None:
    data = b"the real content"
    wrong = hashlib.sha256(b"something else").hexdigest()
    with factory() as s:
        with pytest.raises(service.ClaimedHashMismatch) as exc:
            _ingest(s, store, world, clock, metadata, data, claimed={"sha256": wrong})
        s.rollback()
        for refusal in exc.value.refusals:  # what the route and the CLI do
            service.record_refusal(session=s, refusal=refusal, clock=clock)
        s.commit()
    found = hashlib.sha256(data).hexdigest()
    assert _errors(exc) == {"claimed.sha256": f"Does not match the content: expected {wrong}, "
                                              f"found {found}."}
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(EvidenceItem)) == 0
        refusal = s.scalars(select(IngestRefusal)).one()
        assert (refusal.field, refusal.expected, refusal.found) == ("claimed.sha256", wrong,
                                                                    found)
    assert _stored(store) == []
    assert list(store.tmp_dir.iterdir()) == []


def test_matching_claimed_hashes_are_accepted(
        session: Session, store: EvidenceStore, world: World, clock: ManualClock,
        metadata: AcquisitionMetadata) -> None:
    data = b"claimed right"
    item = _ingest(session, store, world, clock, metadata, data, claimed={
        "sha256": hashlib.sha256(data).hexdigest().upper(),
        "BLAKE3": blake3.blake3(data).hexdigest(),
        "sha512": hashlib.sha512(data).hexdigest()})
    assert item.sha256 == hashlib.sha256(data).hexdigest()
    # a claimed SHA-512 is computed to be checked, and recorded, without being asked for
    assert item.sha512 == hashlib.sha512(data).hexdigest()


@pytest.mark.parametrize("algorithm", ["blake3", "sha512"])
def test_a_wrong_second_hash_is_refused(
        session: Session, store: EvidenceStore, world: World, clock: ManualClock,
        metadata: AcquisitionMetadata, algorithm: str) -> None:
    data = b"second hash"
    right = hashlib.sha256(data).hexdigest()
    wrong = "ab" * (32 if algorithm == "blake3" else 64)
    with pytest.raises(service.ClaimedHashMismatch) as exc:
        _ingest(session, store, world, clock, metadata, data,
                claimed={"sha256": right, algorithm: wrong})
    assert list(_errors(exc)) == [f"claimed.{algorithm}"]
    assert [(r.field, r.expected) for r in exc.value.refusals] == [
        (f"claimed.{algorithm}", wrong)]
    assert _stored(store) == []


def test_malformed_claims_are_refused_before_reading(
        session: Session, store: EvidenceStore, world: World, clock: ManualClock,
        metadata: AcquisitionMetadata) -> None:
    with pytest.raises(ValidationFailed) as exc:
        _ingest(session, store, world, clock, metadata, b"abc",
                claimed={"sha256": "zz", "md5": "0" * 32, "crc32": "0"})
    assert set(_errors(exc)) == {"claimed.sha256", "claimed.md5", "claimed.crc32"}


def test_duplicate_in_the_same_case(session: Session, store: EvidenceStore, world: World,
                                    clock: ManualClock, metadata: AcquisitionMetadata) -> None:
    _ingest(session, store, world, clock, metadata, b"dup")
    session.commit()
    with pytest.raises(ValidationFailed) as exc:
        _ingest(session, store, world, clock, metadata, b"dup", name="copy.bin")
    assert _errors(exc) == {"file": "This file is already in the case as "
                                    "FR-2026-LOCKSTORM/EX-0001."}
    session.rollback()
    assert len(_stored(store)) == 1


def test_zero_bytes_is_refused(session: Session, store: EvidenceStore, world: World,
                               clock: ManualClock, metadata: AcquisitionMetadata) -> None:
    with pytest.raises(ValidationFailed) as exc:
        _ingest(session, store, world, clock, metadata, b"")
    assert list(_errors(exc)) == ["file"]
    assert _stored(store) == [] and list(store.tmp_dir.iterdir()) == []


@pytest.mark.parametrize("name", ["", "  ", "a\x00b", "../x", "..", "a/b", "a\\b",
                                  b"\xff\xfe.bin", "x\udcff.bin", "n" * 256])
def test_bad_names_are_refused(session: Session, store: EvidenceStore, world: World,
                               clock: ManualClock, metadata: AcquisitionMetadata,
                               name: str | bytes) -> None:
    with pytest.raises(ValidationFailed) as exc:
        _ingest(session, store, world, clock, metadata, b"content", name=name)
    assert list(_errors(exc)) == ["original_name"]
    assert _stored(store) == []


def test_display_name_is_safe(session: Session, store: EvidenceStore, world: World,
                              clock: ManualClock, metadata: AcquisitionMetadata) -> None:
    item = _ingest(session, store, world, clock, metadata, b"c",
                   name="facture\u202etxt.exe\n".encode())
    assert item.original_name == "facture\u202etxt.exe\n"
    assert item.display_name == "facture_txt.exe_"


def test_metadata_errors_name_every_field(
        session: Session, store: EvidenceStore, world: World, clock: ManualClock,
        metadata: AcquisitionMetadata) -> None:
    bad = AcquisitionMetadata(examiner="", acquired_at=None, tool=" ", tool_version="",
                              method="", place="p" * 201)
    with pytest.raises(ValidationFailed) as exc:
        _ingest(session, store, world, clock, metadata=bad, data=b"c")
    assert set(_errors(exc)) == {"examiner", "acquired_at", "tool", "tool_version", "method",
                                 "place"}
    future = dataclasses.replace(metadata, acquired_at=clock.now() + timedelta(minutes=1))
    with pytest.raises(ValidationFailed) as exc:
        _ingest(session, store, world, clock, future, b"c")
    assert _errors(exc) == {"acquired_at": "Must not be in the future."}
    naive = dataclasses.replace(metadata, acquired_at=clock.now().replace(tzinfo=None))
    with pytest.raises(ValidationFailed) as exc:
        _ingest(session, store, world, clock, naive, b"c")
    assert list(_errors(exc)) == ["acquired_at"]


def test_not_visible_case_is_not_found_and_roles_are_checked(
        session: Session, store: EvidenceStore, world: World, clock: ManualClock,
        metadata: AcquisitionMetadata) -> None:
    with pytest.raises(NotFound, match="case not found"):
        _ingest(session, store, world, clock, metadata, b"c", user="it_outsider")
    with pytest.raises(NotFound):
        service.list_items(session=session, actor=world.actors["de_provider"],
                           case_reference=world.case_reference)
    item = _ingest(session, store, world, clock, metadata, b"c")
    with pytest.raises(NotFound, match="evidence item not found"):
        service.get_item(session=session, actor=world.actors["it_outsider"], item_id=item.id)
    with pytest.raises(NotFound):
        service.get_item(session=session, actor=world.actors["fr_prosecutor"], item_id="nope")
    auditor = world.actors["auditor"]  # sees every case, may not ingest
    with pytest.raises(Forbidden, match="oversight_auditor"):
        _ingest(session, store, world, clock, metadata, b"d", user="auditor")
    assert service.get_item(session=session, actor=auditor, item_id=item.id).id == item.id


def test_a_party_off_the_case_team_sees_only_its_own_evidence(
        session: Session, store: EvidenceStore, world: World, clock: ManualClock,
        metadata: AcquisitionMetadata) -> None:
    """The provider an order was sent to can see the case, and delivers evidence into it; it
    sees what it delivered, not what the case's team seized (need to know)."""
    from service.test_requests import sent_epoc  # an EPOC sent to de-atlas-hosting

    seized = _ingest(session, store, world, clock, metadata, b"seized by the team")
    sent_epoc(session, world, clock)
    delivered = _ingest(session, store, world, clock, metadata, b"produced by the provider",
                        user="de_provider", name="subscriber.csv")
    session.commit()
    provider, prosecutor = world.actors["de_provider"], world.actors["fr_prosecutor"]
    own = service.list_items(session=session, actor=provider,
                             case_reference=world.case_reference)
    assert [i.id for i in own] == [delivered.id]
    with pytest.raises(NotFound, match="evidence item not found"):
        service.get_item(session=session, actor=provider, item_id=seized.id)
    with pytest.raises(NotFound, match="evidence item not found"):
        service.record_custody(session=session, actor=provider, item_id=seized.id,
                               kind="transferred", place="Berlin", note="", corrects=None,
                               clock=clock)
    team = service.list_items(session=session, actor=prosecutor,
                              case_reference=world.case_reference)
    assert {i.id for i in team} == {seized.id, delivered.id}
    assert service.get_item(session=session, actor=provider, item_id=delivered.id)
