"""The ASGI middleware that puts every call of the API (`/api/v1`, `/auth`) and every page of
the portal in the access log: who (the actor the authentication dependency found, if any), from
where, which route on which target, and whether it was allowed (a status below 400) — denied and
unauthenticated calls included. Static files, the health check and the public register and
timestamping service (which hold nothing of a case) are not logged."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rogatory.audit.recorder import Access, Recorder
from rogatory.clock import Clock

API_PREFIXES = ("/api/v1/", "/auth/")
UNLOGGED = ("/static/", "/healthz", "/public/", "/tsa", "/openapi.json", "/docs", "/favicon")


class AuditAccess:
    def __init__(self, app: ASGIApp, recorder: Recorder, clock: Clock) -> None:
        self.app, self.recorder, self.clock = app, recorder, clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNLOGGED):
            await self.app(scope, receive, send)
            return
        at = self.clock.now()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.recorder.record(_access(scope, at, status))


SECRET_PARAMETERS = frozenset({"code", "state", "csrf_token"})
"""Query parameters whose values are credentials (an identity provider's one-time code and
state on the login callback): the log keeps their names, not their values."""


def _redacted(query: str) -> str:
    if not any(f"{name}=" in query for name in SECRET_PARAMETERS):
        return query
    parts = []
    for part in query.split("&"):
        name, sep, _value = part.partition("=")
        parts.append(f"{name}=…" if sep and name in SECRET_PARAMETERS else part)
    return "&".join(parts)


def _access(scope: Scope, at: Any, status: int) -> Access:
    state = scope.get("state") or {}
    actor = state.get("actor")
    template = scope["path"]  # the route's template: each path parameter by its name
    for name, value in (scope.get("path_params") or {}).items():
        template = template.replace(f"/{value}", f"/{{{name}}}", 1)
    query = _redacted(scope.get("query_string", b"").decode("latin-1"))
    client = scope.get("client")
    return Access(
        at=at, channel="api" if scope["path"].startswith(API_PREFIXES) else "portal",
        source=client[0] if client else "unknown",
        user_id=getattr(actor, "user_id", None), username=getattr(actor, "username", None),
        authority_id=getattr(actor, "authority_id", None),
        role=str(actor.role.value) if actor is not None else None,
        action=f"{scope['method']} {template}",
        target=scope["path"] + (f"?{query}" if query else ""),
        status=status, allowed=status < 400,
    )
