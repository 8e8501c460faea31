"""Exercise mode: simulated EIO cases driven through a real node (SQLite and PostgreSQL) — real
service verbs, timeline, deadline job and ledger — under a virtual clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from rogatory.config import Settings
from rogatory.identity.models import User
from rogatory.ledger.models import LedgerLeaf
from rogatory.requests.enums import DeadlineStatus, State
from rogatory.requests.models import Deadline, Request, TimelineEvent
from rogatory.requests.service import ledger_entry
from rogatory.sim import scenario
from rogatory.sim.cli import exercise_app
from rogatory.sim.exercise import USER_PREFIX, run_exercise

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def test_exercise_drives_eio_cases_through_the_node(factory: sessionmaker[Session]) -> None:
    sc = scenario.load(SCENARIOS / "eio.yaml")
    report = run_exercise(scenario=sc, session_factory=factory, start=START, cases=6, seed=11)

    assert len(report.cases) == 6
    assert report.audit_ok, report.audit_message
    assert report.ledger_after > report.ledger_before
    assert report.end > START
    for case in report.cases:
        assert case.final_state in (State.CLOSED.value, State.WITHDRAWN.value)
        assert case.outcome in ("executed", "partially_executed", "refused")
        assert case.timeline_events >= 10  # create, submit, validate, translate, send, ...
        assert case.ended_at is not None and case.ended_at > case.drafted_at
    assert report.deadlines >= 1
    assert json.dumps(report.to_dict())

    with factory() as s:
        ids = [r.id for r in s.scalars(select(Request).join(
            User, User.id == Request.created_by).where(User.username.startswith(USER_PREFIX)))]
        assert len(ids) == 6
        # every timeline event is a leaf of the ledger, with the event's own bytes
        events = s.scalars(select(TimelineEvent).where(TimelineEvent.request_id.in_(ids))).all()
        assert sum(c.timeline_events for c in report.cases) == len(events)
        for event in events:
            assert event.ledger_index is not None
            leaf = s.get(LedgerLeaf, event.ledger_index)
            assert leaf is not None
            request = s.get(Request, event.request_id)
            assert request is not None
            assert json.loads(bytes(leaf.data))["event_id"] == event.id
            assert json.loads(bytes(leaf.data)) == json.loads(ledger_entry(request, event))
        # the real deadlines: some met or breached; none left open on a closed request
        rows = s.scalars(select(Deadline).where(Deadline.request_id.in_(ids))).all()
        settled = [d for d in rows if d.status in (DeadlineStatus.MET.value,
                                                   DeadlineStatus.BREACHED.value)]
        assert settled
        assert not [d for d in rows if d.status == DeadlineStatus.OPEN.value]
        assert report.breaches == sum(d.status == DeadlineStatus.BREACHED.value for d in rows)
        users = s.scalars(select(User.username).where(
            User.username.startswith(USER_PREFIX))).all()
        assert sorted(users) == report.users


def test_the_deadline_job_records_breaches(factory: sessionmaker[Session]) -> None:
    """A German review that waits 60 days for a hearing breaches the 30-day recognition
    deadline: the node's own scan job records it, with a timeline event in the ledger."""
    text = (SCENARIOS / "eio.yaml").read_text(encoding="utf-8").replace(
        "delay: {dist: gamma, shape: 3, mean: 12}", "delay: {dist: fixed, value: 75}")
    sc = scenario.parse(text)
    report = run_exercise(scenario=sc, session_factory=factory, start=START, cases=2, seed=5)
    assert report.audit_ok, report.audit_message
    assert report.breaches >= 2
    assert all("recognition" in {d.kind for d in c.breaches} for c in report.cases)
    with factory() as s:
        scans = s.scalars(select(TimelineEvent).where(
            TimelineEvent.verb == f"deadline_{DeadlineStatus.BREACHED.value}")).all()
        assert len(scans) == report.breaches
        assert all(e.ledger_index is not None and e.actor_user_id is None for e in scans)


def test_exercise_command_on_the_node_database(settings: Settings,
                                              factory: sessionmaker[Session],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`rogatory exercise` finds the node through Settings() like every command."""
    monkeypatch.setenv("ROGATORY_DATA_DIR", str(settings.data_dir))
    for name, value in (("DATABASE_URL", settings.database_url),
                        ("DATABASE_SCHEMA", settings.database_schema)):
        if value is None:
            monkeypatch.delenv(f"ROGATORY_{name}", raising=False)
        else:
            monkeypatch.setenv(f"ROGATORY_{name}", value)
    result = CliRunner().invoke(exercise_app, [str(SCENARIOS / "eio.yaml"), "--cases", "2",
                                      "--seed", "4", "--start", "2026-02-02T08:00:00+01:00"])
    assert result.exit_code == 0, result.output
    assert "2 requests, 2 ended" in result.output
    assert "audit passed" in result.output
    bad = CliRunner().invoke(exercise_app, [str(SCENARIOS / "eio.yaml"), "--start",
                                   "2026-02-02"])
    assert bad.exit_code == 2 and "time zone" in bad.output
