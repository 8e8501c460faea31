"""The shape of an instrument definition file, validated when loaded.

Every rule carries the article it follows (`article`) and whether the fact behind it was
confirmed (`verified`); views show unverified rules as such."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rogatory.directory.enums import AuthorityKind
from rogatory.requests.enums import DataCategory, DeadlineEffect, Measure, Rank, Side, Verb


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(Strict):
    """Anything legal: it cites its article and says whether it is confirmed."""

    article: str = Field(min_length=3)
    verified: bool = True
    note: str | None = None


class Duration(Strict):
    """A legal period: whole calendar days, or elapsed hours."""

    days: int | None = Field(default=None, ge=1)
    hours: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> Duration:
        if (self.days is None) == (self.hours is None):
            raise ValueError("a duration has exactly one of 'days' or 'hours'")
        return self

    @property
    def delta(self) -> timedelta:
        return timedelta(days=self.days) if self.days else timedelta(hours=self.hours or 0)

    def __str__(self) -> str:
        return f"{self.days} days" if self.days else f"{self.hours} hours"


FieldType = Literal[
    "string",
    "text",
    "date",
    "datetime",
    "integer",
    "boolean",
    "choice",
    "multichoice",
    "country",
    "email",
]


class FormField(Strict):
    """A typed field of a form section. `translate`: free text that needs translation. A choice
    field lists its codes (`choices`, what is stored) and the label of each (`choice_labels`,
    what readers see, in their language)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    type: FieldType
    required: bool = False
    translate: bool = False
    choices: list[str] | None = None
    choice_labels: dict[str, str] | None = None
    max_length: int | None = Field(default=None, ge=1)
    help: str | None = None
    article: str | None = None
    verified: bool = True
    note: str | None = None

    def choice_label(self, code: str) -> str:
        """The (English) label of one choice; the code itself if it is not one."""
        return (self.choice_labels or {}).get(code, code)

    @model_validator(mode="after")
    def _choices_match_type(self) -> FormField:
        if self.type in ("choice", "multichoice") and not self.choices:
            raise ValueError(f"field '{self.name}' of type {self.type} needs choices")
        if self.type not in ("choice", "multichoice") and self.choices:
            raise ValueError(f"field '{self.name}' has choices but type {self.type}")
        if set(self.choice_labels or {}) != set(self.choices or []):
            raise ValueError(f"field '{self.name}': choice_labels must label every choice, and "
                             "only those")
        if self.translate and self.type not in ("string", "text"):
            raise ValueError(f"field '{self.name}': only string or text can need translation")
        return self


class Section(Strict):
    code: str
    title: str
    fields: list[FormField]
    article: str | None = None
    verified: bool = True
    note: str | None = None


class IssuerRule(Rule):
    """Who may issue for these data categories, and who must validate when someone else does."""

    data_categories: list[DataCategory]
    may_issue: list[Rank]
    validators: list[Rank]
    emergency_without_validation: bool = False


class Extension(Rule):
    duration: Duration
    times: int = Field(default=1, ge=1)
    by: Side


class DeadlineRule(Rule):
    """A period that starts at a workflow verb and is met (or ended) by others."""

    kind: str = Field(pattern=r"^[a-z][a-z_]*$")
    label: str
    starts_on: Verb
    met_by: list[Verb]
    duration: Duration
    emergency_duration: Duration | None = None
    effect: DeadlineEffect = DeadlineEffect.RESPOND_BY
    holder: Side = Side.EXECUTING
    extension: Extension | None = None


class RefusalGround(Rule):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    time_limit: Duration | None = None
    emergency_time_limit: Duration | None = None


class DataCategoryRule(Rule):
    code: DataCategory
    label: str


class ListedOffence(Rule):
    """An offence the instrument lists: the penalty threshold does not apply to it.
    `by_information_system`: listed only when committed wholly or partly by means of an
    information system."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    by_information_system: bool = False


class ThresholdRule(Rule):
    """How grave the offence must be before these data categories may be ordered: punishable
    by a custodial sentence of a maximum of at least `maximum_penalty_at_least_years`, or one
    of `listed_offences` (checked by `rogatory.safeguards`)."""

    data_categories: list[DataCategory]
    maximum_penalty_at_least_years: int = Field(ge=1)
    listed_offences: list[ListedOffence] = []


class NotificationRule(Rule):
    """Orders for these data categories go to the enforcing State's authority at the same time
    as to the addressee; it may raise grounds for refusal within `window` (`emergency_window`
    in emergencies). `suspensive`: the addressee waits for the window to end, except in
    emergencies (`suspension_article`). `exception_article`: no notification when the offence
    and the person are both in the issuing State (checked by `rogatory.safeguards`)."""

    data_categories: list[DataCategory]
    window: Duration
    emergency_window: Duration | None = None
    window_article: str = Field(min_length=3)
    suspensive: bool = True
    suspension_article: str | None = None
    exception_article: str | None = None


class Instrument(Strict):
    """One legal instrument, as one versioned definition file."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: str
    name: str
    short_name: str
    legal_basis: str
    form_reference: Rule
    binding: str = Field(description="Key jurisdictions list when this instrument binds them")
    measures: list[Measure]
    addressed_to: list[AuthorityKind] = Field(
        min_length=1, description="Kinds of authority that receive it, preferred first"
    )
    emergency: Rule | None = None
    data_categories: list[DataCategoryRule]
    issuers: list[IssuerRule]
    deadlines: list[DeadlineRule] = []
    refusal_grounds: list[RefusalGround] = []
    thresholds: list[ThresholdRule] = []
    notification: NotificationRule | None = None
    verbs: list[Verb]
    sections: list[Section]

    @model_validator(mode="after")
    def _consistent(self) -> Instrument:
        cats = {c.code for c in self.data_categories}
        for rule in self.issuers:
            unknown = set(rule.data_categories) - cats
            if unknown:
                raise ValueError(f"issuer rule {rule.article} names unknown categories {unknown}")
        covered = {c for r in self.issuers for c in r.data_categories}
        if covered != cats:
            raise ValueError(f"no issuer rule for data categories {cats - covered}")
        verbs = set(self.verbs)
        for i, d in enumerate(self.deadlines):
            missing = sorted(v.value for v in {d.starts_on, *d.met_by} - verbs)
            if missing:
                raise ValueError(f"deadlines.{i} ('{d.kind}') uses verbs not in 'verbs': "
                                 f"{', '.join(missing)}")
            if d.extension is not None and Verb.EXTEND_DEADLINE not in verbs:
                raise ValueError(f"deadlines.{i} ('{d.kind}') is extendable but 'verbs' lacks "
                                 "extend_deadline")
        names = [f.name for s in self.sections for f in s.fields]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate form fields: {sorted(dupes)}")
        codes = [g.code for g in self.refusal_grounds]
        if len(codes) != len(set(codes)):
            raise ValueError("duplicate refusal ground codes")
        ruled = [*(t.data_categories for t in self.thresholds),
                 *([self.notification.data_categories] if self.notification else [])]
        for named in ruled:
            unknown = set(named) - cats
            if unknown:
                raise ValueError(f"threshold or notification names unknown categories {unknown}")
        for base in (Verb.SUBMIT, Verb.VALIDATE, Verb.SEND, Verb.WITHDRAW):
            if base not in verbs:
                raise ValueError(f"every instrument allows '{base.value}'")
        # issuing without prior validation (e.g. Reg. (EU) 2023/1543 Art. 4(5)) comes with its
        # validation after the fact, its refusal and its lapse, and only in emergencies
        without = any(r.emergency_without_validation for r in self.issuers)
        ex_post = {Verb.ISSUE_EMERGENCY, Verb.VALIDATE_EX_POST, Verb.REFUSE_EX_POST, Verb.LAPSE}
        if without and not ex_post <= verbs:
            raise ValueError("an issuer rule allows issuing without prior validation: 'verbs' "
                             "needs " + ", ".join(sorted(v.value for v in ex_post - verbs)))
        if without and self.emergency is None:
            raise ValueError("an issuer rule allows issuing without prior validation, which "
                             "needs an emergency procedure ('emergency')")
        if not without and verbs & ex_post:
            raise ValueError("'verbs' allows issuing without prior validation, but no issuer "
                             "rule does (emergency_without_validation)")
        return self

    @property
    def verified(self) -> bool:
        """True only if every rule in the file is confirmed."""
        rules: list[Rule] = [self.form_reference, *self.issuers, *self.deadlines]
        rules += [*self.refusal_grounds, *self.data_categories]
        rules += [d.extension for d in self.deadlines if d.extension is not None]
        rules += [*self.thresholds, *(o for t in self.thresholds for o in t.listed_offences)]
        if self.notification:
            rules.append(self.notification)
        if self.emergency:
            rules.append(self.emergency)
        fields_ok = all(f.verified for s in self.sections for f in s.fields)
        return fields_ok and all(s.verified for s in self.sections) and all(
            r.verified for r in rules
        )

    def field(self, name: str) -> FormField | None:
        for section in self.sections:
            for f in section.fields:
                if f.name == name:
                    return f
        return None

    def deadline(self, kind: str) -> DeadlineRule | None:
        return next((d for d in self.deadlines if d.kind == kind), None)

    def issuer_rule(self, category: DataCategory) -> IssuerRule:
        return next(r for r in self.issuers if category in r.data_categories)
