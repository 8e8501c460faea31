"""`rogatory users`: accounts for the node's administrator — list them, set a password, enrol
the second factor (prints the TOTP secret, its otpauth:// URI and the recovery codes once),
issue and revoke API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from rogatory.errors import Forbidden, NotFound
from rogatory.identity import credentials
from rogatory.identity import service as identity
from rogatory.identity.models import Role, User
from rogatory.identity.policy import Actor

app = typer.Typer(help="User accounts, passwords, second factor and API tokens.",
                  no_args_is_help=True)
AdminOpt = Annotated[str, typer.Option("--as", envvar="ROGATORY_USER",
                                       help="The administrator acting")]


def _require_admin(actor: Actor) -> None:
    if actor.role is not Role.ADMINISTRATOR:
        raise Forbidden("managing accounts is for the node's administrator")


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user '{username}'")
    return user


@app.command("list")
def list_(admin: AdminOpt,
          json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Every account with its authority, role and login state."""
    from rogatory.cli import _actor, _print_json, _run, _session, _table

    def body() -> None:
        with _session() as session:
            _require_admin(_actor(session, admin))
            rows = [{"username": u.username, "name": u.display_name,
                     "authority": u.authority_id, "role": u.role, "active": u.active,
                     "password": u.password_hash is not None,
                     "second_factor": u.totp_secret_sealed is not None,
                     "locked_until": u.locked_until.isoformat() if u.locked_until else None}
                    for u in session.scalars(select(User).order_by(User.username))]
        if json_out:
            _print_json(rows)
            return
        _table("Users", ["username", "authority", "role", "password", "2FA", "locked until"],
               [[r["username"], r["authority"], r["role"], r["password"],
                 r["second_factor"], r["locked_until"] or ""] for r in rows])

    _run(body)


@app.command("set-password")
def set_password(admin: AdminOpt, username: str) -> None:
    """Set USERNAME's password (asked twice, never on the command line)."""
    from rogatory.cli import _actor, _run, _session, console

    password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)

    def body() -> None:
        with _session() as session:
            _require_admin(_actor(session, admin))
            credentials.set_password(session=session, user=_user(session, username),
                                     password=password)
        console.print(f"password set for {username}")

    _run(body)


@app.command("enroll-totp")
def enroll_totp(admin: AdminOpt, username: str) -> None:
    """Give USERNAME a new second factor: prints the TOTP secret, the otpauth:// URI (for a QR
    code) and ten single-use recovery codes, once."""
    from rogatory.cli import _actor, _run, _session, console
    from rogatory.clock import SystemClock
    from rogatory.config import Settings

    def body() -> None:
        settings = Settings()
        with _session() as session:
            _require_admin(_actor(session, admin))
            enrolled = credentials.enroll_totp(
                session=session, user=_user(session, username),
                node_secret=settings.secret_key.get_secret_value(),
                issuer=f"Rogatory {settings.node_name}", clock=SystemClock())
        console.print(f"TOTP secret: {enrolled.secret}\nURI: {enrolled.uri}\n"
                      "Recovery codes (each works once):")
        for code in enrolled.recovery_codes:
            console.print(f"  {code}")

    _run(body)


@app.command("issue-token")
def issue_token(
    admin: AdminOpt, username: str,
    name: Annotated[str, typer.Option(help="What the token is for")] = "api",
    read_only: Annotated[bool, typer.Option(help="GET only")] = False,
    days: Annotated[int | None, typer.Option(min=1, help="Expires after this many days")] = None,
) -> None:
    """Issue an API bearer token for USERNAME (e.g. a machine account); printed once."""
    from rogatory.cli import _actor, _run, _session, console
    from rogatory.clock import SystemClock

    def body() -> None:
        clock = SystemClock()
        with _session() as session:
            _require_admin(_actor(session, admin))
            token = identity.issue_token(
                session=session, user=_user(session, username), name=name, clock=clock,
                scopes=("read",) if read_only else ("read", "write"),
                expires_at=clock.now() + timedelta(days=days) if days else None)
        console.print(token)

    _run(body)


@app.command("revoke-token")
def revoke_token(admin: AdminOpt, token: str) -> None:
    """Revoke an API token: it stops working at once."""
    from rogatory.cli import _actor, _run, _session, console
    from rogatory.clock import SystemClock

    def body() -> None:
        with _session() as session:
            _require_admin(_actor(session, admin))
            identity.revoke_token(session=session, token=token, clock=SystemClock())
        console.print("revoked")

    _run(body)


CLI_LOGIN_HOURS = 12


def login(
    username: Annotated[str, typer.Option(prompt=True, help="Your username")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                          help="Asked for when not given")],
    code: Annotated[str, typer.Option(prompt="Authentication code",
                                      help="The TOTP code, or an unused recovery code")],
    hours: Annotated[int, typer.Option(min=1, max=24, help="How long the token works")]
    = CLI_LOGIN_HOURS,
) -> None:
    """Log in with password and second factor; prints the two lines that make the command
    line act as you (`export ROGATORY_USER=…` and `export ROGATORY_TOKEN=…`, a token that
    expires after HOURS). Failures count towards the lockout, as in the portal."""
    from rogatory.cli import _acting, _run, _session, console
    from rogatory.clock import SystemClock
    from rogatory.config import Settings
    from rogatory.errors import Unauthenticated

    def body() -> None:
        clock = SystemClock()
        settings = Settings()
        with _session() as session:
            try:
                user = credentials.login(session=session, username=username,
                                         password=password, code=code,
                                         node_secret=settings.secret_key.get_secret_value(),
                                         clock=clock)
            except Unauthenticated:
                session.commit()  # the failure counts towards the lockout
                raise
            token = identity.issue_token(session=session, user=user, name="command line",
                                         clock=clock,
                                         expires_at=clock.now() + timedelta(hours=hours))
            _acting["actor"] = identity.actor_for(session, user)
        console.print(f"export ROGATORY_USER={user.username}\nexport ROGATORY_TOKEN={token}",
                      highlight=False, soft_wrap=True)

    _run(body)


def logout() -> None:
    """Revoke the token in ROGATORY_TOKEN: the command line stops acting as its holder."""
    import os

    from rogatory.cli import _run, _session, console
    from rogatory.clock import SystemClock
    from rogatory.errors import Unauthenticated

    def body() -> None:
        token = os.environ.get("ROGATORY_TOKEN", "").strip()
        if not token:
            raise Unauthenticated("ROGATORY_TOKEN is not set")
        with _session() as session:
            identity.revoke_token(session=session, token=token, clock=SystemClock())
        console.print("logged out: the token no longer works; unset ROGATORY_TOKEN")

    _run(body)
