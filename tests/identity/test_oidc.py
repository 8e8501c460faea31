"""OpenID Connect login on SQLite and PostgreSQL, against a real identity provider: a small one of
our own below, served over HTTP on loopback (discovery, an authorization endpoint that consents
at once, a token endpoint that checks the client's secret and PKCE and signs RS256 ID tokens
with a generated key, and its JWKS). The node talks to it over real HTTP; the browser is a
TestClient for the node and plain HTTP for the provider. Nothing of Rogatory is mocked.

Covered: a login that opens the same hardened web session as the password login; refusals, all
with one message and no session (wrong nonce, wrong audience, expired token, a token signed by
another key, no second factor in `amr`, an unknown or inactive user, a mismatched state, an
error from the provider, a login left too long at the provider); the login cookie good for one
callback; the settings' checks; and with OIDC off, no route and no link."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from pydantic import SecretStr, ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from conftest import World, serving
from rogatory.app import create_app
from rogatory.clock import ManualClock
from rogatory.config import Settings
from rogatory.identity.models import User
from rogatory.web.oidc import MSG_OIDC_FAILED

CLIENT_ID = "rogatory-test-node"
CLIENT_SECRET = "idp-client-secret-" + secrets.token_hex(8)
CALLBACK = "http://testserver/login/oidc/callback"
PROVIDER = "FranceConnect+"
HOST = "testserver.local"  # how the cookie jar names TestClient's host


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class IdentityProvider:
    """A small OpenID Provider with one user logged in, who consents to everything. Its fields
    below the keys make it misbehave, one way per test."""

    key: RSAKey
    other_key: RSAKey  # same kid, another key: what a forger would sign with
    clock: ManualClock | None = None
    issuer: str = ""
    username: str = "fr_prosecutor"
    amr: list[str] = field(default_factory=lambda: ["pwd", "otp", "mfa"])
    nonce: str | None = None  # instead of the one asked for
    audience: str | None = None  # instead of the client's id
    lifetime: timedelta = timedelta(minutes=5)
    forge: bool = False  # sign with other_key
    state: str | None = None  # instead of the one asked for
    error: str | None = None  # answer the authorization request with this error
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    exchanges: list[dict[str, str]] = field(default_factory=list)

    def reset(self, clock: ManualClock) -> None:
        self.clock, self.username, self.amr = clock, "fr_prosecutor", ["pwd", "otp", "mfa"]
        self.nonce = self.audience = self.state = self.error = None
        self.lifetime, self.forge = timedelta(minutes=5), False
        self.codes.clear()
        self.exchanges.clear()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "scopes_supported": ["openid", "profile"],
            }

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return KeySet([self.key]).as_dict(private=False)

        @app.get("/authorize")
        def authorize(request: Request) -> Response:
            q = request.query_params
            if (q.get("client_id") != CLIENT_ID or q.get("response_type") != "code"
                    or q.get("redirect_uri") != CALLBACK
                    or "openid" not in q.get("scope", "").split()
                    or q.get("code_challenge_method") != "S256"
                    or not q.get("code_challenge") or not q.get("nonce") or not q.get("state")):
                return JSONResponse({"error": "invalid_request"}, 400)
            state = self.state or q["state"]
            if self.error:
                return RedirectResponse(
                    f"{CALLBACK}?{urlencode({'error': self.error, 'state': state})}", 302)
            code = secrets.token_urlsafe(24)
            self.codes[code] = {"challenge": q["code_challenge"], "nonce": q["nonce"],
                                "redirect_uri": q["redirect_uri"]}
            return RedirectResponse(f"{CALLBACK}?{urlencode({'code': code, 'state': state})}",
                                    302)

        @app.post("/token")
        async def token(request: Request) -> Response:
            scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
            user, _, password = base64.b64decode(encoded or "").decode().partition(":")
            if scheme.lower() != "basic" or (unquote(user), unquote(password)) != (
                    CLIENT_ID, CLIENT_SECRET):
                return JSONResponse({"error": "invalid_client"}, 401)
            form = await request.form()
            grant = self.codes.pop(str(form.get("code")), None)  # a code is good once
            verifier = str(form.get("code_verifier", ""))
            if (form.get("grant_type") != "authorization_code" or grant is None
                    or form.get("redirect_uri") != grant["redirect_uri"]
                    or _b64(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]):
                return JSONResponse({"error": "invalid_grant"}, 400)
            self.exchanges.append({"verifier": verifier})
            assert self.clock is not None
            now = int(self.clock.now().timestamp())
            access_token = secrets.token_urlsafe(32)
            claims = {
                "iss": self.issuer, "sub": f"sub-{self.username}",
                "aud": self.audience or CLIENT_ID, "iat": now,
                "exp": now + int(self.lifetime.total_seconds()), "auth_time": now,
                "nonce": self.nonce or grant["nonce"], "amr": self.amr,
                "preferred_username": self.username,
                "at_hash": _b64(hashlib.sha256(access_token.encode()).digest()[:16]),
            }
            key = self.other_key if self.forge else self.key
            id_token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
            return JSONResponse({"access_token": access_token, "token_type": "Bearer",
                                 "expires_in": 300, "id_token": id_token},
                                headers={"Cache-Control": "no-store"})

        return app


@pytest.fixture(scope="module")
def provider() -> Iterator[IdentityProvider]:
    params = {"kid": "idp-2026", "use": "sig", "alg": "RS256"}
    idp = IdentityProvider(key=RSAKey.generate_key(2048, parameters=params),
                           other_key=RSAKey.generate_key(2048, parameters=params))
    with serving(idp.app()) as address:
        idp.issuer = f"http://{address}"
        yield idp


@pytest.fixture
def idp(provider: IdentityProvider, clock: ManualClock) -> IdentityProvider:
    provider.reset(clock)
    return provider


def oidc_settings(settings: Settings, issuer: str, **extra: object) -> Settings:
    return settings.model_copy(update={
        "oidc_issuer": issuer, "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": SecretStr(CLIENT_SECRET), "oidc_name": PROVIDER, **extra})


@pytest.fixture
def app(settings: Settings, clock: ManualClock, world: World, idp: IdentityProvider
        ) -> Iterator[FastAPI]:
    application = create_app(oidc_settings(settings, idp.issuer), clock)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        yield client


@dataclass
class Flow:
    """One trip through the provider: the node's redirect there, its redirect back, and the
    node's answer to the callback."""

    start: httpx.Response
    callback_url: str
    answer: httpx.Response

    @property
    def flow_cookie(self) -> str:
        found = re.search(r"rogatory_oidc=([^;]+)", self.start.headers["set-cookie"])
        assert found
        return found.group(1)


def log_in(browser: TestClient, next_path: str = "/inbox") -> Flow:
    start = browser.get("/login/oidc", params={"next": next_path})
    assert start.status_code == 303, start.text[:300]
    at_provider = httpx.get(start.headers["location"], follow_redirects=False)  # real HTTP
    assert at_provider.status_code == 302, at_provider.text
    callback_url = at_provider.headers["location"]
    assert callback_url.startswith(CALLBACK + "?")
    return Flow(start, callback_url, browser.get(callback_url))


def alert(response: httpx.Response) -> str:
    found = re.search(r'<p class="alert" role="alert">([^<]*)</p>', response.text)
    assert found, response.text[:500]
    return found.group(1)


def assert_refused(browser: TestClient, response: httpx.Response) -> None:
    """Back on the login page with the one message, without a session."""
    assert response.status_code == 401
    assert alert(response) == MSG_OIDC_FAILED
    assert 'action="/login"' in response.text
    assert "rogatory_session=" not in response.headers.get("set-cookie", "")
    assert "rogatory_session" not in browser.cookies
    assert "rogatory_oidc" not in browser.cookies  # the login in progress is gone too
    assert browser.get("/inbox").headers["location"].startswith("/login?next=")


def test_login_with_the_provider_opens_a_web_session(
        browser: TestClient, idp: IdentityProvider, factory: sessionmaker[Session]) -> None:
    page = browser.get("/login?next=/inbox").text
    assert f"Log in with {PROVIDER}" in page and 'href="/login/oidc?next=/inbox"' in page

    flow = log_in(browser)
    location = urlsplit(flow.start.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == idp.issuer
    asked = parse_qs(location.query)
    assert asked["code_challenge_method"] == ["S256"] and asked["response_type"] == ["code"]
    assert asked["redirect_uri"] == [CALLBACK] and "openid" in asked["scope"][0].split()
    assert len(asked["state"][0]) >= 32 and len(asked["nonce"][0]) >= 32
    cookie = flow.start.headers["set-cookie"]  # the login in progress
    assert cookie.startswith("rogatory_oidc=") and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and "Max-Age=600" in cookie and "Path=/" in cookie
    for secret in (asked["state"][0], asked["nonce"][0], idp.exchanges[0]["verifier"]):
        assert secret not in cookie  # sealed, not merely encoded
    assert len(idp.exchanges) == 1  # the provider checked the client's secret and PKCE

    answer = flow.answer
    assert answer.status_code == 303 and answer.headers["location"] == "/inbox"
    session_cookie = next(c for c in answer.headers.get_list("set-cookie")
                          if c.startswith("rogatory_session="))
    assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie
    assert "rogatory_oidc" not in browser.cookies
    inbox = browser.get("/inbox")
    assert inbox.status_code == 200 and "fr_prosecutor" in inbox.text
    with factory() as s:  # the password login's counters are not touched
        user = s.scalar(select(User).where(User.username == "fr_prosecutor"))
        assert user is not None and user.failed_logins == 0


def test_a_login_over_an_old_session_ends_it(browser: TestClient, app: FastAPI,
                                            idp: IdentityProvider) -> None:
    assert log_in(browser).answer.status_code == 303
    old = browser.cookies.get("rogatory_session", domain=HOST)
    flow = log_in(browser, next_path="//evil.example/phish")
    assert flow.answer.headers["location"] == "/"  # only a path on this site
    new = browser.cookies.get("rogatory_session", domain=HOST)
    assert old and new and new != old
    assert browser.get("/inbox").status_code == 200
    with TestClient(app, follow_redirects=False) as other:  # the old session id is worth nothing
        other.cookies.set("rogatory_session", old, domain=HOST)
        assert other.get("/inbox").headers["location"].startswith("/login?next=")


REFUSALS = {
    # case: (what the provider or the directory does wrong, the reason in the server's log)
    "wrong nonce": ("nonce", "nonce"),
    "wrong audience": ("audience", "aud"),
    "expired token": ("lifetime", "ExpiredTokenError"),
    "signed by another key": ("forge", "BadSignatureError"),
    "no second factor": ("amr", "no second factor"),
    "unknown user": ("username", "no user 'nobody'"),
    "inactive user": ("inactive", "inactive"),
    "mismatched state": ("state", "state is not the login cookie's"),
    "provider error": ("error", "error='access_denied'"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_refusals_get_one_answer_and_no_session(
        case: str, browser: TestClient, idp: IdentityProvider,
        factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture) -> None:
    fault, reason = REFUSALS[case]
    if fault == "nonce":
        idp.nonce = "not-the-nonce-asked-for"
    elif fault == "audience":
        idp.audience = "another-client"
    elif fault == "lifetime":
        idp.lifetime = -timedelta(minutes=5)
    elif fault == "forge":
        idp.forge = True
    elif fault == "amr":
        idp.amr = ["pwd"]
    elif fault == "username":
        idp.username = "nobody"
    elif fault == "inactive":
        with factory() as s:
            s.execute(update(User).where(User.username == "fr_prosecutor").values(active=False))
            s.commit()
    elif fault == "state":
        idp.state = "a-state-of-another-login"
    elif fault == "error":
        idp.error = "access_denied"
    with caplog.at_level(logging.WARNING, logger="rogatory.web.oidc"):
        flow = log_in(browser)
    assert_refused(browser, flow.answer)
    refused = [r.getMessage() for r in caplog.records if r.name == "rogatory.web.oidc"]
    assert len(refused) == 1 and reason in refused[0], refused
    query = parse_qs(urlsplit(flow.callback_url).query)
    for secret in (CLIENT_SECRET, *query.get("code", []), *query.get("state", [])):
        assert secret not in caplog.text
    with factory() as s:  # counted nowhere: the password lockout is untouched
        user = s.scalar(select(User).where(User.username == "fr_prosecutor"))
        assert user is not None and user.failed_logins == 0 and user.locked_until is None


def test_the_login_cookie_is_good_for_one_callback(
        browser: TestClient, app: FastAPI, idp: IdentityProvider,
        caplog: pytest.LogCaptureFixture) -> None:
    flow = log_in(browser)
    assert flow.answer.status_code == 303
    with TestClient(app, follow_redirects=False) as thief:  # the cookie and URL, replayed
        thief.cookies.set("rogatory_oidc", flow.flow_cookie, domain=HOST)
        with caplog.at_level(logging.WARNING, logger="rogatory.web.oidc"):
            assert_refused(thief, thief.get(flow.callback_url))
            # even with a fresh code the provider issues for the same state and nonce
            again = httpx.get(flow.start.headers["location"], follow_redirects=False)
            thief.cookies.set("rogatory_oidc", flow.flow_cookie, domain=HOST)
            assert_refused(thief, thief.get(again.headers["location"]))
    assert [r.getMessage() for r in caplog.records].count(
        "OIDC login refused: this login's state was already used (a replayed cookie)") == 2
    assert len(idp.exchanges) == 1  # refused before any code reached the provider


def test_a_login_left_too_long_at_the_provider_expires(
        browser: TestClient, idp: IdentityProvider, clock: ManualClock) -> None:
    start = browser.get("/login/oidc")
    back = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    clock.advance(timedelta(minutes=11))
    assert_refused(browser, browser.get(back))


def test_a_callback_without_a_login_in_progress_is_refused(browser: TestClient) -> None:
    assert_refused(browser, browser.get("/login/oidc/callback?code=abc&state=def"))


def test_an_unreachable_provider_sends_back_to_the_login_page(
        settings: Settings, clock: ManualClock, world: World) -> None:
    app = create_app(oidc_settings(settings, "http://127.0.0.1:9"), clock)  # discard port
    with TestClient(app, follow_redirects=False) as client:
        response = client.get("/login/oidc")
        assert response.status_code == 503 and alert(response) == MSG_OIDC_FAILED
    app.state.engine.dispose()


def test_without_oidc_there_is_no_route_and_no_link(settings: Settings, clock: ManualClock,
                                                    world: World) -> None:
    assert settings.oidc_issuer is None
    app = create_app(settings, clock)
    with TestClient(app, follow_redirects=False) as client:
        assert client.get("/login/oidc").status_code == 404
        assert client.get("/login/oidc/callback?code=a&state=b").status_code == 404
        page = client.get("/login")
        assert page.status_code == 200 and "/login/oidc" not in page.text
        assert "Log in with" not in page.text
    app.state.engine.dispose()


# -- settings (no database) --------------------------------------------------------------------


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROGATORY_OIDC_ISSUER", "https://auth.example.gouv.fr/api/v2")
    monkeypatch.setenv("ROGATORY_OIDC_CLIENT_ID", "rogatory")
    monkeypatch.setenv("ROGATORY_OIDC_CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("ROGATORY_OIDC_NAME", PROVIDER)
    cfg = Settings()
    assert cfg.oidc_enabled and cfg.oidc_name == PROVIDER
    assert cfg.oidc_username_claim == "preferred_username" and cfg.oidc_required_amr == "mfa"
    assert "s3cret" not in repr(cfg)
    monkeypatch.setenv("ROGATORY_OIDC_ISSUER", "")
    assert not Settings().oidc_enabled  # an empty variable leaves OIDC off


@pytest.mark.parametrize(("values", "named"), [
    ({"oidc_issuer": "http://idp.example.org"}, "ROGATORY_OIDC_ISSUER"),
    ({"oidc_issuer": "https://idp.example.org?x=1"}, "ROGATORY_OIDC_ISSUER"),
    ({"oidc_issuer": "idp.example.org"}, "ROGATORY_OIDC_ISSUER"),
    ({"oidc_client_id": None}, "ROGATORY_OIDC_CLIENT_ID"),
    ({"oidc_client_secret": None}, "ROGATORY_OIDC_CLIENT_SECRET"),
    ({"oidc_required_amr": " "}, "ROGATORY_OIDC_REQUIRED_AMR"),
    ({"oidc_scope": "profile"}, "ROGATORY_OIDC_SCOPE"),
])
def test_settings_that_cannot_work_are_refused_naming_the_variable(
        values: dict[str, object], named: str) -> None:
    complete = {"oidc_issuer": "https://idp.example.org", "oidc_client_id": "rogatory",
                "oidc_client_secret": "s3cret"}
    with pytest.raises(ValidationError, match=named):
        Settings(**{**complete, **values})  # type: ignore[arg-type]


@pytest.mark.parametrize("issuer", ["https://idp.example.org", "http://127.0.0.1:8080",
                                    "http://localhost:8080/realms/justice", "http://[::1]:9"])
def test_https_or_a_loopback_issuer_is_accepted(issuer: str) -> None:
    assert Settings(oidc_issuer=issuer, oidc_client_id="c", oidc_client_secret="s").oidc_enabled
