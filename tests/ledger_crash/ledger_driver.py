"""Test-only driver: append ledger leaves in a loop, one transaction at a time, until killed
(never used by production code).

Each transaction appends either one leaf (`store.append`) or a batch of BATCH leaves
(`store.append_many`) of random data, commits, and only after the commit has returned prints

    ACK <first_index> <count> <sha256 hex>

flushed to stdout, where the digest is `ack_digest` of the leaves' data in order. Before the
first append it prints `READY <size>`, the log's size as the driver found it.

Environment: ROGATORY_* (the node's database), DRIVER_SEED (the random data and the order of
single appends and batches), DRIVER_LIMIT (stop after this many transactions; default never)."""

from __future__ import annotations

import hashlib
import os
import random
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from rogatory.config import Settings
from rogatory.db import make_engine, make_session_factory
from rogatory.ledger import store

BATCH = 50


def ack_digest(data: Sequence[bytes]) -> str:
    """SHA-256 over each datum, length-prefixed, in order: one digest per transaction."""
    digest = hashlib.sha256()
    for datum in data:
        digest.update(len(datum).to_bytes(8, "big"))
        digest.update(datum)
    return digest.hexdigest()


def main() -> int:
    rng = random.Random(int(os.environ.get("DRIVER_SEED", "0")))
    limit = int(os.environ.get("DRIVER_LIMIT", "0")) or None
    engine = make_engine(Settings())
    factory = make_session_factory(engine)
    out = sys.stdout
    with factory() as session:
        out.write(f"READY {store.size(session=session)}\n")
        out.flush()
    done = 0
    while limit is None or done < limit:
        count = BATCH if rng.random() < 0.5 else 1
        data = [rng.randbytes(rng.randint(1, 300)) for _ in range(count)]
        at = datetime.now(UTC)
        with factory() as session:
            if count == 1:
                indexes = [store.append(session=session, data=data[0], kind="crash.single",
                                        at=at)]
            else:
                indexes = store.append_many(session=session,
                                            items=[(d, "crash.batch") for d in data], at=at)
            session.commit()
        # Acknowledged only now that the commit has returned.
        out.write(f"ACK {indexes[0]} {len(indexes)} {ack_digest(data)}\n")
        out.flush()
        done += 1
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
