"""Reading the access log: the oversight auditor's queries and the audit report for a case or
a period, with each record's place in the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rogatory.audit.models import AccessRecord
from rogatory.errors import Forbidden
from rogatory.identity.models import Role
from rogatory.identity.policy import Actor
from rogatory.requests.models import Case, Request

AUDIT_ROLES = frozenset({Role.OVERSIGHT_AUDITOR, Role.ADMINISTRATOR})


@dataclass(frozen=True)
class Query:
    since: datetime | None = None
    until: datetime | None = None
    username: str | None = None
    case_reference: str | None = None
    denied_only: bool = False
    limit: int = 1_000


def require_auditor(actor: Actor) -> None:
    if actor.role not in AUDIT_ROLES:
        raise Forbidden("the access log is for the oversight auditor and the administrator")


def records(*, session: Session, actor: Actor, query: Query) -> list[AccessRecord]:
    """Access records, oldest first. A case narrows them to the case's own routes and to the
    routes of its requests (by id in the target)."""
    require_auditor(actor)
    statement = select(AccessRecord).order_by(AccessRecord.at, AccessRecord.id)
    if query.since:
        statement = statement.where(AccessRecord.at >= query.since)
    if query.until:
        statement = statement.where(AccessRecord.at < query.until)
    if query.username:
        statement = statement.where(AccessRecord.username == query.username)
    if query.denied_only:
        statement = statement.where(AccessRecord.allowed.is_(False))
    if query.case_reference:
        needles = [query.case_reference]
        case = session.scalar(select(Case).where(Case.reference == query.case_reference))
        if case is not None:
            needles.append(case.id)
            needles += session.scalars(select(Request.id).where(Request.case_id == case.id))
        statement = statement.where(or_(*(AccessRecord.target.contains(n) for n in needles)))
    return list(session.scalars(statement.limit(query.limit)))


def as_dict(record: AccessRecord) -> dict[str, Any]:
    return {
        "at": record.at.isoformat(), "channel": record.channel, "source": record.source,
        "username": record.username, "authority": record.authority_id, "role": record.role,
        "action": record.action, "target": record.target, "status": record.status,
        "allowed": record.allowed, "ledger_index": record.ledger_index,
    }


def report(*, session: Session, actor: Actor, query: Query) -> dict[str, Any]:
    """The audit report: the records with counts per user and of denials, for export."""
    rows = records(session=session, actor=actor, query=query)
    per_user: dict[str, int] = {}
    for r in rows:
        key = r.username or "(unauthenticated)"
        per_user[key] = per_user.get(key, 0) + 1
    return {
        "query": {"since": query.since.isoformat() if query.since else None,
                  "until": query.until.isoformat() if query.until else None,
                  "username": query.username, "case": query.case_reference},
        "made_by": actor.username,
        "count": len(rows), "denied": sum(1 for r in rows if not r.allowed),
        "per_user": per_user,
        "records": [as_dict(r) for r in rows],
    }
