"""The safeguard rules as pure functions, one test per rule, each naming its article; and the
table of who may issue and validate, which threshold applies and what is intrusive, for every
instrument and data category of the catalogue."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from rogatory.directory.enums import AuthorityKind
from rogatory.directory.info import AuthorityInfo
from rogatory.instruments import catalogue
from rogatory.requests.enums import DataCategory, Rank
from rogatory.safeguards import rules
from rogatory.safeguards.rules import NotificationStatus, Outcome, Stage

from .conftest import assessment

R = Rank
J = frozenset({R.JUDGE, R.COURT, R.INVESTIGATING_JUDGE})
JP = J | {R.PROSECUTOR}
ANY_INVESTIGATOR = JP | {R.INVESTIGATING_AUTHORITY, R.POLICE}
SUB, IDN, TRA, CON, OTH = ("subscriber", "identification", "traffic", "content", "other")


@dataclasses.dataclass(frozen=True)
class Row:
    may_issue: frozenset[Rank]
    validators: frozenset[Rank]
    threshold_years: int | None = None
    intrusive: bool = False


def _rows(instrument: str, categories: list[str], may_issue: frozenset[Rank],
          validators: frozenset[Rank], *, threshold: dict[str, int] | None = None,
          intrusive: set[str] | None = None) -> dict[tuple[str, str], Row]:
    return {(instrument, c): Row(may_issue, validators, (threshold or {}).get(c),
                                 c in (intrusive or set())) for c in categories}


# What the law (as the shared reference and the instrument files state it) says, written out by
# hand: who may issue, who must validate, the offence threshold, and whether the measure is
# intrusive enough to need an assessment.
EXPECTED: dict[tuple[str, str], Row] = {
    # Reg. (EU) 2023/1543 Art. 4(1), 4(2), 5(4)
    **_rows("epoc", [SUB, IDN], JP, JP),
    **_rows("epoc", [TRA, CON], J, J, threshold={TRA: 3, CON: 3}, intrusive={TRA, CON}),
    # Art. 4(3): a prosecutor for every category of a preservation order; nobody gets the data
    **_rows("epoc_pr", [SUB, IDN, TRA, CON], JP, JP),
    **_rows("eio", [SUB, IDN, TRA, CON, OTH], JP, JP, intrusive={TRA, CON}),
    **_rows("budapest_preservation", [SUB, TRA, CON], ANY_INVESTIGATOR, JP),
    **_rows("budapest_mla", [SUB, TRA, CON, OTH], JP, JP, intrusive={TRA, CON}),
    **_rows("sap_subscriber", [SUB], JP, JP),
    **_rows("sap_emergency_disclosure", [SUB, TRA, CON], ANY_INVESTIGATOR, JP,
            intrusive={TRA, CON}),
    **_rows("sap_emergency_mla", [SUB, TRA, CON, OTH], JP, JP, intrusive={TRA, CON}),
    **_rows("jit_agreement", [OTH], JP, JP),
    **_rows("extradition", [OTH], JP, J),
    **_rows("freezing_order", [OTH], JP, JP),
}
RANKS: list[Rank | None] = [*Rank, None]


def _authority(rank: Rank | None) -> AuthorityInfo:
    return AuthorityInfo(id=f"x-{rank or 'none'}", jurisdiction="FR", name="An authority",
                         kind=AuthorityKind.ISSUING, rank=rank)


def test_the_table_covers_every_instrument_and_data_category() -> None:
    shipped = {(i.code, c.code.value) for i in catalogue.catalogue().values()
               for c in i.data_categories}
    assert set(EXPECTED) == shipped


@pytest.mark.parametrize(("instrument", "category"), sorted(EXPECTED),
                         ids=[f"{i}-{c}" for i, c in sorted(EXPECTED)])
def test_art_4_rank_rule_for_every_instrument_and_category(instrument: str,
                                                           category: str) -> None:
    """Reg. (EU) 2023/1543 Art. 4(1)-(3) and each instrument's issuing rule: every issuing rank
    against every validating rank. An authority that needs validation (police, another
    investigating authority) passes the issuer check; its validator does not pass for it."""
    row = EXPECTED[(instrument, category)]
    inst = catalogue.get(instrument)
    article = inst.issuer_rule(DataCategory(category)).article
    for issuer in RANKS:
        for validator in RANKS:
            errors = rules.rank_errors(inst, _authority(issuer), _authority(validator),
                                       [DataCategory(category)])
            fields = {e.field for e in errors}
            issuer_ok = issuer in row.may_issue or issuer in rules.NEEDS_VALIDATION
            assert ("issuing_authority_id" not in fields) is issuer_ok, (issuer, validator)
            assert ("validating_authority_id" not in fields) is (validator in row.validators), (
                issuer, validator)
            for e in errors:
                assert e.params["article"] == article
                assert article in e.text()


@pytest.mark.parametrize(("instrument", "category"), sorted(EXPECTED),
                         ids=[f"{i}-{c}" for i, c in sorted(EXPECTED)])
def test_art_5_4_threshold_and_intrusiveness_for_every_instrument_and_category(
        instrument: str, category: str) -> None:
    """Reg. (EU) 2023/1543 Art. 5(4) (unverified): traffic and content data of an EPOC only for
    an offence punishable by a maximum of at least 3 years or a listed offence; no threshold
    elsewhere. And which measures need an assessment first."""
    row = EXPECTED[(instrument, category)]
    inst = catalogue.get(instrument)
    assert rules.is_intrusive(inst, [category], {}) is row.intrusive

    def check(years: int, listed: str | None = None, by_it: bool = False) -> list[str]:
        return [e.field for e in rules.threshold_errors(
            inst, [category], maximum_penalty_years=years, listed_offence=listed,
            committed_by_information_system=by_it)]

    if row.threshold_years is None:
        assert check(0) == []
        return
    assert check(row.threshold_years) == []
    assert check(row.threshold_years - 1) == ["maximum_penalty_years"]
    assert check(0, "terrorism") == []
    assert check(0, "attacks_against_information_systems", by_it=True) == []
    assert check(0, "attacks_against_information_systems") == [
        "committed_by_information_system"]


def test_prosecutor_may_not_issue_epoc_for_traffic_or_content_art_4_2() -> None:
    """Reg. (EU) 2023/1543 Art. 4(2): a prosecutor may neither issue nor validate an EPOC for
    traffic or content data; the message names the article."""
    epoc = catalogue.get("epoc")
    prosecutor = _authority(R.PROSECUTOR)
    errors = rules.rank_errors(epoc, prosecutor, prosecutor, [DataCategory.CONTENT])
    assert [e.field for e in errors] == ["issuing_authority_id", "validating_authority_id"]
    assert errors[0].text() == ("A prosecutor may not issue this order for content data "
                                "(Reg. (EU) 2023/1543 Art. 4(2)).")
    assert rules.rank_errors(epoc, prosecutor, prosecutor, [DataCategory.SUBSCRIBER]) == []


def test_threshold_message_names_years_and_article_art_5_4() -> None:
    """Reg. (EU) 2023/1543 Art. 5(4): the error names the field, the 3 years and the article."""
    [error] = rules.threshold_errors(
        catalogue.get("epoc"), ["content", "subscriber"], maximum_penalty_years=2,
        listed_offence=None, committed_by_information_system=False, prefix="assessment.")
    assert error.field == "assessment.maximum_penalty_years"
    assert error.text() == ("content data may only be ordered for an offence punishable by a "
                            "maximum of at least 3 years, or a listed offence "
                            "(Reg. (EU) 2023/1543 Art. 5(4)).")


def test_the_listed_offences_are_unverified_art_5_4() -> None:
    """Reg. (EU) 2023/1543 Art. 5(4)(b)-(c): the list is not in the shared reference, so every
    listed offence, and the threshold itself, carries verified: false with a note."""
    [threshold] = catalogue.get("epoc").thresholds
    assert not threshold.verified and threshold.note
    assert {o.code for o in threshold.listed_offences} == {
        "non_cash_payment_fraud", "child_sexual_abuse", "attacks_against_information_systems",
        "terrorism"}
    assert all(not o.verified and o.note for o in threshold.listed_offences)


def test_assessment_must_be_complete() -> None:
    """The node's assessment before an intrusive measure (Reg. (EU) 2023/1543 Art. 4(2), 5(4);
    Dir. 2014/41/EU Art. 6(1)): every element is named when missing."""
    epoc = catalogue.get("epoc")
    assert rules.assessment_errors(epoc, assessment()) == []
    empty = rules.AssessmentInput(
        offence="", maximum_penalty_years=None, necessity=" ", proportionality="",
        least_intrusive_alternative="", alternative_insufficient_because="", data_from=None,
        data_to=None, data_scope="", persons_affected="", privileged_persons=())
    assert {e.field for e in rules.assessment_errors(epoc, empty)} == {
        "offence", "maximum_penalty_years", "necessity", "proportionality",
        "least_intrusive_alternative", "alternative_insufficient_because", "data_from",
        "data_to", "data_scope", "persons_affected", "privileged_persons"}
    bad = assessment(data_from=date(2026, 11, 3), data_to=date(2026, 11, 1),
                     privileged_persons=("lawyer", "none", "priest"), listed_offence="theft",
                     maximum_penalty_years=-1)
    assert {e.field for e in rules.assessment_errors(epoc, bad)} == {
        "data_to", "privileged_persons.2", "privileged_persons", "privileged_safeguards",
        "listed_offence", "maximum_penalty_years"}


def test_privileged_persons_need_safeguards() -> None:
    """Lawyers, journalists and persons with immunities (Reg. (EU) 2023/1543 Art. 12(1)(a)):
    naming one requires saying how their material is protected."""
    epoc = catalogue.get("epoc")
    assert [e.field for e in rules.assessment_errors(
        epoc, assessment(privileged_persons=("journalist",)))] == ["privileged_safeguards"]
    assert rules.assessment_errors(epoc, assessment(
        privileged_persons=("journalist", "lawyer"),
        privileged_safeguards="Filter team; sources excluded.")) == []


def test_preservation_is_not_intrusive_but_interception_is() -> None:
    """A preservation order gives no access (Reg. (EU) 2023/1543 Art. 11; Budapest Art. 29):
    no assessment; an EIO for interception (Annex A Section H7, unverified) needs one."""
    assert not rules.is_intrusive(catalogue.get("epoc_pr"), ["content"], {})
    assert not rules.is_intrusive(catalogue.get("budapest_preservation"), ["content"], {})
    eio = catalogue.get("eio")
    assert not rules.is_intrusive(eio, ["other"], {"measures_requested": ["hearing"]})
    assert rules.is_intrusive(eio, ["other"], {"measures_requested": ["interception"]})


def test_art_4_5_emergency_issue_without_prior_validation() -> None:
    """Reg. (EU) 2023/1543 Art. 4(5) (unverified, [S]): in an emergency an authority that needs
    validation may issue an EPOC for subscriber or identification data, or any EPOC-PR, without
    it; validation follows within 48 hours."""
    epoc, epoc_pr = catalogue.get("epoc"), catalogue.get("epoc_pr")
    sub, tra = [DataCategory.SUBSCRIBER], [DataCategory.TRAFFIC]
    assert rules.may_issue_without_prior_validation(epoc, sub, R.POLICE, emergency=True)
    assert not rules.may_issue_without_prior_validation(epoc, sub, R.POLICE, emergency=False)
    assert not rules.may_issue_without_prior_validation(epoc, tra, R.POLICE, emergency=True)
    assert not rules.may_issue_without_prior_validation(epoc, sub, R.PROSECUTOR, emergency=True)
    assert rules.may_issue_without_prior_validation(epoc_pr, tra, R.INVESTIGATING_AUTHORITY,
                                                    emergency=True)
    assert not rules.may_issue_without_prior_validation(catalogue.get("eio"), sub, R.POLICE,
                                                        emergency=True)
    issued = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)
    assert rules.ex_post_validation_due(issued) == issued + timedelta(hours=48)
    assert not rules.EX_POST_VALIDATION.verified and rules.EX_POST_VALIDATION.note


def test_art_4_5_why_not_without_prior_validation() -> None:
    """Reg. (EU) 2023/1543 Art. 4(5) (unverified): one error per reason, each naming the field
    and the article; none exactly when `may_issue_without_prior_validation` holds, for every
    instrument, rank, category and urgency of the catalogue."""
    epoc = catalogue.get("epoc")
    sub, con = DataCategory.SUBSCRIBER, DataCategory.CONTENT

    def found(categories: list[DataCategory], rank: Rank | None,
              emergency: bool = True) -> dict[str, str]:
        return {e.field: e.text() for e in rules.without_validation_errors(
            epoc, categories, rank, emergency=emergency)}

    assert found([sub, DataCategory.IDENTIFICATION], R.POLICE) == {}
    assert found([sub], R.POLICE, emergency=False) == {"emergency": (
        "Only an order issued in an emergency may go without prior validation "
        "(Reg. (EU) 2023/1543 Art. 4(5)).")}
    assert found([sub, con, DataCategory.TRAFFIC], R.INVESTIGATING_AUTHORITY) == {
        "data_categories": "content, traffic data may not be ordered without prior validation, "
                           "even in an emergency (Reg. (EU) 2023/1543 Art. 4(5))."}
    assert found([sub], R.JUDGE) == {"issuing_authority_id": (
        "An authority of rank 'judge' issues this order itself: submit it for validation as "
        "usual; only an authority whose orders need validation may issue without it "
        "(Reg. (EU) 2023/1543 Art. 4(5)).")}
    assert set(found([con], R.PROSECUTOR, emergency=False)) == {
        "emergency", "issuing_authority_id", "data_categories"}
    for inst in catalogue.catalogue().values():
        cats = [c.code for c in inst.data_categories]
        for rank in [*Rank, None]:
            for emergency in (True, False):
                for chosen in ([c] for c in cats):
                    holds = rules.may_issue_without_prior_validation(
                        inst, chosen, rank, emergency=emergency)
                    errors = rules.without_validation_errors(inst, chosen, rank,
                                                             emergency=emergency)
                    assert holds == (errors == []), (inst.code, rank, emergency, chosen)


def test_art_4_5_validation_after_the_fact_within_48_hours() -> None:
    """Reg. (EU) 2023/1543 Art. 4(5) (unverified): a validation after the fact (or its
    refusal) needs one to be pending and comes by the deadline, at the latest exactly then."""
    issued = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)
    due = rules.ex_post_validation_due(issued)
    assert rules.ex_post_validation_errors(due, due) == []
    assert rules.ex_post_validation_errors(due, issued + timedelta(hours=1)) == []
    [late] = rules.ex_post_validation_errors(due, due + timedelta(seconds=1))
    assert (late.field, late.text()) == ("state", (
        "The time to validate this order ended at 2026-11-04T23:30:00+00:00 "
        "(Reg. (EU) 2023/1543 Art. 4(5)): it lapses, and the data obtained may not be used."))
    [none] = rules.ex_post_validation_errors(None, issued)
    assert none.text() == ("No validation after the fact is pending on this order "
                           "(Reg. (EU) 2023/1543 Art. 4(5)).")
    assert {o.value for o in rules.ExPostOutcome} == {
        "ex_post_validation_refused", "ex_post_validation_lapsed",
        "withdrawn_before_ex_post_validation"}


def test_art_8_notification_when_traffic_or_content_data_are_sought() -> None:
    """Reg. (EU) 2023/1543 Art. 8: an EPOC for traffic (beyond identification) or content data
    is notified, unless the offence and the person are both in the issuing State; nothing for
    subscriber data or other instruments."""
    epoc = catalogue.get("epoc")
    both = {"offence_in_issuing_state": True, "person_in_issuing_state": True}
    one = {"offence_in_issuing_state": True, "person_in_issuing_state": False}
    assert rules.notification_rule(epoc, ["traffic"], **one) is epoc.notification
    assert rules.notification_rule(epoc, ["subscriber", "content"], **one) is epoc.notification
    assert rules.notification_rule(epoc, ["traffic"], **both) is None
    assert rules.notification_rule(epoc, ["subscriber", "identification"], **one) is None
    assert rules.notification_rule(catalogue.get("epoc_pr"), ["content"], **one) is None
    assert epoc.notification is not None and epoc.notification.verified


def test_art_12_enforcing_authority_window_is_10_days_or_96_hours() -> None:
    """Reg. (EU) 2023/1543 Art. 12 and 10(4): the enforcing authority raises grounds within 10
    days of the notification (whole local days), 96 hours in emergencies."""
    rule = catalogue.get("epoc").notification
    assert rule is not None
    at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    assert rules.window_due(rule, at, emergency=True, timezone="Europe/Berlin") == \
        at + timedelta(hours=96)
    # 10 days in Berlin from 2 Nov 10:30 local: the end of 12 Nov, local midnight
    assert rules.window_due(rule, at, emergency=False, timezone="Europe/Berlin").isoformat() == \
        "2026-11-12T23:00:00+00:00"


def test_art_8_4_notification_suspends_transmission_except_in_emergencies() -> None:
    """Reg. (EU) 2023/1543 Art. 8(4), 10(2): no transmission while the window of a suspensive
    notification runs; in an emergency, or once the authority raised no grounds, at once;
    never after it raised grounds."""
    rule = catalogue.get("epoc").notification
    assert rule is not None
    now = datetime(2026, 11, 5, tzinfo=UTC)
    due = now + timedelta(days=1)

    def fields(status: NotificationStatus, *, emergency: bool = False,
               at: datetime = now) -> list[str]:
        return [e.text() for e in rules.transmission_errors(
            status, suspensive=not emergency, emergency=emergency, due=due, now=at,
            grounds=["ne_bis_in_idem"], rule=rule)]

    [suspended] = fields(NotificationStatus.PENDING)
    assert "suspended until 2026-11-06T00:00:00+00:00" in suspended and "Art. 8" in suspended
    assert fields(NotificationStatus.PENDING, emergency=True) == []
    assert fields(NotificationStatus.PENDING, at=due) == []
    assert fields(NotificationStatus.NO_GROUNDS) == []
    assert fields(NotificationStatus.CONDITIONS) == []
    [objected] = fields(NotificationStatus.GROUNDS_RAISED, emergency=True)
    assert "ne_bis_in_idem" in objected


def test_art_12_refusal_within_10_days_of_receipt_or_96_hours() -> None:
    """Reg. (EU) 2023/1543 Art. 12: a ground raised after its time limit from receipt is
    refused, naming `ground` and the article; a ground the enforcing authority raised in time
    may be relayed later."""
    epoc = catalogue.get("epoc")
    received = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

    def errors(days: float, *, emergency: bool = False, relayed: tuple[str, ...] = ()
               ) -> list[tuple[str, str]]:
        return [(e.field, e.text()) for e in rules.refusal_errors(
            epoc, "ne_bis_in_idem", received_at=received, now=received + timedelta(days=days),
            emergency=emergency, timezone="Europe/Berlin", raised_in_time=relayed)]

    assert errors(10) == []
    [(field, text)] = errors(11)
    assert field == "ground"
    assert text == ("The ground ne_bis_in_idem had to be raised by 2026-11-12T23:00:00+00:00 "
                    "(Reg. (EU) 2023/1543 Art. 12(1)(c)); this refusal is too late.")
    assert errors(3.9, emergency=True) == []
    assert errors(4.1, emergency=True)[0][0] == "ground"
    assert errors(30, relayed=("ne_bis_in_idem",)) == []


def test_budapest_art_29_5_refusal_only_on_its_two_grounds() -> None:
    """Budapest Convention Art. 29(5): a preservation request is refused only for a political
    offence or essential interests; any other ground is refused naming `ground`. No time limit
    is stated, so none is enforced."""
    inst = catalogue.get("budapest_preservation")
    now = datetime(2027, 6, 1, tzinfo=UTC)
    kwargs = {"received_at": datetime(2026, 11, 2, tzinfo=UTC), "now": now,
              "emergency": False, "timezone": "UTC"}
    assert rules.refusal_errors(inst, "essential_interests", **kwargs) == []
    [error] = rules.refusal_errors(inst, "double_criminality", **kwargs)
    assert error.field == "ground" and "political_offence, essential_interests" in error.text()


def test_decisions_give_coded_reasons_for_their_stage_and_outcome() -> None:
    """A reasoned decision (issue 5): reason codes valid for the stage and outcome, a statement
    of reasons; a refusal by the executing side names a ground of the instrument (e.g. Reg.
    (EU) 2023/1543 Art. 12)."""
    epoc = catalogue.get("epoc")
    ok = rules.decision_errors(epoc, Stage.VALIDATION, Outcome.GRANT,
                               ["necessary", "proportionate"], "Reasons.")
    assert ok == []
    bad = rules.decision_errors(epoc, Stage.VALIDATION, Outcome.GRANT,
                                ["disproportionate", "ne_bis_in_idem"], " ")
    assert {e.field for e in bad} == {"grounds.0", "grounds.1", "reasons"}
    refusal = rules.decision_errors(epoc, Stage.EXECUTION, Outcome.DENY, ["not_necessary"],
                                    "Reasons.")
    assert [e.field for e in refusal] == ["grounds"]
    assert "immunity_privilege" in refusal[0].text()
    assert rules.decision_errors(epoc, Stage.ENFORCEMENT, Outcome.DENY, ["ne_bis_in_idem"],
                                 "Reasons.") == []
    assert rules.decision_errors(epoc, Stage.ENFORCEMENT, Outcome.GRANT, [], "R.")[0].field \
        == "grounds"


def test_decision_legal_basis_comes_from_the_instrument() -> None:
    """The legal basis of a decision is derived (never typed), so the public register can show
    it: grounds' articles for refusals, issuing rule and threshold for a validation."""
    epoc = catalogue.get("epoc")
    assert rules.decision_basis(epoc, Stage.VALIDATION, Outcome.GRANT, ["necessary"],
                                ["traffic"]) == ("Reg. (EU) 2023/1543 Art. 4(2); "
                                                 "Reg. (EU) 2023/1543 Art. 5(4)")
    assert rules.decision_basis(epoc, Stage.ENFORCEMENT, Outcome.DENY,
                                ["ne_bis_in_idem", "double_criminality"], ["traffic"]) == (
        "Reg. (EU) 2023/1543 Art. 12(1)(c); Reg. (EU) 2023/1543 Art. 12(1)(d)")
    assert rules.decision_basis(epoc, Stage.ENFORCEMENT, Outcome.GRANT, ["no_grounds"],
                                ["traffic"]) == "Reg. (EU) 2023/1543 Art. 10(4), 12"


def test_annex_iii_inability_to_execute() -> None:
    """Reg. (EU) 2023/1543 Annex III (ETSI reason taxonomy, [V]): coded reasons (Section D),
    conflicting obligations described (Section E), preservation and until when (Section G)."""
    today = date(2026, 11, 5)
    assert rules.non_execution_errors(["de_facto_impossibility"], "Account deleted in 2025.",
                                      data_preserved=False, preserved_until=None,
                                      conflict_details="", today=today) == []
    errors = rules.non_execution_errors(["conflicting_obligations", "force_majeure"], "",
                                        data_preserved=True, preserved_until=None,
                                        conflict_details="", today=today)
    assert {e.field for e in errors} == {"reasons.1", "explanation", "conflict_details",
                                         "preserved_until"}
    assert [e.field for e in rules.non_execution_errors(
        ["other"], "x", data_preserved=False, preserved_until=today + timedelta(days=9),
        conflict_details="", today=today)] == ["preserved_until"]
    assert {r.value for r in rules.InabilityReason} == {
        "immunity_privilege", "de_facto_impossibility", "incomplete_or_erroneous",
        "conflicting_obligations", "other"}


def test_cets_224_art_14_purpose_and_retention_of_data_received() -> None:
    """CETS 224 Art. 14(2), 14(5); Dir. (EU) 2016/680 Art. 4(1)(b), 5 (unverified): every item
    states its purpose, its category is the request's, its retention ends after receipt, and
    its review falls within a year and no later than the end of retention."""
    received = date(2026, 11, 5)
    assert rules.data_errors(description="Logs", purpose="Proceedings FR-2026-LOCKSTORM",
                             category="traffic", request_categories=["traffic"],
                             received_on=received, retention_until=date(2028, 1, 1)) == []
    errors = rules.data_errors(description="", purpose="  ", category="content",
                               request_categories=["traffic"], received_on=received,
                               retention_until=received)
    assert {e.field for e in errors} == {"description", "purpose", "category",
                                         "retention_until"}
    assert rules.review_due_on(received, date(2030, 1, 1)) == date(2027, 11, 5)
    assert rules.review_due_on(received, date(2027, 1, 1)) == date(2027, 1, 1)
    for cited in (rules.PURPOSE_LIMITATION, rules.RETENTION):
        assert not cited.verified and cited.note


def test_cets_224_art_14_10_onward_transfer_needs_prior_consent() -> None:
    """CETS 224 Art. 14(10); Dir. (EU) 2016/680 Art. 35(1)(e) (unverified): a transfer to a
    third State needs the providing State's prior consent; the two States of the request are no
    third States."""
    today = date(2026, 11, 20)
    kwargs = {"requesting_state": "FR", "requested_state": "DE", "recipient": "FBI",
              "purpose": "Same investigation"}
    assert rules.transfer_errors(third_state="US", consent_reference="BfJ letter 2026-77",
                                 consent_date=today, today=today, **kwargs) == []
    [error] = rules.transfer_errors(third_state="us", consent_reference="", consent_date=None,
                                    today=today, **kwargs)
    assert error.field == "consent_reference" and "CETS 224 Art. 14(10)" in error.text()
    assert rules.transfer_errors(third_state="US", consent_reference="later",
                                 consent_date=today + timedelta(days=1), today=today,
                                 **kwargs)[0].field == "consent_reference"
    assert rules.transfer_errors(third_state="DE", consent_reference="x", consent_date=today,
                                 today=today, **kwargs)[0].field == "third_state"


def test_led_art_13_3_deferral_of_informing_names_its_reason() -> None:
    """Dir. (EU) 2016/680 Art. 13(3); CETS 224 Art. 14(11) (unverified): informing the data
    subject is deferred for one of the listed reasons, until a date in the future."""
    today = date(2026, 11, 20)
    assert rules.deferral_errors(reason="obstruct_inquiries", note="", until=date(2027, 5, 1),
                                 today=today) == []
    assert {e.field for e in rules.deferral_errors(reason="convenience", note="", until=today,
                                                   today=today)} == {"reason", "until"}


def test_analytic_tools_are_registered_with_error_rates_and_bias_assessment() -> None:
    """The register of analytic tools (issue 5): name, version, purpose, known error rates and
    a bias assessment are all required."""
    assert rules.tool_errors(name="AddrCluster", version="1.4", purpose="Clusters addresses",
                             error_rates="2.1% false merges", bias_assessment="n/a") == []
    assert {e.field for e in rules.tool_errors(name="", version="", purpose="", error_rates="",
                                               bias_assessment="")} == {
        "name", "version", "purpose", "error_rates", "bias_assessment"}


def test_every_rule_cites_its_article_and_unverified_ones_say_why() -> None:
    cited = [v for v in vars(rules).values() if isinstance(v, rules.Cited)]
    assert len(cited) >= 9
    for rule in cited:
        assert "Art." in rule.article or "Annex" in rule.article
        if not rule.verified:
            assert rule.note, rule.article


def test_every_reason_and_code_has_a_label() -> None:
    for stage in Stage:
        assert stage in rules.LABELS
    for outcome in Outcome:
        assert outcome in rules.LABELS
    for reason in (*rules.InabilityReason, *rules.DeferralReason):
        assert reason in rules.LABELS
    for code in rules.REASONS.values():
        assert code.label and code.stages and code.outcomes
