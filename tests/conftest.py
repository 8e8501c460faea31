"""Shared fixtures: every database-backed test runs on SQLite and on PostgreSQL.

PostgreSQL: `ROGATORY_TEST_POSTGRES_URL` (default the local `test` database, trust auth). Each
test session works in a schema of its own, so parallel runs never collide. PostgreSQL must be
reachable: `.ci/run` starts it; nothing here skips it silently."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

import rogatory.models
from rogatory.app import create_app
from rogatory.bootstrap import migrate
from rogatory.clock import ManualClock, SystemClock
from rogatory.config import Settings
from rogatory.db import make_engine, make_session_factory
from rogatory.directory import seed
from rogatory.directory import service as directory
from rogatory.evidence.service import AcquisitionMetadata
from rogatory.identity import service as identity
from rogatory.identity.models import Role
from rogatory.identity.policy import Actor
from rogatory.requests import service as requests_service
from rogatory.requests.models import Case
from rogatory.safeguards.models import ReceivedData
from rogatory.timestamp.authority import ensure_tsa

PG_URL = os.environ.get(
    "ROGATORY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ENGINES = ["sqlite", "postgresql"]
START = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def _pg_schema(worker: str) -> str:
    return f"rgt_{os.getpid()}_{worker}_{secrets.token_hex(3)}"


@pytest.fixture(scope="session", params=ENGINES)
def settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Settings]:
    """A migrated, seeded database of one engine for the whole session."""
    data_dir = tmp_path_factory.mktemp(f"node-{request.param}")
    if request.param == "sqlite":
        cfg = Settings(data_dir=data_dir, secret_key="test-secret", node_name="test.node")
        admin: Engine | None = None
    else:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        schema = _pg_schema(worker)
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        cfg = Settings(data_dir=data_dir, database_url=PG_URL, database_schema=schema,
                       secret_key="test-secret", node_name="test.node")
    ensure_tsa(cfg, now=START)  # the node's TSA, valid from the tests' manual clock onwards
    engine = make_engine(cfg)
    migrate(engine)
    with Session(engine) as session:
        directory.seed(session=session, jurisdictions=seed.load_jurisdictions(),
                       authorities=seed.load_authorities())
        session.commit()
    engine.dispose()
    yield cfg
    if admin is not None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{cfg.database_schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings)
    yield eng
    eng.dispose()


SEEDED_ONCE = frozenset({"jurisdictions", "authorities"})
"""The directory, seeded once per run (`settings`); every other table is emptied after each
test that used `factory`."""


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A session factory; every table but the directory is emptied afterwards, children first
    (in the reverse of the tables' dependency order)."""
    yield make_session_factory(engine)
    with engine.begin() as conn:
        for table in reversed(rogatory.models.Base.metadata.sorted_tables):
            if table.name not in SEEDED_ONCE:
                conn.execute(table.delete())


@pytest.fixture
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as s:
        yield s
        s.rollback()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@dataclass
class World:
    """Demo-like parties: users of FR, DE, NL and US authorities, and a case."""

    actors: dict[str, Actor]
    tokens: dict[str, str]
    case_reference: str


USERS: dict[str, tuple[str, Role]] = {
    # name: (authority id, role)
    "fr_prosecutor": ("fr-parquet-paris-j3", Role.PROSECUTOR),
    "fr_judge": ("fr-tj-paris-instruction", Role.INVESTIGATING_JUDGE),
    "fr_central": ("fr-central-authority", Role.CENTRAL_AUTHORITY_OFFICER),
    "de_provider": ("de-atlas-hosting", Role.PROVIDER_RESPONDER),
    "de_executing": ("de-sta-berlin-rechtshilfe", Role.EXECUTING_OFFICER),
    "de_central": ("de-central-authority", Role.CENTRAL_AUTHORITY_OFFICER),
    "nl_provider": ("nl-nimbus-mail", Role.PROVIDER_RESPONDER),
    "us_central": ("us-central-authority", Role.CENTRAL_AUTHORITY_OFFICER),
    "auditor": ("fr-central-authority", Role.OVERSIGHT_AUDITOR),
    "it_outsider": ("it-central-authority", Role.CENTRAL_AUTHORITY_OFFICER),
}


@pytest.fixture
def world(factory: sessionmaker[Session], clock: ManualClock) -> World:
    actors: dict[str, Actor] = {}
    tokens: dict[str, str] = {}
    with factory() as s:
        for name, (authority, role) in USERS.items():
            user = identity.ensure_user(session=s, username=name, display_name=name,
                                        authority_id=authority, role=role, language="en",
                                        timezone="UTC", clock=clock)
            actors[name] = identity.actor_for(s, user)
            tokens[name] = identity.issue_token(session=s, user=user, name="test", clock=clock)
        s.add(Case(id="case-1", reference="FR-2026-LOCKSTORM", title="LockStorm ransomware",
                   summary="Ransomware attack on hospitals",
                   lead_authority_id="fr-parquet-paris-j3",
                   participants=["fr-parquet-paris-j3", "fr-tj-paris-instruction"],
                   created_at=clock.now()))
        s.commit()
    return World(actors=actors, tokens=tokens, case_reference="FR-2026-LOCKSTORM")


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """`app` served by uvicorn on a free loopback port, in a thread; yields "host:port"."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_server(settings: Settings, world: World) -> Iterator[str]:
    """The node served on a free loopback port; yields "host:port"."""
    app = create_app(settings, SystemClock())
    with serving(app) as address:
        yield address
    app.state.engine.dispose()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest.fixture
def metadata() -> AcquisitionMetadata:
    return AcquisitionMetadata(
        examiner="Lt. Claire Dubois", acquired_at=START - timedelta(days=1),
        tool="FTK Imager", tool_version="4.7.1", method="logical acquisition",
        source_device="Seized laptop, serial 5CG1234", seal_number="SCELLE-0042",
        place="Paris, OFAC lab")


@pytest.fixture
def received(factory: sessionmaker[Session], world: World,
             clock: ManualClock) -> Callable[..., None]:
    """Records data received on a request of the case under an exhibit number, restricted or
    deleted as asked."""
    from service.test_requests import draft  # a test module importing this one

    with factory() as s:
        request = requests_service.create_request(
            session=s, actor=world.actors["fr_prosecutor"], draft=draft(world), clock=clock)
        s.commit()
        request_id = request.id

    def record(exhibit: str, *, restricted: str | None = None, deleted: bool = False) -> None:
        now = clock.now()
        with factory() as s:
            s.add(ReceivedData(
                id=str(uuid.uuid4()), request_id=request_id, category="subscriber",
                description="Subscriber data", purpose="Identify the account holder",
                evidence_reference=exhibit, received_on=now.date(),
                retention_until=now.date(), review_due_on=now.date(),
                restricted=restricted is not None, restriction_reason=restricted,
                restriction_basis="Reg. (EU) 2023/1543 Art. 4(5)" if restricted else None,
                deleted_at=now if deleted else None,
                deletion_reason="retention period over" if deleted else None,
                recorded_by_user_id=world.actors["fr_prosecutor"].user_id,
                recorded_by_authority_id=world.actors["fr_prosecutor"].authority_id,
                recorded_at=now))
            s.commit()

    return record
