"""Directory service: loads the seed into the database (idempotently), lists jurisdictions and
authorities, and runs the authority finder over what is stored."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from rogatory.directory.info import AuthorityInfo, JurisdictionInfo
from rogatory.directory.models import Authority, Jurisdiction
from rogatory.errors import NotFound


def upsert_jurisdiction(session: Session, info: JurisdictionInfo) -> None:
    row = session.get(Jurisdiction, info.code) or Jurisdiction(code=info.code)
    row.name = info.name
    row.languages = list(info.languages)
    row.timezone = info.timezone
    row.bindings = [asdict(b) for b in info.bindings]
    row.bilateral_mla = list(info.bilateral_mla)
    session.add(row)


def upsert_authority(session: Session, info: AuthorityInfo) -> None:
    row = session.get(Authority, info.id) or Authority(id=info.id)
    row.jurisdiction_code = info.jurisdiction
    row.name = info.name
    row.kind = info.kind.value
    row.rank = info.rank.value if info.rank else None
    row.languages = list(info.languages)
    row.channels = list(info.channels)
    row.email = info.email
    session.add(row)


def seed(
    *, session: Session, jurisdictions: dict[str, JurisdictionInfo],
    authorities: list[AuthorityInfo],
) -> tuple[int, int]:
    """Write the seed (insert or update by key); returns the counts."""
    for j in jurisdictions.values():
        upsert_jurisdiction(session, j)
    session.flush()
    for a in authorities:
        upsert_authority(session, a)
    session.flush()
    return len(jurisdictions), len(authorities)


def jurisdictions(*, session: Session) -> dict[str, JurisdictionInfo]:
    rows = session.scalars(select(Jurisdiction).order_by(Jurisdiction.code)).all()
    return {r.code: r.info() for r in rows}


def jurisdiction(*, session: Session, code: str) -> JurisdictionInfo:
    row = session.get(Jurisdiction, code.upper())
    if row is None:
        raise NotFound(f"jurisdiction '{code}' not found")
    return row.info()


def authorities(
    *, session: Session, jurisdiction: str | None = None, kind: str | None = None
) -> list[AuthorityInfo]:
    query = select(Authority).order_by(Authority.jurisdiction_code, Authority.id)
    if jurisdiction:
        query = query.where(Authority.jurisdiction_code == jurisdiction.upper())
    if kind:
        query = query.where(Authority.kind == kind)
    return [r.info() for r in session.scalars(query)]


def authority(*, session: Session, authority_id: str) -> AuthorityInfo:
    row = session.get(Authority, authority_id)
    if row is None:
        raise NotFound(f"authority '{authority_id}' not found")
    return row.info()
