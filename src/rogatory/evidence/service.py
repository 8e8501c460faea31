"""Evidence service: ingest a file into a case, record its chain of custody, read both.

Ingest streams the data once into the store (`rogatory.evidence.store`), computing the hashes
itself: SHA-256 and BLAKE3 always; SHA-512 when asked (`sha512=True`) or when the client claims
one (a claimed hash is always checked, so it is computed and recorded too); MD5 and SHA-1 only
with `legacy_hashes` (a claimed MD5 or SHA-1 without it is refused). Hashes the client claims
are only compared afterwards (DESIGN "Evidence and the ledger"). Everything cheap is checked
before the data is read. The blob is published into the store only after every check passed, so
a refused file never appears there.

Items ingested before BLAKE3 (migration evid0004) have no `blake3` and always a `sha512`; every
reader handles both.

Custody is append-only (a correction is a new event pointing at the one it corrects) and every
custody event is a leaf of the ledger (`rogatory.ledger.store.append`, kind "custody", data the
canonical JSON of the event: sorted keys, UTF-8, no whitespace), all in the caller's
transaction: services take `*, session` and never commit.

A claimed hash that does not match raises `ClaimedHashMismatch` (a `ValidationFailed`) carrying
a `Refusal`; the caller rolls its transaction back and records the refusal with
`record_refusal` in a short transaction of its own (the route and the CLI do), so the attempt
stays on record (a row and a ledger leaf) although nothing of the ingest is kept.
"""

from __future__ import annotations

import json
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rogatory.clock import Clock, ensure_utc
from rogatory.errors import FieldError, Forbidden, NotFound, ValidationFailed
from rogatory.evidence.hashing import HEX_LENGTHS, LEGACY, Source
from rogatory.evidence.models import CustodyEvent, CustodyKind, EvidenceItem, IngestRefusal
from rogatory.evidence.store import Digests, EvidenceStore
from rogatory.identity.models import Role
from rogatory.identity.policy import OVERSIGHT_ROLES, Actor
from rogatory.ledger import store as ledger
from rogatory.requests import service as requests_service
from rogatory.requests.models import Case

# Who may put evidence into a case they can see, and record its custody: the people who seize,
# examine or hand over evidence. Kept here rather than in identity/policy.py for now (that
# module belongs to the foundation); move it there with the other role sets when convenient.
INGEST_ROLES = frozenset({
    Role.FORENSIC_EXAMINER,
    Role.PROSECUTOR,
    Role.INVESTIGATING_JUDGE,
    Role.EXECUTING_OFFICER,
    Role.PROVIDER_RESPONDER,
})
CUSTODY_ROLES = INGEST_ROLES

LEDGER_KIND_CUSTODY = "custody"
LEDGER_KIND_REFUSAL = "evidence_ingest_refusal"
HASH_LENGTHS = HEX_LENGTHS
MAX_NAME_BYTES = 255
TEXT_LIMITS = {"examiner": 200, "tool": 200, "tool_version": 100, "method": 200,
               "source_device": 200, "seal_number": 100, "place": 200}
REQUIRED_METADATA = ("examiner", "tool", "tool_version", "method")

# English messages, shown as they are (not yet in the gettext catalogs).
MSG_REQUIRED = "This field is required."
MSG_TOO_LONG = "Must be at most {max} characters."
MSG_NUL = "Must not contain NUL characters."
MSG_NAIVE = "Must include a time zone (UTC offset)."
MSG_FUTURE = "Must not be in the future."
MSG_NAME_EMPTY = "A file name is required."
MSG_NAME_UTF8 = "The file name is not valid UTF-8."
MSG_NAME_SEPARATOR = "The file name must not contain a path separator."
MSG_NAME_DOTS = "The file name must not be '.' or '..'."
MSG_NAME_LONG = "The file name must be at most {max} bytes in UTF-8."
MSG_EMPTY_FILE = "The file is empty (0 bytes); nothing was stored."
MSG_DUPLICATE = "This file is already in the case as {exhibit}."
MSG_HASH_FORMAT = "Must be {length} lowercase or uppercase hexadecimal digits."
MSG_HASH_UNKNOWN = ("Unknown hash; use sha256, blake3 or sha512 (md5 and sha1 with legacy "
                    "hashes).")
MSG_HASH_MISMATCH = "Does not match the content: expected {expected}, found {found}."
MSG_CORRECTS = "Not an event of this item."
MSG_CORRECTION_NOTE = "A correction needs a note saying what it corrects."
MSG_ACQUIRED_ONCE = "An item is acquired once, at ingest; use another kind or correct that event."
MSG_DESTROYED = "The item was destroyed; only a correction can follow."
MSG_KIND = "Must be one of: {kinds}."


@dataclass(frozen=True)
class AcquisitionMetadata:
    """How the evidence was acquired, as CASE/UCO describes an acquisition action."""

    examiner: str
    acquired_at: datetime | None
    tool: str
    tool_version: str
    method: str
    source_device: str = ""
    seal_number: str = ""
    place: str = ""


@dataclass(frozen=True)
class Refusal:
    """An ingest refused for a claimed hash that did not match; see `record_refusal`."""

    case_id: str
    actor: Actor
    original_name: str
    size: int
    field: str
    expected: str
    found: str


class ClaimedHashMismatch(ValidationFailed):
    """A hash the client claimed differs from the one the server computed."""

    def __init__(self, errors: list[FieldError], refusals: list[Refusal]) -> None:
        super().__init__(errors)
        self.refusals = refusals


# --- checks ------------------------------------------------------------------------------------


def _text_errors(name: str, value: str, required: bool) -> list[FieldError]:
    if "\x00" in value:
        return [FieldError(name, MSG_NUL)]
    if required and not value.strip():
        return [FieldError(name, MSG_REQUIRED)]
    limit = TEXT_LIMITS.get(name, 200)
    if len(value) > limit:
        return [FieldError(name, MSG_TOO_LONG, {"max": limit})]
    return []


def check_metadata(metadata: AcquisitionMetadata, now: datetime) -> list[FieldError]:
    """Every invalid acquisition field, each named."""
    errors: list[FieldError] = []
    for name in TEXT_LIMITS:
        errors += _text_errors(name, getattr(metadata, name), name in REQUIRED_METADATA)
    when = metadata.acquired_at
    if when is None:
        errors.append(FieldError("acquired_at", MSG_REQUIRED))
    elif when.tzinfo is None or when.utcoffset() is None:
        errors.append(FieldError("acquired_at", MSG_NAIVE))
    elif when > now:
        errors.append(FieldError("acquired_at", MSG_FUTURE))
    return errors


def check_name(original_name: str | bytes) -> tuple[str, list[FieldError]]:
    """The name as text, or the reasons it is refused (field `original_name`)."""
    field = "original_name"
    if isinstance(original_name, bytes):
        try:
            name = original_name.decode("utf-8")
        except UnicodeDecodeError:
            return "", [FieldError(field, MSG_NAME_UTF8)]
    else:
        name = original_name
        try:  # e.g. a file system name decoded with surrogateescape
            name.encode("utf-8")
        except UnicodeEncodeError:
            return "", [FieldError(field, MSG_NAME_UTF8)]
    if not name.strip():
        return name, [FieldError(field, MSG_NAME_EMPTY)]
    if "\x00" in name:
        return name, [FieldError(field, MSG_NUL)]
    if "/" in name or "\\" in name:
        return name, [FieldError(field, MSG_NAME_SEPARATOR)]
    if name.strip() in (".", ".."):
        return name, [FieldError(field, MSG_NAME_DOTS)]
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return name, [FieldError(field, MSG_NAME_LONG, {"max": MAX_NAME_BYTES})]
    return name, []


def _utc(value: datetime | None) -> datetime:
    assert value is not None  # checked by check_metadata
    return ensure_utc(value)


def display_name(name: str) -> str:
    """A name safe to show: NFC, control and format characters (e.g. bidi overrides) as '_'."""
    text = unicodedata.normalize("NFC", name)
    return "".join("_" if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)[:255]


def check_claimed(claimed: dict[str, str] | None, legacy: bool) -> tuple[dict[str, str],
                                                                         list[FieldError]]:
    errors: list[FieldError] = []
    wanted: dict[str, str] = {}
    for algorithm, value in (claimed or {}).items():
        key = algorithm.lower()
        field = f"claimed.{key}"
        if key not in HASH_LENGTHS or (key in LEGACY and not legacy):
            errors.append(FieldError(f"claimed.{algorithm}", MSG_HASH_UNKNOWN))
            continue
        text = value.strip().lower()
        length = HASH_LENGTHS[key]
        if len(text) != length or any(c not in "0123456789abcdef" for c in text):
            errors.append(FieldError(field, MSG_HASH_FORMAT, {"length": length}))
            continue
        wanted[key] = text
    return wanted, errors


# --- ledger ------------------------------------------------------------------------------------


def canonical_json(data: dict[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes a ledger leaf holds."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def event_payload(event: CustodyEvent, item: EvidenceItem) -> dict[str, Any]:
    """What the ledger leaf of a custody event says (everything but its own row id)."""
    return {
        "type": "custody",
        "item_id": item.id,
        "sha256": item.sha256,
        "kind": event.kind,
        "at": ensure_utc(event.at).isoformat(),
        "actor_user_id": event.actor_user_id,
        "actor_authority_id": event.actor_authority_id,
        "place": event.place,
        "note": event.note,
        "corrects_event_id": event.corrects_event_id,
    }


def _append_event(session: Session, item: EvidenceItem, event: CustodyEvent,
                  now: datetime) -> CustodyEvent:
    """Append the event's leaf to the ledger, then the event with its leaf index."""
    event.ledger_index = ledger.append(session=session, data=canonical_json(
        event_payload(event, item)), kind=LEDGER_KIND_CUSTODY, at=now)
    session.add(event)
    session.flush()
    return event


# --- ingest ------------------------------------------------------------------------------------


def _require_role(actor: Actor, roles: frozenset[Role], what: str) -> None:
    if actor.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        raise Forbidden(f"your role ({actor.role.value}) may not {what}; allowed: {allowed}")


def ingest(
    *, session: Session, store: EvidenceStore, actor: Actor, case_reference: str,
    chunks: Source, original_name: str | bytes, metadata: AcquisitionMetadata,
    claimed: dict[str, str] | None, legacy_hashes: bool, clock: Clock,
    timestamp: Callable[[bytes], bytes] | None = None, sha512: bool = False,
) -> EvidenceItem:
    """Stream `chunks` (byte chunks, or a binary file read with `readinto`) into the store and
    record the item with its `acquired` custody event (a ledger leaf), or raise with nothing
    stored. See the module docstring for which hashes are computed and for the order."""
    store.recover()
    case = requests_service.get_case(session=session, actor=actor, reference=case_reference)
    _require_role(actor, INGEST_ROLES, "ingest evidence")
    now = clock.now()
    name, errors = check_name(original_name)
    errors += check_metadata(metadata, now)
    wanted, claim_errors = check_claimed(claimed, legacy_hashes)
    errors += claim_errors
    if errors:
        raise ValidationFailed(errors)
    extra = (["sha512"] if sha512 or "sha512" in wanted else []) + \
        (sorted(LEGACY) if legacy_hashes else [])
    with store.stage(chunks, extra=extra) as staged:
        digests = staged.digests
        if digests.size == 0:
            raise ValidationFailed([FieldError("file", MSG_EMPTY_FILE)])
        _compare(case.id, actor, display_name(name), digests, wanted)
        # trusted time over the content, before the ledger lock (an external TSA is a network
        # call); the token is stored with the item and exported with it
        token = timestamp(bytes.fromhex(digests.sha256)) if timestamp is not None else None
        item = EvidenceItem(
            id=str(uuid.uuid4()), case_id=case.id, original_name=name,
            display_name=display_name(name), size=digests.size, sha256=digests.sha256,
            blake3=digests.blake3, sha512=digests.sha512, md5=digests.md5, sha1=digests.sha1,
            examiner=metadata.examiner.strip(), acquired_at=_utc(metadata.acquired_at),
            tool=metadata.tool.strip(), tool_version=metadata.tool_version.strip(),
            method=metadata.method.strip(), source_device=metadata.source_device.strip(),
            seal_number=metadata.seal_number.strip(), place=metadata.place.strip(),
            ingested_at=now, ingested_by=actor.user_id, authority_id=actor.authority_id,
            timestamp_token=token,
        )
        acquired = CustodyEvent(
            item_id=item.id, kind=CustodyKind.ACQUIRED.value, at=item.acquired_at,
            actor_user_id=actor.user_id, actor_authority_id=actor.authority_id,
            place=item.place, note=f"acquired by {item.examiner} with {item.tool} "
            f"{item.tool_version} ({item.method})", corrects_event_id=None)
        # The ledger append locks the ledger head until the transaction ends: from here on,
        # ingests are serialized, so the duplicate check and the exhibit number are exact.
        acquired.ledger_index = ledger.append(session=session, data=canonical_json(
            event_payload(acquired, item)), kind=LEDGER_KIND_CUSTODY, at=now)
        existing = session.scalar(select(EvidenceItem.exhibit_number).where(
            EvidenceItem.case_id == case.id, EvidenceItem.sha256 == digests.sha256))
        if existing is not None:
            raise ValidationFailed([FieldError("file", MSG_DUPLICATE, {"exhibit": existing})])
        count = session.scalar(select(func.count()).select_from(EvidenceItem).where(
            EvidenceItem.case_id == case.id)) or 0
        item.exhibit_number = f"{case.reference}/EX-{count + 1:04d}"
        session.add(item)
        session.flush()
        session.add(acquired)
        session.flush()
        staged.publish()  # last: a failure before it leaves nothing in the store
    return item


def _compare(case_id: str, actor: Actor, name: str, digests: Digests,
             wanted: dict[str, str]) -> None:
    errors: list[FieldError] = []
    refusals: list[Refusal] = []
    for algorithm, expected in sorted(wanted.items()):
        found = getattr(digests, algorithm)
        if found != expected:
            field = f"claimed.{algorithm}"
            errors.append(FieldError(field, MSG_HASH_MISMATCH,
                                     {"expected": expected, "found": found}))
            refusals.append(Refusal(case_id=case_id, actor=actor, original_name=name,
                                    size=digests.size, field=field, expected=expected,
                                    found=found))
    if errors:
        raise ClaimedHashMismatch(errors, refusals)


def record_refusal(*, session: Session, refusal: Refusal, clock: Clock) -> IngestRefusal:
    """Keep the record of a refused ingest (a row and a ledger leaf); the caller commits it in a
    transaction of its own, after rolling back the ingest's."""
    now = clock.now()
    row = IngestRefusal(
        case_id=refusal.case_id, at=now, actor_user_id=refusal.actor.user_id,
        actor_authority_id=refusal.actor.authority_id, original_name=refusal.original_name,
        size=refusal.size, field=refusal.field, expected=refusal.expected, found=refusal.found)
    row.ledger_index = ledger.append(session=session, data=canonical_json({
        "type": "evidence_ingest_refusal", "case_id": refusal.case_id, "at": now.isoformat(),
        "actor_user_id": refusal.actor.user_id,
        "actor_authority_id": refusal.actor.authority_id,
        "original_name": refusal.original_name, "size": refusal.size, "field": refusal.field,
        "expected": refusal.expected, "found": refusal.found}), kind=LEDGER_KIND_REFUSAL, at=now)
    session.add(row)
    session.flush()
    return row


# --- custody -----------------------------------------------------------------------------------


def record_custody(
    *, session: Session, actor: Actor, item_id: str, kind: str, place: str, note: str,
    corrects: int | None, clock: Clock,
) -> CustodyEvent:
    """Append one custody event (and its ledger leaf). A correction points at an earlier event
    of the same item and says why in its note; nothing is ever changed in place."""
    item = get_item(session=session, actor=actor, item_id=item_id)
    _require_role(actor, CUSTODY_ROLES, "record custody")
    errors: list[FieldError] = []
    try:
        custody_kind = CustodyKind(kind)
    except ValueError:
        errors.append(FieldError("kind", MSG_KIND, {"kinds": ", ".join(CustodyKind)}))
        custody_kind = None
    errors += _text_errors("place", place, False)
    if "\x00" in note:
        errors.append(FieldError("note", MSG_NUL))
    chain = custody_chain(session=session, actor=actor, item_id=item_id)
    if corrects is not None:
        if not any(e.id == corrects for e in chain):
            errors.append(FieldError("corrects", MSG_CORRECTS))
        if not note.strip():
            errors.append(FieldError("note", MSG_CORRECTION_NOTE))
    else:
        if custody_kind is CustodyKind.ACQUIRED:
            errors.append(FieldError("kind", MSG_ACQUIRED_ONCE))
        if any(e.kind == CustodyKind.DESTROYED.value and e.corrects_event_id is None
               for e in chain):
            errors.append(FieldError("kind", MSG_DESTROYED))
    if errors or custody_kind is None:
        raise ValidationFailed(errors)
    now = clock.now()
    event = CustodyEvent(
        item_id=item.id, kind=custody_kind.value, at=now, actor_user_id=actor.user_id,
        actor_authority_id=actor.authority_id, place=place.strip(), note=note,
        corrects_event_id=corrects)
    return _append_event(session, item, event, now)


# --- reading -----------------------------------------------------------------------------------


def _on_case_team(actor: Actor, case: Case) -> bool:
    return actor.role in OVERSIGHT_ROLES or actor.authority_id in (case.participants or [])


def list_items(*, session: Session, actor: Actor, case_reference: str) -> list[EvidenceItem]:
    """The items of a case the actor may see, by exhibit number: every item for the case's
    team (and oversight); for a party to one of its orders who is not on the team (a provider,
    an executing authority), only the items its own authority put in (need to know)."""
    case = requests_service.get_case(session=session, actor=actor, reference=case_reference)
    query = select(EvidenceItem).where(EvidenceItem.case_id == case.id)
    if not _on_case_team(actor, case):
        query = query.where(EvidenceItem.authority_id == actor.authority_id)
    return list(session.scalars(query.order_by(EvidenceItem.exhibit_number)))


def get_item(*, session: Session, actor: Actor, item_id: str) -> EvidenceItem:
    """The item, if it exists and the actor may see it (the case's team, oversight, or the
    authority that put it in); NotFound either way."""
    item = session.get(EvidenceItem, item_id)
    if item is None:
        raise NotFound("evidence item not found")
    try:
        case = requests_service.get_case_by_id(session=session, actor=actor,
                                               case_id=item.case_id)
    except NotFound:
        raise NotFound("evidence item not found") from None
    if not (_on_case_team(actor, case) or item.authority_id == actor.authority_id):
        raise NotFound("evidence item not found")  # as `list_items` says: need to know
    return item


def custody_chain(*, session: Session, actor: Actor, item_id: str) -> list[CustodyEvent]:
    """The item's custody events in the order they were recorded."""
    item = get_item(session=session, actor=actor, item_id=item_id)
    return list(session.scalars(select(CustodyEvent).where(CustodyEvent.item_id == item.id)
                                .order_by(CustodyEvent.id)))
