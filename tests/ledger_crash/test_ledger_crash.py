"""Crash tests of the ledger (issue 3): a driver subprocess appends leaves in a loop — single
`store.append` transactions and `store.append_many` batches of 50 — printing an acknowledgement
only after each commit has returned, and is killed with SIGKILL at a random point, sometimes
between transactions and sometimes in the middle of one. Afterwards the log verifies end to end
(`service.audit`), every acknowledged leaf is there with exactly the acknowledged data, at most
the one unacknowledged transaction in flight may have landed as well, the log extends the one
from before the crash, and appending again works — by a restarted driver, which is killed once
more, and by the test itself — without a gap or a fork. On SQLite and on PostgreSQL, each test
in a database (or schema) of its own."""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy import select as sql_select
from sqlalchemy.orm import Session

from conftest import PG_URL
from rogatory.bootstrap import migrate
from rogatory.config import Settings
from rogatory.db import make_engine
from rogatory.ledger import merkle, service, store
from rogatory.ledger.models import LedgerLeaf

pytestmark = pytest.mark.pg

DRIVER = Path(__file__).with_name("ledger_driver.py")
BATCH = 50  # the driver's batch size: at most this many leaves may land unacknowledged
ROUNDS = 2  # the driver is started, killed, restarted and killed again
SEEDS = [11, 23, 37, 59]
READ_TIMEOUT = 20.0


@pytest.fixture(params=["sqlite", "postgresql"])
def node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """A freshly migrated, empty node database: a new SQLite file, or a new PostgreSQL schema
    that is dropped afterwards."""
    data_dir = tmp_path / "node"
    if request.param == "sqlite":
        cfg = Settings(data_dir=data_dir, secret_key="test-secret")
        admin = None
    else:
        schema = f"rgt_ledger_crash_{os.getpid()}_{secrets.token_hex(3)}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        cfg = Settings(data_dir=data_dir, database_url=PG_URL, database_schema=schema,
                       secret_key="test-secret")
    engine = make_engine(cfg)
    migrate(engine)
    engine.dispose()
    yield cfg
    if admin is not None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{cfg.database_schema}" CASCADE'))
        admin.dispose()


@dataclass(frozen=True)
class Ack:
    first: int
    count: int
    digest: str


def _ack_digest(data: Sequence[bytes]) -> str:
    """The driver's acknowledgement digest: SHA-256 of each datum, length-prefixed, in order."""
    digest = hashlib.sha256()
    for datum in data:
        digest.update(len(datum).to_bytes(8, "big") + datum)
    return digest.hexdigest()


class Driver:
    """The driver subprocess and the complete lines of its stdout."""

    def __init__(self, cfg: Settings, cwd: Path, seed: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROGATORY_")}
        env.update({"ROGATORY_DATA_DIR": str(cfg.data_dir), "ROGATORY_SECRET_KEY": "test-secret",
                    "DRIVER_SEED": str(seed), "PYTHONUNBUFFERED": "1"})
        if cfg.database_url:
            env["ROGATORY_DATABASE_URL"] = cfg.database_url
        if cfg.database_schema:
            env["ROGATORY_DATABASE_SCHEMA"] = cfg.database_schema
        self.stderr_path = cwd / f"driver-{seed}.stderr"
        with self.stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen([sys.executable, str(DRIVER)], env=env, cwd=cwd,
                                         stdout=subprocess.PIPE, stderr=stderr, bufsize=0)
        assert self.proc.stdout is not None
        self.fd = self.proc.stdout.fileno()
        self.pending = b""
        self.lines: list[str] = []
        self.read = 0  # lines handed out by next_line

    def _fill(self, deadline: float | None) -> bool:
        """Read what is there (waiting until `deadline`, or for EOF if None); False at EOF."""
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            raise AssertionError(f"the driver printed nothing for {READ_TIMEOUT} s; "
                                 f"stderr: {self.stderr()}")
        chunk = os.read(self.fd, 65536)
        if not chunk:
            return False
        *complete, self.pending = (self.pending + chunk).split(b"\n")
        self.lines.extend(line.decode() for line in complete)
        return True

    def next_line(self) -> str:
        deadline = time.monotonic() + READ_TIMEOUT
        while self.read >= len(self.lines):
            if not self._fill(deadline):
                raise AssertionError(f"the driver ended early (exit {self.proc.wait()}); "
                                     f"stderr: {self.stderr()}")
        self.read += 1
        return self.lines[self.read - 1]

    def kill(self) -> None:
        """SIGKILL, reap, and collect every line it printed before dying. A trailing partial
        line (none is expected: each line is one small write) is not an acknowledgement."""
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(timeout=10) == -signal.SIGKILL, self.stderr()
        while self._fill(None):
            pass
        assert self.proc.stdout is not None
        self.proc.stdout.close()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-2000:]

    def acks(self) -> list[Ack]:
        acks = []
        for line in self.lines[1:]:
            word, first, count, digest = line.split()
            assert word == "ACK", line
            acks.append(Ack(int(first), int(count), digest))
        return acks


def _crash_round(cfg: Settings, cwd: Path, seed: int, rng: random.Random) -> tuple[int, list[Ack]]:
    """Start the driver, let it acknowledge a random number of transactions, wait a random short
    while (so the kill often lands inside a transaction) and kill it. Returns the size the driver
    started from and every acknowledgement it printed."""
    wanted, delay = rng.randint(1, 30), rng.choice([0.0, rng.uniform(0.0, 0.03)])
    driver = Driver(cfg, cwd, seed)
    try:
        word, start = driver.next_line().split()
        assert word == "READY"
        for _ in range(wanted):
            driver.next_line()
        time.sleep(delay)
    finally:
        if driver.proc.returncode is None:
            driver.kill()
    acks = driver.acks()
    assert len(acks) >= wanted, (seed, wanted, delay)
    return int(start), acks


def _verify(cfg: Settings, start: int, acks: list[Ack], before: tuple[int, bytes]) -> int:
    """The log after a crash: it verifies, extends the log of `before` (size, root), and holds
    every acknowledged leaf with its acknowledged data. Returns its size."""
    old_size, old_root = before
    assert start >= old_size, "the log shrank across a crash"
    expected = start
    for ack in acks:  # one writer: acknowledgements follow each other without a gap
        assert ack.first == expected, (ack, expected)
        assert ack.count in (1, BATCH), ack
        expected += ack.count
    acknowledged = expected
    engine = make_engine(cfg)
    try:
        with Session(engine) as session:
            size = service.audit(session=session)
            assert size >= acknowledged, f"acknowledged {acknowledged} leaves, the log has {size}"
            assert size - acknowledged <= BATCH, "more than the one in-flight transaction landed"
            rows = session.execute(
                sql_select(LedgerLeaf.index, LedgerLeaf.data)
                .where(LedgerLeaf.index >= start, LedgerLeaf.index < acknowledged)
                .order_by(LedgerLeaf.index)).all()
            assert [index for index, _ in rows] == list(range(start, acknowledged))
            data = [bytes(datum) for _, datum in rows]
            for ack in acks:
                lo = ack.first - start
                assert _ack_digest(data[lo:lo + ack.count]) == ack.digest, ack
            # No fork: the earlier log is a prefix of this one, with the same root.
            assert store.root_at(session=session, size=old_size) == old_root
            if 0 < old_size < size:
                proof = store.consistency_proof(session=session, size1=old_size, size2=size)
                merkle.verify_consistency(old_size, size, proof, old_root,
                                          store.root_at(session=session, size=size))
    finally:
        engine.dispose()
    return size


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_9_during_ledger_appends(node: Settings, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    before = (0, merkle.EMPTY_ROOT)
    for round_ in range(ROUNDS):
        start, acks = _crash_round(node, tmp_path, seed * 100 + round_, rng)
        size = _verify(node, start, acks, before)
        engine = make_engine(node)
        with Session(engine) as session:
            before = (size, store.root_at(session=session, size=size))
        engine.dispose()

    # Appending in the test process after the crashes: the log continues at its end.
    size, root = before
    engine = make_engine(node)
    try:
        at = datetime.now(UTC)
        with Session(engine) as session:
            assert store.append(session=session, data=b"after the crash", kind="crash.after",
                                at=at) == size
            assert store.append_many(session=session, at=at,
                                     items=[(b"batch %d" % n, "crash.after") for n in range(7)]
                                     ) == list(range(size + 1, size + 8))
            session.commit()
        with Session(engine) as session:
            assert service.audit(session=session) == size + 8
            assert store.root_at(session=session, size=size) == root
            proof = store.consistency_proof(session=session, size1=size, size2=size + 8)
            merkle.verify_consistency(size, size + 8, proof, root,
                                      store.root_at(session=session, size=size + 8))
            service.prove(session=session, index=size)  # verifies the new leaf's inclusion
    finally:
        engine.dispose()
