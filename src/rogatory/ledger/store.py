"""The ledger's append-only Merkle log in the database: appending leaves, the root of any past
size, and RFC 9162 §2.1.3 inclusion and §2.1.4 consistency proofs.

How it stays fast: every complete subtree — a node at level L and index i covering the leaves
[i·2^L, (i+1)·2^L) — is stored once, when its last leaf is appended (`ledger_nodes`, level 0
being the leaf hashes). Any subtree of an RFC 9162 tree is either such a node or, on the right
edge of a tree whose size is not a power of two, a run of at most log2(n) of them whose hashes
fold right to left into its hash. So a root needs popcount(size) stored nodes and a proof at most
2·log2(size); each is fetched in a single query and no leaf data is ever read.

Appending extends the right frontier (the complete subtrees the current size decomposes into)
like a binary counter; the frontier's popcount(size) nodes are read in one query, then leaves and
new nodes are written with two driver-level bulk inserts (executemany). A transaction may reserve
its indexes first and write the leaves later (`reserve`, `write`), e.g. to store each index in
the row the leaf records before the leaf's data is known.

Writers append one at a time: each first reserves its indexes with one `UPDATE ledger_head SET
size = size + n ... RETURNING size`, which locks the head row on PostgreSQL and takes the write
lock on SQLite (one writer per database) until the caller's transaction ends. Should two
writers ever compute the same indexes anyway, the primary keys of `ledger_leaves` and
`ledger_nodes` make the second fail rather than fork the log.

Functions take `*, session` and never commit: the caller's unit of work does.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Select,
    Table,
    and_,
    bindparam,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from rogatory.db import driver_execute, driver_sql
from rogatory.errors import FieldError, NotFound, ValidationFailed
from rogatory.ledger import merkle
from rogatory.ledger.models import KIND_LENGTH, LedgerHead, LedgerLeaf, LedgerNode

_HEAD = cast(Table, LedgerHead.__table__)
_LEAVES = cast(Table, LedgerLeaf.__table__)
_NODES = cast(Table, LedgerNode.__table__)
_HEAD_ID = 1

Key = tuple[int, int]
"""A stored node: (level, index)."""


# --- which stored subtrees a range, a root or a proof needs (pure) ------------------------------


def _blocks(lo: int, hi: int) -> list[Key]:
    """The complete subtrees that tile the leaves [lo, hi), largest (leftmost) first. For a
    subtree of an RFC 9162 tree, folding their hashes right to left gives its hash."""
    keys: list[Key] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        while lo & ((1 << level) - 1):
            level -= 1
        keys.append((level, lo >> level))
        lo += 1 << level
    return keys


def _inclusion_ranges(index: int, size: int, from_level: int = 0) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes form the audit path of `index` in a tree of `size`, leaf to
    root, skipping the levels below `from_level`.

    Below the level where the paths to `index` and to the last leaf part, every level has a
    sibling (only the topmost of them, a right sibling on the tree's right edge, can be
    incomplete); above it, only the levels where `index` is a right child have one (a complete
    left sibling)."""
    ranges: list[tuple[int, int]] = []
    inner = (index ^ (size - 1)).bit_length()
    for level in range(from_level, max(inner, index.bit_length())):
        if level < inner or (index >> level) & 1:
            lo = ((index >> level) ^ 1) << level
            ranges.append((lo, min(lo + (1 << level), size)))
    return ranges


def _consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes form the consistency proof from `size1` to `size2`
    (0 < size1 < size2): the largest complete subtree ending at `size1` (unless it is the whole
    first tree), then that subtree's audit path in the second tree."""
    level = (size1 & -size1).bit_length() - 1
    ranges = [] if size1 == 1 << level else [(size1 - (1 << level), size1)]
    return ranges + _inclusion_ranges(size1 - 1, size2, from_level=level)


def _fold(hashes: Sequence[bytes]) -> bytes:
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = merkle.node_hash(left, result)
    return result


# --- reading -----------------------------------------------------------------------------------


def size(*, session: Session) -> int:
    """How many leaves the log has."""
    current = session.execute(select(_HEAD.c.size).where(_HEAD.c.id == _HEAD_ID)).scalar()
    return int(current or 0)


def _fetch(connection: Connection, keys: Iterable[Key]) -> dict[Key, bytes]:
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    params: dict[str, int] = {}
    for n, (level, index) in enumerate(wanted):
        params[f"l{n}"] = level
        params[f"i{n}"] = index
    rows = driver_execute(connection, _fetch_statement(len(wanted)), params).rows
    return {(level, index): digest for level, index, digest in rows}


@functools.cache
def _fetch_statement(count: int) -> Select[int, int, bytes]:
    """SELECT the nodes of `count` (level, index) keys, bound as :l0, :i0, :l1, ...

    An OR of point lookups: SQLite and PostgreSQL both answer it with one primary-key probe per
    term (SQLite would scan the whole table for a row-value IN). Built once per count, since
    building a 40-term expression costs far more than running it."""
    level, index = _NODES.c.level, _NODES.c.index
    terms = (and_(level == bindparam(f"l{n}"), index == bindparam(f"i{n}")) for n in range(count))
    return select(level, index, _NODES.c.hash).where(or_(*terms))


def _hashes_of(session: Session, ranges: Sequence[tuple[int, int]], tree_size: int) -> list[bytes]:
    """The hash of each leaf range, from one query of stored nodes. The last leaf of the tree is
    asked for as well: a tree larger than the log is refused, not answered from a prefix."""
    tiles = [_blocks(lo, hi) for lo, hi in ranges]
    last: Key = (0, tree_size - 1)
    found = _fetch(session.connection(), [last, *(key for keys in tiles for key in keys)])
    if last not in found:
        _beyond(session, tree_size)
    try:
        return [_fold([found[key] for key in keys]) for keys in tiles]
    except KeyError as missing:  # a node that must exist when its last leaf does
        raise RuntimeError(f"ledger node {missing} is missing: the log is damaged") from None


def _beyond(session: Session, tree_size: int) -> None:
    current = size(session=session)
    raise NotFound(
        f"tree size {tree_size} is beyond the log's size {current}",
        size=tree_size,
        log_size=current,
    )


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field, message)])


def root_at(*, session: Session, size: int) -> bytes:
    """The root of the log when it had `size` leaves (RFC 9162 §2.1.1 MTH of its first `size`
    leaves). NotFound if the log is smaller."""
    if size < 0:
        raise _invalid("size", f"size {size} is negative")
    if size == 0:
        return merkle.EMPTY_ROOT
    return _hashes_of(session, [(0, size)], size)[0]


def inclusion_proof(*, session: Session, index: int, size: int) -> list[bytes]:
    """The audit path of leaf `index` in the tree of the first `size` leaves (RFC 9162
    §2.1.3.1), leaf to root."""
    if not 0 <= index < size:
        raise _invalid("index", f"index {index} is outside a tree of size {size}")
    return _hashes_of(session, _inclusion_ranges(index, size), size)


def consistency_proof(*, session: Session, size1: int, size2: int) -> list[bytes]:
    """The proof that the tree of `size1` leaves is a prefix of the tree of `size2` leaves
    (RFC 9162 §2.1.4.1); empty for equal sizes. RFC 9162 defines no proof from the empty tree."""
    if size1 > size2:
        raise _invalid("size1", f"size1 {size1} greater than size2 {size2}")
    if size1 < 0:
        raise _invalid("size1", f"size1 {size1} is negative")
    if size1 == size2:
        if size2 and not _fetch(session.connection(), [(0, size2 - 1)]):
            _beyond(session, size2)
        return []
    if size1 == 0:
        raise _invalid("size1", "no consistency proof exists from the empty tree (size1 0)")
    return _hashes_of(session, _consistency_ranges(size1, size2), size2)


# --- appending ---------------------------------------------------------------------------------


_RESERVE = (update(_HEAD).where(_HEAD.c.id == _HEAD_ID)
            .values(size=_HEAD.c.size + bindparam("count")).returning(_HEAD.c.size))


def reserve(*, session: Session, count: int) -> int:
    """Claim the next `count` leaf indexes for this transaction; returns the first.

    One statement, `UPDATE ledger_head SET size = size + count ... RETURNING size`, both takes
    the lock (the head row's lock on PostgreSQL, the database's write lock on SQLite, held until
    the transaction ends) and moves the size on; the caller must then `write` exactly those
    leaves in the same transaction. The head row is created on first use."""
    if count < 1:
        raise ValueError(f"cannot reserve {count} leaves")
    connection = session.connection()
    end = driver_execute(connection, _RESERVE, {"count": count}).scalar()
    if end is None:
        row = {"id": _HEAD_ID, "size": 0}
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            session.execute(postgresql.insert(_HEAD).values(row).on_conflict_do_nothing())
        elif dialect == "sqlite":
            session.execute(sqlite.insert(_HEAD).values(row).on_conflict_do_nothing())
        else:
            session.execute(insert(_HEAD).values(row))
        end = driver_execute(connection, _RESERVE, {"count": count}).scalar_one()
    return int(end) - count


def _check_items(items: Sequence[tuple[bytes, str]], at: datetime) -> None:
    if at.tzinfo is None:
        raise ValueError("naive datetimes are refused; use an aware UTC datetime")
    for _, kind in items:
        if not kind or len(kind) > KIND_LENGTH:
            raise ValueError(f"leaf kind {kind!r} must have 1 to {KIND_LENGTH} characters")


def write(*, session: Session, start: int, items: Sequence[tuple[bytes, str]],
          at: datetime) -> None:
    """Write `(data, kind)` items as the leaves `start`, `start + 1`, ... that `reserve` gave
    this transaction, with every subtree they complete: one bulk insert each for leaves and
    nodes."""
    _check_items(items, at)
    if not items:
        return
    connection = session.connection()
    frontier = _frontier(connection, start)
    leaf_hash, node_hash = merkle.leaf_hash, merkle.node_hash
    created_at = _bind_value(connection, _LEAVES.c.created_at, at)  # same for the whole batch
    leaves: list[tuple[Any, ...]] = []
    nodes: list[tuple[Any, ...]] = []
    for index, (data, kind) in enumerate(items, start=start):
        digest = leaf_hash(data)
        leaves.append((index, digest, data, kind, created_at))
        nodes.append((0, index, digest))
        # Binary increment: every complete subtree ending at this leaf is now complete.
        level, position = 0, index
        while position & 1:
            digest = node_hash(frontier.pop(), digest)
            level += 1
            position >>= 1
            nodes.append((level, position, digest))
        frontier.append(digest)
    _bulk_insert(connection, _LEAVES, _LEAF_COLUMNS, leaves)
    _bulk_insert(connection, _NODES, _NODE_COLUMNS, nodes)


def append_many(*, session: Session, items: Sequence[tuple[bytes, str]], at: datetime) -> list[int]:
    """Append `(data, kind)` items in order at time `at`; returns their indexes."""
    _check_items(items, at)
    if not items:
        return []
    start = reserve(session=session, count=len(items))
    write(session=session, start=start, items=items, at=at)
    return list(range(start, start + len(items)))


_LEAF_COLUMNS = ("index", "leaf_hash", "data", "kind", "created_at")
_NODE_COLUMNS = ("level", "index", "hash")


def _bind_value(connection: Connection, column: ColumnElement[Any], value: Any) -> Any:
    """`value` as the driver takes it for `column` (e.g. UTCDateTime's naive UTC on SQLite)."""
    processor = column.type.bind_processor(connection.dialect)
    return value if processor is None else processor(value)


def _bulk_insert(
    connection: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """INSERT `rows` with one driver-level executemany: the statement is compiled by SQLAlchemy
    for the connection's dialect, the rows go to the driver as they are (ints, bytes, str and
    already bound values), skipping SQLAlchemy's per-row parameter processing, which costs
    more than the insert itself at tens of thousands of rows a second."""
    sql, positional = _compiled_insert(connection.dialect, table, columns)
    driver_sql(connection, sql, rows if positional else
               [dict(zip(columns, row, strict=True)) for row in rows], many=True)


@functools.cache
def _compiled_insert(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> tuple[str, bool]:
    compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
    if compiled.positional:
        order = [name for name in compiled.positiontup or ()]
        if tuple(order) != columns:
            raise RuntimeError(f"unexpected parameter order {order} for {table.name}")
    return str(compiled), compiled.positional


def append(*, session: Session, data: bytes, kind: str, at: datetime) -> int:
    """Append one leaf; returns its index."""
    return append_many(session=session, items=[(data, kind)], at=at)[0]


def _frontier(connection: Connection, size: int) -> list[bytes]:
    """The hashes of the complete subtrees the first `size` leaves decompose into, largest
    first: the left siblings every later append may combine with."""
    keys = _blocks(0, size)
    found = _fetch(connection, keys)
    try:
        return [found[key] for key in keys]
    except KeyError as missing:
        raise RuntimeError(f"ledger node {missing} is missing: the log is damaged") from None
