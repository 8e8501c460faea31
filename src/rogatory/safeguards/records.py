"""How safeguards records reach the node's ledger, and the restriction of data received.

Shared by `rogatory.safeguards.service` and by the hooks the request workflow calls
(`rogatory.safeguards.checks`), so it imports neither service. Every record is a leaf of the
ledger: canonical JSON (sorted keys, no spaces, UTF-8, as timeline events are), written in the
caller's transaction. Restricting data (e.g. Reg. (EU) 2023/1543 Art. 4(5), 10(4)) keeps the
record, says why and on which basis, and is a leaf of its own."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rogatory.clock import ensure_utc
from rogatory.ledger import store as ledger
from rogatory.requests.models import Request
from rogatory.safeguards.models import ReceivedData


def canonical(payload: dict[str, Any]) -> bytes:
    """The bytes a safeguards record is in the ledger: JSON with sorted keys, no spaces,
    UTF-8 (as timeline events are)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_json_default).encode("utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return ensure_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def leaf(session: Session, kind: str, payload: dict[str, Any], at: datetime) -> int:
    """Append one record of `kind` to the ledger; returns its index."""
    return ledger.append(session=session, data=canonical({"type": kind, **payload}), kind=kind,
                         at=at)


def data_event(session: Session, item: ReceivedData, event: str, at: datetime,
               **details: Any) -> None:
    """A data-protection event of one data item (recorded, reviewed, restricted, deleted)."""
    leaf(session, "data_protection", {"event": event, "data_id": item.id,
                                      "request_id": item.request_id, "at": at, **details}, at)


def restrict(session: Session, item: ReceivedData, reason: str, basis: str,
             at: datetime) -> None:
    """Restrict the use of one data item: it stays recorded, flagged with why and the article
    that requires it, and can no longer be passed on."""
    item.restricted = True
    item.restriction_reason = reason
    item.restriction_basis = basis
    data_event(session, item, "restricted", at, reason=reason, legal_basis=basis)


def restrict_request_data(session: Session, request_id: str, reason: str, basis: str,
                          at: datetime) -> list[ReceivedData]:
    """Restrict every data item received on a request that is neither deleted nor already
    restricted; returns those it flagged."""
    items = list(session.scalars(select(ReceivedData).where(
        ReceivedData.request_id == request_id, ReceivedData.deleted_at.is_(None),
        ReceivedData.restricted.is_(False)).order_by(ReceivedData.recorded_at, ReceivedData.id)))
    for item in items:
        restrict(session, item, reason, basis, at)
    return items


def withheld_exhibits(session: Session, case_id: str) -> dict[str, str]:
    """The exhibit numbers of a case that data received on its requests were recorded under
    and that may no longer be used — restricted (an objection, Art. 10(4); an emergency order
    not validated after the fact, Art. 4(5)) or deleted — each with why and the article. A court
    package leaves them out."""
    rows = session.execute(
        select(ReceivedData.evidence_reference, ReceivedData.restriction_reason,
               ReceivedData.restriction_basis, ReceivedData.deleted_at)
        .join(Request, Request.id == ReceivedData.request_id)
        .where(Request.case_id == case_id, ReceivedData.evidence_reference != "",
               or_(ReceivedData.restricted.is_(True), ReceivedData.deleted_at.is_not(None)))
        .order_by(ReceivedData.recorded_at, ReceivedData.id))
    withheld: dict[str, str] = {}
    for exhibit, reason, basis, deleted_at in rows:
        why = "deleted" if deleted_at is not None else \
            f"restricted: {reason}" + (f", {basis}" if basis else "")
        withheld.setdefault(exhibit, why)
    return withheld

