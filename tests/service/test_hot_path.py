"""The request hot path on SQLite and PostgreSQL: timeline events written at commit with their
ledger leaves, the directory snapshot, driver-level statements (on the driver's cursor, or
through SQLAlchemy when listeners are attached), rows made into ORM instances, and the read
snapshot."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, inspect, select
from sqlalchemy.exc import IntegrityError, NoResultFound
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker

from conftest import World
from rogatory.clock import ManualClock
from rogatory.db import driver_execute, loaded
from rogatory.directory import cache as directory
from rogatory.directory.models import Authority
from rogatory.errors import NotFound, StaleState
from rogatory.ledger import store as ledger
from rogatory.ledger.models import LedgerLeaf
from rogatory.requests import service, timeline, views
from rogatory.requests.enums import State, Verb
from rogatory.requests.models import Request, TimelineEvent
from service.test_requests import draft


def test_events_of_a_transaction_are_written_at_commit_in_order(
        session: Session, world: World, clock: ManualClock) -> None:
    before = ledger.size(session=session)
    req = service.create_request(session=session, actor=world.actors["fr_prosecutor"],
                                 draft=draft(world), clock=clock)
    service.act(session=session, actor=world.actors["fr_prosecutor"], request_id=req.id,
                action=service.Action(verb=Verb.SUBMIT, expected_version=req.version),
                clock=clock)
    # recorded, not yet written: a reader inside the transaction flushes them first
    assert session.scalars(select(TimelineEvent).where(
        TimelineEvent.request_id == req.id)).all() == []
    assert timeline.write_pending(session) == 2
    assert timeline.write_pending(session) == 0
    session.commit()
    events = session.scalars(select(TimelineEvent).where(TimelineEvent.request_id == req.id)
                             .order_by(TimelineEvent.id)).all()
    assert [(e.verb, e.version, e.to_state) for e in events] == [
        ("create", 1, State.DRAFT.value), (Verb.SUBMIT.value, 2, State.VALIDATION.value)]
    assert [e.ledger_index for e in events] == [before, before + 1]
    assert ledger.size(session=session) == before + 2
    for stored in events:
        leaf = session.get(LedgerLeaf, stored.ledger_index)
        assert leaf is not None
        assert bytes(leaf.data) == timeline.event_entry(req, stored)


def test_a_rollback_discards_the_recorded_events(
        factory: sessionmaker[Session], world: World, clock: ManualClock) -> None:
    with factory() as session:
        before = ledger.size(session=session)
        service.create_request(session=session, actor=world.actors["fr_prosecutor"],
                               draft=draft(world), clock=clock)
        session.rollback()
        session.commit()  # nothing left to write
        assert ledger.size(session=session) == before
        assert session.scalar(select(TimelineEvent.id)) is None
        assert session.scalar(select(Request.id)) is None


def test_a_stale_verb_changes_nothing(
        factory: sessionmaker[Session], world: World, clock: ManualClock) -> None:
    with factory() as session:
        req = service.create_request(session=session, actor=world.actors["fr_prosecutor"],
                                     draft=draft(world), clock=clock)
        session.commit()
        size = ledger.size(session=session)
    with factory() as first, factory() as second:
        # the second reader loads version 1, then the first moves the request on
        assert service.get_request(session=second, actor=world.actors["fr_prosecutor"],
                                   request_id=req.id).version == 1
        service.act(session=first, actor=world.actors["fr_prosecutor"], request_id=req.id,
                    action=service.Action(verb=Verb.SUBMIT, expected_version=1),
                    clock=clock)
        first.commit()
        with pytest.raises(StaleState):  # from the guarded UPDATE, not the version check
            service.act(session=second, actor=world.actors["fr_prosecutor"], request_id=req.id,
                        action=service.Action(verb=Verb.WITHDRAW, expected_version=1,
                                              reason="no longer needed"),
                        clock=clock)
        second.commit()
    with factory() as session:
        assert ledger.size(session=session) == size + 1  # the submit only
        stored = session.get(Request, req.id)
        assert stored is not None and stored.state == State.VALIDATION.value


def test_the_read_snapshot_is_the_same_view_as_the_session_object(
        session: Session, world: World, clock: ManualClock) -> None:
    req = service.create_request(session=session, actor=world.actors["fr_prosecutor"],
                                 draft=draft(world), clock=clock)
    service.act(session=session, actor=world.actors["fr_prosecutor"], request_id=req.id,
                action=service.Action(verb=Verb.SUBMIT, expected_version=req.version),
                clock=clock)
    session.commit()
    actor = world.actors["fr_prosecutor"]
    snapshot = service.read_request(session=session, actor=actor, request_id=req.id)
    stored = service.get_request(session=session, actor=actor, request_id=req.id)
    now = clock.now()
    assert views.snapshot_read(session, snapshot, actor, now, "fr") == views.request_read(
        session, stored, actor, now, "fr")
    # unknown and not visible look the same
    for who, request_id in (("fr_prosecutor", "no-such-id"), ("de_provider", req.id),
                            ("it_outsider", req.id)):
        with pytest.raises(NotFound):
            service.read_request(session=session, actor=world.actors[who],
                                 request_id=request_id)


def test_the_directory_snapshot_follows_committed_changes(
        factory: sessionmaker[Session]) -> None:
    with factory() as session:
        original = directory.authority(session, "de-atlas-hosting")
        assert original is not None
        row = session.get(Authority, "de-atlas-hosting")
        assert row is not None
        row.name = "Atlas Hosting SE"
        session.flush()
        assert directory.authority(session, "de-atlas-hosting") is not None
        session.commit()
    try:
        with factory() as session:
            renamed = directory.authority(session, "de-atlas-hosting")
            assert renamed is not None and renamed.name == "Atlas Hosting SE"
    finally:
        with factory() as session:
            row = session.get(Authority, "de-atlas-hosting")
            assert row is not None
            row.name = original.name
            session.commit()
    with factory() as session:
        restored = directory.authority(session, "de-atlas-hosting")
        assert restored is not None and restored.name == original.name


def test_driver_statements_bind_json_and_utc_like_the_orm(
        session: Session, world: World, clock: ManualClock) -> None:
    req = service.create_request(session=session, actor=world.actors["fr_prosecutor"],
                                 draft=draft(world), clock=clock)
    session.commit()
    at = datetime(2026, 11, 3, 8, 15, tzinfo=UTC)
    result = driver_execute(session.connection(), service._REQUEST_MOVE, {
        "state": State.WITHDRAWN.value, "updated_at": at, "version": 2, "sent_at": None,
        "request_id": req.id, "expected": 1})
    assert result.rowcount == 1
    session.commit()
    session.expire_all()
    stored = session.get(Request, req.id)
    assert stored is not None
    assert (stored.state, stored.updated_at, stored.version) == (State.WITHDRAWN.value, at, 2)
    assert stored.form == draft(world).form  # JSON written by the driver-level INSERT
    with pytest.raises(KeyError, match="request_id"):
        driver_execute(session.connection(), service._REQUEST_MOVE, {"state": "x"})


def _counting(engine: Engine) -> tuple[list[str], Callable[..., None]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    return seen, count


def test_driver_reads_give_the_orm_values_on_the_driver_path_and_through_listeners(
        session: Session, world: World, clock: ManualClock) -> None:
    req = service.create_request(session=session, actor=world.actors["fr_prosecutor"],
                                 draft=draft(world), clock=clock)
    session.commit()
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    direct = driver_execute(session.connection(), service._READ, {"request_id": req.id})
    seen, count = _counting(engine)
    event.listen(engine, "before_cursor_execute", count)
    try:
        heard = driver_execute(session.connection(), service._READ, {"request_id": req.id})
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(seen) == 1 and seen[0].lstrip().upper().startswith("SELECT")
    assert direct.mappings() == heard.mappings()
    values = direct.first_mapping()
    assert values is not None
    session.expire_all()
    stored = session.get(Request, req.id)
    assert stored is not None
    for column in Request.__table__.columns:
        assert values[column.key] == getattr(stored, column.key), column.key
    assert values["form"] == draft(world).form  # JSON decoded
    assert values["created_at"].tzinfo is not None  # UTC, aware
    assert values["case_reference"] == draft(world).case_reference
    missing = driver_execute(session.connection(), service._READ, {"request_id": "none"})
    assert (missing.first(), missing.first_mapping(), missing.scalar(), missing.rows) == (
        None, None, None, [])
    with pytest.raises(NoResultFound):
        missing.scalar_one()


@pytest.mark.parametrize("listened", [False, True])
def test_driver_errors_are_sqlalchemy_errors_and_roll_back_cleanly(
        factory: sessionmaker[Session], world: World, clock: ManualClock,
        listened: bool) -> None:
    with factory() as session:
        req = service.create_request(session=session, actor=world.actors["fr_prosecutor"],
                                     draft=draft(world), clock=clock)
        session.commit()
        duplicate = {column.key: getattr(req, column.key)
                     for column in Request.__table__.columns}
        engine = session.get_bind()
        assert isinstance(engine, Engine)
        seen, count = _counting(engine)
        if listened:
            event.listen(engine, "before_cursor_execute", count)
        try:
            with pytest.raises(IntegrityError):
                driver_execute(session.connection(), service._REQUEST_INSERT, duplicate)
        finally:
            if listened:
                event.remove(engine, "before_cursor_execute", count)
        assert len(seen) == (1 if listened else 0)
        session.rollback()
        assert session.scalar(select(func.count()).select_from(Request)) == 1


def test_a_loaded_instance_has_no_history_and_joins_a_session_as_stored(
        session: Session, world: World, clock: ManualClock) -> None:
    req = service.create_request(session=session, actor=world.actors["fr_prosecutor"],
                                 draft=draft(world), clock=clock)
    session.commit()
    values = {column.key: getattr(req, column.key) for column in Request.__table__.columns}
    session.expunge_all()
    copy = loaded(Request, values)
    state = inspect(copy)
    assert state.transient and not state.modified
    assert copy.reference == req.reference and copy.form == req.form
    make_transient_to_detached(copy)
    session.add(copy)
    assert inspect(copy).persistent and copy not in session.dirty
    copy.language = "de"  # a change after joining is tracked and written like any other
    assert copy in session.dirty
    session.commit()
    session.expire_all()
    stored = session.get(Request, req.id)
    assert stored is not None and stored.language == "de"
