"""Test-only driver: ingest a generated file through the service, as the CLI would, and die or
be limited on request (never used by production code).

Environment: ROGATORY_* (the node), DRIVER_USER, DRIVER_CASE, DRIVER_CHUNKS (1 MiB chunks to
generate), DRIVER_KILL (`chunk:N` — SIGKILL itself after N chunks; `before_publish`,
`after_publish` — around the rename into the store; `before_commit`, `after_commit`),
DRIVER_FSIZE (an RLIMIT_FSIZE in bytes: writes beyond it fail with EFBIG)."""

from __future__ import annotations

import os
import resource
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

from rogatory.clock import SystemClock
from rogatory.config import Settings
from rogatory.db import make_engine, make_session_factory
from rogatory.errors import RogatoryError
from rogatory.evidence import service, store
from rogatory.identity import service as identity

KILL = os.environ.get("DRIVER_KILL", "")


def die(point: str) -> None:
    if point == KILL:
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def chunks(count: int) -> Iterator[bytes]:
    for n in range(count):
        yield n.to_bytes(4, "big") * (store.CHUNK_SIZE // 4)
        die(f"chunk:{n + 1}")


def main() -> int:
    if "DRIVER_FSIZE" in os.environ:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
        limit = int(os.environ["DRIVER_FSIZE"])
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    original_publish = store.StagedBlob.publish

    def publish(self: store.StagedBlob) -> store.StoredBlob:
        die("before_publish")
        blob = original_publish(self)
        die("after_publish")
        return blob

    store.StagedBlob.publish = publish  # type: ignore[method-assign]
    settings = Settings()
    engine = make_engine(settings)
    session = make_session_factory(engine)()
    try:
        item = service.ingest(
            session=session, store=store.EvidenceStore(settings.evidence_dir),
            actor=identity.actor_by_username(session=session,
                                             username=os.environ["DRIVER_USER"]),
            case_reference=os.environ["DRIVER_CASE"],
            chunks=chunks(int(os.environ["DRIVER_CHUNKS"])), original_name="big.img",
            metadata=service.AcquisitionMetadata(
                examiner="E", acquired_at=datetime(2026, 11, 1, tzinfo=UTC), tool="dd",
                tool_version="9.4", method="physical"),
            claimed=None, legacy_hashes=False, clock=SystemClock())
        die("before_commit")
        session.commit()
        die("after_commit")
        print(f"ingested {item.sha256}")
        return 0
    except RogatoryError as exc:
        session.rollback()
        print(f"error ({exc.code}): {exc.message}", file=sys.stderr)
        return 1
    finally:
        session.close()
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
