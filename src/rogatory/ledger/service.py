"""Ledger service: the node's signed checkpoints, inclusion proofs for one leaf, and the full
audit that recomputes every stored hash from the leaves' data (RFC 9162 §2.1, C2SP
tlog-checkpoint)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from rogatory.errors import VerificationError
from rogatory.ledger import checkpoint as cp
from rogatory.ledger import merkle, store
from rogatory.ledger.models import LedgerLeaf, LedgerNode


def origin(node_name: str) -> str:
    """The checkpoint origin line of this node's ledger."""
    return f"{node_name}/ledger"


def signed_checkpoint(*, session: Session, node_name: str, key: Ed25519PrivateKey) -> str:
    """A signed note of the ledger's current size and root."""
    size = store.size(session=session)
    body = cp.Checkpoint(origin(node_name), size, store.root_at(session=session, size=size))
    return cp.sign_checkpoint(body, node_name, key)


def verifier_key(*, node_name: str, key: Ed25519PrivateKey) -> str:
    return cp.verifier_key(node_name, key.public_key())


@dataclass(frozen=True)
class InclusionProof:
    index: int
    size: int
    leaf_hash: bytes
    proof: list[bytes]
    root: bytes

    def to_dict(self) -> dict[str, object]:
        b64 = base64.b64encode
        return {"index": self.index, "size": self.size,
                "leaf_hash": b64(self.leaf_hash).decode(),
                "proof": [b64(h).decode() for h in self.proof], "root": b64(self.root).decode()}


def prove(*, session: Session, index: int, size: int | None = None) -> InclusionProof:
    """The inclusion proof of leaf `index` in the tree of `size` (default: the whole log)."""
    tree_size = store.size(session=session) if size is None else size
    proof = store.inclusion_proof(session=session, index=index, size=tree_size)
    leaf = session.get(LedgerLeaf, index)
    assert leaf is not None  # inclusion_proof refused an index beyond the log
    result = InclusionProof(index, tree_size, bytes(leaf.leaf_hash), proof,
                            store.root_at(session=session, size=tree_size))
    merkle.verify_inclusion(result.leaf_hash, index, tree_size, proof, result.root)
    return result


def audit(*, session: Session, batch: int = 10_000) -> int:
    """Recompute every leaf hash from its data and the root from every leaf hash; raise
    VerificationError naming the first leaf or the root that differs. Returns the size."""
    size = store.size(session=session)
    hashes: list[bytes] = []
    last = -1
    while True:
        rows = session.execute(
            select(LedgerLeaf.index, LedgerLeaf.data, LedgerLeaf.leaf_hash)
            .where(LedgerLeaf.index > last).order_by(LedgerLeaf.index).limit(batch)
        ).all()
        if not rows:
            break
        for index, data, stored in rows:
            if index != len(hashes):
                raise VerificationError(f"leaf {len(hashes)} is missing from the ledger")
            computed = merkle.leaf_hash(bytes(data))
            if computed != bytes(stored):
                raise VerificationError(
                    f"leaf {index}: stored hash {bytes(stored).hex()} but its data hash to "
                    f"{computed.hex()}")
            hashes.append(computed)
        last = rows[-1][0]
    if len(hashes) != size:
        raise VerificationError(f"the ledger head says {size} leaves but {len(hashes)} exist")
    _audit_nodes(session, hashes, batch)
    stored_root = store.root_at(session=session, size=size)
    computed_root = merkle.root(hashes)
    if stored_root != computed_root:
        raise VerificationError(
            f"root of {size} leaves: stored nodes give {stored_root.hex()}, the leaves give "
            f"{computed_root.hex()}")
    return size


def _audit_nodes(session: Session, leaf_hashes: list[bytes], batch: int) -> None:
    """Every stored complete-subtree hash, level by level, against the one the leaves give."""
    level, expected = 0, leaf_hashes
    while expected:
        last = -1
        while True:
            rows = session.execute(
                select(LedgerNode.index, LedgerNode.hash)
                .where(LedgerNode.level == level, LedgerNode.index > last)
                .order_by(LedgerNode.index).limit(batch)
            ).all()
            if not rows:
                break
            for index, stored in rows:
                if index >= len(expected) or bytes(stored) != expected[index]:
                    raise VerificationError(
                        f"stored node at level {level}, index {index} does not match the "
                        "leaves it covers")
            last = rows[-1][0]
        if last + 1 != len(expected):
            raise VerificationError(f"level {level} has {last + 1} stored nodes, expected "
                                    f"{len(expected)}")
        expected = [merkle.node_hash(expected[i], expected[i + 1])
                    for i in range(0, len(expected) - 1, 2)]
        level += 1


def check_checkpoint(*, session: Session, note: str, node_name: str,
                     key: Ed25519PrivateKey) -> cp.Checkpoint:
    """Verify a checkpoint this node signed earlier, and that today's log extends it."""
    old = cp.open_checkpoint(note, node_name, key.public_key())
    size = store.size(session=session)
    if old.size > size:
        raise VerificationError(f"the checkpoint has {old.size} leaves; the log only {size}")
    proof = store.consistency_proof(session=session, size1=old.size, size2=size) \
        if 0 < old.size < size else []
    merkle.verify_consistency(old.size, size, proof, old.root_hash,
                              store.root_at(session=session, size=size))
    return old
