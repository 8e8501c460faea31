"""Login over the API: username, password and the second factor give a bearer token that
expires (`/auth/login`, outside `/api/v1`, which only authenticated callers reach); and the
caller's own token can be revoked (`/auth/logout`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from rogatory.deps import ClockDep, CurrentActor, SessionDep, SettingsDep
from rogatory.errors import Unauthenticated
from rogatory.identity import credentials
from rogatory.identity import service as identity
from rogatory.requests.schemas import Body

router = APIRouter(prefix="/auth", tags=["auth"])
LOGIN_TOKEN_LIFETIME = timedelta(hours=12)


class LoginBody(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    code: str = Field(min_length=1, max_length=32,
                      description="The 6-digit TOTP code, or an unused recovery code")


class LoginToken(BaseModel):
    token: str
    expires_at: datetime
    username: str
    role: str


@router.post("/login", response_model=LoginToken, summary="Log in with password and TOTP")
def login(body: LoginBody, request: Request, session: SessionDep, settings: SettingsDep,
          clock: ClockDep) -> LoginToken:
    try:
        user = credentials.login(session=session, username=body.username,
                                 password=body.password, code=body.code,
                                 node_secret=settings.secret_key.get_secret_value(),
                                 clock=clock)
    except Unauthenticated:
        session.commit()  # the failure counts towards the lockout
        raise
    expires_at = clock.now() + LOGIN_TOKEN_LIFETIME
    token = identity.issue_token(session=session, user=user, name="login", clock=clock,
                                 expires_at=expires_at)
    request.state.actor = identity.actor_for(session, user)
    session.commit()
    return LoginToken(token=token, expires_at=expires_at, username=user.username,
                      role=user.role)


@router.post("/logout", status_code=204, summary="Revoke the token of this call")
def logout(request: Request, session: SessionDep, actor: CurrentActor, clock: ClockDep) -> None:
    token = request.headers.get("authorization", "").partition(" ")[2]
    identity.revoke_token(session=session, token=token, clock=clock)
    session.commit()
