"""Identity service: users, API bearer tokens and web sessions (random, shown once, stored as
SHA-256), and the CSRF token bound to a web session."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from rogatory.clock import Clock
from rogatory.db import driver_execute
from rogatory.directory.models import Authority
from rogatory.errors import NotFound, Unauthenticated
from rogatory.identity.models import ApiToken, Role, User
from rogatory.identity.policy import Actor

TOKEN_PREFIX = "rgt_"
SCOPES = ("read", "write")
WEB_SESSION = "web session"
WEB_SESSION_LIFETIME = timedelta(hours=8)
"""A web session ends after a working day, whatever happens; logging out ends it at once."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _actor(user: User, jurisdiction: str) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        authority_id=user.authority_id,
        jurisdiction=jurisdiction,
        role=Role(user.role),
        language=user.language,
        timezone=user.timezone,
    )


def actor_for(session: Session, user: User) -> Actor:
    authority = session.get(Authority, user.authority_id)
    if authority is None:
        raise NotFound("authority not found")
    return _actor(user, authority.jurisdiction_code)


def ensure_user(
    *, session: Session, username: str, display_name: str, authority_id: str, role: Role,
    language: str, timezone: str, clock: Clock,
) -> User:
    """Create the user if absent (idempotent by username); return it."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(
            id=str(uuid.uuid4()), username=username, display_name=display_name,
            authority_id=authority_id, role=role.value, language=language, timezone=timezone,
            active=True, created_at=clock.now(),
        )
        session.add(user)
        session.flush()
    return user


def issue_token(
    *, session: Session, user: User, name: str, clock: Clock, token: str | None = None,
    scopes: tuple[str, ...] = ("read", "write"), expires_at: datetime | None = None,
) -> str:
    """Store a new bearer token for `user` and return it (the only time it is seen). A "read"
    token may only GET; a token with an expiry stops working then."""
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be among {SCOPES}, not {sorted(unknown)}")
    value = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
    if session.scalar(select(ApiToken.id).where(ApiToken.token_sha256 == _digest(value))):
        return value
    session.add(ApiToken(
        id=str(uuid.uuid4()), user_id=user.id, name=name, token_sha256=_digest(value),
        created_at=clock.now(), revoked_at=None, scopes=list(scopes), expires_at=expires_at,
    ))
    session.flush()
    return value


def demo_token(secret: str, username: str) -> str:
    """A stable demo token derived from the node secret, so the demo can print it every start."""
    mac = hmac.new(secret.encode(), f"demo-token:{username}".encode(), hashlib.sha256)
    return TOKEN_PREFIX + mac.hexdigest()[:40]


# Built once: this runs on every API call.
_BY_TOKEN = (
    select(User.id, User.username, User.display_name, User.authority_id, User.role,
           User.language, User.timezone, Authority.jurisdiction_code, ApiToken.scopes,
           ApiToken.expires_at)
    .join(ApiToken, ApiToken.user_id == User.id)
    .join(Authority, Authority.id == User.authority_id)
    .where(ApiToken.token_sha256 == bindparam("digest"), ApiToken.revoked_at.is_(None),
           User.active.is_(True))
)


def authenticate_token(*, session: Session, token: str, now: datetime,
                       write: bool = False) -> Actor:
    """The actor behind a bearer token, or Unauthenticated (same answer for any failure:
    unknown, revoked, expired, inactive user, or a read-only token used to write)."""
    found = driver_execute(session.connection(), _BY_TOKEN,
                           {"digest": _digest(token)}).first_mapping()
    if found is None or (found["expires_at"] is not None and found["expires_at"] <= now) or (
            write and "write" not in found["scopes"]):
        raise Unauthenticated("invalid, expired or revoked token, or not valid for this call")
    return Actor(
        user_id=found["id"], username=found["username"], display_name=found["display_name"],
        authority_id=found["authority_id"], jurisdiction=found["jurisdiction_code"],
        role=Role(found["role"]), language=found["language"], timezone=found["timezone"],
    )


def actor_by_username(*, session: Session, username: str) -> Actor:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise NotFound(f"no active user '{username}'")
    return actor_for(session, user)


def revoke_token(*, session: Session, token: str, clock: Clock) -> None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _digest(token)))
    if row is None:
        raise NotFound("token not found")
    row.revoked_at = clock.now()


def open_web_session(*, session: Session, user: User, clock: Clock) -> str:
    """A new web session for `user` after a full login: always a fresh random value (so a
    session id planted before login is worth nothing), stored as its SHA-256 like a token."""
    return issue_token(session=session, user=user, name=WEB_SESSION, clock=clock,
                       expires_at=clock.now() + WEB_SESSION_LIFETIME)


def end_web_session(*, session: Session, token: str, clock: Clock) -> None:
    """Revoke a web session if it is one that exists and is still open (logout; a new login
    over an old cookie); anything else is ignored."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _digest(token),
                                                ApiToken.revoked_at.is_(None)))
    if row is not None:
        row.revoked_at = clock.now()


def csrf_token(node_secret: str, bound_to: str) -> str:
    """The CSRF token of a web session (or of a login form's nonce): an HMAC of the node secret
    over the value it is bound to, so it is never stored and cannot be made without the secret.
    Every form of the portal carries it; a state-changing call with the cookie must echo it."""
    mac = hmac.new(node_secret.encode(), f"csrf:{_digest(bound_to)}".encode(), hashlib.sha256)
    return mac.hexdigest()


def csrf_matches(node_secret: str, bound_to: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(
        csrf_token(node_secret, bound_to), presented)
