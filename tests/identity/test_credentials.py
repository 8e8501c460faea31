"""Login on SQLite and PostgreSQL: argon2id passwords, TOTP (RFC 6238) with replay refusal,
single-use recovery codes, lockout, token scopes, expiry and revocation."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from argon2 import PasswordHasher
from cryptography.exceptions import InvalidTag
from sqlalchemy import select
from sqlalchemy.orm import Session

from conftest import World
from rogatory.clock import ManualClock
from rogatory.errors import Unauthenticated, ValidationFailed
from rogatory.identity import credentials
from rogatory.identity import service as identity
from rogatory.identity.models import User

SECRET = "test-secret"
PASSWORD = "correct horse battery staple"


def _enrolled(session: Session, clock: ManualClock, username: str = "fr_prosecutor"
              ) -> tuple[User, credentials.Enrollment]:
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None
    credentials.set_password(session=session, user=user, password=PASSWORD)
    enrolled = credentials.enroll_totp(session=session, user=user, node_secret=SECRET,
                                       issuer="Rogatory test", clock=clock)
    session.commit()
    return user, enrolled


def _code(enrolled: credentials.Enrollment, clock: ManualClock) -> str:
    return pyotp.TOTP(enrolled.secret).at(clock.now())


def _login(session: Session, clock: ManualClock, password: str, code: str,
           username: str = "fr_prosecutor") -> User:
    try:
        return credentials.login(session=session, username=username, password=password,
                                 code=code, node_secret=SECRET, clock=clock)
    finally:
        session.commit()


def test_passwords_are_argon2id_with_the_owasp_parameters(session: Session, world: World,
                                                          clock: ManualClock) -> None:
    user, _ = _enrolled(session, clock)
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PasswordHasher().verify(user.password_hash, PASSWORD)
    assert PASSWORD not in user.password_hash


def test_weak_passwords_are_refused_naming_the_field(session: Session, world: World) -> None:
    user = session.scalar(select(User).where(User.username == "fr_prosecutor"))
    assert user is not None
    for weak in ("short", "fr_prosecutor-2026-long"):
        with pytest.raises(ValidationFailed) as caught:
            credentials.set_password(session=session, user=user, password=weak)
        assert [e.field for e in caught.value.errors] == ["password"]


def test_login_needs_the_password_and_a_fresh_totp_code(session: Session, world: World,
                                                       clock: ManualClock) -> None:
    user, enrolled = _enrolled(session, clock)
    code = _code(enrolled, clock)
    with pytest.raises(Unauthenticated):
        _login(session, clock, "wrong password", code)
    with pytest.raises(Unauthenticated):
        _login(session, clock, PASSWORD, "000000" if code != "000000" else "111111")
    assert _login(session, clock, PASSWORD, code).id == user.id
    with pytest.raises(Unauthenticated):  # the same code twice: a replay
        _login(session, clock, PASSWORD, code)
    clock.advance(timedelta(seconds=30))
    assert _login(session, clock, PASSWORD, _code(enrolled, clock)).id == user.id


def test_one_step_of_clock_drift_is_accepted_two_are_not(session: Session, world: World,
                                                         clock: ManualClock) -> None:
    _, enrolled = _enrolled(session, clock)
    earlier = pyotp.TOTP(enrolled.secret).at(clock.now() - timedelta(seconds=30))
    much_earlier = pyotp.TOTP(enrolled.secret).at(clock.now() - timedelta(seconds=90))
    assert credentials.totp_step(enrolled.secret, much_earlier, clock.now(), None) is None
    assert credentials.totp_step(enrolled.secret, earlier, clock.now(), None) is not None


def test_a_recovery_code_works_once(session: Session, world: World, clock: ManualClock) -> None:
    user, enrolled = _enrolled(session, clock)
    assert len(enrolled.recovery_codes) == credentials.RECOVERY_CODES
    code = enrolled.recovery_codes[3]
    assert _login(session, clock, PASSWORD, code).id == user.id
    with pytest.raises(Unauthenticated):
        _login(session, clock, PASSWORD, code)
    # a new enrolment voids the old codes
    _, again = _enrolled(session, clock)
    with pytest.raises(Unauthenticated):
        _login(session, clock, PASSWORD, enrolled.recovery_codes[4])
    assert _login(session, clock, PASSWORD, again.recovery_codes[0]).id == user.id


def test_five_failures_lock_the_account_for_fifteen_minutes(session: Session, world: World,
                                                            clock: ManualClock) -> None:
    _, enrolled = _enrolled(session, clock)
    for _ in range(credentials.MAX_FAILURES):
        with pytest.raises(Unauthenticated):
            _login(session, clock, "guess", "123456")
    # locked: even the right password and code are refused, with the same answer
    with pytest.raises(Unauthenticated) as caught:
        _login(session, clock, PASSWORD, _code(enrolled, clock))
    assert caught.value.message == credentials.FAILURE
    clock.advance(credentials.LOCKOUT + timedelta(seconds=1))
    assert _login(session, clock, PASSWORD, _code(enrolled, clock)).username == "fr_prosecutor"


def test_unknown_users_get_the_same_answer(session: Session, world: World,
                                           clock: ManualClock) -> None:
    with pytest.raises(Unauthenticated) as caught:
        _login(session, clock, PASSWORD, "123456", username="nobody")
    assert caught.value.message == credentials.FAILURE


def test_totp_secrets_are_stored_sealed(session: Session, world: World,
                                        clock: ManualClock) -> None:
    user, enrolled = _enrolled(session, clock)
    assert user.totp_secret_sealed is not None
    assert enrolled.secret not in user.totp_secret_sealed
    assert credentials.unseal(SECRET, user.totp_secret_sealed) == enrolled.secret
    with pytest.raises(InvalidTag):  # another node secret cannot open it
        credentials.unseal("another secret", user.totp_secret_sealed)


def test_tokens_expire_are_scoped_and_revocable(session: Session, world: World,
                                                clock: ManualClock) -> None:
    user = session.scalar(select(User).where(User.username == "de_provider"))
    assert user is not None
    reader = identity.issue_token(session=session, user=user, name="read", clock=clock,
                                  scopes=("read",))
    short = identity.issue_token(session=session, user=user, name="short", clock=clock,
                                 expires_at=clock.now() + timedelta(hours=1))
    session.commit()
    now = clock.now()
    assert identity.authenticate_token(session=session, token=reader, now=now).username \
        == "de_provider"
    with pytest.raises(Unauthenticated):
        identity.authenticate_token(session=session, token=reader, now=now, write=True)
    assert identity.authenticate_token(session=session, token=short, now=now, write=True)
    with pytest.raises(Unauthenticated):
        identity.authenticate_token(session=session, token=short,
                                    now=now + timedelta(hours=1))
    identity.revoke_token(session=session, token=short, clock=clock)
    session.commit()
    with pytest.raises(Unauthenticated):
        identity.authenticate_token(session=session, token=short, now=now)
    with pytest.raises(ValueError):
        identity.issue_token(session=session, user=user, name="x", clock=clock,
                             scopes=("admin",))
