"""Benchmark of creating and submitting requests through the service layer on SQLite.

Target: at least 1,000 requests per second, where one request is `service.create_request` (an
EPOC for subscriber data from the Paris J3 prosecutor to `de-atlas-hosting`, complete form) plus
`service.act(SUBMIT)`, in one transaction committed per request — as the API uses it.

The database is a fresh SQLite file in a temporary data directory, configured by
`rogatory.db.make_engine` (WAL, synchronous=NORMAL, foreign keys), migrated, with the directory
seeded, one French prosecutor user and one case (as `tests/conftest.py` makes them).

Baseline, in the same run and through the same SQLAlchemy engine: the same number of rows with
the columns of `requests` inserted into a plain table of that shape (no indexes, no foreign
keys), one `INSERT` and one commit per row — the floor cost of one durable write per request.
Prints requests/s, baseline rows/s, the ratio, and PASS/FAIL against the target.

Run: `.venv/bin/python bench/bench_requests.py [--n N] [--warmup W] [--profile] [--keep DIR]`.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    event,
    insert,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from rogatory.bootstrap import migrate
from rogatory.clock import SystemClock
from rogatory.config import Settings
from rogatory.db import UTCDateTime, make_engine, make_session_factory, unit_of_work
from rogatory.demo import complete_form
from rogatory.directory import seed
from rogatory.directory import service as directory
from rogatory.directory.models import Authority
from rogatory.identity import service as identity
from rogatory.identity.models import Role
from rogatory.identity.policy import Actor
from rogatory.requests import service
from rogatory.requests.enums import Verb
from rogatory.requests.models import Case, Request

TARGET = 1_000.0  # requests (create + submit, committed) per second
ISSUER = "fr-parquet-paris-j3"
EXECUTING = "de-atlas-hosting"
CASE_REFERENCE = "FR-2026-BENCH"


def setup(
    directory_path: Path,
) -> tuple[Engine, sessionmaker[Session], Actor, service.RequestDraft]:
    """A migrated, seeded node database with a prosecutor, a case and the draft to create."""
    engine = make_engine(Settings(data_dir=directory_path, demo=True))
    migrate(engine)
    factory = make_session_factory(engine)
    clock = SystemClock()
    with unit_of_work(factory) as session:
        directory.seed(session=session, jurisdictions=seed.load_jurisdictions(),
                       authorities=seed.load_authorities())
        user = identity.ensure_user(session=session, username="bench.prosecutor",
                                    display_name="Bench Prosecutor", authority_id=ISSUER,
                                    role=Role.PROSECUTOR, language="fr",
                                    timezone="Europe/Paris", clock=clock)
        actor = identity.actor_for(session, user)
        session.add(Case(id=str(uuid.uuid4()), reference=CASE_REFERENCE,
                         title="Benchmark case", summary="Requests made by the benchmark",
                         lead_authority_id=ISSUER, participants=[ISSUER],
                         created_at=clock.now()))
        addressee = session.get(Authority, EXECUTING)
        assert addressee is not None
        draft = service.RequestDraft(
            case_reference=CASE_REFERENCE, instrument="epoc", issuing_authority_id=ISSUER,
            validating_authority_id=ISSUER, executing_authority_id=EXECUTING,
            data_categories=["subscriber"], language="fr",
            form=complete_form("epoc", addressee.name, clock),
        )
    return engine, factory, actor, draft


class Requests:
    """The measured operation: create + submit, one transaction each."""

    def __init__(self, factory: sessionmaker[Session], actor: Actor,
                 draft: service.RequestDraft) -> None:
        self.factory, self.actor, self.draft = factory, actor, draft
        self.clock = SystemClock()
        self.collisions = 0  # duplicate `reference` (see `one`)

    def one(self) -> None:
        while True:
            try:
                with unit_of_work(self.factory) as session:
                    request = service.create_request(session=session, actor=self.actor,
                                                     draft=self.draft, clock=self.clock)
                    service.act(session=session, actor=self.actor, request_id=request.id,
                                action=service.Action(verb=Verb.SUBMIT,
                                                      expected_version=request.version),
                                clock=self.clock)
                return
            except IntegrityError as exc:
                # The reference ends in 6 random hex digits per instrument, state pair and
                # year: duplicates are likely after a few thousand. Counted, then retried.
                if "requests.reference" not in str(exc.orig):
                    raise
                self.collisions += 1


def plain_table(engine: Engine) -> Table:
    """A table with the columns of `requests`, as plain as a table gets."""
    metadata = MetaData()
    columns: list[Column[Any]] = [
        Column("id", String(36), primary_key=True),
        Column("reference", String(64)),
        Column("case_id", String(36)),
        Column("instrument", String(40)),
        Column("instrument_version", String(40)),
        Column("requesting_state", String(2)),
        Column("requested_state", String(2)),
        Column("issuing_authority_id", String(80)),
        Column("validating_authority_id", String(80)),
        Column("executing_authority_id", String(80)),
        Column("data_categories", JSON),
        Column("emergency", Boolean),
        Column("language", String(8)),
        Column("form", JSON),
        Column("translations", JSON),
        Column("state", String(40)),
        Column("created_by", String(36)),
        Column("created_at", UTCDateTime()),
        Column("updated_at", UTCDateTime()),
        Column("sent_at", UTCDateTime()),
        Column("version", Integer),
    ]
    table = Table("bench_plain_requests", metadata, *columns)
    metadata.create_all(engine)
    return table


class Baseline:
    """One INSERT + commit per row of the same values, through the same engine."""

    def __init__(self, engine: Engine, actor: Actor, draft: service.RequestDraft) -> None:
        self.engine, self.table, self.actor, self.draft = engine, plain_table(engine), actor, draft
        self.count = 0

    def one(self) -> None:
        self.count += 1
        now = datetime.now(UTC)
        row = {
            "id": str(uuid.uuid4()), "reference": f"EPOC-FRDE-{now.year}-{self.count:06X}",
            "case_id": CASE_REFERENCE, "instrument": self.draft.instrument,
            "instrument_version": "1", "requesting_state": "FR", "requested_state": "DE",
            "issuing_authority_id": ISSUER, "validating_authority_id": ISSUER,
            "executing_authority_id": EXECUTING, "data_categories": self.draft.data_categories,
            "emergency": False, "language": "fr", "form": self.draft.form, "translations": {},
            "state": "validation", "created_by": self.actor.user_id, "created_at": now,
            "updated_at": now, "sent_at": None, "version": 2,
        }
        with self.engine.begin() as connection:
            connection.execute(insert(self.table), row)


def rate(operation: Callable[[], None], n: int) -> float:
    begin = time.perf_counter()
    for _ in range(n):
        operation()
    return n / (time.perf_counter() - begin)


def statements_per_request(engine: Engine, requests: Requests) -> int:
    """How many SQL statements one create + submit + commit sends (for the diagnosis)."""
    counted: list[str] = []

    def count(*_args: Any) -> None:
        counted.append("x")

    event.listen(engine, "before_cursor_execute", count)
    try:
        requests.one()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(counted)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5_000, help="requests to time (default 5,000)")
    parser.add_argument("--warmup", type=int, default=100,
                        help="untimed iterations of each side first (default 100)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the request loop with cProfile and print the top")
    parser.add_argument("--keep", type=Path, help="keep the database in this directory")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-requests-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        engine, factory, actor, draft = setup(work)
        requests = Requests(factory, actor, draft)
        baseline = Baseline(engine, actor, draft)
        for _ in range(args.warmup):
            requests.one()
            baseline.one()
        statements = statements_per_request(engine, requests)
        requests.collisions = 0

        base_rate = rate(baseline.one, args.n)
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        req_rate = rate(requests.one, args.n)
        if profiler is not None:
            profiler.disable()

        with Session(engine) as session:
            stored = session.query(Request).count()
        expected = args.warmup + 1 + args.n
        assert stored == expected, f"{stored} requests stored, expected {expected}"

        print(f"requests: {args.n:,} x (create_request + act(SUBMIT) + commit), SQLite WAL")
        print(f"  service    {req_rate:10,.0f} requests/s   target {TARGET:,.0f}/s: "
              f"{verdict(req_rate >= TARGET)}")
        print(f"  baseline   {base_rate:10,.0f} rows/s       (one INSERT + commit per row, "
              "plain table, same engine)")
        print(f"  ratio      {req_rate / base_rate:10.2f}              (service / baseline)")
        print(f"  per request: {1000 / req_rate:.3f} ms service, {1000 / base_rate:.3f} ms "
              f"baseline; {statements} SQL statements per request")
        if requests.collisions:
            print(f"  note: {requests.collisions} duplicate request reference(s) "
                  "(IntegrityError) retried during the timed run")
        if profiler is not None:
            print("\ncProfile of the service loop (top 30 by cumulative time):")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        engine.dispose()
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
