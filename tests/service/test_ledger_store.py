"""The database Merkle log (`rogatory.ledger.store`) against the reference implementation in
`rogatory.ledger.merkle`: roots and proofs at every size up to 200, built leaf by leaf and in
batches; errors; transactions; concurrent writers.

Runs on an in-memory SQLite database and on PostgreSQL (`ROGATORY_TEST_POSTGRES_URL`, default the
local `test` database, in a schema of its own), with just the ledger tables created."""

from __future__ import annotations

import functools
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.orm import Session

from rogatory.config import Settings
from rogatory.db import Base, make_engine
from rogatory.errors import NotFound, ValidationFailed
from rogatory.ledger import merkle, store
from rogatory.ledger.models import LEDGER_TABLES, LedgerLeaf, LedgerNode

pytestmark = pytest.mark.pg

PG_URL = os.environ.get(
    "ROGATORY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
MAX = 200


def data(i: int) -> bytes:
    return b"custody event %d" % i


LEAVES = [merkle.leaf_hash(data(i)) for i in range(MAX)]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def ledger_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = create_engine("sqlite://")
        Base.metadata.create_all(engine, tables=list(LEDGER_TABLES))
        yield engine
        engine.dispose()
        return
    schema = f"rgt_ledger_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    Base.metadata.create_all(engine, tables=list(LEDGER_TABLES))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(LEDGER_TABLES):
            connection.execute(table.delete())


@pytest.fixture
def ledger_session(ledger_engine: Engine) -> Iterator[Session]:
    _empty(ledger_engine)
    with Session(ledger_engine) as session:
        yield session
        session.rollback()
    _empty(ledger_engine)


def _sample(size: int) -> list[int]:
    """Every index of a small tree; in a larger one the edges, powers of two and their
    neighbours, and a spread in between."""
    if size <= 40:
        return list(range(size))
    picks = {0, 1, size // 2, size - 2, size - 1, *range(3, size, 17)}
    power = 1
    while power < size:
        picks.update({power - 1, power, power + 1})
        power *= 2
    return sorted(i for i in picks if 0 <= i < size)


# The reference answers, computed once for both engines and every test.
@functools.cache
def _root(size: int) -> bytes:
    return merkle.root(LEAVES[:size])


@functools.cache
def _inclusion(index: int, size: int) -> list[bytes]:
    return merkle.inclusion_proof(LEAVES[:size], index)


@functools.cache
def _consistency(size1: int, size2: int) -> list[bytes]:
    return merkle.consistency_proof(LEAVES[:size2], size1)


def _check_size(session: Session, size: int, *, thorough: bool) -> None:
    """At `size`, the store's root and proofs equal the reference ones and verify."""
    root = _root(size)
    assert store.root_at(session=session, size=size) == root, f"root at {size}"
    indexes = _sample(size) if thorough else sorted({0, size // 2, size - 1})
    for index in indexes:
        proof = store.inclusion_proof(session=session, index=index, size=size)
        assert proof == _inclusion(index, size), f"inclusion {index} in {size}"
        merkle.verify_inclusion(LEAVES[index], index, size, proof, root)
    for size1 in indexes:
        size1 += 1
        proof = store.consistency_proof(session=session, size1=size1, size2=size)
        assert proof == _consistency(size1, size), f"consistency {size1}→{size}"
        merkle.verify_consistency(size1, size, proof, _root(size1), root)


def _nodes(session: Session) -> set[tuple[int, int, bytes]]:
    rows = session.execute(select(LedgerNode.level, LedgerNode.index, LedgerNode.hash))
    return {(level, index, digest) for level, index, digest in rows}


def test_empty_log(ledger_session: Session) -> None:
    assert store.size(session=ledger_session) == 0
    assert store.root_at(session=ledger_session, size=0) == merkle.EMPTY_ROOT
    assert store.consistency_proof(session=ledger_session, size1=0, size2=0) == []
    assert store.append_many(session=ledger_session, items=[], at=AT) == []


def test_leaf_by_leaf_every_size_matches_the_reference(ledger_session: Session) -> None:
    for i in range(MAX):
        assert store.append(session=ledger_session, data=data(i), kind="custody", at=AT) == i
        assert store.size(session=ledger_session) == i + 1
        _check_size(ledger_session, i + 1, thorough=False)
    for size in range(1, MAX + 1):
        _check_size(ledger_session, size, thorough=True)


BATCHES = [1, 2, 3, 5, 8, 13, 21, 34, 55, 58]  # 200 leaves


def test_batches_match_the_reference_and_the_leaf_by_leaf_log(
    ledger_engine: Engine, ledger_session: Session
) -> None:
    assert sum(BATCHES) == MAX
    with Session(ledger_engine) as one_by_one:
        for i in range(MAX):
            store.append(session=one_by_one, data=data(i), kind="custody", at=AT)
        expected_nodes = _nodes(one_by_one)
        one_by_one.rollback()

    start = 0
    for count in BATCHES:
        items = [(data(i), "custody") for i in range(start, start + count)]
        indexes = store.append_many(session=ledger_session, items=items, at=AT)
        assert indexes == list(range(start, start + count))
        start += count
        for size in range(1, start + 1):
            _check_size(ledger_session, size, thorough=size > start - count)
    assert _nodes(ledger_session) == expected_nodes
    # Every complete subtree is stored, nothing else: 2n - popcount(n) nodes.
    assert len(expected_nodes) == 2 * MAX - MAX.bit_count()


def test_leaves_keep_their_data_kind_hash_and_time(ledger_session: Session) -> None:
    store.append_many(
        session=ledger_session,
        items=[(b"sealed", "custody.sealed"), (b"", "custody.empty")],
        at=AT + timedelta(microseconds=7),
    )
    ledger_session.commit()
    leaves = ledger_session.scalars(select(LedgerLeaf).order_by(LedgerLeaf.index)).all()
    assert [(leaf.index, leaf.data, leaf.kind) for leaf in leaves] == [
        (0, b"sealed", "custody.sealed"),
        (1, b"", "custody.empty"),
    ]
    assert [leaf.leaf_hash for leaf in leaves] == [
        merkle.leaf_hash(b"sealed"),
        merkle.leaf_hash(b""),
    ]
    assert leaves[0].created_at == AT + timedelta(microseconds=7)
    assert leaves[0].created_at.tzinfo is not None


def test_the_store_never_commits(ledger_engine: Engine, ledger_session: Session) -> None:
    store.append_many(session=ledger_session, items=[(data(i), "k") for i in range(5)], at=AT)
    ledger_session.rollback()
    assert store.size(session=ledger_session) == 0
    with ledger_engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(LedgerNode)).scalar() == 0


def test_sizes_beyond_the_log_are_not_found(ledger_session: Session) -> None:
    store.append_many(session=ledger_session, items=[(data(i), "k") for i in range(5)], at=AT)
    with pytest.raises(NotFound, match=r"^tree size 6 is beyond the log's size 5$"):
        store.root_at(session=ledger_session, size=6)
    with pytest.raises(NotFound, match=r"^tree size 6 is beyond the log's size 5$"):
        store.inclusion_proof(session=ledger_session, index=5, size=6)
    with pytest.raises(NotFound, match=r"^tree size 8 is beyond the log's size 5$"):
        store.inclusion_proof(session=ledger_session, index=0, size=8)
    with pytest.raises(NotFound, match=r"^tree size 9 is beyond the log's size 5$"):
        store.consistency_proof(session=ledger_session, size1=2, size2=9)
    with pytest.raises(NotFound, match=r"^tree size 6 is beyond the log's size 5$"):
        store.consistency_proof(session=ledger_session, size1=6, size2=6)


def test_impossible_arguments_are_named(ledger_session: Session) -> None:
    store.append_many(session=ledger_session, items=[(data(i), "k") for i in range(5)], at=AT)
    cases: list[tuple[Callable[[], object], str, str]] = [
        (
            lambda: store.inclusion_proof(session=ledger_session, index=5, size=5),
            "index",
            "index 5 is outside a tree of size 5",
        ),
        (
            lambda: store.inclusion_proof(session=ledger_session, index=-1, size=5),
            "index",
            "index -1 is outside a tree of size 5",
        ),
        (
            lambda: store.consistency_proof(session=ledger_session, size1=4, size2=2),
            "size1",
            "size1 4 greater than size2 2",
        ),
        (
            lambda: store.consistency_proof(session=ledger_session, size1=0, size2=3),
            "size1",
            "no consistency proof exists from the empty tree (size1 0)",
        ),
        (lambda: store.root_at(session=ledger_session, size=-1), "size", "size -1 is negative"),
    ]
    for call, field, message in cases:
        with pytest.raises(ValidationFailed) as caught:
            call()
        [error] = caught.value.errors
        assert (error.field, error.message) == (field, message)


def test_append_refuses_naive_times_and_bad_kinds(ledger_session: Session) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.append(session=ledger_session, data=b"x", kind="k", at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="kind"):
        store.append(session=ledger_session, data=b"x", kind="", at=AT)
    with pytest.raises(ValueError, match="kind"):
        store.append(session=ledger_session, data=b"x", kind="k" * 65, at=AT)
    assert store.size(session=ledger_session) == 0


def test_proofs_never_read_leaf_data(ledger_engine: Engine, ledger_session: Session) -> None:
    """Roots and proofs come from stored subtrees in one query each, never from the leaves."""
    store.append_many(session=ledger_session, items=[(data(i), "k") for i in range(MAX)], at=AT)
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    event.listen(ledger_engine, "before_cursor_execute", record)
    try:
        store.root_at(session=ledger_session, size=199)
        store.inclusion_proof(session=ledger_session, index=77, size=199)
        store.consistency_proof(session=ledger_session, size1=77, size2=199)
    finally:
        event.remove(ledger_engine, "before_cursor_execute", record)
    assert len(statements) == 3
    assert all("ledger_leaves" not in statement for statement in statements)


# --- concurrent writers -----------------------------------------------------------------------


@pytest.fixture
def writer_engine(ledger_engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """An engine whose connections see the same database: PostgreSQL's, or a SQLite file
    configured as the node configures it (WAL, busy timeout)."""
    if ledger_engine.dialect.name == "postgresql":
        _empty(ledger_engine)
        yield ledger_engine
        _empty(ledger_engine)
        return
    engine = make_engine(Settings(data_dir=tmp_path, demo=True))
    Base.metadata.create_all(engine, tables=list(LEDGER_TABLES))
    yield engine
    engine.dispose()


def test_concurrent_writers_append_in_turn(writer_engine: Engine) -> None:
    writers, rounds, batch = 4, 10, 3
    errors: list[BaseException] = []
    appended: list[list[int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(writers)

    def writer(number: int) -> None:
        try:
            barrier.wait()
            for round_ in range(rounds):
                items = [(b"w%d r%d i%d" % (number, round_, i), "k") for i in range(batch)]
                with Session(writer_engine) as session:
                    indexes = store.append_many(session=session, items=items, at=AT)
                    session.commit()
                with lock:
                    appended.append(indexes)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    total = writers * rounds * batch
    # Every batch got consecutive indexes, and together they are 0..total-1 exactly once.
    assert all(indexes == list(range(indexes[0], indexes[0] + batch)) for indexes in appended)
    assert sorted(i for indexes in appended for i in indexes) == list(range(total))
    with Session(writer_engine) as session:
        assert store.size(session=session) == total
        leaves = session.scalars(select(LedgerLeaf.leaf_hash).order_by(LedgerLeaf.index)).all()
        assert store.root_at(session=session, size=total) == merkle.root(list(leaves))
        for size in (1, 7, 64, total - 1, total):
            assert store.root_at(session=session, size=size) == merkle.root(list(leaves[:size]))
