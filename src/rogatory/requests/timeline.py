"""The timeline of requests and its place in the ledger.

Every event a transaction records (`record`) is a row of `timeline_events` and a leaf of the
node's ledger. The events wait in the session until the transaction commits; then they are
written all at once: their ledger indexes are reserved, the rows are inserted with those indexes,
and the leaves — each the canonical JSON of its event, id included — are appended. Five
statements per transaction, whatever the number of events. Code that reads the timeline inside
the transaction that wrote it calls `write_pending` first; a rollback discards the events."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Insert, Table, bindparam, event, insert
from sqlalchemy.orm import Session, SessionTransaction

from rogatory.db import driver_execute
from rogatory.identity.policy import Actor
from rogatory.ledger import store as ledger
from rogatory.requests.enums import State
from rogatory.requests.models import Request, TimelineEvent

LEDGER_KIND = "request_event"
_PENDING = "rogatory.timeline.pending"
_TABLE = cast(Table, TimelineEvent.__table__)
_COLUMNS = [c for c in _TABLE.c if c.name != "id"]
_FIELDS = [c.name for c in _COLUMNS if c.name != "ledger_index"]  # what a leaf records


@functools.cache
def _insert(count: int) -> Insert:
    """One INSERT of `count` events (bound as `column_n`), returning each one's id."""
    rows = [{c.name: bindparam(f"{c.name}_{n}", type_=c.type) for c in _COLUMNS}
            for n in range(count)]
    return insert(_TABLE).values(rows).returning(_TABLE.c.ledger_index, _TABLE.c.id)


@dataclass(frozen=True)
class _Pending:
    row: dict[str, Any]
    reference: str
    instrument: str


def record(session: Session, request: Request, actor: Actor | None, verb: str,
           from_state: State | None, *, reason: str, legal_basis: str,
           details: dict[str, Any], at: datetime) -> None:
    """Record one event of `request`, as it stands now, for writing at commit."""
    pending: list[_Pending] = session.info.setdefault(_PENDING, [])
    pending.append(_Pending(
        row={
            "request_id": request.id, "at": at, "verb": verb,
            "from_state": from_state.value if from_state else None,
            "to_state": request.state, "version": request.version,
            "actor_user_id": actor.user_id if actor else None,
            "actor_authority_id": actor.authority_id if actor else None,
            "reason": reason, "legal_basis": legal_basis, "details": details,
        },
        reference=request.reference, instrument=request.instrument,
    ))


def write_pending(session: Session) -> int:
    """Write the events recorded so far in this transaction with their ledger leaves; returns
    how many were written."""
    pending: list[_Pending] = session.info.pop(_PENDING, [])
    if not pending:
        return 0
    session.flush()  # the requests the events belong to
    start = ledger.reserve(session=session, count=len(pending))
    rows = [{**p.row, "ledger_index": start + n} for n, p in enumerate(pending)]
    params = {f"{key}_{n}": value for n, row in enumerate(rows) for key, value in row.items()}
    returned = driver_execute(session.connection(), _insert(len(rows)), params)
    ids = {m["ledger_index"]: m["id"] for m in returned.mappings()}  # RETURNING: any order
    items = [(ledger_entry(p.reference, p.instrument, ids[row["ledger_index"]], row), LEDGER_KIND)
             for p, row in zip(pending, rows, strict=True)]
    ledger.write(session=session, start=start, items=items, at=rows[-1]["at"])
    return len(pending)


def ledger_entry(reference: str, instrument: str, event_id: int, row: dict[str, Any]) -> bytes:
    """The bytes a timeline event is in the ledger: canonical JSON (sorted keys, UTF-8, no
    spaces), enough to recognise the event and its request without the database."""
    return json.dumps({
        **{name: row[name] for name in _FIELDS}, "at": row["at"].isoformat(),
        "type": LEDGER_KIND, "event_id": event_id, "reference": reference,
        "instrument": instrument,
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_entry(request: Request, stored: TimelineEvent) -> bytes:
    """`ledger_entry` of a stored event (to check a leaf against the timeline)."""
    return ledger_entry(request.reference, request.instrument, stored.id,
                        {name: getattr(stored, name) for name in _FIELDS})


def _write_before_commit(session: Session) -> None:
    write_pending(session)


def _discard(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


event.listen(Session, "before_commit", _write_before_commit)
event.listen(Session, "after_transaction_end", _discard)
