"""The portal over HTTP on SQLite and PostgreSQL: login with password and TOTP into a hardened
session cookie, CSRF on every form, session fixation, logout, lockout, the language remembered
per user, role workspaces, and an EPOC carried from draft to executed through the pages alone."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

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
from rogatory.evidence import service as evidence
from rogatory.evidence.service import AcquisitionMetadata
from rogatory.evidence.store import EvidenceStore
from rogatory.i18n import translate
from rogatory.identity import credentials
from rogatory.identity.models import User

PASSWORD = "correct horse battery staple"
SECRET = "test-secret"
FORM = {
    "issuing_file_number": "PARQUET-J3-2026-0417", "addressee_name": "Atlas Hosting",
    "addressee_capacity": "legal_representative", "identifiers": "ops@example.org",
    "offence_description": "Rançongiciel LockStorm",
    "necessity_and_proportionality": "Seule piste", "transfer_to_authority": "Parquet de Paris",
    "contact_email": "j3@example.org",
}


@pytest.fixture
def app(settings: Settings, clock: ManualClock, world: World) -> Iterator[FastAPI]:
    application = create_app(settings, clock)
    yield application
    application.state.audit.close()  # the access log's last batch, before the tables empty
    application.state.engine.dispose()


@pytest.fixture
def totp(factory: sessionmaker[Session], clock: ManualClock, world: World) -> dict[str, str]:
    """Passwords and TOTP secrets for the users who log in to the portal here."""
    secrets: dict[str, str] = {}
    with factory() as session:
        for name in ("fr_prosecutor", "fr_judge", "de_provider", "it_outsider", "auditor"):
            user = session.scalar(select(User).where(User.username == name))
            assert user is not None
            credentials.set_password(session=session, user=user, password=PASSWORD)
            secrets[name] = credentials.enroll_totp(session=session, user=user,
                                                    node_secret=SECRET, issuer="t",
                                                    clock=clock).secret
        session.commit()
    return secrets


class Browser:
    """One user's browser: a cookie jar, and the CSRF token of the page last seen."""

    def __init__(self, app: FastAPI, clock: ManualClock, secrets: dict[str, str]) -> None:
        self.client = TestClient(app, follow_redirects=False)
        self.clock, self.secrets = clock, secrets
        self.csrf = ""

    def get(self, path: str, expect: int = 200) -> str:
        response = self.client.get(path)
        assert response.status_code == expect, (path, response.status_code, response.text[:500])
        found = re.search(r'name="csrf_token" value="([^"]*)"', response.text)
        self.csrf = found.group(1) if found else self.csrf
        return response.text

    def post(self, path: str, data: dict[str, object], csrf: bool = True) -> object:
        body = {**data, "csrf_token": self.csrf} if csrf else data
        return self.client.post(path, data=body)

    def log_in(self, username: str, code: str | None = None, password: str = PASSWORD) -> object:
        self.get("/login")
        self.clock.advance(timedelta(seconds=30))  # a TOTP code is accepted once per step
        code = code or pyotp.TOTP(self.secrets[username]).at(self.clock.now())
        return self.post("/login", {"username": username, "password": password, "code": code,
                                    "next": "/inbox"})


@pytest.fixture
def browser(app: FastAPI, clock: ManualClock, totp: dict[str, str]) -> Iterator[Browser]:
    b = Browser(app, clock, totp)
    yield b
    b.client.close()


def open_browser(app: FastAPI, clock: ManualClock, totp: dict[str, str], who: str) -> Browser:
    b = Browser(app, clock, totp)
    response = b.log_in(who)
    assert response.status_code == 303, response.text  # type: ignore[attr-defined]
    return b


def test_pages_send_the_anonymous_to_the_login_page(browser: Browser) -> None:
    for path in ("/", "/inbox", "/dashboard", "/requests/new", f"/requests/{uuid.uuid4()}"):
        response = browser.client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")


def test_login_sets_a_hardened_session_cookie(browser: Browser) -> None:
    response = browser.log_in("fr_prosecutor")
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert response.headers["location"] == "/inbox"  # type: ignore[attr-defined]
    cookie = response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert "rogatory_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; under TLS see below
    assert "Camille" not in browser.get("/inbox")  # the world's users are named by username
    assert "fr_prosecutor" in browser.get("/inbox")


def test_under_tls_the_cookie_is_secure_and_host_only(
        settings: Settings, clock: ManualClock, world: World, totp: dict[str, str]) -> None:
    app = create_app(settings.model_copy(update={"tls": True}), clock)
    b = Browser(app, clock, totp)
    b.client.base_url = b.client.base_url.copy_with(scheme="https")
    response = b.log_in("fr_prosecutor")
    cookie = response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert cookie.startswith("__Host-rogatory_session=") and "Secure" in cookie
    assert "strict-transport-security" in b.client.get("/inbox").headers
    app.state.audit.close()
    app.state.engine.dispose()


def test_wrong_credentials_get_one_answer_and_lock_the_account(browser: Browser) -> None:
    for _ in range(credentials.MAX_FAILURES):
        response = browser.log_in("fr_prosecutor", password="wrong password!")
        assert response.status_code == 401  # type: ignore[attr-defined]
        assert "Invalid username, password or code." in response.text  # type: ignore
    right = browser.log_in("fr_prosecutor")  # locked now, even with everything right
    assert right.status_code == 401  # type: ignore[attr-defined]
    browser.clock.advance(credentials.LOCKOUT)
    assert browser.log_in("fr_prosecutor").status_code == 303  # type: ignore[attr-defined]


def test_a_replayed_totp_code_is_refused(browser: Browser, app: FastAPI, clock: ManualClock,
                                         totp: dict[str, str]) -> None:
    code = pyotp.TOTP(totp["fr_prosecutor"]).at(clock.now() + timedelta(seconds=30))
    assert browser.log_in("fr_prosecutor", code=code).status_code == 303  # type: ignore
    other = Browser(app, clock, totp)
    other.get("/login")
    replay = other.post("/login", {"username": "fr_prosecutor", "password": PASSWORD,
                                   "code": code})
    assert replay.status_code == 401  # type: ignore[attr-defined]


def test_the_login_form_needs_its_own_csrf_token(browser: Browser) -> None:
    browser.get("/login")
    forged = browser.post("/login", {"username": "fr_prosecutor", "password": PASSWORD,
                                     "code": "000000"}, csrf=False)
    assert forged.status_code == 403  # type: ignore[attr-defined]
    stranger = TestClient(browser.client.app, follow_redirects=False)  # no nonce cookie
    response = stranger.post("/login", data={"username": "fr_prosecutor", "password": PASSWORD,
                                             "code": "000000", "csrf_token": browser.csrf})
    assert response.status_code == 403


def test_a_session_id_planted_before_login_is_never_kept(
        app: FastAPI, clock: ManualClock, totp: dict[str, str]) -> None:
    attacker = open_browser(app, clock, totp, "it_outsider")
    planted = attacker.client.cookies["rogatory_session"]
    victim = Browser(app, clock, totp)
    victim.get("/login")
    # planted while the form is open (for the host the portal sets its cookies for)
    victim.client.cookies.set("rogatory_session", planted, domain="testserver.local")
    clock.advance(timedelta(seconds=30))
    response = victim.post("/login", {"username": "fr_prosecutor", "password": PASSWORD,
                                      "code": pyotp.TOTP(totp["fr_prosecutor"]).at(clock.now())})
    fresh = response.cookies["rogatory_session"]  # type: ignore[attr-defined]
    assert fresh and fresh != planted
    assert "fr_prosecutor" in victim.get("/inbox")
    # the planted session ended with the login: the attacker is logged out
    assert attacker.client.get("/inbox").status_code == 303


def test_forms_and_api_writes_without_the_csrf_token_are_refused(
        app: FastAPI, clock: ManualClock, totp: dict[str, str], world: World) -> None:
    b = open_browser(app, clock, totp, "fr_prosecutor")
    b.get("/requests/new")
    body = {"instrument": "epoc", "executing_authority_id": "de-atlas-hosting",
            "case_reference": world.case_reference, "data_categories": "subscriber",
            "validating_authority_id": "fr-tj-paris-instruction"}
    assert b.post("/requests/new", body, csrf=False).status_code == 403  # type: ignore
    wrong = b.client.post("/requests/new", data={**body, "csrf_token": "0" * 64})
    assert wrong.status_code == 403
    api = b.client.post("/api/v1/cases", json={"reference": "FR-2026-X", "title": "t"})
    assert api.status_code == 403 and api.json()["code"] == "csrf_refused"
    assert not re.findall(r'href="/requests/[0-9a-f-]{36}"', b.get("/inbox?tab=drafts"))
    assert b.client.get("/api/v1/cases").status_code == 200  # reads need no token
    with_header = b.client.post("/api/v1/cases", headers={"X-CSRF-Token": b.csrf},
                                json={"reference": "FR-2026-X", "title": "t"})
    assert with_header.status_code == 201, with_header.text
    created = b.post("/requests/new", body)
    assert created.status_code == 303  # type: ignore[attr-defined]


def test_logout_ends_the_session_on_the_server(app: FastAPI, clock: ManualClock,
                                                totp: dict[str, str]) -> None:
    b = open_browser(app, clock, totp, "fr_prosecutor")
    kept = b.client.cookies["rogatory_session"]
    b.get("/inbox")
    assert b.post("/logout", {}).status_code == 303  # type: ignore[attr-defined]
    again = TestClient(app, follow_redirects=False)
    again.cookies.set("rogatory_session", kept)  # the cookie's value, replayed
    assert again.get("/inbox").status_code == 303
    assert again.get("/api/v1/cases").status_code == 401


def test_the_session_expires_after_a_working_day(app: FastAPI, clock: ManualClock,
                                                 totp: dict[str, str]) -> None:
    b = open_browser(app, clock, totp, "fr_prosecutor")
    b.get("/inbox")
    clock.advance(timedelta(hours=8, seconds=1))
    assert b.client.get("/inbox").status_code == 303


def test_no_open_redirect_after_login(app: FastAPI, clock: ManualClock,
                                      totp: dict[str, str]) -> None:
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        b = Browser(app, clock, totp)  # a fresh browser, a fresh code: each login succeeds
        b.get(f"/login?next={target}")
        clock.advance(timedelta(seconds=30))
        code = pyotp.TOTP(totp["fr_prosecutor"]).at(clock.now())
        response = b.post("/login", {"username": "fr_prosecutor", "password": PASSWORD,
                                     "code": code, "next": target})
        assert response.status_code == 303, target  # type: ignore[attr-defined]
        assert response.headers["location"] == "/", target  # type: ignore[attr-defined]


def test_the_language_is_remembered_per_user(app: FastAPI, clock: ManualClock,
                                             totp: dict[str, str],
                                             factory: sessionmaker[Session]) -> None:
    b = open_browser(app, clock, totp, "fr_prosecutor")
    assert '<html lang="en">' in b.get("/inbox")
    switched = b.post("/preferences", {"language": "de", "next": "/inbox"})
    assert switched.status_code == 303  # type: ignore[attr-defined]
    page = b.get("/inbox")
    assert '<html lang="de">' in page and "Abmelden" in page  # "Log out"
    with factory() as session:
        assert session.scalar(select(User.language).where(User.username == "fr_prosecutor")) \
            == "de"
    b.post("/preferences", {"language": "xx", "timezone": "Not/AZone", "next": "//evil"})
    assert '<html lang="de">' in b.get("/inbox")  # unknown values change nothing


def test_unknown_and_forbidden_pages_look_the_same(
        app: FastAPI, clock: ManualClock, totp: dict[str, str], world: World) -> None:
    prosecutor = open_browser(app, clock, totp, "fr_prosecutor")
    rid = start_epoc(prosecutor, world)
    outsider = open_browser(app, clock, totp, "it_outsider")
    for suffix in ("", "/edit"):
        forbidden = outsider.client.get(f"/requests/{rid}{suffix}")
        unknown = outsider.client.get(f"/requests/{uuid.uuid4()}{suffix}")
        assert forbidden.status_code == unknown.status_code == 404
        # the same page, but for the address typed (which the language switch returns to)
        assert forbidden.text.replace(rid, "ID") == unknown.text.replace(
            unknown.url.path.split("/")[2], "ID")
    outsider.get("/inbox")
    refused = outsider.post(f"/requests/{rid}/act", {"verb": "withdraw", "version": 1})
    assert refused.status_code == 404  # type: ignore[attr-defined]


def start_epoc(b: Browser, world: World) -> str:
    b.get("/requests/new?requested=DE&measure=production&data_category=subscriber")
    response = b.post("/requests/new", {
        "instrument": "epoc", "executing_authority_id": "de-atlas-hosting",
        "case_reference": world.case_reference, "data_categories": "subscriber",
        "validating_authority_id": "fr-tj-paris-instruction"})
    assert response.status_code == 303, response.text  # type: ignore[attr-defined]
    location = response.headers["location"]  # type: ignore[attr-defined]
    found = re.fullmatch(r"/requests/([0-9a-f-]{36})/edit", location)
    assert found, location
    return found.group(1)


def version_of(page: str) -> int:
    found = re.search(r'name="version" value="(\d+)"', page)
    assert found
    return int(found.group(1))


def act(b: Browser, rid: str, verb: str) -> str:
    page = b.get(f"/requests/{rid}")
    assert f'name="verb" value="{verb}"' in page, (verb, re.findall(r'name="verb" value="(\w+)"',
                                                                    page))
    response = b.post(f"/requests/{rid}/act", {"verb": verb, "version": version_of(page),
                                               "reason": f"{verb} in the portal"})
    assert response.status_code == 303, response.text  # type: ignore[attr-defined]
    return b.get(f"/requests/{rid}")


def test_an_epoc_from_draft_to_executed_through_the_portal(
        app: FastAPI, clock: ManualClock, totp: dict[str, str], world: World) -> None:
    prosecutor = open_browser(app, clock, totp, "fr_prosecutor")
    wizard = prosecutor.get("/requests/new?requested=DE&measure=production"
                            "&data_category=subscriber")
    assert "Atlas Hosting" in wizard and "EPOC" in wizard  # the finder's proposal
    rid = start_epoc(prosecutor, world)

    edit = prosecutor.get(f"/requests/{rid}/edit")
    bad = prosecutor.post(f"/requests/{rid}/edit", {**FORM, "contact_email": "not-an-email",
                                                    "version": version_of(edit)})
    assert bad.status_code == 422  # type: ignore[attr-defined]
    assert "Must be an e-mail address." in bad.text  # type: ignore[attr-defined]
    saved = prosecutor.post(f"/requests/{rid}/edit", {**FORM, "version": version_of(edit),
                                                      "then": "review"})
    assert saved.status_code == 303  # type: ignore[attr-defined]
    review = prosecutor.get(f"/requests/{rid}")
    assert "Seule piste" in review  # the form, shown for review
    # a choice reads as its label in each column's language (the code is the stored value)
    representative = {lang: translate("A legal representative", lang) for lang in ("fr", "de")}
    assert representative["fr"] != representative["de"] != "A legal representative"
    shown = html.unescape(review)
    assert representative["fr"] in shown and representative["de"] in shown
    assert "legal_representative" not in re.sub(r'value="\w+"', "", review)
    assert "A legal representative" in html.unescape(edit)  # options in the reader's language
    needed = re.findall(r'name="field" value="(\w+)"', review)
    assert needed, "a French free text must be translated for the German addressee"
    for field in needed:
        page = prosecutor.get(f"/requests/{rid}")
        language = re.search(r'name="language" value="(\w+)"', page)
        assert language
        response = prosecutor.post(f"/requests/{rid}/translations", {
            "field": field, "language": language.group(1), "text": f"{field} (übersetzt)",
            "version": version_of(page), "certified": "true"})
        assert response.status_code == 303, response.text  # type: ignore[attr-defined]
    assert "(übersetzt)" in prosecutor.get(f"/requests/{rid}")

    page = act(prosecutor, rid, "submit")
    judge = open_browser(app, clock, totp, "fr_judge")
    assert rid in judge.get("/inbox")  # the judge's workspace opens on the validation queue
    act(judge, rid, "validate")
    act(prosecutor, rid, "send")

    provider = open_browser(app, clock, totp, "de_provider")
    assert rid in provider.get("/inbox")
    page = ""
    for verb in ("acknowledge", "begin_review", "begin_execution", "execute"):
        page = act(provider, rid, verb)
    assert "Executed" in page
    timeline = prosecutor.get(f"/requests/{rid}")
    for name in ("Submit for validation", "Validate", "Send", "Acknowledge receipt",
                 "Mark executed"):
        assert name in timeline

    # and a stale form (the version acted on is old) gets 409 with the current state
    stale = provider.post(f"/requests/{rid}/act", {"verb": "execute", "version": 1})
    assert stale.status_code == 409  # type: ignore[attr-defined]


def test_an_action_refused_by_a_rule_is_explained_on_the_page(
        app: FastAPI, clock: ManualClock, totp: dict[str, str], world: World) -> None:
    prosecutor = open_browser(app, clock, totp, "fr_prosecutor")
    rid = start_epoc(prosecutor, world)
    page = prosecutor.get(f"/requests/{rid}")
    response = prosecutor.post(f"/requests/{rid}/act", {"verb": "submit",
                                                        "version": version_of(page)})
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "This field is required." in response.text  # type: ignore[attr-defined]
    assert 'role="alert"' in response.text  # type: ignore[attr-defined]


def test_each_role_opens_on_its_own_queue(app: FastAPI, clock: ManualClock,
                                          totp: dict[str, str]) -> None:
    judge = open_browser(app, clock, totp, "fr_judge")
    assert 'href="/inbox?tab=to_validate" aria-current="page"' in judge.get("/inbox")
    provider = open_browser(app, clock, totp, "de_provider")
    assert 'href="/inbox?tab=incoming" aria-current="page"' in provider.get("/inbox")
    auditor = open_browser(app, clock, totp, "auditor")
    page = auditor.get("/inbox")
    assert 'href="/inbox?tab=all" aria-current="page"' in page and "/requests/new" not in page


def test_the_auditor_sees_metadata_not_content(app: FastAPI, clock: ManualClock,
                                               totp: dict[str, str], world: World) -> None:
    prosecutor = open_browser(app, clock, totp, "fr_prosecutor")
    rid = start_epoc(prosecutor, world)
    edit = prosecutor.get(f"/requests/{rid}/edit")
    prosecutor.post(f"/requests/{rid}/edit", {**FORM, "version": version_of(edit)})
    auditor = open_browser(app, clock, totp, "auditor")
    page = auditor.get(f"/requests/{rid}")
    assert "Draft" in page and "Seule piste" not in page and "ops@example.org" not in page
    assert auditor.client.get(f"/requests/{rid}/edit").status_code == 403


def test_portal_pages_are_in_the_access_log(app: FastAPI, clock: ManualClock,
                                            totp: dict[str, str],
                                            factory: sessionmaker[Session]) -> None:
    b = open_browser(app, clock, totp, "fr_prosecutor")
    b.get("/dashboard")
    missing = uuid.uuid4()
    b.client.get(f"/requests/{missing}")
    b.client.get("/static/portal.css")
    b.client.get("/login/oidc/callback?code=one-time-secret&state=s3cr3t&x=1")
    app.state.audit.close()
    with factory() as session:
        rows = session.scalars(select(AccessRecord)).all()
    seen = {(r.channel, r.username, r.action, r.status) for r in rows}
    assert ("portal", "fr_prosecutor", "GET /dashboard", 200) in seen
    assert ("portal", "fr_prosecutor", "GET /requests/{request_id}", 404) in seen
    assert ("portal", None, "POST /login", 303) not in seen  # the login is logged as the user
    assert ("portal", "fr_prosecutor", "POST /login", 303) in seen
    assert not any(r.action.startswith("GET /static") for r in rows)
    callback = [r.target for r in rows if r.action == "GET /login/oidc/callback"]
    assert callback == ["/login/oidc/callback?code=…&state=…&x=1"]  # credentials not kept


def test_every_page_has_the_security_headers(browser: Browser) -> None:
    response = browser.client.get("/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


def test_portal_errors_are_pages_and_api_errors_json(app: FastAPI, clock: ManualClock,
                                                     totp: dict[str, str]) -> None:
    b = open_browser(app, clock, totp, "fr_prosecutor")
    missing = b.client.get("/no-such-page")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "Not found" in missing.text
    invalid = b.client.get("/inbox?state=not-a-state")
    assert invalid.status_code == 422 and "<strong>state</strong>" in invalid.text
    api = b.client.get("/api/v1/no-such-route")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    api_invalid = b.client.get("/api/v1/requests?state=not-a-state")
    assert api_invalid.status_code == 422 and api_invalid.json()["errors"][0]["field"] == "state"


def test_the_request_page_marks_evidence_whose_data_are_restricted(
        app: FastAPI, clock: ManualClock, totp: dict[str, str], world: World,
        factory: sessionmaker[Session], settings: Settings, metadata: AcquisitionMetadata,
        received: Callable[..., None]) -> None:
    prosecutor = open_browser(app, clock, totp, "fr_prosecutor")
    rid = start_epoc(prosecutor, world)
    with factory() as s:
        item = evidence.ingest(
            session=s, store=EvidenceStore(settings.evidence_dir),
            actor=world.actors["fr_prosecutor"], case_reference=world.case_reference,
            chunks=[b"subscriber export"], original_name="export.csv", metadata=metadata,
            claimed=None, legacy_hashes=False, clock=clock, timestamp=None)
        s.commit()
        exhibit = item.exhibit_number
    received(exhibit, restricted="lapsed")
    page = html.unescape(prosecutor.get(f"/requests/{rid}"))
    row = re.search(r'<tr><td><a href="/evidence/[^"]+">' + re.escape(exhibit)
                    + r"</a>(.*?)</tr>", page)
    assert row, page
    assert 'title="restricted: lapsed, Reg. (EU) 2023/1543 Art. 4(5)"' in row.group(1)
    assert "Withheld: may not be used" in row.group(1)
