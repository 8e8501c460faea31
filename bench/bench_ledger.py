"""Benchmark of the ledger's Merkle log on SQLite (`rogatory.ledger.store`).

1. Appends N events (default 200,000) in batches of 1,000, one transaction per batch, to a fresh
   SQLite file configured as the node configures it (WAL, synchronous=NORMAL); prints events/s
   against the 20,000/s target. Baseline, in the same run: a bare DB-API `executemany` of the same
   leaf rows (hash computed, no tree) into a plain table of a fresh file with the same pragmas,
   same batches; prints the ratio.
2. Grows the log to 1,000,000 leaves (default; in batches of 10,000), then times 1,000 inclusion
   proofs of random leaves in the full tree and prints the median and p99 ms per proof against
   the 1 ms target (plus consistency proofs and roots, for information). A sample of the proofs is
   verified against the root, so the timings are of correct answers.

Run: `.venv/bin/python bench/bench_ledger.py [--events N] [--leaves M] [--proofs K] [--keep DIR]`.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from rogatory.config import Settings
from rogatory.db import Base, make_engine, make_session_factory, unit_of_work
from rogatory.ledger import merkle, store
from rogatory.ledger.models import LEDGER_TABLES

APPEND_TARGET = 20_000.0  # events per second
PROOF_TARGET_MS = 1.0  # per inclusion proof


def payload(i: int) -> bytes:
    """A custody-event-sized record (~180 bytes)."""
    return (
        b'{"event":"transferred","evidence":"EV-%08d","from":"lab-01","to":"court-registry",'
        b'"by":"officer-%04d","seal":"S-%08d","note":"sealed bag, intact"}' % (i, i % 9973, i)
    )


def batches(start: int, stop: int, size: int) -> Iterator[list[tuple[bytes, str]]]:
    for lo in range(start, stop, size):
        yield [(payload(i), "custody") for i in range(lo, min(lo + size, stop))]


def bench_baseline(directory: Path, events: int, batch: int) -> float:
    """Bare sqlite3 executemany of the same leaf rows into a plain table; events/s."""
    connection = sqlite3.connect(directory / "baseline.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE plain (idx INTEGER PRIMARY KEY, leaf_hash BLOB, data BLOB, kind TEXT, "
        "created_at TEXT)"
    )
    at = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
    begin = time.perf_counter()
    for lo in range(0, events, batch):
        rows = [
            (i, merkle.leaf_hash(data), data, "custody", at)
            for i, data in ((i, payload(i)) for i in range(lo, min(lo + batch, events)))
        ]
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO plain VALUES (?, ?, ?, ?, ?)", rows)
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - begin
    connection.close()
    return events / elapsed


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--build-batch", type=int, default=10_000)
    parser.add_argument("--proofs", type=int, default=1_000)
    parser.add_argument("--keep", type=Path, help="keep the databases in this directory")
    args = parser.parse_args()

    directory = args.keep or Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        engine = make_engine(Settings(data_dir=directory, demo=True))
        Base.metadata.create_all(engine, tables=list(LEDGER_TABLES))
        factory = make_session_factory(engine)
        at = datetime.now(UTC)

        # 1. Appends, against a bare insert of the same rows.
        begin = time.perf_counter()
        for items in batches(0, args.events, args.batch):
            with unit_of_work(factory) as session:
                store.append_many(session=session, items=items, at=at)
        rate = args.events / (time.perf_counter() - begin)
        baseline = bench_baseline(directory, args.events, args.batch)
        print(f"append: {args.events:,} events in batches of {args.batch:,}")
        print(
            f"  ledger     {rate:10,.0f} events/s   target {APPEND_TARGET:,.0f}/s: "
            f"{verdict(rate >= APPEND_TARGET)}"
        )
        print(f"  baseline   {baseline:10,.0f} rows/s     (bare executemany, plain table)")
        print(f"  ratio      {rate / baseline:10.2f}         (ledger / baseline)")

        # 2. Proofs in a large log.
        begin = time.perf_counter()
        for items in batches(args.events, args.leaves, args.build_batch):
            with unit_of_work(factory) as session:
                store.append_many(session=session, items=items, at=at)
        built = time.perf_counter() - begin
        grown = max(0, args.leaves - args.events)
        print(f"build: grew the log to {args.leaves:,} leaves in {built:.1f} s", end="")
        print(f" ({grown / built:,.0f} leaves/s)" if grown and built else "")

        rng = random.Random(9162)
        size = args.leaves
        with unit_of_work(factory) as session:
            root = store.root_at(session=session, size=size)
            inclusion: list[float] = []
            for n in range(args.proofs):
                index = rng.randrange(size)
                t0 = time.perf_counter()
                proof = store.inclusion_proof(session=session, index=index, size=size)
                inclusion.append((time.perf_counter() - t0) * 1000)
                if n % 50 == 0:
                    leaf = merkle.leaf_hash(payload(index))
                    merkle.verify_inclusion(leaf, index, size, proof, root)
            consistency: list[float] = []
            roots: list[float] = []
            for _ in range(args.proofs):
                size1 = rng.randrange(1, size)
                t0 = time.perf_counter()
                store.consistency_proof(session=session, size1=size1, size2=size)
                consistency.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                store.root_at(session=session, size=size1)
                roots.append((time.perf_counter() - t0) * 1000)

        median, p99 = statistics.median(inclusion), percentile(inclusion, 0.99)
        print(f"inclusion proofs: {args.proofs:,} random leaves of a {size:,}-leaf log")
        print(
            f"  median {median:6.3f} ms   target {PROOF_TARGET_MS:g} ms: "
            f"{verdict(median <= PROOF_TARGET_MS)}"
        )
        print(
            f"  p99    {p99:6.3f} ms   target {PROOF_TARGET_MS:g} ms: "
            f"{verdict(p99 <= PROOF_TARGET_MS)}"
        )
        print(
            f"consistency proofs: median {statistics.median(consistency):.3f} ms, "
            f"p99 {percentile(consistency, 0.99):.3f} ms (no target)"
        )
        print(
            f"root_at: median {statistics.median(roots):.3f} ms, "
            f"p99 {percentile(roots, 0.99):.3f} ms (no target)"
        )
        engine.dispose()
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
