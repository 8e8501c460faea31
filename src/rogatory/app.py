"""The FastAPI application factory: routers, error mapping (one place, `RogatoryError` → HTTP)
and health check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rogatory import __version__
from rogatory.clock import Clock, SystemClock
from rogatory.config import Settings
from rogatory.db import make_engine, make_session_factory
from rogatory.deps import language_for
from rogatory.errors import FieldError, RogatoryError, ValidationFailed
from rogatory.i18n import N_, negotiate, translate
from rogatory.requests.schemas import MSG_NUL


def _language(request: Request) -> str:
    lang = getattr(request.state, "language", None)
    return lang if isinstance(lang, str) else language_for(request)


API_PREFIXES = ("/api/", "/auth/", "/public/", "/tsa", "/healthz", "/openapi.json", "/docs")


def is_portal(request: Request) -> bool:
    """A page of the portal (answered in HTML), as opposed to the API (answered in JSON)."""
    return not request.url.path.startswith(API_PREFIXES)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


class RefuseNul:
    """ASGI middleware: NUL characters in the path or query reach no database; such a request
    gets 422 naming where (a plain ASGI class: no per-request task overhead)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            where = None
            if "\x00" in scope["path"]:
                where = "path"
            elif b"%00" in scope.get("query_string", b""):
                pairs = parse_qsl(scope["query_string"].decode("latin-1"),
                                  keep_blank_values=True)
                where = next((k for k, v in pairs if "\x00" in k or "\x00" in v), "query")
            if where is not None:
                lang = negotiate(Headers(scope=scope).get("accept-language"))
                failure = ValidationFailed([FieldError(where, MSG_NUL)])
                await JSONResponse(failure.to_dict(lang), 422)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """ASGI middleware: a strict Content-Security-Policy (own origin only, no framing), no MIME
    sniffing, no referrer, and HSTS when the node is served over TLS."""

    def __init__(self, app: ASGIApp, tls: bool) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy",
             b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
             b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if tls:
            self.headers.append((b"strict-transport-security",
                                 b"max-age=63072000; includeSubDomains"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    """Build the node's HTTP application; connects lazily (nothing at import time)."""
    from rogatory.audit.middleware import AuditAccess
    from rogatory.audit.recorder import Recorder
    from rogatory.directory.api import router as directory_router
    from rogatory.evidence.api import router as evidence_router
    from rogatory.identity.api import router as auth_router
    from rogatory.instruments.api import router as instruments_router
    from rogatory.requests.api import router as requests_router
    from rogatory.safeguards.api import router as safeguards_router
    from rogatory.timestamp.api import router as timestamp_router
    from rogatory.web import auth as web_auth
    from rogatory.web import oidc as web_oidc
    from rogatory.web.pages import router as pages_router
    from rogatory.web.render import page

    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.audit.close()  # write the access records still queued

    app = FastAPI(
        lifespan=lifespan,
        title="Rogatory",
        version=__version__,
        description="Cross-border judicial cooperation against cybercrime: standardized "
        "requests tracked against their legal deadlines.",
    )
    engine = make_engine(settings)
    app.state.settings = settings
    app.state.engine = engine
    app.state.inline_reads = engine.dialect.name == "sqlite"  # see `deps.run_read`
    app.state.session_factory = make_session_factory(engine)
    app.state.clock = clock or SystemClock()
    app.state.audit = Recorder(app.state.session_factory)

    @app.exception_handler(web_auth.LoginRequired)
    async def _login_required(request: Request, exc: web_auth.LoginRequired) -> Response:
        return web_auth.login_redirect(exc)

    @app.exception_handler(RogatoryError)
    async def _rogatory_error(request: Request, exc: RogatoryError) -> Response:
        if is_portal(request):  # unknown and forbidden look the same here too
            actor = getattr(request.state, "actor", None)
            heading, message = {
                404: (N_("Not found"), N_("There is nothing here, or nothing you may see.")),
                403: (N_("Refused"), exc.message),
            }.get(exc.http_status, (N_("This could not be done"), exc.message))
            return page(request, "error.html", actor, status=exc.http_status,
                        heading=translate(heading, _language(request)),
                        message=translate(message, _language(request)))
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return JSONResponse(exc.to_dict(_language(request)), exc.http_status, headers=headers)

    @app.exception_handler(IntegrityError)
    async def _conflict(request: Request, exc: IntegrityError) -> JSONResponse:
        # a uniqueness race lost between a service's check and its insert: nothing was written
        return JSONResponse({"code": "conflict", "message": "this conflicts with a record "
                             "written at the same time; reload and try again"}, 409)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            FieldError(_field_name(tuple(e["loc"])),
                       str(e["msg"]).removeprefix("Value error, ").replace("{", "{{")
                       .replace("}", "}}"))
            for e in exc.errors()
        ]
        failure = ValidationFailed(errors)
        if is_portal(request):
            return page(request, "problem.html", getattr(request.state, "actor", None),
                        status=422, failure=failure, back="/inbox")
        return JSONResponse(failure.to_dict(_language(request)), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """A path or method the node does not serve: a page on the portal, JSON elsewhere."""
        if is_portal(request):
            lang = _language(request)
            heading = N_("Not found") if exc.status_code == 404 else N_(
                "This could not be done")
            return page(request, "error.html", getattr(request.state, "actor", None),
                        status=exc.status_code, heading=translate(heading, lang),
                        message=translate(N_("There is nothing here, or nothing you may see."),
                                          lang))
        return await http_exception_handler(request, exc)

    @app.get("/healthz", tags=["node"], summary="Liveness and database check")
    def healthz() -> dict[str, str]:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return {"status": "ok", "node": settings.node_name, "version": __version__}

    app.mount("/static", StaticFiles(packages=[("rogatory.web", "static")]), name="static")
    app.add_middleware(RefuseNul)
    app.add_middleware(SecurityHeaders, tls=settings.tls)
    app.add_middleware(AuditAccess, recorder=app.state.audit, clock=app.state.clock)
    app.include_router(auth_router)
    app.include_router(instruments_router, prefix="/api/v1")
    app.include_router(directory_router, prefix="/api/v1")
    app.include_router(requests_router, prefix="/api/v1")
    app.include_router(evidence_router, prefix="/api/v1")
    app.include_router(safeguards_router)  # /api/v1/… and the public register at /public/…
    app.include_router(timestamp_router)  # POST /tsa at the root, where RFC 3161 clients expect
    app.include_router(web_auth.router)  # the portal: /login, /logout, /preferences
    app.include_router(web_oidc.router)  # /login/oidc: OpenID Connect login, when configured
    app.include_router(pages_router)  # the portal's pages
    return app
