"""The request service on SQLite and PostgreSQL: the EPOC lifecycle, the rules each verb
checks, deadlines, concurrency and visibility."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from conftest import World
from rogatory.clock import ManualClock
from rogatory.errors import (
    Forbidden,
    InvalidTransition,
    NotFound,
    StaleState,
    ValidationFailed,
    VerificationError,
)
from rogatory.requests import service
from rogatory.requests.enums import DeadlineStatus, State, Verb
from rogatory.requests.models import Deadline, Request, TimelineEvent
from rogatory.safeguards import service as safeguards
from safeguards.conftest import assessment

EPOC_FORM: dict[str, Any] = {
    "issuing_file_number": "PARQUET-J3-2026-0417",
    "addressee_name": "Atlas Hosting GmbH",
    "addressee_capacity": "legal_representative",
    "identifiers": "Account ops@lockstorm.example, IP 203.0.113.7 from 1-3 Nov 2026",
    "offence_description": "Rançongiciel contre des hôpitaux (art. 323-1 code pénal)",
    "necessity_and_proportionality": "Seule source pour identifier l'administrateur.",
    "transfer_to_authority": "Parquet de Paris, J3",
    "contact_email": "j3@parquet-paris.example",
}
FIELDS_IN_FRENCH = ("offence_description", "necessity_and_proportionality")


def draft(w: World, *, categories: list[str] | None = None, emergency: bool = False,
          issuer: str = "fr_prosecutor", validating: str = "fr-parquet-paris-j3",
          executing: str = "de-atlas-hosting", form: dict[str, Any] | None = None,
          instrument: str = "epoc") -> service.RequestDraft:
    return service.RequestDraft(
        case_reference=w.case_reference, instrument=instrument,
        issuing_authority_id=w.actors[issuer].authority_id,
        validating_authority_id=validating, executing_authority_id=executing,
        data_categories=categories or ["subscriber"], emergency=emergency,
        form=EPOC_FORM if form is None else form, language="fr",
    )


def do(session: Session, w: World, who: str, req: Request, verb: Verb, clock: ManualClock,
       **kw: Any) -> Request:
    out = service.act(session=session, actor=w.actors[who], request_id=req.id,
                      action=service.Action(verb=verb, expected_version=req.version, **kw),
                      clock=clock)
    session.commit()
    return out


def translate_all(session: Session, w: World, req: Request, clock: ManualClock) -> Request:
    for name in FIELDS_IN_FRENCH:
        req = service.set_translation(
            session=session, actor=w.actors["fr_prosecutor"], request_id=req.id,
            expected_version=req.version, field_name=name, language="en",
            text=f"English text of {name}", certified=True, clock=clock)
        session.commit()
    return req


def sent_epoc(session: Session, w: World, clock: ManualClock, **kw: Any) -> Request:
    req = service.create_request(session=session, actor=w.actors["fr_prosecutor"],
                                 draft=draft(w, **kw), clock=clock)
    session.commit()
    req = do(session, w, "fr_prosecutor", req, Verb.SUBMIT, clock)
    req = do(session, w, "fr_prosecutor", req, Verb.VALIDATE, clock)
    req = translate_all(session, w, req, clock)
    return do(session, w, "fr_prosecutor", req, Verb.SEND, clock)


def test_epoc_from_draft_to_closed(session: Session, world: World, clock: ManualClock) -> None:
    req = sent_epoc(session, world, clock)
    assert req.state == State.RECEIVED
    deadline = session.scalars(select(Deadline).where(Deadline.request_id == req.id)).one()
    assert deadline.kind == "execution" and deadline.status == DeadlineStatus.OPEN
    # 10 days in Berlin: received 2 Nov 10:30 local → due at midnight starting 13 Nov
    assert deadline.due_at.isoformat() == "2026-11-12T23:00:00+00:00"
    clock.advance(timedelta(hours=2))
    for verb in (Verb.ACKNOWLEDGE, Verb.BEGIN_REVIEW, Verb.BEGIN_EXECUTION, Verb.EXECUTE):
        req = do(session, world, "de_provider", req, verb, clock)
    assert req.state == State.EXECUTED
    session.refresh(deadline)
    assert deadline.status == DeadlineStatus.MET
    req = do(session, world, "fr_prosecutor", req, Verb.CLOSE, clock)
    assert req.state == State.CLOSED
    events = session.scalars(select(TimelineEvent).where(TimelineEvent.request_id == req.id)
                             .order_by(TimelineEvent.id)).all()
    assert [e.verb for e in events] == [
        "create", "submit", "validate", "translate", "translate", "send", "acknowledge",
        "begin_review", "begin_execution", "execute", "close"]
    assert [e.version for e in events] == list(range(1, 12))
    validate = events[2]
    assert validate.legal_basis == "Reg. (EU) 2023/1543 Art. 4(1), 4(5)"
    assert validate.actor_authority_id == "fr-parquet-paris-j3"
    send, acknowledge = events[5], events[6]
    assert send.legal_basis == "Reg. (EU) 2023/1543 Art. 10(2)-(4)"  # the deadline it starts
    assert acknowledge.legal_basis == "Regulation (EU) 2023/1543"


def test_prosecutor_may_not_issue_for_traffic_data(session: Session, world: World,
                                                   clock: ManualClock) -> None:
    with pytest.raises(ValidationFailed) as info:
        service.create_request(session=session, actor=world.actors["fr_prosecutor"],
                               draft=draft(world, categories=["traffic"]), clock=clock)
    fields = {e.field: e.text() for e in info.value.errors}
    assert "Art. 4(2)" in fields["issuing_authority_id"]
    assert "prosecutor may not validate" in fields["validating_authority_id"]


def test_investigating_judge_issues_traffic_data(session: Session, world: World,
                                                 clock: ManualClock) -> None:
    req = service.create_request(
        session=session, actor=world.actors["fr_judge"],
        draft=draft(world, categories=["traffic"], issuer="fr_judge",
                    validating="fr-tj-paris-instruction"), clock=clock)
    assert req.state == State.DRAFT and req.data_categories == ["traffic"]


def test_bad_input_names_every_field(session: Session, world: World, clock: ManualClock) -> None:
    bad = dict(EPOC_FORM, addressee_capacity="friend", contact_email="nobody",
               surprise="x")
    with pytest.raises(ValidationFailed) as info:
        service.create_request(
            session=session, actor=world.actors["fr_prosecutor"],
            draft=draft(world, categories=["subscriber", "gossip"], form=bad,
                        executing="de-central-authority"), clock=clock)
    fields = {e.field for e in info.value.errors}
    assert {"form.addressee_capacity", "form.contact_email", "form.surprise",
            "data_categories"} <= fields
    assert session.scalar(select(Request.id)) is None


def test_wrong_addressee_and_unbound_state(session: Session, world: World,
                                           clock: ManualClock) -> None:
    with pytest.raises(ValidationFailed) as info:
        service.create_request(session=session, actor=world.actors["fr_prosecutor"],
                               draft=draft(world, executing="de-central-authority"), clock=clock)
    assert [e.field for e in info.value.errors] == ["executing_authority_id"]
    with pytest.raises(ValidationFailed) as info:
        service.create_request(session=session, actor=world.actors["fr_prosecutor"],
                               draft=draft(world, executing="us-kestrel-cloud"), clock=clock)
    assert any(e.field == "instrument" and "does not bind both FR and US" in e.text()
               for e in info.value.errors)


def test_submit_requires_complete_form(session: Session, world: World,
                                       clock: ManualClock) -> None:
    partial = {k: v for k, v in EPOC_FORM.items() if k != "identifiers"}
    req = service.create_request(session=session, actor=world.actors["fr_prosecutor"],
                                 draft=draft(world, form=partial), clock=clock)
    session.commit()
    with pytest.raises(ValidationFailed) as info:
        do(session, world, "fr_prosecutor", req, Verb.SUBMIT, clock)
    assert [e.field for e in info.value.errors] == ["form.identifiers"]
    assert info.value.errors[0].text("de") != info.value.errors[0].text("en")
    session.rollback()
    assert session.get(Request, req.id).state == State.DRAFT  # type: ignore[union-attr]


def test_send_requires_translation(session: Session, world: World, clock: ManualClock) -> None:
    req = service.create_request(session=session, actor=world.actors["fr_prosecutor"],
                                 draft=draft(world), clock=clock)
    session.commit()
    req = do(session, world, "fr_prosecutor", req, Verb.SUBMIT, clock)
    req = do(session, world, "fr_prosecutor", req, Verb.VALIDATE, clock)
    with pytest.raises(ValidationFailed) as info:
        do(session, world, "fr_prosecutor", req, Verb.SEND, clock)
    assert sorted(e.field for e in info.value.errors) == [
        f"translations.{n}" for n in sorted(FIELDS_IN_FRENCH)]
    assert "de, en" in info.value.errors[0].text()
    session.rollback()
    status = service.translation_status(session, session.get(Request, req.id))  # type: ignore[arg-type]
    assert status == dict.fromkeys(FIELDS_IN_FRENCH, "needed")


def test_wrong_side_and_wrong_state(session: Session, world: World, clock: ManualClock) -> None:
    req = sent_epoc(session, world, clock)
    with pytest.raises(Forbidden):
        do(session, world, "fr_prosecutor", req, Verb.ACKNOWLEDGE, clock)
    with pytest.raises(InvalidTransition) as info:
        do(session, world, "de_provider", req, Verb.EXECUTE, clock)
    assert info.value.details["allowed"] == ["acknowledge", "refuse", "withdraw"]


def test_non_party_sees_nothing(session: Session, world: World, clock: ManualClock) -> None:
    req = sent_epoc(session, world, clock)
    for outsider in ("it_outsider", "us_central", "nl_provider"):
        with pytest.raises(NotFound) as info:
            service.get_request(session=session, actor=world.actors[outsider], request_id=req.id)
        with pytest.raises(NotFound) as unknown:
            service.get_request(session=session, actor=world.actors[outsider],
                                request_id="00000000-0000-0000-0000-000000000000")
        assert str(info.value) == str(unknown.value)
        rows, total = service.list_requests(session=session, actor=world.actors[outsider])
        assert total == 0 and rows == []
    rows, total = service.list_requests(session=session, actor=world.actors["auditor"])
    assert total == 1 and rows[0].id == req.id


def test_stale_version_is_refused(session: Session, world: World, clock: ManualClock) -> None:
    req = sent_epoc(session, world, clock)
    stale = req.version
    do(session, world, "de_provider", req, Verb.ACKNOWLEDGE, clock)
    with pytest.raises(StaleState) as info:
        service.act(session=session, actor=world.actors["de_provider"], request_id=req.id,
                    action=service.Action(verb=Verb.REFUSE, expected_version=stale,
                                          reason="x", ground="ne_bis_in_idem"), clock=clock)
    assert info.value.details["state"] == "acknowledged"


def test_concurrent_officers_one_wins(factory: sessionmaker[Session], world: World,
                                      clock: ManualClock) -> None:
    """Two officers open the same request; the first to act wins, the second gets StaleState
    from the database's own check (UPDATE … WHERE version = n), not from a cached read."""
    with factory() as s:
        req = sent_epoc(s, world, clock)
        rid, version = req.id, req.version
    provider = world.actors["de_provider"]
    with factory() as first, factory() as second:
        seen = service.get_request(session=second, actor=provider, request_id=rid)
        assert seen.version == version
        service.act(session=first, actor=provider, request_id=rid,
                    action=service.Action(verb=Verb.ACKNOWLEDGE, expected_version=version),
                    clock=clock)
        first.commit()
        with pytest.raises(StaleState) as info:
            service.act(session=second, actor=provider, request_id=rid,
                        action=service.Action(verb=Verb.REFUSE, expected_version=version,
                                              reason="immunity", ground="immunity_privilege"),
                        clock=clock)
        assert info.value.details["current_version"] == version + 1
        assert info.value.details["state"] == "acknowledged"
    with factory() as s:
        final = s.get(Request, rid)
        assert final is not None and final.state == State.ACKNOWLEDGED
        verbs = s.scalars(select(TimelineEvent.verb).where(TimelineEvent.request_id == rid)
                          ).all()
        assert "refuse" not in verbs


def test_refusal_needs_a_ground_of_the_instrument(session: Session, world: World,
                                                  clock: ManualClock) -> None:
    req = sent_epoc(session, world, clock)
    with pytest.raises(ValidationFailed) as info:
        do(session, world, "de_provider", req, Verb.REFUSE, clock, reason="no", ground="bored")
    assert info.value.errors[0].field == "ground"
    session.rollback()
    req = do(session, world, "de_provider", session.get(Request, req.id), Verb.REFUSE, clock,  # type: ignore[arg-type]
             reason="Journalist's account", ground="immunity_privilege")
    assert req.state == State.REFUSED
    event = session.scalars(select(TimelineEvent).where(TimelineEvent.request_id == req.id)
                            .order_by(TimelineEvent.id.desc())).first()
    assert event is not None and event.legal_basis == "Reg. (EU) 2023/1543 Art. 12(1)(a)"


def test_emergency_deadline_breach_is_recorded(session: Session, world: World,
                                               clock: ManualClock) -> None:
    req = sent_epoc(session, world, clock, emergency=True)
    deadline = session.scalars(select(Deadline).where(Deadline.request_id == req.id)).one()
    assert deadline.due_at - deadline.starts_at == timedelta(hours=8)
    clock.advance(timedelta(hours=7, minutes=59))
    assert service.scan_deadlines(session=session, clock=clock) == []
    clock.advance(timedelta(minutes=2))
    breached = service.scan_deadlines(session=session, clock=clock)
    session.commit()
    assert [d.kind for d in breached] == ["execution"]
    session.refresh(deadline)
    assert deadline.status == DeadlineStatus.BREACHED
    assert service.scan_deadlines(session=session, clock=clock) == []
    last = session.scalars(select(TimelineEvent).where(TimelineEvent.request_id == req.id)
                           .order_by(TimelineEvent.id.desc())).first()
    assert last is not None and last.verb == "deadline_breached"
    assert last.legal_basis == deadline.legal_basis


def test_withdraw_cancels_deadlines(session: Session, world: World, clock: ManualClock) -> None:
    req = sent_epoc(session, world, clock)
    with pytest.raises(ValidationFailed):
        do(session, world, "fr_prosecutor", req, Verb.WITHDRAW, clock)
    session.rollback()
    req = do(session, world, "fr_prosecutor", session.get(Request, req.id), Verb.WITHDRAW,  # type: ignore[arg-type]
             clock, reason="Suspect identified by other means")
    assert req.state == State.WITHDRAWN
    statuses = session.scalars(select(Deadline.status).where(Deadline.request_id == req.id))
    assert list(statuses) == [DeadlineStatus.CANCELLED]


def test_epoc_pr_extension_by_issuing_side_once(session: Session, world: World,
                                                clock: ManualClock) -> None:
    req = service.create_request(
        session=session, actor=world.actors["fr_prosecutor"],
        draft=draft(world, instrument="epoc_pr", form={}), clock=clock)
    session.commit()
    instrument_form = _complete_form(req.instrument)
    req = service.update_draft(session=session, actor=world.actors["fr_prosecutor"],
                               request_id=req.id, expected_version=req.version,
                               form=instrument_form, clock=clock)
    session.commit()
    req = do(session, world, "fr_prosecutor", req, Verb.SUBMIT, clock)
    req = do(session, world, "fr_prosecutor", req, Verb.VALIDATE, clock)
    for name, status in service.translation_status(session, req).items():
        if status == "needed":
            req = service.set_translation(
                session=session, actor=world.actors["fr_prosecutor"], request_id=req.id,
                expected_version=req.version, field_name=name, language="de", text="Text",
                certified=False, clock=clock)
            session.commit()
    req = do(session, world, "fr_prosecutor", req, Verb.SEND, clock)
    deadline = session.scalars(select(Deadline).where(Deadline.request_id == req.id)).one()
    first_due = deadline.due_at
    with pytest.raises(Forbidden):
        do(session, world, "de_provider", req, Verb.EXTEND_DEADLINE, clock,
           reason="more time", deadline_kind="preservation")
    session.rollback()
    req = session.get(Request, req.id)  # type: ignore[assignment]
    req = do(session, world, "fr_prosecutor", req, Verb.EXTEND_DEADLINE, clock,
             reason="Annex VI", deadline_kind="preservation")
    session.refresh(deadline)
    assert deadline.due_at - first_due == timedelta(days=30)
    assert req.state == State.RECEIVED
    with pytest.raises(ValidationFailed):
        do(session, world, "fr_prosecutor", req, Verb.EXTEND_DEADLINE, clock,
           reason="again", deadline_kind="preservation")


def _complete_form(code: str) -> dict[str, Any]:
    """Minimal valid values for every required field of an instrument's form."""
    from rogatory.instruments import catalogue

    samples = {"string": "x", "text": "x", "integer": 3, "boolean": True,
               "date": "2026-11-01", "datetime": "2026-11-01T10:00:00+00:00",
               "email": "a@b.example", "country": "FR"}
    out: dict[str, Any] = {}
    for section in catalogue.get(code).sections:
        for f in section.fields:
            if not f.required:
                continue
            if f.type == "choice":
                out[f.name] = (f.choices or [""])[0]
            elif f.type == "multichoice":
                out[f.name] = (f.choices or [])[:1]
            else:
                out[f.name] = samples[f.type]
    return out


def test_drafts_stay_with_the_issuing_side(session: Session, world: World,
                                           clock: ManualClock) -> None:
    req = service.create_request(
        session=session, actor=world.actors["fr_judge"],
        draft=draft(world, categories=["traffic"], issuer="fr_judge",
                    validating="fr-tj-paris-instruction"), clock=clock)
    session.commit()
    with pytest.raises(NotFound):
        service.get_request(session=session, actor=world.actors["de_provider"],
                            request_id=req.id)
    assert service.list_requests(session=session, actor=world.actors["de_provider"])[1] == 0
    req = do(session, world, "fr_judge", req, Verb.SUBMIT, clock)
    # traffic data are intrusive: no validation without the assessment (see tests/safeguards)
    safeguards.record_assessment(session=session, actor=world.actors["fr_judge"],
                                 request_id=req.id, values=assessment(), clock=clock)
    session.commit()
    req = do(session, world, "fr_judge", req, Verb.VALIDATE, clock)
    with pytest.raises(NotFound):
        service.get_request(session=session, actor=world.actors["de_provider"],
                            request_id=req.id)
    for name in FIELDS_IN_FRENCH:
        req = service.set_translation(
            session=session, actor=world.actors["fr_judge"], request_id=req.id,
            expected_version=req.version, field_name=name, language="de", text="Text",
            certified=False, clock=clock)
    req = do(session, world, "fr_judge", req, Verb.SEND, clock)
    seen = service.get_request(session=session, actor=world.actors["de_provider"],
                               request_id=req.id)
    assert seen.id == req.id
    assert service.list_requests(session=session, actor=world.actors["de_provider"])[1] == 1


def test_every_timeline_event_is_a_ledger_leaf(session: Session, world: World,
                                               clock: ManualClock) -> None:
    from rogatory.ledger import merkle
    from rogatory.ledger import store as ledger
    from rogatory.ledger.models import LedgerLeaf

    req = sent_epoc(session, world, clock)
    clock.advance(timedelta(days=11))
    service.scan_deadlines(session=session, clock=clock)  # a breach is an event too
    session.commit()
    events = session.scalars(select(TimelineEvent).where(TimelineEvent.request_id == req.id)
                             .order_by(TimelineEvent.id)).all()
    assert [e.verb for e in events][-1] == "deadline_breached"
    size = ledger.size(session=session)
    root = ledger.root_at(session=session, size=size)
    for event in events:
        assert event.ledger_index is not None
        leaf = session.get(LedgerLeaf, event.ledger_index)
        assert leaf is not None and leaf.kind == service.LEDGER_KIND
        assert bytes(leaf.data) == service.ledger_entry(req, event)
        merkle.verify_inclusion(merkle.leaf_hash(service.ledger_entry(req, event)),
                                event.ledger_index, size,
                                ledger.inclusion_proof(session=session, index=event.ledger_index,
                                                       size=size), root)
    # a rewritten reason no longer matches its leaf
    tampered = service.ledger_entry(req, events[2]).replace(b'"validate"', b'"refuse"')
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(merkle.leaf_hash(tampered), events[2].ledger_index or 0, size,
                                ledger.inclusion_proof(session=session,
                                                       index=events[2].ledger_index or 0,
                                                       size=size), root)
