"""Access over HTTP on SQLite and PostgreSQL: login with password and TOTP, every `/api/v1`
route refused without a token (the list comes from the application itself), read-only tokens,
id-guessing, the access log and the security headers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from conftest import World
from rogatory.app import create_app
from rogatory.audit.models import AccessRecord
from rogatory.clock import ManualClock
from rogatory.config import Settings
from rogatory.identity import credentials
from rogatory.identity import service as identity
from rogatory.identity.models import User

PASSWORD = "correct horse battery staple"


@pytest.fixture
def app(settings: Settings, clock: ManualClock, world: World) -> Iterator[FastAPI]:
    application = create_app(settings, clock)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every /api/v1 route the application publishes, path parameters filled
    with unknown ids."""
    found = []
    for template, operations in app.openapi()["paths"].items():
        if template.startswith("/api/v1/"):
            path = re.sub(r"\{[^}]+\}", "x" + uuid.uuid4().hex[:8], template)
            found += [(method.upper(), path) for method in operations]
    return found


def test_every_api_route_refuses_the_unauthenticated(app: FastAPI, client: TestClient) -> None:
    routes = api_routes(app)
    assert len(routes) >= 20  # the whole API, not a sample
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer rgt_not-a-token"},
                        {"Authorization": "Basic dXNlcjpwYXNz"}):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)


def test_guessed_ids_look_like_forbidden_ones(client: TestClient, world: World) -> None:
    """A request the reader may not see and an id that does not exist: the same 404 body."""
    created = client.post("/api/v1/requests", headers=auth(world, "fr_prosecutor"), json={
        "case_reference": world.case_reference, "instrument": "epoc",
        "executing_authority_id": "de-atlas-hosting", "data_categories": ["subscriber"],
        "form": {"issuing_file_number": "X-1"}})
    assert created.status_code == 201, created.text
    hidden = created.json()["id"]
    outsider = auth(world, "it_outsider")
    for suffix in ("", "/timeline", "/render", "/events"):
        forbidden = client.get(f"/api/v1/requests/{hidden}{suffix}", headers=outsider)
        unknown = client.get(f"/api/v1/requests/{uuid.uuid4()}{suffix}", headers=outsider)
        assert forbidden.status_code == unknown.status_code == 404
        assert forbidden.json() == unknown.json()


def test_login_with_password_and_totp_gives_a_working_token(
        client: TestClient, factory: sessionmaker[Session], world: World,
        clock: ManualClock) -> None:
    with factory() as session:
        user = session.scalar(select(User).where(User.username == "fr_judge"))
        assert user is not None
        credentials.set_password(session=session, user=user, password=PASSWORD)
        enrolled = credentials.enroll_totp(session=session, user=user,
                                           node_secret="test-secret", issuer="t", clock=clock)
        session.commit()
    code = pyotp.TOTP(enrolled.secret).at(clock.now())
    wrong = client.post("/auth/login", json={"username": "fr_judge", "password": "nope",
                                             "code": code})
    assert wrong.status_code == 401
    assert wrong.json()["message"] == credentials.FAILURE
    ok = client.post("/auth/login", json={"username": "fr_judge", "password": PASSWORD,
                                          "code": code})
    assert ok.status_code == 200, ok.text
    token = ok.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/cases", headers=headers).status_code == 200
    assert client.post("/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/cases", headers=headers).status_code == 401


def test_a_read_only_token_cannot_write(client: TestClient, factory: sessionmaker[Session],
                                        world: World, clock: ManualClock) -> None:
    with factory() as session:
        user = session.scalar(select(User).where(User.username == "fr_prosecutor"))
        assert user is not None
        token = identity.issue_token(session=session, user=user, name="ro", clock=clock,
                                     scopes=("read",))
        session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/cases", headers=headers).status_code == 200
    assert client.post("/api/v1/cases", headers=headers, json={
        "reference": "FR-2026-RO", "title": "t", "summary": ""}).status_code == 401


def test_every_call_is_in_the_access_log(app: FastAPI, client: TestClient, world: World,
                                         factory: sessionmaker[Session]) -> None:
    missing = str(uuid.uuid4())
    client.get("/api/v1/cases", headers=auth(world, "fr_prosecutor"))
    client.get(f"/api/v1/requests/{missing}", headers=auth(world, "it_outsider"))
    client.get("/api/v1/cases")
    app.state.audit.close()  # what the server does when it stops
    with factory() as session:
        rows = session.scalars(select(AccessRecord).order_by(AccessRecord.id)).all()
    seen = [(r.username, r.action, r.status, r.allowed) for r in rows]
    assert ("fr_prosecutor", "GET /api/v1/cases", 200, True) in seen
    assert ("it_outsider", "GET /api/v1/requests/{request_id}", 404, False) in seen
    assert (None, "GET /api/v1/cases", 401, False) in seen
    assert all(r.ledger_index is not None for r in rows)
    assert any(r.target == f"/api/v1/requests/{missing}" for r in rows)


def test_security_headers(client: TestClient, world: World) -> None:
    response = client.get("/healthz")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in response.headers  # not under TLS


def test_hsts_under_tls(settings: Settings, clock: ManualClock, world: World) -> None:
    app = create_app(settings.model_copy(update={"tls": True}), clock)
    with TestClient(app) as c:
        assert "max-age=" in c.get("/healthz").headers["strict-transport-security"]
    app.state.engine.dispose()


def auth(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[who]}"}


def test_each_role_sees_the_fields_it_needs(client: TestClient, world: World) -> None:
    """A provider does not see the case narrative; an auditor sees a request's metadata, not
    its content."""
    case = client.get(f"/api/v1/cases/{world.case_reference}",
                      headers=auth(world, "fr_prosecutor")).json()
    assert case["summary"] and case["withheld"] == []
    created = client.post("/api/v1/requests", headers=auth(world, "fr_prosecutor"), json={
        "case_reference": world.case_reference, "instrument": "epoc",
        "executing_authority_id": "de-atlas-hosting", "data_categories": ["subscriber"],
        "form": {"issuing_file_number": "X-2"}}).json()
    audited = client.get(f"/api/v1/requests/{created['id']}", headers=auth(world, "auditor"))
    assert audited.status_code == 200
    assert audited.json()["form"] == {} and audited.json()["withheld"] == ["form",
                                                                           "translations"]
    assert audited.json()["state"] == "draft"  # the metadata stays
    seen_by_auditor = client.get(f"/api/v1/cases/{world.case_reference}",
                                 headers=auth(world, "auditor")).json()
    assert seen_by_auditor["summary"] == "" and seen_by_auditor["withheld"] == ["summary"]
    own = client.get(f"/api/v1/requests/{created['id']}", headers=auth(world, "fr_prosecutor"))
    assert own.json()["form"]["issuing_file_number"] == "X-2"


# Who sees an EPOC from the Paris prosecutor (validated in-house) sent to Atlas Hosting (DE):
# the issuing authority's staff, the addressed provider once it is sent, and the auditor. Every
# other user — another authority of the same state, of the requested state, of a third state —
# gets the same 404 as for an id that does not exist.
VISIBILITY: dict[str, tuple[bool, bool]] = {
    # user: (sees the draft, sees it once sent)
    "fr_prosecutor": (True, True),  # issuing authority (FR)
    "fr_judge": (False, False),  # another French authority, not a party
    "fr_central": (False, False),  # own state's central authority, not a party
    "de_provider": (False, True),  # the addressed provider (DE), once sent
    "de_executing": (False, False),  # requested state, not the addressee
    "de_central": (False, False),
    "nl_provider": (False, False),  # third state
    "us_central": (False, False),
    "it_outsider": (False, False),
    "auditor": (True, True),  # oversight
}


def test_the_visibility_matrix_of_every_request_route(client: TestClient, world: World) -> None:
    assert set(VISIBILITY) == set(world.tokens)  # every user of the world, none skipped
    prosecutor = auth(world, "fr_prosecutor")
    created = client.post("/api/v1/requests", headers=prosecutor, json={
        "case_reference": world.case_reference, "instrument": "epoc", "language": "en",
        "executing_authority_id": "de-atlas-hosting", "data_categories": ["subscriber"],
        "form": {
            "issuing_file_number": "PARQUET-J3-2026-0417", "addressee_name": "Atlas Hosting",
            "addressee_capacity": "legal_representative", "identifiers": "ops@example.org",
            "offence_description": "Ransomware", "necessity_and_proportionality": "Needed",
            "transfer_to_authority": "Parquet de Paris", "contact_email": "j3@example.org"}})
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    routes = [f"/api/v1/requests/{rid}", f"/api/v1/requests/{rid}/timeline",
              f"/api/v1/requests/{rid}/render"]

    def check(stage: int) -> None:
        for user, expected in VISIBILITY.items():
            for path in routes:
                status = client.get(path, headers=auth(world, user)).status_code
                assert status == (200 if expected[stage] else 404), (user, path, stage)

    check(0)
    version = created.json()["version"]
    for verb in ("submit", "validate", "send"):
        moved = client.post(f"/api/v1/requests/{rid}/actions/{verb}", headers=prosecutor,
                            json={"version": version, "reason": "ok"})
        assert moved.status_code == 200, moved.text
        version = moved.json()["version"]
    check(1)
