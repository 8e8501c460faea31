"""Login credentials: passwords hashed with argon2id, the mandatory second factor (TOTP, RFC
6238) with single-use recovery codes, and login with throttling and lockout.

Parameters: argon2id with m = 19 MiB, t = 2, p = 1, the first configuration the OWASP Password
Storage Cheat Sheet recommends. TOTP: 30-second steps, 6 digits, SHA-1 (what authenticator apps
implement), one step of clock drift either way, and a code is accepted once only (the last
accepted step is stored). TOTP secrets are stored sealed with AES-GCM under a key derived from
the node secret. Five failed logins in a row lock the account for 15 minutes; every failure,
whatever its cause, gets the same answer."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rogatory.clock import Clock, ensure_utc
from rogatory.errors import FieldError, Unauthenticated, ValidationFailed
from rogatory.i18n import N_
from rogatory.identity.models import RecoveryCode, User

ARGON2_MEMORY_KIB = 19_456
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1
HASHER = PasswordHasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB,
                        parallelism=ARGON2_PARALLELISM, hash_len=32, salt_len=16, type=Type.ID)

MIN_PASSWORD_LENGTH = 12
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
TOTP_STEP_SECONDS = 30
RECOVERY_CODES = 10
FAILURE = "invalid username, password or code"  # one answer for every failure

MSG_PASSWORD_SHORT = N_("At least {length} characters.")
MSG_PASSWORD_NAME = N_("Must not contain the username.")

@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so that the answer takes as
    long (made on first use: hashing costs tens of milliseconds, not for every start-up)."""
    return HASHER.hash(secrets.token_urlsafe(16))


def _key(node_secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"rogatory totp secret sealing").derive(node_secret.encode())


def seal(node_secret: str, plaintext: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_key(node_secret)).encrypt(nonce, plaintext.encode(), b"totp")
    return base64.b64encode(nonce + sealed).decode("ascii")


def unseal(node_secret: str, sealed: str) -> str:
    raw = base64.b64decode(sealed)
    return AESGCM(_key(node_secret)).decrypt(raw[:12], raw[12:], b"totp").decode()


def check_password_rules(username: str, password: str) -> list[FieldError]:
    errors = []
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.append(FieldError("password", MSG_PASSWORD_SHORT,
                                 {"length": MIN_PASSWORD_LENGTH}))
    if username.lower() in password.lower():
        errors.append(FieldError("password", MSG_PASSWORD_NAME))
    return errors


def set_password(*, session: Session, user: User, password: str) -> None:
    errors = check_password_rules(user.username, password)
    if errors:
        raise ValidationFailed(errors)
    user.password_hash = HASHER.hash(password)
    session.flush()


@dataclass(frozen=True)
class Enrollment:
    """What a user needs once to set up the second factor: the secret (base32), the otpauth://
    URI an authenticator app reads (as a QR code), and the recovery codes."""

    secret: str
    uri: str
    recovery_codes: list[str]


def enroll_totp(*, session: Session, user: User, node_secret: str, issuer: str, clock: Clock,
                secret: str | None = None) -> Enrollment:
    """Give `user` a (new) TOTP secret and fresh recovery codes; earlier ones stop working."""
    secret = secret or pyotp.random_base32()
    user.totp_secret_sealed = seal(node_secret, secret)
    user.totp_last_step = None
    session.execute(update(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                               RecoveryCode.used_at.is_(None))
                    .values(used_at=clock.now()))
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    for code in codes:
        session.add(RecoveryCode(user_id=user.id, code_sha256=_code_digest(code), used_at=None))
    session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=issuer)
    return Enrollment(secret=secret, uri=uri, recovery_codes=codes)


def _code_digest(code: str) -> str:
    return hashlib.sha256(code.strip().lower().encode()).hexdigest()


def totp_step(secret: str, code: str, at: datetime, last_step: int | None) -> int | None:
    """The time step `code` is valid for at `at` (one step of drift either way), unless that
    step was already used; None if the code is wrong or replayed."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(ensure_utc(at).timestamp()) // TOTP_STEP_SECONDS
    for step in (now_step, now_step - 1, now_step + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return None if last_step is not None and step <= last_step else step
    return None


def _use_recovery_code(session: Session, user: User, code: str, at: datetime) -> bool:
    row = session.scalar(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_sha256 == _code_digest(code),
        RecoveryCode.used_at.is_(None)))
    if row is None:
        return False
    row.used_at = at
    return True


def login(*, session: Session, username: str, password: str, code: str, node_secret: str,
          clock: Clock) -> User:
    """The user, when the password and the second factor (a TOTP code or an unused recovery
    code) are right and the account is neither locked nor inactive; otherwise Unauthenticated
    with the same message. Failures are counted (in the caller's transaction, which must be
    committed either way: `login_failed` tells whether it failed)."""
    now = clock.now()
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.password_hash is None:
        _verify(_dummy_hash(), password)
        raise Unauthenticated(FAILURE)
    locked = user.locked_until is not None and ensure_utc(user.locked_until) > now
    password_ok = _verify(user.password_hash, password)
    second_ok = False
    if password_ok and not locked and user.active and user.totp_secret_sealed:
        step = totp_step(unseal(node_secret, user.totp_secret_sealed), code, now,
                         user.totp_last_step)
        if step is not None:
            user.totp_last_step = step
            second_ok = True
        else:
            second_ok = _use_recovery_code(session, user, code, now)
    if locked or not (password_ok and second_ok and user.active):
        if not locked:
            user.failed_logins += 1
            if user.failed_logins >= MAX_FAILURES:
                user.locked_until = now + LOCKOUT
                user.failed_logins = 0
        session.flush()
        raise Unauthenticated(FAILURE)
    user.failed_logins = 0
    user.locked_until = None
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    session.flush()
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
