"""Logging in to the portal: the login page (password and the second factor), the session
cookie (HttpOnly, SameSite=Strict, Secure and `__Host-` under TLS), logout, the reader's
language and time zone, and the dependency every portal page uses to know who is reading."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import update
from sqlalchemy.orm import Session

from rogatory.clock import Clock
from rogatory.config import Settings
from rogatory.deps import (
    ClockDep,
    SessionDep,
    SettingsDep,
    get_actor,
    language_for,
    session_cookie_name,
)
from rogatory.errors import CsrfRefused, Unauthenticated
from rogatory.i18n import LANGUAGES, N_
from rogatory.identity import credentials
from rogatory.identity import service as identity
from rogatory.identity.models import User
from rogatory.identity.policy import Actor
from rogatory.web.render import Reader, page, zone

router = APIRouter(include_in_schema=False)

LOGIN_NONCE_COOKIE = "rogatory_login"
MSG_LOGIN_FAILED = N_("Invalid username, password or code.")
MSG_FORM_EXPIRED = N_("This form has expired. Please try again.")


class LoginRequired(Exception):
    """A portal page asked for by someone not logged in: they are sent to the login page and
    brought back afterwards."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def portal_actor(request: Request, session: SessionDep) -> Actor:
    """The logged-in reader of a portal page, from the session cookie (with the CSRF token on
    every form); anyone else goes to the login page."""
    try:
        return await get_actor(request, session, None)
    except Unauthenticated:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method == "GET" else "/") from None


PortalActor = Annotated[Actor, Depends(portal_actor)]


def safe_next(value: str | None) -> str:
    """Only a path on this site (never `//host` or a scheme): no open redirect."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


def login_redirect(exc: LoginRequired) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)


def _cookie_flags(request: Request) -> dict[str, object]:
    tls = bool(request.app.state.settings.tls)
    return {"httponly": True, "samesite": "strict", "secure": tls, "path": "/"}


def _login_form(request: Request, next_path: str, error: str | None = None,
                status: int = 200) -> HTMLResponse:
    """The login page, with a fresh nonce cookie that its CSRF token is bound to (so another
    site cannot log a victim in to an account of its own choosing)."""
    nonce = secrets.token_urlsafe(24)
    settings = request.app.state.settings
    secret = settings.secret_key.get_secret_value()
    reader = Reader(language=language_for(request), timezone="UTC")
    response = page(request, "login.html", None, status=status, reader=reader,
                    csrf=identity.csrf_token(secret, nonce), next_path=next_path, error=error,
                    oidc_name=settings.oidc_name if settings.oidc_enabled else None)
    response.set_cookie(LOGIN_NONCE_COOKIE, nonce, max_age=1800,
                        **_cookie_flags(request))  # type: ignore[arg-type]
    return response


@router.get("/login")
async def login_page(request: Request, session: SessionDep, next: str | None = None) -> Response:
    try:
        await get_actor(request, session, None)
        return RedirectResponse(safe_next(next), status_code=303)  # already logged in
    except Unauthenticated:
        return _login_form(request, safe_next(next))


@router.post("/login")
def login(
    request: Request, session: SessionDep, settings: SettingsDep, clock: ClockDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    code: Annotated[str, Form(max_length=32)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    secret = settings.secret_key.get_secret_value()
    nonce = request.cookies.get(LOGIN_NONCE_COOKIE)
    if not nonce or not identity.csrf_matches(secret, nonce, csrf_token):
        return _login_form(request, safe_next(next), MSG_FORM_EXPIRED, status=403)
    try:
        user = credentials.login(session=session, username=username, password=password,
                                 code=code, node_secret=secret, clock=clock)
    except Unauthenticated:
        session.commit()  # the failure counts towards the lockout
        return _login_form(request, safe_next(next), MSG_LOGIN_FAILED, status=401)
    token = open_session(request, session, settings, clock, user)
    return logged_in(request, settings, token, safe_next(next))


def open_session(request: Request, session: Session, settings: Settings, clock: Clock,
                 user: User) -> str:
    """After a login (password or identity provider): end the session of any cookie from before
    it — a session id from before the login is never kept (session fixation) — open a new one,
    name the actor for the access log, and commit; returns the new session id."""
    old = request.cookies.get(session_cookie_name(settings))
    if old:
        identity.end_web_session(session=session, token=old, clock=clock)
    token = identity.open_web_session(session=session, user=user, clock=clock)
    request.state.actor = identity.actor_for(session, user)
    session.commit()
    return token


def logged_in(request: Request, settings: Settings, token: str, next_path: str) -> Response:
    """The answer to a login: on to `next_path` with the session cookie, the login form's
    nonce cookie gone."""
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(session_cookie_name(settings), token,
                        max_age=int(identity.WEB_SESSION_LIFETIME.total_seconds()),
                        **_cookie_flags(request))  # type: ignore[arg-type]
    response.delete_cookie(LOGIN_NONCE_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, settings: SettingsDep, clock: ClockDep,
           actor: PortalActor) -> Response:
    token = request.cookies.get(session_cookie_name(settings))
    if token:
        identity.end_web_session(session=session, token=token, clock=clock)
        session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session_cookie_name(settings), path="/")
    return response


@router.post("/preferences")
def preferences(
    session: SessionDep, actor: PortalActor,
    language: Annotated[str, Form(max_length=8)] = "",
    timezone: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Remember the reader's language (and time zone) on their account."""
    values: dict[str, str] = {}
    if language in LANGUAGES:
        values["language"] = language
    if timezone and zone(timezone).key == timezone:
        values["timezone"] = timezone
    if values:
        session.execute(update(User).where(User.id == actor.user_id).values(**values))
        session.commit()
    return RedirectResponse(safe_next(next), status_code=303)


__all__ = ["CsrfRefused", "LoginRequired", "PortalActor", "login_redirect", "router"]
