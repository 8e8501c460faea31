"""Tables of requests: cases, requests, their append-only timeline and their stored deadlines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rogatory.db import Base, UTCDateTime


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    lead_authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.id"))
    participants: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# The columns the portal's lists, tab counts and dashboard read (web/workspace.py), after the
# authority of each side: the party filter is an OR over the three sides, and with these three
# indexes SQLite answers each of its terms from an index alone (a MULTI-INDEX OR without reading
# the wide rows, a JSON form each). Their first column serves the foreign keys.
_LISTED = ("emergency", "updated_at", "instrument", "created_at", "id")


class Request(Base):
    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_issuing_side", "issuing_authority_id", "state", "sent_at", *_LISTED),
        Index("ix_requests_validating_side", "validating_authority_id", "state", "sent_at",
              *_LISTED),
        Index("ix_requests_executing_side", "executing_authority_id", "sent_at", "state",
              *_LISTED),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    instrument: Mapped[str] = mapped_column(String(40), index=True)
    instrument_version: Mapped[str] = mapped_column(String(40))
    requesting_state: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"))
    requested_state: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"))
    issuing_authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.id"))
    validating_authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.id"))
    executing_authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.id"))
    data_categories: Mapped[list[str]] = mapped_column(JSON)
    emergency: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str] = mapped_column(String(8))
    form: Mapped[dict[str, Any]] = mapped_column(JSON)
    translations: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(40), index=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    timeline: Mapped[list[TimelineEvent]] = relationship(
        back_populates="request", order_by="TimelineEvent.id", viewonly=True
    )
    deadlines: Mapped[list[Deadline]] = relationship(
        back_populates="request", order_by="Deadline.id", viewonly=True
    )


class TimelineEvent(Base):
    """Append-only: who did what to a request, when, why, on which legal basis."""

    __tablename__ = "timeline_events"
    __table_args__ = (
        Index("ix_timeline_events_request_id_id", "request_id", "id"),
        # the dashboard's answers: the first event into a state, per request, from the index
        Index("ix_timeline_events_to_state", "to_state", "request_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    verb: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    actor_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    actor_authority_id: Mapped[str | None] = mapped_column(ForeignKey("authorities.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, unique=True, index=True)

    request: Mapped[Request] = relationship(back_populates="timeline")


class Deadline(Base):
    """A legal deadline of one request, computed once and stored; scanned for breaches."""

    __tablename__ = "deadlines"
    __table_args__ = (
        Index("ix_deadlines_status_due_at", "status", "due_at"),
        # a request's next open deadline (the inbox's order) from the index alone
        Index("ix_deadlines_request_id_status_due_at", "request_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"))
    kind: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(String(200))
    verified: Mapped[bool] = mapped_column(default=True)
    effect: Mapped[str] = mapped_column(String(20))
    holder: Mapped[str] = mapped_column(String(20))
    emergency: Mapped[bool] = mapped_column(default=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20))
    extensions_used: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    request: Mapped[Request] = relationship(back_populates="deadlines")
