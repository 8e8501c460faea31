"""Who the command line acts as, on SQLite and PostgreSQL: outside the demo, the holder of an
API token who must be the user named by `--as`; `rogatory login` (password and TOTP) gives such
a token and `rogatory logout` revokes it; without a token only a demo node, or one whose operator
may act for its users, accepts `--as` alone. Every command goes into the access log."""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import pytest
from click.testing import Result
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from conftest import ENGINES, PG_URL
from rogatory.audit.models import AccessRecord
from rogatory.cli import app
from rogatory.clock import SystemClock
from rogatory.config import Settings
from rogatory.db import make_engine
from rogatory.demo import DEMO_PASSWORD, demo_totp_secret
from rogatory.identity import service as identity
from rogatory.identity.models import User

SECRET = "cli-login-secret"
CAMILLE, MARC = "camille.martin", "marc.lambert"


@dataclass
class Node:
    env: dict[str, str | None]
    settings: Settings

    def run(self, *args: str, token: str | None = None, **extra: str) -> Result:
        env = {**self.env, "ROGATORY_TOKEN": token, **extra}
        return CliRunner(env=env).invoke(app, list(args))

    def session(self) -> Session:
        return Session(make_engine(self.settings))


@pytest.fixture(scope="module", params=ENGINES)
def node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Node]:
    data_dir = tmp_path_factory.mktemp(f"cli-login-{request.param}")
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ROGATORY_")}
    env.update(ROGATORY_DATA_DIR=str(data_dir), ROGATORY_SECRET_KEY=SECRET)
    schema, admin = None, None
    if request.param == "postgresql":
        schema = f"rgt_clilogin_{os.getpid()}_{secrets.token_hex(3)}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        env.update(ROGATORY_DATABASE_URL=PG_URL, ROGATORY_DATABASE_SCHEMA=schema)
    try:
        settings = Settings(data_dir=data_dir, secret_key=SECRET,
                            database_url=PG_URL if schema else None, database_schema=schema)
        first = CliRunner(env=env).invoke(app, ["init", "--demo"], catch_exceptions=False)
        assert first.exit_code == 0, first.output
        yield Node(env=env, settings=settings)
    finally:
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


def code_for(node: Node, username: str) -> str:
    with node.session() as session:  # a code not used yet: forget the last step accepted
        session.execute(update(User).where(User.username == username)
                        .values(totp_last_step=None, failed_logins=0, locked_until=None))
        session.commit()
    return pyotp.TOTP(demo_totp_secret(SECRET, username)).now()


def log_in(node: Node, username: str) -> str:
    result = node.run("login", "--username", username, "--password", DEMO_PASSWORD,
                      "--code", code_for(node, username))
    assert result.exit_code == 0, result.output
    found = re.search(r"export ROGATORY_TOKEN=(rgt_\S+)", result.output)
    assert found and f"export ROGATORY_USER={username}" in result.output
    return found.group(1)


def test_as_alone_is_refused_outside_the_demo(node: Node) -> None:
    result = node.run("cases", "list", "--as", CAMILLE, "--json")
    assert result.exit_code == 1
    assert "ROGATORY_TOKEN" in " ".join(result.output.split())


def test_login_gives_a_token_that_acts_as_its_holder_only(node: Node) -> None:
    token = log_in(node, CAMILLE)
    listed = node.run("cases", "list", "--as", CAMILLE, "--json", token=token)
    assert listed.exit_code == 0, listed.output
    assert "FR-2026-LOCKSTORM" in [c["reference"] for c in json.loads(listed.stdout)]
    other = node.run("cases", "list", "--as", MARC, "--json", token=token)
    assert other.exit_code == 1 and f"not a token of '{MARC}'" in " ".join(other.output.split())
    # the prompt path: the password is asked for, never on the command line
    prompted = CliRunner(env={**node.env}).invoke(
        app, ["login", "--username", MARC, "--code", code_for(node, MARC)],
        input=DEMO_PASSWORD + "\n")
    assert prompted.exit_code == 0, prompted.output
    assert DEMO_PASSWORD not in prompted.output


def test_a_wrong_code_counts_towards_the_lockout(node: Node) -> None:
    code_for(node, CAMILLE)
    result = node.run("login", "--username", CAMILLE, "--password", DEMO_PASSWORD,
                      "--code", "000000")
    assert result.exit_code == 1 and "invalid username, password or code" in result.output
    with node.session() as session:
        failed = session.scalar(select(User.failed_logins).where(User.username == CAMILLE))
    assert failed == 1


def test_logout_revokes_the_token(node: Node) -> None:
    token = log_in(node, CAMILLE)
    assert node.run("logout", token=token).exit_code == 0
    after = node.run("cases", "list", "--as", CAMILLE, token=token)
    assert after.exit_code == 1 and "invalid, expired or revoked" in after.output


def test_a_read_only_or_expired_token_does_not_drive_the_command_line(node: Node) -> None:
    clock = SystemClock()
    with node.session() as session:
        user = session.scalar(select(User).where(User.username == CAMILLE))
        assert user is not None
        read_only = identity.issue_token(session=session, user=user, name="ro", clock=clock,
                                         scopes=("read",))
        expired = identity.issue_token(session=session, user=user, name="old", clock=clock,
                                       expires_at=clock.now() - timedelta(seconds=1))
        session.commit()
    for token in (read_only, expired, "rgt_not-a-token"):
        result = node.run("cases", "list", "--as", CAMILLE, token=token)
        assert result.exit_code == 1, token


def test_the_demo_or_a_trusting_node_accepts_as_alone(node: Node) -> None:
    for flag in ({"ROGATORY_DEMO": "true"}, {"ROGATORY_OPERATOR_ACTS_AS": "true"}):
        result = node.run("cases", "list", "--as", CAMILLE, "--json", **flag)
        assert result.exit_code == 0, (flag, result.output)


def test_commands_are_in_the_access_log_as_their_user(node: Node,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # the log names the command from the program's arguments, as the shell passes them
    monkeypatch.setattr(sys, "argv", ["rogatory", "login", "--username", MARC])
    token = log_in(node, MARC)
    monkeypatch.setattr(sys, "argv", ["rogatory", "cases", "list", "--as", MARC])
    node.run("cases", "list", "--as", MARC, token=token)
    with node.session() as session:
        rows = session.scalars(select(AccessRecord).where(AccessRecord.channel == "cli",
                                                          AccessRecord.username == MARC)).all()
    actions = [r.action for r in rows]
    assert "rogatory login" in actions and "rogatory cases list" in actions
