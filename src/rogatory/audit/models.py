"""The access log table: one row per API call or CLI command that touched the node's records.

Rows are only ever inserted. Each is also a leaf of the node's ledger (`ledger_index`), so a
deleted or rewritten row is detectable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from rogatory.db import Base, UTCDateTime


class AccessRecord(Base):
    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_log_at", "at"),
        Index("ix_access_log_user_id_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str] = mapped_column(String(8))  # api | portal | cli
    source: Mapped[str] = mapped_column(String(64))  # client address, or the CLI's host user
    user_id: Mapped[str | None] = mapped_column(String(36))
    username: Mapped[str | None] = mapped_column(String(64))
    authority_id: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(200))  # e.g. "GET /api/v1/requests/{request_id}"
    target: Mapped[str] = mapped_column(String(500))  # the concrete path or command arguments
    status: Mapped[int] = mapped_column(Integer)  # HTTP status, or the CLI exit code
    allowed: Mapped[bool] = mapped_column()
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)
