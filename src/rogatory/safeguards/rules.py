"""The judicial safeguards as pure functions: who may issue and validate for each data category,
the offence threshold, the assessment an intrusive measure needs, the notification of the
enforcing State, the time limits for refusals, the coded reasons of decisions and of a
provider's inability to execute, and the data-protection rules for data received.

Nothing here touches the database. Each rule cites its article (`Cited`); a rule whose fact the
project's legal reference (`legal-facts.md`) does not confirm carries `verified=False` and says
why. Errors name the field at fault (`FieldError`) with a gettext msgid; the service raises them.

Facts and their tags (legal-facts.md):

* Reg. (EU) 2023/1543 Art. 4(1)/(2), who issues: [V]; Art. 4(3) preservation orders and Art.
  4(5) emergency issue without prior validation (48 hours): [S], so unverified here.
* Art. 5(4), 3-year threshold or listed offences for traffic and content data: [S]; the list of
  offences itself is not in the reference (recollection, unverified). Kept in the instrument
  file (`thresholds`).
* Art. 8, notification of the enforcing State, its exception and suspensive effect: [V]; Art.
  12 grounds within 10 days of the notification, 96 hours in emergencies: [V]; Art. 10(4),
  data already sent must be deleted or their use restricted: [V]/[S], unverified here.
* Annex III reasons for inability to execute (ETSI taxonomy): [V].
* Second Additional Protocol (CETS 224) Art. 14 data protection: [NF]; Directive (EU) 2016/680
  is not in the reference: every data-protection rule here is unverified.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from rogatory.clock import ensure_utc
from rogatory.directory.info import AuthorityInfo
from rogatory.errors import FieldError
from rogatory.i18n import N_
from rogatory.instruments.schema import (
    Duration,
    Instrument,
    NotificationRule,
    RefusalGround,
    ThresholdRule,
)
from rogatory.requests import deadlines as dl
from rogatory.requests.enums import DataCategory, Measure, Rank


@dataclass(frozen=True)
class Cited:
    """The legal source of a rule this module enforces, and how well it is confirmed."""

    article: str
    verified: bool = True
    note: str | None = None


# --- messages ------------------------------------------------------------------------------------

MSG_REQUIRED = N_("This field is required.")
MSG_UNKNOWN = N_("Unknown value.")
MSG_EMPTY = N_("At least one is required.")
MSG_REASON = N_("A reason is required.")
MSG_TOO_LONG = N_("Must be at most {max} characters.")
MSG_ISSUER_RANK = N_("A {rank} may not issue this order for {categories} data ({article}).")
MSG_VALIDATOR_RANK = N_("A {rank} may not validate this order for {categories} data ({article}).")
MSG_GROUND = N_("Must be a ground for refusal of {instrument}: {grounds}.")
MSG_ASSESSMENT_REQUIRED = N_(
    "An intrusive measure ({categories}) needs a necessity and proportionality assessment "
    "before it is validated or sent ({article}).")
MSG_THRESHOLD = N_(
    "{categories} data may only be ordered for an offence punishable by a maximum of at least "
    "{years} years, or a listed offence ({article}).")
MSG_LISTED_UNKNOWN = N_("Not a listed offence of {instrument}: {offences}.")
MSG_LISTED_BY_IT = N_(
    "This offence is listed only when committed wholly or partly by means of an information "
    "system ({article}).")
MSG_NEGATIVE = N_("Must not be negative.")
MSG_PERIOD = N_("The period must not end before it starts.")
MSG_CHOICE = N_("Choose from: {choices}.")
MSG_NONE_ALONE = N_("'none' cannot be combined with other values.")
MSG_REFUSAL_LATE = N_(
    "The ground {ground} had to be raised by {due} ({article}); this refusal is too late.")
MSG_SUSPENDED = N_(
    "Transmission is suspended until {due} while the enforcing authority reviews the "
    "notification ({article}).")
MSG_OBJECTED = N_(
    "The enforcing authority raised {grounds} ({article}): the data must not be transmitted.")
MSG_REASON_CODE = N_("Not a reason for this decision; choose from: {codes}.")
MSG_REFUSAL_GROUND_NEEDED = N_(
    "A refusal names at least one ground for refusal of {instrument}: {grounds}.")
MSG_WINDOW_CLOSED = N_(
    "The time limit to raise grounds for refusal ended at {due} ({article}).")
MSG_PRESERVED_UNTIL = N_("Say until when the data are preserved (Annex III Section G).")
MSG_NOT_PRESERVED = N_("Only preserved data have a preservation date.")
MSG_CONFLICT_DETAILS = N_("Describe the conflicting obligations (Annex III Section E).")
MSG_RETENTION = N_("The retention period must end after the data were received.")
MSG_CONSENT = N_(
    "An onward transfer to a third State needs the prior consent of the State that provided "
    "the data ({article}).")
MSG_THIRD_STATE = N_("Must be a State other than the requesting and the requested State.")
MSG_FUTURE = N_("Must be a date after today.")
MSG_NO_ENFORCING = N_("No authority of {state} in the directory can receive the notification.")
MSG_NOT_EMERGENCY = N_(
    "Only an order issued in an emergency may go without prior validation ({article}).")
MSG_VALIDATES_ITSELF = N_(
    "An authority of rank '{rank}' issues this order itself: submit it for validation as "
    "usual; only an authority whose orders need validation may issue without it ({article}).")
MSG_NOT_WITHOUT_VALIDATION = N_(
    "{categories} data may not be ordered without prior validation, even in an emergency "
    "({article}).")
MSG_EX_POST_NOT_PENDING = N_("No validation after the fact is pending on this order ({article}).")
MSG_EX_POST_LATE = N_(
    "The time to validate this order ended at {due} ({article}): it lapses, and the data "
    "obtained may not be used.")
MSG_EX_POST_PENDING = N_(
    "This order was issued without prior validation: it can be closed once validated, or it "
    "lapses at {due} ({article}).")
EX_POST_VALIDATION_LABEL = N_("Validation of an order issued without prior validation")
"""The label of the stored deadline `EX_POST_VALIDATION_KIND` (translated when shown)."""

TEXT_MAX = 8000
NAME_MAX = 200

# --- vocabularies --------------------------------------------------------------------------------


class Stage(StrEnum):
    """On what a decision is taken: the validation of an order on the issuing side, its
    recognition or refusal on the executing side, or the enforcing State's review of a
    notification (Reg. (EU) 2023/1543 Art. 8, 12)."""

    VALIDATION = "validation"
    EXECUTION = "execution"
    ENFORCEMENT = "enforcement"


class Outcome(StrEnum):
    GRANT = "grant"
    PARTIAL = "partial"
    DENY = "deny"


class NotificationStatus(StrEnum):
    """Where the enforcing authority's review of a notification stands."""

    PENDING = "pending"
    NO_GROUNDS = "no_grounds"
    CONDITIONS = "conditions"
    GROUNDS_RAISED = "grounds_raised"


class InabilityReason(StrEnum):
    """Why an addressee cannot execute an order: Reg. (EU) 2023/1543 Annex III, as the ETSI
    TS 104 144 workflows WF-006 to WF-014 code them (legal-facts §1.6, [V])."""

    IMMUNITY_PRIVILEGE = "immunity_privilege"
    DE_FACTO_IMPOSSIBILITY = "de_facto_impossibility"
    INCOMPLETE_OR_ERRONEOUS = "incomplete_or_erroneous"
    CONFLICTING_OBLIGATIONS = "conflicting_obligations"
    OTHER = "other"


class DeferralReason(StrEnum):
    """Why informing the data subject is deferred (Directive (EU) 2016/680 Art. 13(3)(a)-(e);
    unverified: not in the project's legal reference)."""

    OBSTRUCT_INQUIRIES = "obstruct_inquiries"
    PREJUDICE_PROCEEDINGS = "prejudice_proceedings"
    PUBLIC_SECURITY = "public_security"
    NATIONAL_SECURITY = "national_security"
    RIGHTS_OF_OTHERS = "rights_of_others"


PRIVILEGED = ("lawyer", "journalist", "immunity", "none")
"""Persons whose data need special protection, as an assessment names them (`none` alone when
nobody privileged is affected)."""

LABELS: dict[str, str] = {
    Stage.VALIDATION: N_("Validation"),
    Stage.EXECUTION: N_("Execution"),
    Stage.ENFORCEMENT: N_("Enforcing State's review"),
    Outcome.GRANT: N_("Granted"),
    Outcome.PARTIAL: N_("Partly granted"),
    Outcome.DENY: N_("Denied"),
    InabilityReason.IMMUNITY_PRIVILEGE: N_(
        "Immunities or privileges, or rules on freedom of the press or expression (Annex III)"),
    InabilityReason.DE_FACTO_IMPOSSIBILITY: N_(
        "De facto impossibility for reasons outside the addressee's control (Annex III)"),
    InabilityReason.INCOMPLETE_OR_ERRONEOUS: N_(
        "Order incomplete, with manifest errors or without enough information to execute it "
        "(Annex III)"),
    InabilityReason.CONFLICTING_OBLIGATIONS: N_(
        "Conflicting obligations under the law of a third country (Annex III)"),
    InabilityReason.OTHER: N_("Other reason (Annex III)"),
    DeferralReason.OBSTRUCT_INQUIRIES: N_(
        "Avoid obstructing official or legal inquiries, investigations or procedures"),
    DeferralReason.PREJUDICE_PROCEEDINGS: N_(
        "Avoid prejudicing the prevention, detection, investigation or prosecution of "
        "criminal offences"),
    DeferralReason.PUBLIC_SECURITY: N_("Protect public security"),
    DeferralReason.NATIONAL_SECURITY: N_("Protect national security"),
    DeferralReason.RIGHTS_OF_OTHERS: N_("Protect the rights and freedoms of others"),
}


@dataclass(frozen=True)
class ReasonCode:
    """A structured reason a decision may give: for which stages and outcomes it is one."""

    code: str
    label: str
    stages: frozenset[Stage]
    outcomes: frozenset[Outcome]


_G, _P, _D = Outcome.GRANT, Outcome.PARTIAL, Outcome.DENY
_V, _X, _E = Stage.VALIDATION, Stage.EXECUTION, Stage.ENFORCEMENT


def _reason(code: str, label: str, stages: Iterable[Stage],
            outcomes: Iterable[Outcome]) -> ReasonCode:
    return ReasonCode(code, label, frozenset(stages), frozenset(outcomes))


REASONS: dict[str, ReasonCode] = {r.code: r for r in (
    _reason("necessary", N_("Necessary for the proceedings"), [_V, _X], [_G, _P]),
    _reason("proportionate", N_("Proportionate to the offence"), [_V, _X], [_G, _P]),
    _reason("threshold_met", N_("The offence meets the threshold"), [_V], [_G, _P]),
    _reason("least_intrusive", N_("No less intrusive measure would suffice"), [_V], [_G, _P]),
    _reason("recognised", N_("Recognised for execution"), [_X], [_G, _P]),
    _reason("no_grounds", N_("No ground for refusal raised"), [_E], [_G]),
    _reason("scope_limited", N_("Granted for fewer data than sought"), [_V, _X], [_P]),
    _reason("period_limited", N_("Granted for a shorter period than sought"), [_V, _X], [_P]),
    _reason("privileged_excluded", N_("Privileged communications excluded"), [_V, _X], [_P]),
    _reason("conditions_on_use", N_("Conditions imposed on the use of the data"), [_X, _E],
            [_P]),
    _reason("not_necessary", N_("Not necessary for the proceedings"), [_V, _X], [_D]),
    _reason("disproportionate", N_("Disproportionate to the offence"), [_V, _X], [_D]),
    _reason("threshold_not_met", N_("The offence does not meet the threshold"), [_V], [_D]),
    _reason("less_intrusive_available", N_("A less intrusive measure would suffice"), [_V],
            [_D]),
    _reason("insufficient_information", N_("Not enough information to decide"), [_V, _X], [_D]),
    _reason("privileged_material", N_("Would reach privileged material"), [_V], [_P, _D]),
)}
"""Reason codes of the node (issue 5); grounds for refusal come from the instrument file."""

# --- the articles the rules follow ---------------------------------------------------------------

ASSESSMENT = Cited(
    "Reg. (EU) 2023/1543 Art. 4(2), 5(4); Dir. 2014/41/EU Art. 6(1)", verified=False,
    note="The node asks for a structured necessity and proportionality assessment before any "
    "intrusive measure (traffic or content data, interception), whatever the instrument. "
    "Art. 5(4) is from a secondary summary; Dir. 2014/41/EU Art. 6 is not in the shared "
    "reference.")
INTRUSIVE_CATEGORIES = frozenset({DataCategory.TRAFFIC, DataCategory.CONTENT})
INTRUSIVE_MEASURES = frozenset({"interception"})
"""Choices of a form's `measures_requested` that are intrusive whatever the data category
(EIO Annex A Section H7, interception of telecommunications; unverified)."""

NEEDS_VALIDATION = frozenset({Rank.INVESTIGATING_AUTHORITY, Rank.POLICE})
"""Ranks that may issue only with the validation of one of the rule's validators
(Reg. (EU) 2023/1543 Art. 4(1)(b), 4(2)(b); other competent authorities)."""

EX_POST_VALIDATION = Cited(
    "Reg. (EU) 2023/1543 Art. 4(5)", verified=False,
    note="Emergency issue without prior validation, validated within 48 hours or withdrawn and "
    "the data's use restricted: from a secondary summary (legal-facts §1.2).")
EX_POST_VALIDATION_PERIOD = timedelta(hours=48)
EX_POST_VALIDATION_KIND = "ex_post_validation"
"""The kind of the stored deadline by which an order issued without prior validation must be
validated; the deadline job withdraws the order when it passes."""


class ExPostOutcome(StrEnum):
    """Why the data of an order issued without prior validation are restricted (Art. 4(5)):
    its validation was refused, the 48 hours passed without one, or the issuing side withdrew
    the order before it was validated. Stored as the data's `restriction_reason`."""

    REFUSED = "ex_post_validation_refused"
    LAPSED = "ex_post_validation_lapsed"
    WITHDRAWN = "withdrawn_before_ex_post_validation"


REFUSAL_TIME_LIMIT = Cited(
    "Reg. (EU) 2023/1543 Art. 12", note="Counted from receipt of the order (or of the "
    "notification, sent at the same time): 10 days, 96 hours in emergencies (legal-facts §1.5).")
RESTRICTION_AFTER_OBJECTION = Cited(
    "Reg. (EU) 2023/1543 Art. 10(4)", verified=False,
    note="Data already sent in an emergency before the enforcing authority objects are deleted "
    "or their use restricted; tagged [V]/[S] in legal-facts §1.3.")
ANNEX_III = Cited(
    "Reg. (EU) 2023/1543 Annex III",
    note="Sections D (reasons), E (conflicting obligations), F (information required) and G "
    "(preservation) as the ETSI TS 104 144 tooling maps the form (legal-facts §1.6).")
PURPOSE_LIMITATION = Cited(
    "CETS 224 Art. 14(2); Dir. (EU) 2016/680 Art. 4(1)(b)", verified=False,
    note="Art. 14 of the Second Protocol is [NF] in the shared reference and the paragraph "
    "numbers are from recollection; the Law Enforcement Directive is not in the reference.")
RETENTION = Cited(
    "CETS 224 Art. 14(5); Dir. (EU) 2016/680 Art. 5", verified=False,
    note="Periodic review of the need to keep the data; the review interval is the node's "
    "policy, not the law's. Not in the shared reference.")
ONWARD_TRANSFER = Cited(
    "CETS 224 Art. 14(10); Dir. (EU) 2016/680 Art. 35(1)(e)", verified=False,
    note="Prior authorisation of the transferring State; not in the shared reference.")
INFORMING_DEFERRAL = Cited(
    "CETS 224 Art. 14(11); Dir. (EU) 2016/680 Art. 13(3)", verified=False,
    note="Information to the data subject may be delayed, restricted or omitted for the listed "
    "reasons; not in the shared reference.")
REVIEW_INTERVAL = timedelta(days=365)
"""How often the need to keep received data is reviewed (the node's policy)."""


# --- who may issue and validate -----------------------------------------------------------------


def rank_errors(instrument: Instrument, issuing: AuthorityInfo, validating: AuthorityInfo,
                categories: Sequence[DataCategory]) -> list[FieldError]:
    """The issuing and validating authorities' ranks against the instrument's rule for each
    data category (e.g. Reg. (EU) 2023/1543 Art. 4(1): subscriber and identification data by a
    judge, court, investigating judge or prosecutor; Art. 4(2): traffic and content data by a
    judge, court or investigating judge only). An authority that may only issue with validation
    (`NEEDS_VALIDATION`) passes the issuer check; its validator is checked like any other."""
    errors: list[FieldError] = []
    for category in categories:
        rule = instrument.issuer_rule(category)
        issuer_rank = issuing.rank
        if issuer_rank not in rule.may_issue and issuer_rank not in NEEDS_VALIDATION:
            errors.append(FieldError(
                "issuing_authority_id", MSG_ISSUER_RANK,
                {"rank": issuer_rank.value if issuer_rank else "?",
                 "categories": category.value, "article": rule.article}))
        if validating.rank not in rule.validators:
            errors.append(FieldError(
                "validating_authority_id", MSG_VALIDATOR_RANK,
                {"rank": validating.rank.value if validating.rank else "?",
                 "categories": category.value, "article": rule.article}))
    return errors


def may_issue_without_prior_validation(instrument: Instrument,
                                       categories: Sequence[DataCategory],
                                       issuer_rank: Rank | None, *, emergency: bool) -> bool:
    """Reg. (EU) 2023/1543 Art. 4(5) (unverified): in an emergency, an authority that needs
    validation may issue without it where every category's rule allows it (EPOC subscriber and
    identification data, any EPOC-PR); `ex_post_validation_due` then runs."""
    return (emergency and issuer_rank in NEEDS_VALIDATION and bool(categories)
            and all(instrument.issuer_rule(c).emergency_without_validation for c in categories))


def without_validation_errors(instrument: Instrument, categories: Sequence[DataCategory],
                              issuer_rank: Rank | None, *,
                              emergency: bool) -> list[FieldError]:
    """Why `may_issue_without_prior_validation` does not hold, one error per reason, each
    citing Reg. (EU) 2023/1543 Art. 4(5) (unverified): the order is not an emergency; the
    issuer is no authority that needs validation (a judge, court, investigating judge or
    prosecutor validates its own orders); a data category's rule does not allow it (EPOC
    traffic and content data, Art. 4(2)). Empty exactly when it holds."""
    article = EX_POST_VALIDATION.article
    errors: list[FieldError] = []
    if not emergency:
        errors.append(FieldError("emergency", MSG_NOT_EMERGENCY, {"article": article}))
    if issuer_rank not in NEEDS_VALIDATION:
        errors.append(FieldError("issuing_authority_id", MSG_VALIDATES_ITSELF, {
            "rank": issuer_rank.value if issuer_rank else "?", "article": article}))
    refused = [c.value for c in categories
               if not instrument.issuer_rule(c).emergency_without_validation]
    if refused or not categories:
        errors.append(FieldError("data_categories", MSG_NOT_WITHOUT_VALIDATION, {
            "categories": ", ".join(refused) or "—", "article": article}))
    return errors


def ex_post_validation_due(issued_at: datetime) -> datetime:
    """Reg. (EU) 2023/1543 Art. 4(5) (unverified): validation within 48 hours of the issue."""
    return ensure_utc(issued_at) + EX_POST_VALIDATION_PERIOD


def ex_post_validation_errors(due: datetime | None, now: datetime) -> list[FieldError]:
    """A validation after the fact (or its refusal) needs one to be pending, and comes within
    the 48 hours of Reg. (EU) 2023/1543 Art. 4(5) (unverified); `due`: the pending deadline,
    `None` when none is. Once they have passed, the deadline job lets the order lapse."""
    article = EX_POST_VALIDATION.article
    if due is None:
        return [FieldError("state", MSG_EX_POST_NOT_PENDING, {"article": article})]
    if ensure_utc(now) > ensure_utc(due):
        return [FieldError("state", MSG_EX_POST_LATE, {
            "due": ensure_utc(due).isoformat(), "article": article})]
    return []


# --- intrusive measures and their assessment -----------------------------------------------------


def is_intrusive(instrument: Instrument, categories: Iterable[str],
                 form: Mapping[str, Any]) -> bool:
    """Whether the measure intrudes enough to need a prior assessment (`ASSESSMENT`): traffic
    data beyond identification or content data, or interception. An instrument that only
    preserves data gives nobody access to them: the production order that follows is assessed."""
    if set(instrument.measures) == {Measure.PRESERVATION}:
        return False
    measures = form.get("measures_requested")
    asked = set(measures) if isinstance(measures, list) else set()
    return bool(set(categories) & INTRUSIVE_CATEGORIES) or bool(asked & INTRUSIVE_MEASURES)


def intrusive_categories(categories: Iterable[str]) -> list[str]:
    return sorted(set(categories) & INTRUSIVE_CATEGORIES)


@dataclass(frozen=True)
class AssessmentInput:
    """What the issuing (or validating) side states before an intrusive measure."""

    offence: str
    maximum_penalty_years: int | None
    necessity: str
    proportionality: str
    least_intrusive_alternative: str
    alternative_insufficient_because: str
    data_from: date | None
    data_to: date | None
    data_scope: str
    persons_affected: str
    privileged_persons: tuple[str, ...]
    privileged_safeguards: str = ""
    listed_offence: str | None = None
    committed_by_information_system: bool = False
    offence_in_issuing_state: bool = False
    person_in_issuing_state: bool = False


_ASSESSMENT_TEXTS = ("offence", "necessity", "proportionality", "least_intrusive_alternative",
                     "alternative_insufficient_because", "data_scope", "persons_affected")


def listed_offences(instrument: Instrument) -> dict[str, Any]:
    """Every offence the instrument's thresholds list, by code."""
    return {o.code: o for t in instrument.thresholds for o in t.listed_offences}


def assessment_errors(instrument: Instrument, values: AssessmentInput) -> list[FieldError]:
    """A complete assessment: every element stated, the period in order, privileged persons
    named (or `none`), a listed offence one of the instrument's (`ASSESSMENT`)."""
    errors: list[FieldError] = []
    for name in _ASSESSMENT_TEXTS:
        text = str(getattr(values, name) or "")
        if not text.strip():
            errors.append(FieldError(name, MSG_REQUIRED))
        elif len(text) > TEXT_MAX:
            errors.append(FieldError(name, MSG_TOO_LONG, {"max": TEXT_MAX}))
    if values.maximum_penalty_years is None:
        errors.append(FieldError("maximum_penalty_years", MSG_REQUIRED))
    elif values.maximum_penalty_years < 0:
        errors.append(FieldError("maximum_penalty_years", MSG_NEGATIVE))
    for name in ("data_from", "data_to"):
        if getattr(values, name) is None:
            errors.append(FieldError(name, MSG_REQUIRED))
    if values.data_from and values.data_to and values.data_to < values.data_from:
        errors.append(FieldError("data_to", MSG_PERIOD))
    privileged = values.privileged_persons
    if not privileged:
        errors.append(FieldError("privileged_persons", MSG_EMPTY))
    for i, code in enumerate(privileged):
        if code not in PRIVILEGED:
            errors.append(FieldError(f"privileged_persons.{i}", MSG_CHOICE,
                                     {"choices": ", ".join(PRIVILEGED)}))
    if "none" in privileged and len(set(privileged)) > 1:
        errors.append(FieldError("privileged_persons", MSG_NONE_ALONE))
    if set(privileged) - {"none"} and not values.privileged_safeguards.strip():
        errors.append(FieldError("privileged_safeguards", MSG_REQUIRED))
    if len(values.privileged_safeguards) > TEXT_MAX:
        errors.append(FieldError("privileged_safeguards", MSG_TOO_LONG, {"max": TEXT_MAX}))
    listed = listed_offences(instrument)
    if values.listed_offence is not None and values.listed_offence not in listed:
        errors.append(FieldError("listed_offence", MSG_LISTED_UNKNOWN, {
            "instrument": instrument.short_name, "offences": ", ".join(listed) or "—"}))
    return errors


def threshold_errors(instrument: Instrument, categories: Iterable[str], *,
                     maximum_penalty_years: int, listed_offence: str | None,
                     committed_by_information_system: bool,
                     prefix: str = "") -> list[FieldError]:
    """The instrument's offence thresholds for the categories sought (Reg. (EU) 2023/1543 Art.
    5(4): traffic or content data only for an offence punishable by a custodial sentence of a
    maximum of at least 3 years, or a listed offence; unverified, see the instrument file)."""
    errors: list[FieldError] = []
    wanted = set(categories)
    for rule in instrument.thresholds:
        hit = sorted(c.value for c in rule.data_categories if c.value in wanted)
        if not hit:
            continue
        errors += _threshold_rule_errors(rule, hit, maximum_penalty_years, listed_offence,
                                         committed_by_information_system, prefix)
    return errors


def _threshold_rule_errors(rule: ThresholdRule, hit: Sequence[str], years: int,
                           listed_offence: str | None, by_information_system: bool,
                           prefix: str) -> list[FieldError]:
    offence = next((o for o in rule.listed_offences if o.code == listed_offence), None)
    if offence is not None:
        if offence.by_information_system and not by_information_system:
            return [FieldError(f"{prefix}committed_by_information_system", MSG_LISTED_BY_IT,
                               {"article": offence.article})]
        return []
    if years >= rule.maximum_penalty_at_least_years:
        return []
    return [FieldError(f"{prefix}maximum_penalty_years", MSG_THRESHOLD, {
        "categories": ", ".join(hit), "years": rule.maximum_penalty_at_least_years,
        "article": rule.article})]


# --- notification of the enforcing State (Reg. (EU) 2023/1543 Art. 8) ---------------------------


def notification_rule(instrument: Instrument, categories: Iterable[str], *,
                      offence_in_issuing_state: bool,
                      person_in_issuing_state: bool) -> NotificationRule | None:
    """The instrument's notification rule when it applies to this order: the categories it
    names are sought, and not both the offence and the person are in the issuing State (Art.
    8: traffic data other than identification data, or content data)."""
    rule = instrument.notification
    if rule is None or not {c.value for c in rule.data_categories} & set(categories):
        return None
    if offence_in_issuing_state and person_in_issuing_state:
        return None
    return rule


def window_due(rule: NotificationRule, notified_at: datetime, *, emergency: bool,
               timezone: str) -> datetime:
    """When the enforcing authority's time to raise grounds ends (Art. 12: 10 days, 96 hours in
    emergencies), counted as every legal period is (`rogatory.requests.deadlines`)."""
    period = rule.emergency_window if emergency and rule.emergency_window else rule.window
    return dl.add_period(notified_at, period, timezone)


def transmission_errors(status: NotificationStatus, *, suspensive: bool, emergency: bool,
                        due: datetime, now: datetime, grounds: Sequence[str],
                        rule: NotificationRule) -> list[FieldError]:
    """May the addressee transmit now? Not once the enforcing authority raised grounds; not
    while a suspensive notification's window runs (Art. 8(4), Art. 10(2)), except in
    emergencies or once the authority has said it raises none."""
    if status is NotificationStatus.GROUNDS_RAISED:
        return [FieldError("notification", MSG_OBJECTED, {
            "grounds": ", ".join(grounds), "article": rule.window_article})]
    if (status is NotificationStatus.PENDING and suspensive and not emergency
            and ensure_utc(now) < ensure_utc(due)):
        return [FieldError("notification", MSG_SUSPENDED, {
            "due": ensure_utc(due).isoformat(),
            "article": rule.suspension_article or rule.article})]
    return []


# --- grounds for refusal and their time limits --------------------------------------------------


def ground_period(ground: RefusalGround, *, emergency: bool) -> Duration | None:
    if emergency and ground.emergency_time_limit is not None:
        return ground.emergency_time_limit
    return ground.time_limit


def refusal_due(ground: RefusalGround, received_at: datetime, *, emergency: bool,
                timezone: str) -> datetime | None:
    """When `ground` must have been raised by, counted from receipt; `None`: no time limit."""
    period = ground_period(ground, emergency=emergency)
    return None if period is None else dl.add_period(received_at, period, timezone)


def refusal_errors(instrument: Instrument, ground: str | None, *, received_at: datetime | None,
                   now: datetime, emergency: bool, timezone: str,
                   raised_in_time: Iterable[str] = ()) -> list[FieldError]:
    """A refusal names a ground of the instrument and is raised within that ground's time limit
    counted from receipt (e.g. Reg. (EU) 2023/1543 Art. 12: 10 days, 96 hours in emergencies).
    A ground the enforcing authority raised in time (`raised_in_time`) may be relayed later."""
    found = next((g for g in instrument.refusal_grounds if g.code == ground), None)
    if found is None:
        if not instrument.refusal_grounds:
            return []
        return [FieldError("ground", MSG_GROUND, {
            "instrument": instrument.short_name,
            "grounds": ", ".join(g.code for g in instrument.refusal_grounds)})]
    if received_at is None or found.code in set(raised_in_time):
        return []
    due = refusal_due(found, received_at, emergency=emergency, timezone=timezone)
    if due is not None and ensure_utc(now) > due:
        return [FieldError("ground", MSG_REFUSAL_LATE, {
            "ground": found.code, "due": due.isoformat(), "article": found.article})]
    return []


# --- decisions -----------------------------------------------------------------------------------


def allowed_reasons(instrument: Instrument, stage: Stage, outcome: Outcome) -> list[str]:
    """The codes a decision of `stage` with `outcome` may give: the node's reason codes, and
    the instrument's grounds for refusal when the executing side or the enforcing State denies
    or grants only in part."""
    codes = [r.code for r in REASONS.values() if stage in r.stages and outcome in r.outcomes]
    if stage is not Stage.VALIDATION and outcome is not Outcome.GRANT:
        codes += [g.code for g in instrument.refusal_grounds]
    return codes


def decision_errors(instrument: Instrument, stage: Stage, outcome: Outcome,
                    grounds: Sequence[str], reasons: str) -> list[FieldError]:
    """A reasoned decision: at least one coded reason allowed for its stage and outcome, a
    statement of reasons, and a denial by the executing side or the enforcing State naming a
    ground for refusal of the instrument."""
    errors: list[FieldError] = []
    allowed = allowed_reasons(instrument, stage, outcome)
    if not grounds:
        errors.append(FieldError("grounds", MSG_EMPTY))
    for i, code in enumerate(grounds):
        if code not in allowed:
            errors.append(FieldError(f"grounds.{i}", MSG_REASON_CODE,
                                     {"codes": ", ".join(allowed)}))
    if len(set(grounds)) != len(grounds):
        errors.append(FieldError("grounds", MSG_UNKNOWN))
    refusal_codes = [g.code for g in instrument.refusal_grounds]
    if (stage is not Stage.VALIDATION and outcome is Outcome.DENY and refusal_codes
            and not set(grounds) & set(refusal_codes)):
        errors.append(FieldError("grounds", MSG_REFUSAL_GROUND_NEEDED, {
            "instrument": instrument.short_name, "grounds": ", ".join(refusal_codes)}))
    if not reasons.strip():
        errors.append(FieldError("reasons", MSG_REASON))
    elif len(reasons) > TEXT_MAX:
        errors.append(FieldError("reasons", MSG_TOO_LONG, {"max": TEXT_MAX}))
    return errors


def decision_basis(instrument: Instrument, stage: Stage, outcome: Outcome,
                   grounds: Sequence[str], categories: Iterable[str]) -> str:
    """The legal basis of a decision, derived from the instrument (never typed by the decider,
    so the public register can show it): the grounds for refusal it names; else, for a
    validation, the issuing rules and thresholds of the categories; for the enforcing State's
    review, its time limit; else the instrument."""
    by_code = {g.code: g.article for g in instrument.refusal_grounds}
    named = sorted({by_code[g] for g in grounds if g in by_code})
    if named and outcome is not Outcome.GRANT:
        return "; ".join(named)
    if stage is Stage.VALIDATION:
        wanted = {DataCategory(c) for c in categories if c in set(DataCategory)}
        articles = {instrument.issuer_rule(c).article for c in wanted
                    if any(c in r.data_categories for r in instrument.issuers)}
        articles |= {t.article for t in instrument.thresholds if wanted & set(t.data_categories)}
        return "; ".join(sorted(articles)) or instrument.legal_basis
    if stage is Stage.ENFORCEMENT and instrument.notification is not None:
        return instrument.notification.window_article
    return instrument.legal_basis


# --- a provider's inability to execute (Annex III) ----------------------------------------------


def non_execution_errors(reasons: Sequence[str], explanation: str, *, data_preserved: bool,
                         preserved_until: date | None, conflict_details: str,
                         today: date) -> list[FieldError]:
    """Annex III: coded reasons (Section D) with an explanation, the conflicting obligations
    when that is the reason (Section E), and whether and until when the data are preserved
    (Section G)."""
    errors: list[FieldError] = []
    codes = [r.value for r in InabilityReason]
    if not reasons:
        errors.append(FieldError("reasons", MSG_EMPTY))
    for i, code in enumerate(reasons):
        if code not in codes:
            errors.append(FieldError(f"reasons.{i}", MSG_CHOICE, {"choices": ", ".join(codes)}))
    if not explanation.strip():
        errors.append(FieldError("explanation", MSG_REQUIRED))
    elif len(explanation) > TEXT_MAX:
        errors.append(FieldError("explanation", MSG_TOO_LONG, {"max": TEXT_MAX}))
    if InabilityReason.CONFLICTING_OBLIGATIONS.value in reasons and not conflict_details.strip():
        errors.append(FieldError("conflict_details", MSG_CONFLICT_DETAILS))
    if data_preserved and preserved_until is None:
        errors.append(FieldError("preserved_until", MSG_PRESERVED_UNTIL))
    elif data_preserved and preserved_until is not None and preserved_until <= today:
        errors.append(FieldError("preserved_until", MSG_FUTURE))
    elif not data_preserved and preserved_until is not None:
        errors.append(FieldError("preserved_until", MSG_NOT_PRESERVED))
    return errors


# --- data protection for data received -----------------------------------------------------------


def data_errors(*, description: str, purpose: str, category: str, request_categories: Sequence[str],
                received_on: date, retention_until: date | None) -> list[FieldError]:
    """Every data item received states what it is, the purpose it may be used for
    (`PURPOSE_LIMITATION`), its category among the request's, and how long it is kept
    (`RETENTION`)."""
    errors: list[FieldError] = []
    for name, text in (("description", description), ("purpose", purpose)):
        if not text.strip():
            errors.append(FieldError(name, MSG_REQUIRED))
        elif len(text) > TEXT_MAX:
            errors.append(FieldError(name, MSG_TOO_LONG, {"max": TEXT_MAX}))
    if category not in request_categories:
        errors.append(FieldError("category", MSG_CHOICE,
                                 {"choices": ", ".join(request_categories)}))
    if retention_until is None:
        errors.append(FieldError("retention_until", MSG_REQUIRED))
    elif retention_until <= received_on:
        errors.append(FieldError("retention_until", MSG_RETENTION))
    return errors


def review_due_on(received_on: date, retention_until: date) -> date:
    """The next review of the need to keep the data (`RETENTION`): after `REVIEW_INTERVAL`, and
    no later than the end of the retention period."""
    return min(retention_until, received_on + REVIEW_INTERVAL)


def transfer_errors(*, third_state: str, requesting_state: str, requested_state: str,
                    recipient: str, purpose: str, consent_reference: str,
                    consent_date: date | None, today: date) -> list[FieldError]:
    """An onward transfer to a third State needs the prior consent of the State that provided
    the data (`ONWARD_TRANSFER`)."""
    errors: list[FieldError] = []
    state = third_state.strip().upper()
    if len(state) != 2 or not state.isalpha():
        errors.append(FieldError("third_state", MSG_UNKNOWN))
    elif state in (requesting_state, requested_state):
        errors.append(FieldError("third_state", MSG_THIRD_STATE))
    for name, text in (("recipient", recipient), ("purpose", purpose)):
        if not text.strip():
            errors.append(FieldError(name, MSG_REQUIRED))
        elif len(text) > (NAME_MAX if name == "recipient" else TEXT_MAX):
            errors.append(FieldError(name, MSG_TOO_LONG,
                                     {"max": NAME_MAX if name == "recipient" else TEXT_MAX}))
    if not consent_reference.strip() or consent_date is None or consent_date > today:
        errors.append(FieldError("consent_reference", MSG_CONSENT,
                                 {"article": ONWARD_TRANSFER.article}))
    elif len(consent_reference) > NAME_MAX:
        errors.append(FieldError("consent_reference", MSG_TOO_LONG, {"max": NAME_MAX}))
    return errors


def deferral_errors(*, reason: str, note: str, until: date | None,
                    today: date) -> list[FieldError]:
    """Deferring the information of the data subject names its reason
    (`INFORMING_DEFERRAL`) and a date by which it is reviewed."""
    errors: list[FieldError] = []
    codes = [r.value for r in DeferralReason]
    if reason not in codes:
        errors.append(FieldError("reason", MSG_CHOICE, {"choices": ", ".join(codes)}))
    if len(note) > TEXT_MAX:
        errors.append(FieldError("note", MSG_TOO_LONG, {"max": TEXT_MAX}))
    if until is None:
        errors.append(FieldError("until", MSG_REQUIRED))
    elif until <= today:
        errors.append(FieldError("until", MSG_FUTURE))
    return errors


# --- the register of analytic tools --------------------------------------------------------------


def tool_errors(*, name: str, version: str, purpose: str, error_rates: str,
                bias_assessment: str) -> list[FieldError]:
    """A tool whose output may weigh in a decision is registered with what a judge needs to
    scrutinise it: purpose, known error rates (or that none are known) and a bias assessment."""
    errors: list[FieldError] = []
    for field, text, limit in (("name", name, NAME_MAX), ("version", version, 64),
                               ("purpose", purpose, TEXT_MAX),
                               ("error_rates", error_rates, TEXT_MAX),
                               ("bias_assessment", bias_assessment, TEXT_MAX)):
        if not text.strip():
            errors.append(FieldError(field, MSG_REQUIRED))
        elif len(text) > limit:
            errors.append(FieldError(field, MSG_TOO_LONG, {"max": limit}))
    return errors
