"""The ledger service on SQLite and PostgreSQL: signed checkpoints, proofs, and the audit that
finds any edited leaf or node."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update
from sqlalchemy.orm import Session

from rogatory.clock import ManualClock
from rogatory.errors import VerificationError
from rogatory.ledger import checkpoint as cp
from rogatory.ledger import merkle, service, store
from rogatory.ledger.models import LedgerLeaf, LedgerNode

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
NODE = "test.node"


def fill(session: Session, clock: ManualClock, n: int) -> None:
    store.append_many(session=session, items=[(f"event {i}".encode(), "test") for i in range(n)],
                      at=clock.now())
    session.commit()


def test_checkpoint_proof_and_audit(session: Session, clock: ManualClock) -> None:
    fill(session, clock, 13)
    note = service.signed_checkpoint(session=session, node_name=NODE, key=KEY)
    opened = cp.open_checkpoint(note, NODE, KEY.public_key())
    assert opened.origin == "test.node/ledger" and opened.size == 13
    proof = service.prove(session=session, index=5)
    merkle.verify_inclusion(merkle.leaf_hash(b"event 5"), 5, 13, proof.proof, opened.root_hash)
    assert service.audit(session=session, batch=4) == 13
    fill(session, clock, 7)
    assert service.check_checkpoint(session=session, note=note, node_name=NODE, key=KEY).size == 13


def test_audit_names_an_edited_leaf(session: Session, clock: ManualClock) -> None:
    fill(session, clock, 9)
    session.execute(update(LedgerLeaf).where(LedgerLeaf.index == 4).values(data=b"event X"))
    session.commit()
    with pytest.raises(VerificationError, match="leaf 4: stored hash"):
        service.audit(session=session)


def test_audit_names_an_edited_node(session: Session, clock: ManualClock) -> None:
    fill(session, clock, 8)
    session.execute(update(LedgerNode).where(LedgerNode.level == 2, LedgerNode.index == 1)
                    .values(hash=bytes(32)))
    session.commit()
    with pytest.raises(VerificationError, match="stored node at level 2, index 1"):
        service.audit(session=session)


def test_forged_checkpoint_is_refused(session: Session, clock: ManualClock) -> None:
    fill(session, clock, 3)
    note = service.signed_checkpoint(session=session, node_name=NODE, key=KEY)
    forged = note.replace("\n3\n", "\n2\n")
    with pytest.raises(VerificationError):
        service.check_checkpoint(session=session, note=forged, node_name=NODE, key=KEY)
    other = Ed25519PrivateKey.generate()
    with pytest.raises(VerificationError):
        service.check_checkpoint(session=session, note=note, node_name=NODE, key=other)
