"""FastAPI dependencies: the node's settings and clock, one database session per HTTP request,
the authenticated actor (a bearer token, or the portal's session cookie with its CSRF token)
and the reader's language."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from rogatory.clock import Clock
from rogatory.config import Settings
from rogatory.errors import CsrfRefused, Unauthenticated
from rogatory.i18n import LANGUAGES, negotiate
from rogatory.identity import service as identity
from rogatory.identity.policy import Actor

bearer = HTTPBearer(auto_error=False, description="An API token (rgt_…)")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def session_cookie_name(settings: Settings) -> str:
    """The portal's session cookie; under TLS with the `__Host-` prefix, which browsers only
    accept when Secure, for this host, path / (it cannot be planted from a sibling domain)."""
    return "__Host-rogatory_session" if settings.tls else "rogatory_session"


# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in a worker
# thread, and the hand-off costs more than the dependency.


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_session_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for this HTTP request; write routes commit once, anything else rolls back.

    It is opened and closed on the event loop, and closed as soon as the route function returns
    (`scope="function"`), so a database connection is only ever held by code that is running in
    a worker thread — never by a request waiting for a thread (which would deadlock the pool
    under load)."""
    session = get_session_factory(request)()
    try:
        yield session
    finally:
        session.close()  # rolls back whatever was not committed, returns the connection


SessionDep = Annotated[Session, Depends(get_session, scope="function")]

T = TypeVar("T")


async def run_read(request: Request, read: Callable[[], T]) -> T:
    """Run the database reads of a route.

    On SQLite they run right here on the event loop: they are reads of an in-process database
    under WAL, which never wait for a lock, and handing them to a worker thread and back costs
    more than the reads themselves. On a database across a network they run in a worker thread,
    so that the event loop never waits for a round trip. (Writes always run in a worker thread:
    they may wait for a lock.)"""
    if request.app.state.inline_reads:
        return read()
    return await run_in_threadpool(read)


ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_actor(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    """The authenticated actor, from one indexed query (see `run_read`): a bearer token (a
    read-only token only for GET and HEAD), or else the portal's session cookie, with which a
    state-changing call must carry the session's CSRF token (header `X-CSRF-Token` or form field
    `csrf_token`). The access log (`rogatory.audit`) takes the actor from here."""
    write = request.method not in SAFE_METHODS
    if credentials is not None and credentials.scheme.lower() == "bearer":
        token = credentials.credentials
    else:
        settings: Settings = request.app.state.settings
        cookie = request.cookies.get(session_cookie_name(settings))
        if not cookie:
            raise Unauthenticated("a bearer token or a login session is required")
        if write:
            presented = request.headers.get(CSRF_HEADER)
            if presented is None and request.headers.get("content-type", "").startswith(
                    ("application/x-www-form-urlencoded", "multipart/form-data")):
                field = (await request.form()).get(CSRF_FIELD)
                presented = field if isinstance(field, str) else None
            if not identity.csrf_matches(settings.secret_key.get_secret_value(), cookie,
                                         presented):
                raise CsrfRefused("this form is out of date or did not come from this site: "
                                  "reload the page and try again")
        token = cookie
    now = request.app.state.clock.now()

    if request.app.state.inline_reads:  # the route's reads follow on the same connection
        actor = identity.authenticate_token(session=session, token=token, now=now, write=write)
    else:
        def lookup() -> Actor:
            try:
                return identity.authenticate_token(session=session, token=token, now=now,
                                                   write=write)
            finally:
                session.rollback()  # give the connection back before the route runs

        actor = await run_in_threadpool(lookup)
    request.state.actor = actor
    request.state.language = language_for(request, actor)
    return actor


CurrentActor = Annotated[Actor, Depends(get_actor)]


def language_for(request: Request, actor: Actor | None = None) -> str:
    """`?lang=` first, then the user's remembered language, then Accept-Language."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return str(asked)
    if actor is not None and actor.language in LANGUAGES:
        return actor.language
    return negotiate(request.headers.get("accept-language"))
