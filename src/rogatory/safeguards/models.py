"""Tables of the judicial safeguards: assessments before intrusive measures, reasoned decisions
(and the analytic tools that contributed), notifications to the enforcing State, a provider's
Annex III answers, the register of analytic tools, and the data-protection records of data
received (purpose, retention, onward transfers, deferred information of the data subject).

Assessments, decisions, tools, Annex III answers, transfers and deferrals are append-only: the
ORM refuses to update or delete them (`_refuse_changes`); a decision is superseded by a new one
that names it, an assessment by a newer one (`number`). Each is also a leaf of the node's ledger
(`ledger_index`). Only a notification's review status and a data item's retention, restriction
and deletion change, each change a ledger leaf of its own.

Every record belongs to its request (`ON DELETE CASCADE`): the application never deletes a
request, and the database cannot while the request has a timeline (every request has one), so
the cascade only lets a test's or a rehearsal's teardown remove requests with their records."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from rogatory.db import Base, UTCDateTime
from rogatory.errors import RogatoryError


class ImmutableRecord(RogatoryError):
    """An attempt to change or delete a record the law wants kept as it was written."""

    code = "immutable_record"
    http_status = 409


def _request_fk() -> ForeignKey:
    """A record's request: it goes with the request (see the module's docstring)."""
    return ForeignKey("requests.id", ondelete="CASCADE")


class Assessment(Base):
    """The necessity and proportionality assessment an intrusive measure needs before it is
    validated or sent. A request's newest assessment (highest `number`) is the current one."""

    __tablename__ = "assessments"
    __table_args__ = (UniqueConstraint("request_id", "number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(_request_fk(), index=True)
    number: Mapped[int] = mapped_column(Integer)
    offence: Mapped[str] = mapped_column(Text)
    maximum_penalty_years: Mapped[int] = mapped_column(Integer)
    listed_offence: Mapped[str | None] = mapped_column(String(64))
    committed_by_information_system: Mapped[bool] = mapped_column(default=False)
    necessity: Mapped[str] = mapped_column(Text)
    proportionality: Mapped[str] = mapped_column(Text)
    least_intrusive_alternative: Mapped[str] = mapped_column(Text)
    alternative_insufficient_because: Mapped[str] = mapped_column(Text)
    data_from: Mapped[date] = mapped_column(Date)
    data_to: Mapped[date] = mapped_column(Date)
    data_scope: Mapped[str] = mapped_column(Text)
    persons_affected: Mapped[str] = mapped_column(Text)
    privileged_persons: Mapped[list[str]] = mapped_column(JSON)
    privileged_safeguards: Mapped[str] = mapped_column(Text, default="")
    offence_in_issuing_state: Mapped[bool] = mapped_column(default=False)
    person_in_issuing_state: Mapped[bool] = mapped_column(default=False)
    author_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    author_authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ledger_index: Mapped[int] = mapped_column(BigInteger, unique=True)


class Decision(Base):
    """Who decided what on a request, with coded reasons, a statement of reasons, the legal
    basis, the assessment relied on and (in `decision_tools`) the analytic tools that
    contributed. `supersedes_id` names the decision this one replaces (at most one does)."""

    __tablename__ = "decisions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(_request_fk(), index=True)
    instrument: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(10))
    grounds: Mapped[list[str]] = mapped_column(JSON)
    reasons: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(String(400))
    assessment_id: Mapped[str | None] = mapped_column(ForeignKey("assessments.id"))
    supersedes_id: Mapped[str | None] = mapped_column(ForeignKey("decisions.id"), unique=True)
    request_version: Mapped[int | None] = mapped_column(Integer)
    decided_by_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    decided_by_authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.id"))
    decided_by_rank: Mapped[str | None] = mapped_column(String(40))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ledger_index: Mapped[int] = mapped_column(BigInteger, unique=True)


class AnalyticTool(Base):
    """An automated or predictive tool whose output may be used in a request or a decision,
    with what a judge needs to scrutinise it and who approved it."""

    __tablename__ = "analytic_tools"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(Text)
    error_rates: Mapped[str] = mapped_column(Text)
    bias_assessment: Mapped[str] = mapped_column(Text)
    approved_by_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    approved_by_authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.id"))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ledger_index: Mapped[int] = mapped_column(BigInteger, unique=True)


class DecisionTool(Base):
    """An analytic tool that contributed to a decision."""

    __tablename__ = "decision_tools"

    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"),
                                             primary_key=True)
    tool_id: Mapped[str] = mapped_column(ForeignKey("analytic_tools.id"), primary_key=True,
                                         index=True)


class EnforcementNotification(Base):
    """An order notified to the enforcing State's authority when it was sent (Reg. (EU)
    2023/1543 Art. 8): the certificate as sent (the authority is no party to the request and
    reviews this copy), the time it has to raise grounds, and where its review stands."""

    __tablename__ = "enforcement_notifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(_request_fk(), unique=True)
    reference: Mapped[str] = mapped_column(String(64))
    instrument: Mapped[str] = mapped_column(String(40))
    certificate: Mapped[dict[str, Any]] = mapped_column(JSON)
    enforcing_authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.id"),
                                                        index=True)
    notified_at: Mapped[datetime] = mapped_column(UTCDateTime())
    window_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    emergency: Mapped[bool] = mapped_column(default=False)
    suspensive: Mapped[bool] = mapped_column(default=True)
    legal_basis: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    decision_id: Mapped[str | None] = mapped_column(ForeignKey("decisions.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NonExecutionNotice(Base):
    """A provider's answer that it cannot execute an order, on the Annex III form: coded reasons
    with an explanation, conflicting obligations, information it needs, and whether (and until
    when) it preserves the data."""

    __tablename__ = "non_execution_notices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(_request_fk(), index=True)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    explanation: Mapped[str] = mapped_column(Text)
    conflict_details: Mapped[str] = mapped_column(Text, default="")
    information_required: Mapped[str] = mapped_column(Text, default="")
    data_preserved: Mapped[bool] = mapped_column()
    preserved_until: Mapped[date | None] = mapped_column(Date)
    recorded_by_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    recorded_by_authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ledger_index: Mapped[int] = mapped_column(BigInteger, unique=True)


class ReceivedData(Base):
    """Data received in answer to a request, with the purpose they may serve, how long they are
    kept and when that is next reviewed; restricted or deleted when the law says so."""

    __tablename__ = "received_data"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(_request_fk(), index=True)
    category: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(Text)
    evidence_reference: Mapped[str] = mapped_column(String(100), default="")
    received_on: Mapped[date] = mapped_column(Date)
    retention_until: Mapped[date] = mapped_column(Date)
    review_due_on: Mapped[date] = mapped_column(Date, index=True)
    restricted: Mapped[bool] = mapped_column(default=False)
    restriction_reason: Mapped[str | None] = mapped_column(String(200))
    restriction_basis: Mapped[str | None] = mapped_column(String(200))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deletion_reason: Mapped[str | None] = mapped_column(Text)
    recorded_by_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    recorded_by_authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OnwardTransfer(Base):
    """Received data passed on to a third State, with the prior consent it rests on."""

    __tablename__ = "onward_transfers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    data_id: Mapped[str] = mapped_column(ForeignKey("received_data.id", ondelete="CASCADE"),
                                         index=True)
    third_state: Mapped[str] = mapped_column(String(2))
    recipient: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text)
    consent_reference: Mapped[str] = mapped_column(String(200))
    consent_date: Mapped[date] = mapped_column(Date)
    recorded_by_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    recorded_by_authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ledger_index: Mapped[int] = mapped_column(BigInteger, unique=True)


class InformingDeferral(Base):
    """Informing the persons whose data were obtained is deferred, for a stated reason, until a
    date by which it is reviewed."""

    __tablename__ = "informing_deferrals"
    __table_args__ = (Index("ix_informing_deferrals_request_id_until", "request_id", "until"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(_request_fk())
    reason: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    until: Mapped[date] = mapped_column(Date)
    recorded_by_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    recorded_by_authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ledger_index: Mapped[int] = mapped_column(BigInteger, unique=True)


APPEND_ONLY: tuple[type[Base], ...] = (Assessment, Decision, AnalyticTool, DecisionTool,
                                       NonExecutionNotice, OnwardTransfer, InformingDeferral)


def _refuse_changes(mapper: Mapper[Any], connection: Any, target: Any) -> None:
    raise ImmutableRecord(f"{type(target).__name__} records are append-only: record a new one "
                          "(a decision supersedes an older one by naming it)")


for _model in APPEND_ONLY:
    event.listen(_model, "before_update", _refuse_changes)
    event.listen(_model, "before_delete", _refuse_changes)
