"""API shapes of requests (`XCreate` / `XRead` names)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rogatory.i18n import N_

MSG_NUL = N_("Must not contain NUL characters.")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class Body(BaseModel):
    """A request body: unknown fields are refused, and so is text with NUL characters (no
    database stores them)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError(MSG_NUL)
        return value


class CaseCreate(Body):
    reference: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    summary: str = ""
    participants: list[str] = Field(default=[], description="Other authorities on the case")


class CaseRead(BaseModel):
    id: str
    reference: str
    title: str
    summary: str
    lead_authority_id: str
    participants: list[str]
    created_at: datetime
    withheld: list[str] = Field(default_factory=list,
                                description="Fields this reader's role does not see")


class RequestCreate(Body):
    case_reference: str = Field(min_length=1, max_length=64)
    instrument: str = Field(min_length=1, max_length=40)
    issuing_authority_id: str | None = Field(
        default=None, description="Default: the drafter's own authority"
    )
    validating_authority_id: str | None = Field(
        default=None, description="Default: the issuing authority"
    )
    executing_authority_id: str = Field(min_length=1)
    data_categories: list[str] = Field(min_length=1)
    emergency: bool = False
    language: str | None = Field(default=None, min_length=2, max_length=2)
    form: dict[str, Any] = {}


class DraftUpdate(Body):
    version: int = Field(ge=1)
    form: dict[str, Any]


class TranslationSet(Body):
    version: int = Field(ge=1)
    language: str = Field(min_length=2, max_length=2)
    text: str = Field(min_length=1)
    certified: bool = False


class ActionBody(Body):
    version: int = Field(ge=1, description="The version you acted on (optimistic concurrency)")
    reason: str = ""
    legal_basis: str = ""
    ground: str | None = Field(default=None, description="Refusal ground code (refuse)")
    deadline_kind: str | None = Field(default=None, description="Deadline (extend_deadline)")


class DeadlineRead(BaseModel):
    kind: str
    label: str
    legal_basis: str
    verified: bool
    effect: str
    holder: str
    emergency: bool
    starts_at: datetime
    due_at: datetime
    status: str
    status_label: str
    extensions_used: int
    closed_at: datetime | None
    remaining_seconds: int | None
    countdown: str | None


class EventRead(BaseModel):
    id: int
    at: datetime
    verb: str
    from_state: str | None
    to_state: str
    version: int
    actor: str | None
    authority: str | None
    reason: str
    legal_basis: str
    details: dict[str, Any]


class PartyRead(BaseModel):
    id: str
    name: str
    jurisdiction: str


class RequestRead(BaseModel):
    id: str
    reference: str
    case_reference: str
    instrument: str
    instrument_name: str
    instrument_version: str
    instrument_verified: bool
    requesting_state: str
    requested_state: str
    issuing_authority: PartyRead
    validating_authority: PartyRead
    executing_authority: PartyRead
    data_categories: list[str]
    emergency: bool
    language: str
    state: str
    state_label: str
    holder: str | None
    holder_authority: str | None
    allowed_verbs: list[str]
    version: int
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    form: dict[str, Any]
    translations: dict[str, str]
    deadlines: list[DeadlineRead]
    withheld: list[str] = Field(default_factory=list,
                                description="Fields this reader's role does not see")


class RequestSummary(BaseModel):
    id: str
    reference: str
    instrument: str
    requesting_state: str
    requested_state: str
    state: str
    state_label: str
    emergency: bool
    version: int
    next_due_at: datetime | None
    updated_at: datetime


class RequestPage(BaseModel):
    items: list[RequestSummary]
    total: int
    limit: int
    offset: int


class RenderedField(BaseModel):
    name: str
    labels: dict[str, str]
    value: Any
    # a choice field's value as its label(s) in each language (the value holds the code(s))
    value_labels: dict[str, str | list[str]] | None = None
    translate: bool
    translation_status: str | None
    translation: dict[str, Any] | None
    verified: bool


class RenderedSection(BaseModel):
    code: str
    titles: dict[str, str]
    fields: list[RenderedField]


class RenderedRequest(BaseModel):
    reference: str
    instrument: str
    languages: list[str]
    source_language: str
    sections: list[RenderedSection]
