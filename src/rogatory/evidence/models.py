"""Tables of the evidence vault: evidence items (one file of one case, with its hashes and its
acquisition metadata as CASE/UCO describes them), their append-only custody events, and the
record of refused ingests (a claimed hash that did not match the content). Every item has a
SHA-256 and a second independent hash: BLAKE3 since migration evid0004, SHA-512 before it.

Append-only: no code path updates or deletes a row of these tables. A mistaken custody event is
corrected by a new event whose `corrects_event_id` points at it. Custody kinds follow the
issue's list (acquired … destroyed); each custody event is also a leaf of the ledger
(`ledger_index`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from rogatory.db import Base, UTCDateTime

_LedgerIndex = BigInteger().with_variant(Integer(), "sqlite")


class CustodyKind(StrEnum):
    ACQUIRED = "acquired"
    SEALED = "sealed"
    TRANSFERRED = "transferred"
    RECEIVED = "received"
    ACCESSED = "accessed"
    ANALYSED = "analysed"
    COPIED = "copied"
    PRESENTED = "presented"
    RETURNED = "returned"
    DESTROYED = "destroyed"


class EvidenceItem(Base):
    """One evidence file of one case: its exhibit number, hashes and how it was acquired."""

    __tablename__ = "evidence_items"
    __table_args__ = (
        UniqueConstraint("case_id", "exhibit_number", name="uq_evidence_items_case_exhibit"),
        UniqueConstraint("case_id", "sha256", name="uq_evidence_items_case_sha256"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    exhibit_number: Mapped[str] = mapped_column(String(100))
    original_name: Mapped[str] = mapped_column(String(255))  # as given (valid UTF-8), never a path
    display_name: Mapped[str] = mapped_column(String(255))  # control characters replaced
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # the second, independent hash of every item ingested since migration evid0004; NULL for
    # items ingested before it, which have a sha512 instead
    blake3: Mapped[str | None] = mapped_column(String(64))
    sha512: Mapped[str | None] = mapped_column(String(128))  # on request (always before evid0004)
    md5: Mapped[str | None] = mapped_column(String(32))
    sha1: Mapped[str | None] = mapped_column(String(40))
    examiner: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    tool: Mapped[str] = mapped_column(String(200))
    tool_version: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(200))
    source_device: Mapped[str] = mapped_column(String(200), default="")
    seal_number: Mapped[str] = mapped_column(String(100), default="")
    place: Mapped[str] = mapped_column(String(200), default="")
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ingested_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.id"))
    # RFC 3161 TimeStampResp (DER) over the SHA-256 digest, from the node's TSA at ingest
    timestamp_token: Mapped[bytes | None] = mapped_column(LargeBinary)


class CustodyEvent(Base):
    """Append-only: who held or handled an item, when, where; a correction points at the event
    it corrects. `ledger_index` is the event's leaf in the ledger."""

    __tablename__ = "custody_events"
    __table_args__ = (Index("ix_custody_events_item_id_id", "item_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("evidence_items.id"))
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    actor_authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.id"))
    place: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    corrects_event_id: Mapped[int | None] = mapped_column(ForeignKey("custody_events.id"))
    ledger_index: Mapped[int] = mapped_column(_LedgerIndex, unique=True)


class IngestRefusal(Base):
    """An ingest refused because a hash the client claimed differs from the content: written in
    a transaction of its own (the ingest's was rolled back), and a ledger leaf as well."""

    __tablename__ = "evidence_ingest_refusals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    actor_authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.id"))
    original_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    field: Mapped[str] = mapped_column(String(40))
    expected: Mapped[str] = mapped_column(String(128))
    found: Mapped[str] = mapped_column(String(128))
    ledger_index: Mapped[int] = mapped_column(_LedgerIndex, unique=True)
