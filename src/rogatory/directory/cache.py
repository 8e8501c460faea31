"""An in-process snapshot of the directory (jurisdictions and authorities) per database, for the
hot paths that check a request's parties on every write.

The directory changes rarely (the seed, an administrator). The snapshot is dropped after a
commit of this process that wrote a jurisdiction or an authority through the ORM, and it is
reloaded when older than `MAX_AGE_SECONDS`, so a change made by another process (another
server worker, the CLI) is seen within that time."""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.orm import Session, UOWTransaction

from rogatory.directory.info import AuthorityInfo, JurisdictionInfo
from rogatory.directory.models import Authority, Jurisdiction

MAX_AGE_SECONDS = 30.0
_CHANGED = "rogatory.directory.changed"


@dataclass(frozen=True)
class Snapshot:
    jurisdictions: dict[str, JurisdictionInfo]
    authorities: dict[str, AuthorityInfo]
    loaded_at: float  # time.monotonic()


_snapshots: weakref.WeakKeyDictionary[Engine, Snapshot] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def snapshot(session: Session) -> Snapshot:
    """The directory of the session's database, loaded with two queries when stale."""
    engine = _engine(session)
    current = _snapshots.get(engine)
    if current is not None and time.monotonic() - current.loaded_at < MAX_AGE_SECONDS:
        return current
    loaded_at = time.monotonic()
    jurisdictions = {j.code: j.info() for j in session.scalars(select(Jurisdiction))}
    authorities = {a.id: a.info() for a in session.scalars(select(Authority))}
    fresh = Snapshot(jurisdictions=jurisdictions, authorities=authorities, loaded_at=loaded_at)
    if not session.info.get(_CHANGED):  # never cache what this transaction has not committed
        with _lock:
            _snapshots[engine] = fresh
    return fresh


def authority(session: Session, authority_id: str) -> AuthorityInfo | None:
    return snapshot(session).authorities.get(authority_id)


def jurisdiction(session: Session, code: str) -> JurisdictionInfo | None:
    return snapshot(session).jurisdictions.get(code)


def invalidate(engine: Engine) -> None:
    with _lock:
        _snapshots.pop(engine, None)


@event.listens_for(Session, "after_flush")
def _note_directory_writes(session: Session, _flush: UOWTransaction) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Authority | Jurisdiction):
            session.info[_CHANGED] = True
            invalidate(_engine(session))
            return


@event.listens_for(Session, "after_commit")
def _drop_after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, None):
        invalidate(_engine(session))


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)
