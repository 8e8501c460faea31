"""API shapes of the safeguards (`XCreate` / `XRead` names). Create bodies refuse unknown
fields and NUL characters (`rogatory.requests.schemas.Body`); the rules themselves are checked
by the service, which names every field at fault."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from rogatory.requests.schemas import Body
from rogatory.safeguards.rules import NotificationStatus, Outcome, Stage


def _text() -> Any:
    return Field(default="", max_length=20_000)


def _id() -> Any:
    return Field(default=None, max_length=64)


def _codes() -> Any:
    return Field(default=[], max_length=20)


class AssessmentCreate(Body):
    offence: str = _text()
    maximum_penalty_years: int | None = Field(default=None, ge=-1000, le=1000)
    listed_offence: str | None = _id()
    committed_by_information_system: bool = False
    necessity: str = _text()
    proportionality: str = _text()
    least_intrusive_alternative: str = _text()
    alternative_insufficient_because: str = _text()
    data_from: date | None = None
    data_to: date | None = None
    data_scope: str = _text()
    persons_affected: str = _text()
    privileged_persons: list[str] = Field(default=[], max_length=10)
    privileged_safeguards: str = _text()
    offence_in_issuing_state: bool = Field(
        default=False, description="Reg. (EU) 2023/1543 Art. 8: the offence was, is or will "
        "likely be committed in the issuing State")
    person_in_issuing_state: bool = Field(
        default=False, description="Reg. (EU) 2023/1543 Art. 8: the person whose data are "
        "sought resides in the issuing State")


class AssessmentRead(BaseModel):
    id: str
    request_id: str
    number: int
    current: bool
    offence: str
    maximum_penalty_years: int
    listed_offence: str | None
    committed_by_information_system: bool
    necessity: str
    proportionality: str
    least_intrusive_alternative: str
    alternative_insufficient_because: str
    data_from: date
    data_to: date
    data_scope: str
    persons_affected: str
    privileged_persons: list[str]
    privileged_safeguards: str
    offence_in_issuing_state: bool
    person_in_issuing_state: bool
    threshold_problems: list[str] = Field(
        description="Why the instrument's offence threshold is not met (empty: it is)")
    author: str | None
    author_authority: str | None
    created_at: datetime
    ledger_index: int
    legal_basis: str
    verified: bool
    withheld: list[str] = Field(default_factory=list,
                                description="Fields this reader's role does not see")


class DecisionCreate(Body):
    stage: Stage
    outcome: Outcome
    grounds: list[str] = _codes()
    reasons: str = _text()
    assessment_id: str | None = _id()
    tools: list[str] = Field(default=[], max_length=20)
    supersedes: str | None = _id()
    version: int | None = Field(default=None, ge=1, le=2**62,
                                description="The request version decided on")


class CodeRead(BaseModel):
    code: str
    label: str


class ToolRef(BaseModel):
    id: str
    name: str
    version: str


class DecisionRead(BaseModel):
    id: str
    request_id: str
    instrument: str
    stage: str
    stage_label: str
    outcome: str
    outcome_label: str
    grounds: list[CodeRead]
    reasons: str
    legal_basis: str
    assessment_id: str | None
    tools: list[ToolRef]
    supersedes_id: str | None
    superseded_by_id: str | None
    request_version: int | None
    decided_by: str | None
    decided_by_authority: str | None
    decided_by_rank: str | None
    decided_at: datetime
    ledger_index: int


class PartyRef(BaseModel):
    id: str
    name: str
    jurisdiction: str


class NotificationRead(BaseModel):
    request_id: str
    reference: str
    instrument: str
    enforcing_authority: PartyRef
    notified_at: datetime
    window_due_at: datetime
    window_article: str
    remaining_seconds: int | None
    countdown: str | None
    emergency: bool
    suspensive: bool
    legal_basis: str
    status: NotificationStatus
    decision_id: str | None
    decided_at: datetime | None
    certificate: dict[str, Any]
    withheld: list[str] = Field(default_factory=list,
                                description="Fields this reader's role does not see")


class NonExecutionCreate(Body):
    reasons: list[str] = _codes()
    explanation: str = _text()
    conflict_details: str = _text()
    information_required: str = _text()
    data_preserved: bool = False
    preserved_until: date | None = None


class NonExecutionRead(BaseModel):
    id: str
    request_id: str
    reasons: list[CodeRead]
    explanation: str
    conflict_details: str
    information_required: str
    data_preserved: bool
    preserved_until: date | None
    recorded_by: str | None
    recorded_by_authority: str | None
    recorded_at: datetime
    legal_basis: str
    ledger_index: int


class DataCreate(Body):
    category: str = Field(default="", max_length=40)
    description: str = _text()
    purpose: str = _text()
    retention_until: date | None = None
    evidence_reference: str = Field(default="", max_length=200)


class DataRead(BaseModel):
    id: str
    request_id: str
    category: str
    description: str
    purpose: str
    evidence_reference: str
    received_on: date
    retention_until: date
    review_due_on: date
    restricted: bool
    restriction_reason: str | None
    restriction_basis: str | None
    deleted_at: datetime | None
    deletion_reason: str | None
    recorded_at: datetime


class DataReview(Body):
    retention_until: date | None = None
    note: str = _text()


class DataDeletion(Body):
    reason: str = _text()


class TransferCreate(Body):
    third_state: str = Field(default="", max_length=8)
    recipient: str = Field(default="", max_length=1000)
    purpose: str = _text()
    consent_reference: str = Field(default="", max_length=1000)
    consent_date: date | None = None


class TransferRead(BaseModel):
    id: str
    data_id: str
    third_state: str
    recipient: str
    purpose: str
    consent_reference: str
    consent_date: date
    recorded_at: datetime
    legal_basis: str
    ledger_index: int


class DeferralCreate(Body):
    reason: str = Field(default="", max_length=40)
    note: str = _text()
    until: date | None = None


class DeferralRead(BaseModel):
    id: str
    request_id: str
    reason: CodeRead
    note: str
    until: date
    recorded_at: datetime
    legal_basis: str
    ledger_index: int


class DataDueRead(BaseModel):
    review: list[DataRead]
    retention_ended: list[DataRead]


class ToolCreate(Body):
    name: str = Field(default="", max_length=1000)
    version: str = Field(default="", max_length=1000)
    purpose: str = _text()
    error_rates: str = _text()
    bias_assessment: str = _text()


class ToolRead(BaseModel):
    id: str
    name: str
    version: str
    purpose: str
    error_rates: str
    bias_assessment: str
    approved_by: str | None
    approved_by_authority: str | None
    approved_at: datetime
    ledger_index: int


class OutcomeCount(BaseModel):
    instrument: str
    stage: str
    outcome: str
    count: int


class GroundCount(BaseModel):
    instrument: str
    outcome: str
    ground: str
    count: int


class RegisterRowRead(BaseModel):
    instrument: str
    stage: str
    outcome: str
    grounds: list[str]
    legal_basis: str
    month: str


class PublicRegister(BaseModel):
    decisions: int
    by_outcome: list[OutcomeCount]
    by_ground: list[GroundCount]
    rows: list[RegisterRowRead]
    labels: dict[str, str]
    notice: str
