"""Recording accesses: API calls and CLI commands are queued and written by one background
thread in batches (one transaction per batch: the rows, and their leaves in the ledger).

A read must not wait for a write, and a write transaction per read would serialise every reader
on SQLite; so the trail is written within `FLUSH_SECONDS` of the access (group commit). What is
still queued when the process is killed outright is lost; a normal shutdown (`close`) writes
everything first. CLI commands write their record synchronously (`write`)."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session, sessionmaker

from rogatory.audit.models import AccessRecord
from rogatory.db import driver_execute, unit_of_work
from rogatory.ledger import store as ledger

LEDGER_KIND = "access"
FLUSH_SECONDS = 0.05
BATCH = 1_000
_TABLE = cast(Table, AccessRecord.__table__)
_INSERT = insert(_TABLE)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Access:
    at: datetime
    channel: str
    source: str
    user_id: str | None
    username: str | None
    authority_id: str | None
    role: str | None
    action: str
    target: str
    status: int
    allowed: bool

    def values(self) -> dict[str, Any]:
        """The fields by name (flat values: no copy needed, unlike `dataclasses.asdict`)."""
        return {name: getattr(self, name) for name in _FIELDS}

    def ledger_entry(self) -> bytes:
        """The leaf: canonical JSON (sorted keys, UTF-8, no spaces) of the record."""
        return json.dumps({"type": LEDGER_KIND, **self.values(), "at": self.at.isoformat()},
                          sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8")


_FIELDS = tuple(f.name for f in fields(Access))


def write(session: Session, accesses: Sequence[Access]) -> list[int]:
    """Insert `accesses` with their ledger leaves in the caller's transaction; returns their
    ledger indexes."""
    if not accesses:
        return []
    start = ledger.reserve(session=session, count=len(accesses))
    rows: list[dict[str, Any]] = [
        {**a.values(), "target": a.target[:500], "ledger_index": start + n}
        for n, a in enumerate(accesses)]
    driver_execute(session.connection(), _INSERT, rows)
    ledger.write(session=session, start=start,
                 items=[(a.ledger_entry(), LEDGER_KIND) for a in accesses], at=accesses[-1].at)
    return [start + n for n in range(len(accesses))]


class Recorder:
    """A queue of accesses and the thread that writes them."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self._queue: queue.Queue[Access | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.failures = 0

    def record(self, access: Access) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name="access-log")
                    self._thread.start()
        self._queue.put(access)

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            time.sleep(FLUSH_SECONDS)  # gather what arrives meanwhile
            while len(batch) < BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[Access]) -> None:
        try:
            with unit_of_work(self.factory) as session:
                write(session, batch)
        except Exception:  # the server keeps serving; the failure is counted and logged
            self.failures += 1
            log.exception("could not write %d access records", len(batch))

    def flush(self) -> None:
        """Write everything queued so far, now, in the calling thread."""
        batch: list[Access] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                batch.append(item)
        if batch:
            self._write(batch)

    def close(self) -> None:
        """Stop the thread after it has written everything queued."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None
        self.flush()
