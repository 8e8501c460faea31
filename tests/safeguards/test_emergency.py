"""Issue without prior validation in an emergency (Reg. (EU) 2023/1543 Art. 4(5), unverified)
through the real service, on SQLite and PostgreSQL: who may, for which data; the 48 hours as a
stored deadline; validation after the fact (by the verb or by a reasoned decision); and the
order lapsing — refused, withdrawn or left unvalidated until the deadline job runs — with every
data item received on it restricted, and the executing side seeing it."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from rogatory.errors import Forbidden, InvalidTransition, ValidationFailed
from rogatory.ledger.models import LedgerLeaf
from rogatory.requests import service, views
from rogatory.requests.enums import DeadlineStatus, State, Verb
from rogatory.requests.models import Deadline, Request, TimelineEvent
from rogatory.safeguards import rules
from rogatory.safeguards import service as safeguards
from rogatory.safeguards.models import ReceivedData
from rogatory.safeguards.rules import Outcome, Stage

from .conftest import Flow

ART_4_5 = "Reg. (EU) 2023/1543 Art. 4(5)"
PROSECUTOR = "fr-parquet-paris-j3"  # validates the police's EPOC for subscriber data
INVESTIGATING_JUDGE = "fr-tj-paris-instruction"
EMERGENCY = "A hostage-taker's account: the subscriber must be identified within hours."


def fields(info: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return {e.field: e.text() for e in info.value.errors}


def events(session: Session, request_id: str) -> list[TimelineEvent]:
    return list(session.scalars(select(TimelineEvent).where(
        TimelineEvent.request_id == request_id).order_by(TimelineEvent.id)))


def deadline(session: Session, request: Request, kind: str) -> Deadline:
    return session.scalars(select(Deadline).where(Deadline.request_id == request.id,
                                                  Deadline.kind == kind)).one()


def ex_post(session: Session, request: Request) -> Deadline:
    return deadline(session, request, rules.EX_POST_VALIDATION_KIND)


def police_draft(flow: Flow, police: str, **kw: Any) -> Request:
    values: dict[str, Any] = {"issuer": police, "validating": PROSECUTOR,
                              "categories": ["subscriber"], "emergency": True}
    values.update(kw)
    return flow.create(**values)


def issued(flow: Flow, police: str, **kw: Any) -> Request:
    return flow.act(police, police_draft(flow, police, **kw), Verb.ISSUE_EMERGENCY,
                    reason=EMERGENCY)


def executed(flow: Flow, police: str, **kw: Any) -> Request:
    """Issued without validation, sent, executed by the provider within its 8 hours, and the
    data recorded by the police."""
    request = flow.act(police, flow.translate(police, issued(flow, police, **kw)), Verb.SEND)
    for verb in (Verb.ACKNOWLEDGE, Verb.BEGIN_REVIEW, Verb.BEGIN_EXECUTION, Verb.EXECUTE):
        request = flow.act("de_provider", request, verb)
    flow.later(hours=1)
    record(flow, police, request)
    return request


def record(flow: Flow, police: str, request: Request) -> ReceivedData:
    item = safeguards.record_data(
        session=flow.session, actor=flow.world.actors[police], request_id=request.id,
        clock=flow.clock, draft=safeguards.DataDraft(
            category="subscriber", description="Name and address of the account holder",
            purpose="Hostage-taking, FR-2026-LOCKSTORM", retention_until=date(2028, 11, 2),
            evidence_reference="EX-7"))
    flow.commit()
    return item


def allowed(flow: Flow, who: str, request: Request) -> list[str]:
    read = views.request_read(flow.session, request, flow.world.actors[who], flow.clock.now(),
                              "en")
    return read.allowed_verbs


# --- who may issue without prior validation ------------------------------------------------------


def test_the_police_issue_an_emergency_epoc_for_subscriber_data_art_4_5(
        flow: Flow, police: str) -> None:
    """Reg. (EU) 2023/1543 Art. 4(5): an authority whose orders need validation issues an
    emergency EPOC for subscriber data without it; the 48 hours of its validation are a stored
    deadline held by the validating authority, and the timeline names the legal basis."""
    draft = police_draft(flow, police)
    assert "issue_emergency" in allowed(flow, police, draft)
    with pytest.raises(ValidationFailed) as info:  # why the emergency justifies it
        flow.act(police, draft, Verb.ISSUE_EMERGENCY)
    assert set(fields(info)) == {"reason"}
    flow.session.rollback()
    issued_at, version = flow.clock.now(), draft.version
    request = flow.act(police, draft, Verb.ISSUE_EMERGENCY, reason=EMERGENCY)
    assert request.state == State.ISSUED and request.version == version + 1
    event = events(flow.session, request.id)[-1]
    assert (event.verb, event.from_state, event.to_state) == (
        "issue_emergency", "draft", "issued")
    assert event.legal_basis == ART_4_5 and event.reason == EMERGENCY
    assert event.details["without_prior_validation"] is True
    assert event.details["verified"] is False and event.details["issuer_rank"] == "police"
    due = ex_post(flow.session, request)
    assert due.due_at == issued_at + timedelta(hours=48) == rules.ex_post_validation_due(issued_at)
    assert event.details["ex_post_validation_due_at"] == due.due_at.isoformat()
    assert (due.status, due.holder, due.legal_basis, due.verified) == (
        DeadlineStatus.OPEN, "validating", ART_4_5, False)
    assert due.label == "Validation of an order issued without prior validation"
    # the validating authority sees the order and what it may do; nobody may close it yet
    assert allowed(flow, "fr_prosecutor", request) == ["validate_ex_post", "refuse_ex_post"]
    assert allowed(flow, police, request) == ["send", "withdraw"]
    read = views.request_read(flow.session, request, flow.world.actors["fr_prosecutor"],
                              flow.clock.now(), "fr")
    [shown] = read.deadlines
    assert shown.kind == "ex_post_validation" and shown.countdown == "2d 00h 00m left"
    assert shown.label != due.label  # translated


def test_a_preservation_order_for_content_data_too_art_4_5(flow: Flow, police: str) -> None:
    """Art. 4(5): any category of an EPOC-PR may be preserved without prior validation."""
    request = issued(flow, police, instrument="epoc_pr", categories=["content", "traffic"],
                     executing="nl-nimbus-mail")
    assert request.state == State.ISSUED
    assert ex_post(flow.session, request).status == DeadlineStatus.OPEN


@pytest.mark.parametrize("categories", [["traffic"], ["content"], ["subscriber", "content"]])
def test_not_for_traffic_or_content_data_of_an_epoc_art_4_5(
        flow: Flow, police: str, categories: list[str]) -> None:
    """Art. 4(5) with 4(2): traffic and content data are never produced without a judge's
    prior validation, even in an emergency; the order stays a draft, with no deadline."""
    draft = police_draft(flow, police, categories=categories, validating=INVESTIGATING_JUDGE)
    assert "issue_emergency" not in allowed(flow, police, draft)
    with pytest.raises(ValidationFailed) as info:
        flow.act(police, draft, Verb.ISSUE_EMERGENCY, reason=EMERGENCY)
    refused = ", ".join(c for c in categories if c != "subscriber")
    assert fields(info) == {"data_categories": (
        f"{refused} data may not be ordered without prior validation, even in an emergency "
        f"({ART_4_5}).")}
    flow.session.rollback()
    assert flow.session.get(Request, draft.id).state == State.DRAFT  # type: ignore[union-attr]
    assert flow.session.scalar(select(Deadline.id)) is None


def test_not_without_an_emergency_art_4_5(flow: Flow, police: str) -> None:
    draft = police_draft(flow, police, emergency=False)
    assert "issue_emergency" not in allowed(flow, police, draft)
    with pytest.raises(ValidationFailed) as info:
        flow.act(police, draft, Verb.ISSUE_EMERGENCY, reason=EMERGENCY)
    assert fields(info) == {"emergency": (
        f"Only an order issued in an emergency may go without prior validation ({ART_4_5}).")}


def test_not_by_an_authority_that_validates_its_own_orders_art_4_5(flow: Flow) -> None:
    """Art. 4(1)(a), 4(5): a judge, investigating judge or prosecutor issues on its own
    authority; issuing without validation is for the authorities that need one."""
    for who in ("fr_judge", "fr_prosecutor"):
        draft = flow.create(issuer=who, categories=["subscriber"], emergency=True)
        assert "issue_emergency" not in allowed(flow, who, draft)
        with pytest.raises(ValidationFailed) as info:
            flow.act(who, draft, Verb.ISSUE_EMERGENCY, reason=EMERGENCY)
        assert set(fields(info)) == {"issuing_authority_id"}
        assert fields(info)["issuing_authority_id"].endswith(
            f"only an authority whose orders need validation may issue without it ({ART_4_5}).")
        flow.session.rollback()


def test_not_for_an_instrument_without_the_rule(flow: Flow, police: str) -> None:
    """The EIO has no issue without prior validation: the verb is not one of its own."""
    draft = flow.create(instrument="eio", issuer="fr_judge", categories=["subscriber"],
                        executing="de-sta-berlin-rechtshilfe", emergency=True)
    with pytest.raises(InvalidTransition) as info:
        flow.act("fr_judge", draft, Verb.ISSUE_EMERGENCY, reason=EMERGENCY)
    assert "issue_emergency" not in info.value.details["allowed"]


# --- validation after the fact -------------------------------------------------------------------


def test_validated_within_48_hours_the_order_stands_art_4_5(flow: Flow, police: str) -> None:
    """Art. 4(5): validated after 47 hours, once the data were produced; the deadline is met,
    the order carries on and can be closed, and the scan after 48 hours changes nothing."""
    request = executed(flow, police)
    assert request.state == State.EXECUTED
    with pytest.raises(ValidationFailed) as info:  # not while the validation is pending
        flow.act(police, request, Verb.CLOSE, reason="Done.")
    due = ex_post(flow.session, request).due_at
    assert fields(info) == {"state": (
        "This order was issued without prior validation: it can be closed once validated, or it "
        f"lapses at {due.isoformat()} ({ART_4_5}).")}
    flow.session.rollback()
    assert "close" not in allowed(flow, police, request)
    for who in (police, "de_provider"):  # the validating side's verb
        with pytest.raises(Forbidden):
            flow.act(who, request, Verb.VALIDATE_EX_POST)
        flow.session.rollback()
    flow.later(hours=46)
    version = request.version
    validated = flow.act("fr_prosecutor", request, Verb.VALIDATE_EX_POST)
    assert validated.state == State.EXECUTED and validated.version == version + 1
    event = events(flow.session, request.id)[-1]
    assert event.verb == "validate_ex_post" and event.details["ex_post_validation"] == "validated"
    assert event.legal_basis == f"{ART_4_5}; Reg. (EU) 2023/1543 Art. 4(1), 4(5)"
    assert ex_post(flow.session, request).status == DeadlineStatus.MET
    assert "validate_ex_post" not in allowed(flow, "fr_prosecutor", validated)
    flow.later(hours=3)
    assert service.scan_deadlines(session=flow.session, clock=flow.clock) == []
    flow.commit()
    closed = flow.act(police, validated, Verb.CLOSE, reason="Data received.")
    assert closed.state == State.CLOSED
    assert not flow.session.scalars(select(ReceivedData)).one().restricted
    with pytest.raises(InvalidTransition):
        flow.act("fr_prosecutor", closed, Verb.VALIDATE_EX_POST)


def test_a_reasoned_decision_validates_after_the_fact(flow: Flow, police: str) -> None:
    """A validation decision on an order awaiting validation after the fact performs
    `validate_ex_post` and cites Art. 4(5)."""
    request = issued(flow, police)
    decision = flow.decide("fr_prosecutor", request, Stage.VALIDATION, Outcome.GRANT,
                           ["necessary", "proportionate"], expected_version=request.version)
    assert decision.legal_basis.startswith(ART_4_5)
    assert events(flow.session, request.id)[-1].verb == "validate_ex_post"
    assert ex_post(flow.session, request).status == DeadlineStatus.MET
    flow.session.refresh(request)
    assert request.state == State.ISSUED  # it goes on to be sent


def test_nothing_to_validate_after_the_fact_on_an_order_validated_before(flow: Flow) -> None:
    request = flow.sent(flow.create(issuer="fr_prosecutor", categories=["subscriber"]),
                        who="fr_prosecutor")
    with pytest.raises(ValidationFailed) as info:
        flow.act("fr_prosecutor", request, Verb.VALIDATE_EX_POST)
    assert fields(info) == {"state": (
        f"No validation after the fact is pending on this order ({ART_4_5}).")}
    flow.session.rollback()
    with pytest.raises(InvalidTransition) as wrong:  # names only what the request could take
        flow.act("fr_prosecutor", request, Verb.SEND)
    assert wrong.value.details["allowed"] == ["acknowledge", "refuse", "withdraw"]
    flow.session.rollback()
    with pytest.raises(Forbidden):  # the job's verb
        flow.act("fr_prosecutor", request, Verb.LAPSE)


# --- the order lapses -----------------------------------------------------------------------------


def _restricted(flow: Flow, request: Request, reason: str) -> ReceivedData:
    item = flow.session.scalars(select(ReceivedData).where(
        ReceivedData.request_id == request.id)).one()
    flow.session.refresh(item)
    assert item.restricted and item.deleted_at is None  # kept, flagged, not used
    assert (item.restriction_reason, item.restriction_basis) == (reason, ART_4_5)
    kinds = [json.loads(bytes(leaf.data)) for leaf in flow.session.scalars(
        select(LedgerLeaf).where(LedgerLeaf.kind == "data_protection").order_by(LedgerLeaf.index))]
    assert [(k["event"], k.get("reason")) for k in kinds] == [
        ("recorded", None), ("restricted", reason)]
    with pytest.raises(ValidationFailed) as info:  # it cannot be passed on
        safeguards.transfer_data(
            session=flow.session, actor=flow.world.actors["fr_police"], data_id=item.id,
            clock=flow.clock, draft=safeguards.TransferDraft(
                third_state="US", recipient="FBI", purpose="Same case",
                consent_reference="BfJ 2026-1", consent_date=flow.clock.now().date()))
    assert fields(info) == {"data_id": f"The use of these data is restricted: {reason}."}
    flow.session.rollback()
    return item


def test_48_hours_without_validation_the_scan_lapses_the_order_art_4_5(
        flow: Flow, police: str) -> None:
    """Art. 4(5): no validation within 48 hours; a late one is refused naming the time; the
    deadline job breaches the deadline, withdraws the order (verb `lapse`, no actor) and
    restricts the data received; the provider sees the order lapsed; data recorded later are
    restricted at once."""
    request = executed(flow, police)
    due = ex_post(flow.session, request).due_at
    flow.clock.set(due + timedelta(minutes=5))
    with pytest.raises(ValidationFailed) as info:
        flow.act("fr_prosecutor", request, Verb.VALIDATE_EX_POST)
    assert fields(info) == {"state": (
        f"The time to validate this order ended at {due.isoformat()} ({ART_4_5}): it lapses, "
        "and the data obtained may not be used.")}
    flow.session.rollback()

    changed = service.scan_deadlines(session=flow.session, clock=flow.clock)
    flow.commit()
    assert [(d.kind, d.status) for d in changed] == [("ex_post_validation", "breached")]
    assert service.scan_deadlines(session=flow.session, clock=flow.clock) == []
    provider = service.get_request(session=flow.session, actor=flow.world.actors["de_provider"],
                                   request_id=request.id)
    assert provider.state == State.WITHDRAWN
    breached, lapse = events(flow.session, request.id)[-2:]
    assert breached.verb == "deadline_breached" and breached.legal_basis == ART_4_5
    assert (lapse.verb, lapse.from_state, lapse.to_state) == ("lapse", "executed", "withdrawn")
    assert lapse.actor_user_id is None and lapse.legal_basis == ART_4_5
    assert lapse.details["ex_post_validation"] == "ex_post_validation_lapsed"
    item = _restricted(flow, request, "ex_post_validation_lapsed")
    assert lapse.details["restricted_data"] == [item.id]
    seen = views.request_read(flow.session, provider, flow.world.actors["de_provider"],
                              flow.clock.now(), "en")
    assert seen.state == "withdrawn" and seen.allowed_verbs == [] and seen.holder is None
    assert {d.kind: d.status for d in seen.deadlines} == {
        "execution": "met", "ex_post_validation": "breached"}
    late = record(flow, police, request)
    assert late.restricted and late.restriction_reason == "ex_post_validation_lapsed"
    assert late.restriction_basis == ART_4_5


def test_the_lapse_ends_a_preservation_order_too(flow: Flow, police: str) -> None:
    """The lapse cancels the deadlines still running, e.g. an EPOC-PR's preservation."""
    request = issued(flow, police, instrument="epoc_pr", categories=["content"],
                     executing="nl-nimbus-mail")
    request = flow.act(police, flow.translate(police, request), Verb.SEND)
    assert deadline(flow.session, request, "preservation").status == DeadlineStatus.OPEN
    flow.later(hours=49)
    service.scan_deadlines(session=flow.session, clock=flow.clock)
    flow.commit()
    flow.session.refresh(request)
    assert request.state == State.WITHDRAWN
    assert deadline(flow.session, request, "preservation").status == DeadlineStatus.CANCELLED


def test_a_refused_validation_after_the_fact_withdraws_the_order_art_4_5(
        flow: Flow, police: str) -> None:
    """Art. 4(5): the validating authority refuses, with reasons; the order is withdrawn at
    once, its deadlines end, and the data received are restricted."""
    request = executed(flow, police)
    with pytest.raises(ValidationFailed) as info:
        flow.act("fr_prosecutor", request, Verb.REFUSE_EX_POST)
    assert set(fields(info)) == {"reason"}
    flow.session.rollback()
    flow.later(hours=5)
    refused = flow.act("fr_prosecutor", request, Verb.REFUSE_EX_POST,
                       reason="No imminent danger was shown.")
    assert refused.state == State.WITHDRAWN
    event = events(flow.session, request.id)[-1]
    assert (event.verb, event.legal_basis) == ("refuse_ex_post", ART_4_5)
    assert ex_post(flow.session, request).status == DeadlineStatus.CANCELLED
    _restricted(flow, request, "ex_post_validation_refused")
    flow.later(hours=48)
    assert service.scan_deadlines(session=flow.session, clock=flow.clock) == []


def test_a_denied_validation_decision_refuses_after_the_fact(flow: Flow, police: str) -> None:
    request = executed(flow, police)
    decision = flow.decide("fr_prosecutor", request, Stage.VALIDATION, Outcome.DENY,
                           ["not_necessary"], expected_version=request.version)
    assert decision.legal_basis.startswith(ART_4_5)
    flow.session.refresh(request)
    assert request.state == State.WITHDRAWN
    assert events(flow.session, request.id)[-1].verb == "refuse_ex_post"
    _restricted(flow, request, "ex_post_validation_refused")


def test_withdrawn_before_its_validation_the_data_are_restricted_art_4_5(
        flow: Flow, police: str) -> None:
    request = flow.act(police, flow.translate(police, issued(flow, police)), Verb.SEND)
    record(flow, police, request)
    flow.act(police, request, Verb.WITHDRAW, reason="The hostage was freed.")
    assert ex_post(flow.session, request).status == DeadlineStatus.CANCELLED
    _restricted(flow, request, "withdrawn_before_ex_post_validation")
