"""Merkle tree hashing, proofs and their verification, following RFC 9162 §2.1 (Certificate
Transparency 2.0, the same tree as RFC 6962).

- §2.1.1 Merkle Tree Hash: the hash of an empty list is SHA-256 of the empty string; a leaf is
  `SHA-256(0x00 ‖ data)`; an inner node is `SHA-256(0x01 ‖ left ‖ right)`, where the left subtree
  holds the largest power of two of leaves smaller than the list.
- §2.1.3 inclusion proofs (`inclusion_proof`, `verify_inclusion`) and §2.1.4 consistency proofs
  (`consistency_proof`, `verify_consistency`). The proof builders are reference implementations
  over an in-memory list of leaf hashes, written straight from the RFC's recursive definitions;
  the database log (`rogatory.ledger.store`) builds the same proofs from stored subtrees.
- The verifiers implement the algorithms of §2.1.3.2 and §2.1.4.2 step by step. They return
  None when the proof holds and raise `VerificationError` naming what failed; they never return
  a bool. Before running the algorithm they check the proof has exactly the number of hashes the
  sizes imply, so a truncated or padded proof is named as such.

Pure functions only: no I/O, no state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from rogatory.errors import VerificationError

HASH_SIZE = 32
"""Bytes in a SHA-256 digest: every leaf hash, node hash, proof hash and root."""

EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""MTH({}) — the root of the empty tree (RFC 9162 §2.1.1)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 ‖ d) (RFC 9162 §2.1.1)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node: SHA-256(0x01 ‖ left ‖ right) (RFC 9162 §2.1.1)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) for lo < hi, from leaf hashes."""
    if hi - lo == 1:
        return hashes[lo]
    k = _split(hi - lo)
    return node_hash(_mth(hashes, lo, lo + k), _mth(hashes, lo + k, hi))


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of a list of leaf hashes (RFC 9162 §2.1.1); the empty list hashes to
    `EMPTY_ROOT`."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return _mth(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]) (RFC 9162 §2.1.3.1): the audit path of leaf `index`, leaf to root.

    Reference implementation over the whole list; raises ValueError for an index outside it.
    """
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError(f"index {index} is outside a tree of {n} leaves")

    def path(m: int, lo: int, hi: int) -> list[bytes]:
        if hi - lo == 1:
            return []
        k = _split(hi - lo)
        if m < k:
            return [*path(m, lo, lo + k), _mth(leaf_hashes, lo + k, hi)]
        return [*path(m - k, lo + k, hi), _mth(leaf_hashes, lo, lo + k)]

    return path(index, 0, n)


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int) -> list[bytes]:
    """PROOF(m, D[n]) (RFC 9162 §2.1.4.1): proves the tree of the first `size1` leaves is a prefix
    of the tree of all of them. Empty when `size1` equals the list's length.

    Reference implementation over the whole list. RFC 9162 defines the proof for 0 < m < n only;
    `size1` 0 with a non-empty list, or beyond the list, raises ValueError.
    """
    n = len(leaf_hashes)
    if not 0 <= size1 <= n:
        raise ValueError(f"size1 {size1} is outside 0..{n}")
    if size1 == n:
        return []
    if size1 == 0:
        raise ValueError("no consistency proof exists from the empty tree (RFC 9162 needs 0 < m)")

    def subproof(m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if complete else [_mth(leaf_hashes, lo, hi)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, lo, lo + k, complete), _mth(leaf_hashes, lo + k, hi)]
        return [*subproof(m - k, lo + k, hi, False), _mth(leaf_hashes, lo, lo + k)]

    return subproof(size1, 0, n, True)


def _short(digest: bytes) -> str:
    """A hash as hex for messages: a SHA-256 digest abbreviated to its first 8 bytes (enough to
    tell two apart, short enough to read), anything of another length in full."""
    if not digest:
        return "(empty)"
    text = digest.hex()
    return text[:16] + "…" if len(digest) == HASH_SIZE else text


def _hashes(count: int) -> str:
    return "1 hash" if count == 1 else f"{count} hashes"


def _check_hash(what: str, digest: bytes) -> None:
    if len(digest) != HASH_SIZE:
        raise VerificationError(
            f"{what} has {len(digest)} bytes, expected {HASH_SIZE}", length=len(digest)
        )


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for i, digest in enumerate(proof):
        _check_hash(f"proof hash {i}", digest)


def _inclusion_length(index: int, size: int) -> int:
    """How many hashes the audit path of `index` in a tree of `size` has: the siblings below the
    level where the paths to `index` and to the last leaf part, plus one left sibling for every
    set bit of the index above it."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _consistency_length(size1: int, size2: int) -> int:
    """How many hashes the consistency proof from `size1` to `size2` has (0 < size1 < size2):
    the audit path of the largest complete subtree ending at `size1`, plus that subtree's own
    hash unless it is the whole first tree (size1 a power of two)."""
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    last = (size2 - 1) >> level
    inner = (index ^ last).bit_length()
    length = inner + (index >> inner).bit_count()
    return length if index == 0 else length + 1


def _mismatch(what: str, computed: bytes, expected: bytes) -> VerificationError:
    return VerificationError(
        f"computed {what} {_short(computed)} does not match expected {what} {_short(expected)}",
        computed=computed.hex(),
        expected=expected.hex(),
    )


def root_from_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that an audit path leads to from `leaf_hash` at `index` in a tree of `size`
    (RFC 9162 §2.1.3.2, steps 1–4). Raises VerificationError if the proof cannot be one."""
    if index < 0 or size < 0:
        raise VerificationError(f"index {index} and size {size} must not be negative")
    if index >= size:
        raise VerificationError(f"index {index} is beyond tree size {size}", index=index, size=size)
    _check_hash("leaf hash", leaf_hash)
    expected = _inclusion_length(index, size)
    if len(proof) != expected:
        raise VerificationError(
            f"proof has {_hashes(len(proof))}, expected {expected} "
            f"for index {index} in a tree of {size}",
            got=len(proof),
            expected=expected,
        )
    _check_proof_hashes(proof)
    # Step 2: fn is the leaf's index, sn the last index; step 3: r starts at the leaf hash.
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:  # step 4
        if sn == 0:  # 4a (unreachable once the length is checked; kept as the RFC has it)
            raise VerificationError(f"proof for index {index} in a tree of {size} is too long")
        if fn & 1 or fn == sn:  # 4b
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # 4c
        sn >>= 1
    if sn != 0:  # step 5, first half
        raise VerificationError(f"proof for index {index} in a tree of {size} is too short")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `leaf_hash` is the leaf at `index` of the tree of `size` leaves whose root is
    `root`, by the audit path `proof` (RFC 9162 §2.1.3.2). Raises VerificationError otherwise."""
    computed = root_from_inclusion(leaf_hash, index, size, proof)
    if computed != root:  # step 5, second half
        raise _mismatch("root", computed, root)


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of `size1` leaves with root `root1` is a prefix of the tree of `size2`
    leaves with root `root2`, by the consistency proof `proof` (RFC 9162 §2.1.4.2). Raises
    VerificationError otherwise.

    Equal sizes need an empty proof and equal roots (and, for size 0, the empty tree's root).
    A proof from the empty tree is refused: RFC 9162 defines consistency proofs for 0 < size1,
    and any tree trivially extends the empty one, so such a check would prove nothing.
    """
    if size1 < 0 or size2 < 0:
        raise VerificationError(f"sizes {size1} and {size2} must not be negative")
    if size1 > size2:
        raise VerificationError(
            f"size1 {size1} greater than size2 {size2}", size1=size1, size2=size2
        )
    if size1 == size2:
        if proof:
            raise VerificationError(
                f"proof has {_hashes(len(proof))}, expected 0 for equal sizes {size1}",
                got=len(proof),
                expected=0,
            )
        if root1 != root2:
            raise VerificationError(
                f"root1 {_short(root1)} and root2 {_short(root2)} differ "
                f"although both trees have size {size1}",
                root1=root1.hex(),
                root2=root2.hex(),
            )
        if size1 == 0 and root1 != EMPTY_ROOT:
            raise VerificationError(
                f"root {_short(root1)} of a tree of size 0 is not the empty tree's root "
                f"{_short(EMPTY_ROOT)}"
            )
        return
    if size1 == 0:
        raise VerificationError(
            f"size1 is 0: a consistency proof from the empty tree to size {size2} proves nothing"
        )
    # Now 0 < size1 < size2. Step 1: the proof must not be empty (the length check covers it).
    expected = _consistency_length(size1, size2)
    if len(proof) != expected:
        raise VerificationError(
            f"proof has {_hashes(len(proof))}, expected {expected} "
            f"from size {size1} to size {size2}",
            got=len(proof),
            expected=expected,
        )
    _check_proof_hashes(proof)
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # step 2: size1 is a power of two
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:  # 6a (unreachable once the length is checked)
            raise VerificationError(f"proof from size {size1} to size {size2} is too long")
        if fn & 1 or fn == sn:  # 6b
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # 6c
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise VerificationError(f"proof from size {size1} to size {size2} is too short")
    if fr != root1:
        raise _mismatch("root1", fr, root1)
    if sr != root2:
        raise _mismatch("root2", sr, root2)
