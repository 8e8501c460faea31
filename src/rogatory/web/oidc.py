"""The portal's login with OpenID Connect (when `ROGATORY_OIDC_ISSUER` is set; 404 otherwise):
`/login/oidc` sends the browser to the identity provider, `/login/oidc/callback` brings it back
and, when every check of `rogatory.identity.oidc` passes, opens the same web session as the
password login. Any failure shows the login page again with one message for all; the reason goes
to the server's log."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from rogatory.config import Settings
from rogatory.deps import ClockDep, SessionDep, SettingsDep
from rogatory.errors import NotFound
from rogatory.i18n import N_
from rogatory.identity import oidc
from rogatory.web.auth import (
    _login_form,
    logged_in,
    open_session,
    safe_next,
)

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

MSG_OIDC_FAILED = N_("The login with your identity provider did not succeed. Please try again.")


def _client(request: Request) -> oidc.OidcClient:
    """This application's OIDC client (made on first use); 404 when OIDC login is off."""
    settings: Settings = request.app.state.settings
    if not settings.oidc_enabled:
        raise NotFound("not found")
    client: oidc.OidcClient | None = getattr(request.app.state, "oidc", None)
    if client is None:
        client = request.app.state.oidc = oidc.OidcClient(settings)
    return client


def _flow_cookie(settings: Settings) -> str:
    """The cookie of a login in progress; `__Host-` under TLS, like the session cookie."""
    return "__Host-rogatory_oidc" if settings.tls else "rogatory_oidc"


def _flow_cookie_flags(settings: Settings) -> dict[str, object]:
    # SameSite=Lax, not Strict as the session cookie: the provider sends the browser back here
    # from its own site, and a Strict cookie would not come with that cross-site navigation.
    # Lax sends it with top-level GET navigations only; the cookie is good for one callback.
    return {"httponly": True, "samesite": "lax", "secure": settings.tls, "path": "/"}


def _redirect_uri(request: Request, settings: Settings) -> str:
    """This node's callback, as registered at the provider (https under TLS, even when a proxy
    in front speaks http to the node)."""
    url = request.url_for("oidc_callback")
    return str(url.replace(scheme="https") if settings.tls else url)


def _refused(request: Request, next_path: str, exc: oidc.OidcRefused, status: int = 401
             ) -> Response:
    log.warning("OIDC login refused: %s", exc.reason)
    return _login_form(request, next_path, MSG_OIDC_FAILED, status=status)


@router.get("/login/oidc")
async def oidc_login(request: Request, settings: SettingsDep, clock: ClockDep,
                     next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    """Off to the identity provider, with the login in progress in a short-lived cookie."""
    client = _client(request)
    next_path = safe_next(next)
    try:
        url, pending = await client.start(_redirect_uri(request, settings), next_path,
                                          clock.now())
    except oidc.OidcRefused as exc:
        return _refused(request, next_path, exc, status=503)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(_flow_cookie(settings), client.seal(pending),
                        max_age=int(oidc.LOGIN_LIFETIME.total_seconds()),
                        **_flow_cookie_flags(settings))  # type: ignore[arg-type]
    return response


@router.get("/login/oidc/callback")
async def oidc_callback(request: Request, session: SessionDep, settings: SettingsDep,
                        clock: ClockDep) -> Response:
    """Back from the identity provider: a web session if every check passes."""
    client = _client(request)
    next_path = "/"
    response: Response
    try:
        now = clock.now()
        pending = client.unseal(request.cookies.get(_flow_cookie(settings)), now)
        next_path = safe_next(pending.next_path)
        username = await client.finish(pending, request.query_params,
                                       _redirect_uri(request, settings), now)
        token = await run_in_threadpool(lambda: open_session(
            request, session, settings, clock, oidc.find_user(session, username)))
    except oidc.OidcRefused as exc:
        response = _refused(request, next_path, exc)
    else:
        response = logged_in(request, settings, token, next_path)
    flags = _flow_cookie_flags(settings)
    response.delete_cookie(_flow_cookie(settings), **flags)  # type: ignore[arg-type]
    return response
