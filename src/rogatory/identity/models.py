"""Tables of identity: users (who belong to an authority and hold a role, with their login
credentials), their recovery codes, and API tokens (stored only as their SHA-256)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from rogatory.db import Base, UTCDateTime


class Role(StrEnum):
    PROSECUTOR = "prosecutor"
    JUDGE = "judge"
    INVESTIGATING_JUDGE = "investigating_judge"
    CENTRAL_AUTHORITY_OFFICER = "central_authority_officer"
    EXECUTING_OFFICER = "executing_officer"
    FORENSIC_EXAMINER = "forensic_examiner"
    PROVIDER_RESPONDER = "provider_responder"
    COORDINATOR = "coordinator"
    VICTIM_LIAISON = "victim_liaison"
    OVERSIGHT_AUDITOR = "oversight_auditor"
    ADMINISTRATOR = "administrator"


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.id"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # login (see rogatory.identity.credentials); machine accounts have no password
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    totp_secret_sealed: Mapped[str | None] = mapped_column(String(200), default=None)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, default=None)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class RecoveryCode(Base):
    """A single-use code that stands in for the TOTP code (stored as its SHA-256)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    code_sha256: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # "read": GET only; "write": every verb. A login token expires; a machine token may not.
    scopes: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["read", "write"])
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
