"""The scenario file of the pilot simulator: what is simulated, checked in full before any run.

A scenario names jurisdictions (from the directory seed), request types travelling between two of
them under an instrument of the catalogue that binds both (`JurisdictionInfo.bound_by`), arrival
rates with the emergency share, staffed resources with working hours and holidays, service-time
distributions, the probabilities of incompleteness and refusal per stage, providers' data
retention, and the path from the data to trial and verdict.

Units: `service` distributions are in *working hours* of the resource (work is done only while
the resource is open); `delay`, `transit`, `reply` and trial lags are in *calendar days*.

Every fault is reported as `ValidationFailed`, one `FieldError` per fault whose field reads
`line N: path.to.field` (N: the line of the YAML file), before anything is simulated. Whether a
refusal or a more-information loop is possible at a stage is asked of the workflow itself
(`rogatory.requests.workflow.allowed_verbs`): no rule is copied here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rogatory.directory.info import JurisdictionInfo
from rogatory.directory.seed import load_jurisdictions
from rogatory.errors import FieldError, ValidationFailed
from rogatory.instruments.catalogue import catalogue
from rogatory.instruments.schema import Instrument
from rogatory.requests import workflow
from rogatory.requests.enums import State, Verb


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- distributions ---------------------------------------------------------------------------


class Exponential(_Strict):
    dist: Literal["exponential"]
    mean: float = Field(gt=0)


class Lognormal(_Strict):
    """Log-normal with the given mean and `sigma` of the underlying normal."""

    dist: Literal["lognormal"]
    mean: float = Field(gt=0)
    sigma: float = Field(gt=0, le=5)


class Gamma(_Strict):
    dist: Literal["gamma"]
    shape: float = Field(gt=0)
    mean: float = Field(gt=0)


class Triangular(_Strict):
    dist: Literal["triangular"]
    low: float = Field(ge=0)
    mode: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.low <= self.mode <= self.high or self.low == self.high:
            raise ValueError("triangular needs low <= mode <= high and low < high")
        return self


class Uniform(_Strict):
    dist: Literal["uniform"]
    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("uniform needs low <= high")
        return self


class Fixed(_Strict):
    dist: Literal["fixed"]
    value: float = Field(ge=0)


Distribution = Annotated[
    Exponential | Lognormal | Gamma | Triangular | Uniform | Fixed, Field(discriminator="dist")
]
DISTRIBUTIONS = ("exponential", "lognormal", "gamma", "triangular", "uniform", "fixed")


def dist_mean(d: Distribution) -> float:
    """The expected value of a distribution (for reports and sanity checks)."""
    if isinstance(d, Exponential | Lognormal | Gamma):
        return d.mean
    if isinstance(d, Triangular):
        return (d.low + d.mode + d.high) / 3
    if isinstance(d, Uniform):
        return (d.low + d.high) / 2
    return d.value


# ---- resources -------------------------------------------------------------------------------


class ResourceKind(StrEnum):
    VALIDATING_JUDGES = "validating_judges"
    CENTRAL_AUTHORITY_OFFICERS = "central_authority_officers"
    TRANSLATORS = "translators"
    PROVIDER_RESPONSE_TEAMS = "provider_response_teams"
    EXECUTING_PROSECUTORS = "executing_prosecutors"
    COURTS = "courts"


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _weekdays() -> list[Weekday]:
    return ["mon", "tue", "wed", "thu", "fri"]


class Hours(_Strict):
    """Weekly opening hours in the resource's local time ("24:00" closes at midnight)."""

    start: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(default="17:00", pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")
    days: list[Weekday] = Field(default_factory=_weekdays, min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Hours:
        if self.start_minutes >= self.end_minutes:
            raise ValueError("working hours must end after they start")
        return self

    @property
    def start_minutes(self) -> int:
        h, m = self.start.split(":")
        return int(h) * 60 + int(m)

    @property
    def end_minutes(self) -> int:
        h, m = self.end.split(":")
        return int(h) * 60 + int(m)


class Resource(_Strict):
    """A staffed pool: `count` people (or teams) serving one request each at a time."""

    kind: ResourceKind
    jurisdiction: str
    count: int = Field(ge=1, le=10_000)
    hours: Hours = Field(default_factory=Hours)
    holidays: list[date] = []
    language_pair: str | None = Field(default=None, pattern=r"^[a-z]{2}-[a-z]{2}$")
    retention_days: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _kind_fields(self) -> Resource:
        if self.kind is ResourceKind.TRANSLATORS and self.language_pair is None:
            raise ValueError("translators need a language_pair such as 'de-en'")
        if self.kind is not ResourceKind.TRANSLATORS and self.language_pair is not None:
            raise ValueError("only translators have a language_pair")
        if self.kind is not ResourceKind.PROVIDER_RESPONSE_TEAMS and self.retention_days:
            raise ValueError("only provider_response_teams have retention_days")
        return self


# ---- request types ---------------------------------------------------------------------------


class Phase(StrEnum):
    """Where in the lifecycle a stage is worked: the workflow state it is worked in."""

    VALIDATION = "validation"  # state validation, ends with `validate`
    PREPARATION = "preparation"  # state issued, before `send`
    REVIEW = "review"  # state under_review, ends with `begin_execution` or `refuse`
    EXECUTION = "execution"  # state executing, ends with `execute`


PHASE_STATE: dict[Phase, State] = {
    Phase.VALIDATION: State.VALIDATION,
    Phase.PREPARATION: State.ISSUED,
    Phase.REVIEW: State.UNDER_REVIEW,
    Phase.EXECUTION: State.EXECUTING,
}
PHASE_ORDER = list(Phase)


class Stage(_Strict):
    """One queue a request goes through: a resource, its work, and what may go wrong there."""

    phase: Phase
    resource: str
    service: Distribution
    delay: Distribution | None = None  # calendar days waited after the work (e.g. hearing date)
    refusal: float = Field(default=0.0, ge=0, le=1)
    incomplete: float = Field(default=0.0, ge=0, lt=1)
    reply: Distribution | None = None  # calendar days the issuing side takes to complete it

    @model_validator(mode="after")
    def _reply_when_incomplete(self) -> Stage:
        if self.incomplete > 0 and self.reply is None:
            raise ValueError("a stage with incomplete > 0 needs 'reply' (days to complete it)")
        if self.refusal + self.incomplete > 1:
            raise ValueError("refusal + incomplete must not exceed 1")
        return self


class Trial(_Strict):
    """From the data to a verdict: share of executed requests whose case goes to trial."""

    share: float = Field(ge=0, le=1)
    lag: Distribution  # calendar days from the evidence to the trial's opening
    resource: str  # a courts resource
    service: Distribution  # working hours of court time


class RequestType(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    instrument: str
    from_: str = Field(alias="from")
    to: str
    rate_per_day: float = Field(ge=0)
    emergency_share: float = Field(default=0.0, ge=0, le=1)
    preserved: bool = False  # a preservation order came first: no loss to retention
    data_age: Distribution | None = None  # calendar days since the data were made, at drafting
    transit: Distribution | None = None  # calendar days between send and receipt
    stages: list[Stage] = Field(min_length=1)
    trial: Trial | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Scenario(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    seed: int = Field(ge=0)
    replications: int = Field(ge=1, le=10_000)
    horizon_days: float = Field(gt=0)
    warmup_days: float = Field(ge=0)
    start: datetime = datetime.fromisoformat("2026-01-05T00:00:00+00:00")
    jurisdictions: list[str] = Field(min_length=1)
    resources: dict[str, Resource] = Field(min_length=1)
    request_types: list[RequestType] = Field(min_length=1)

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start needs a time zone, e.g. 2026-01-05T00:00:00Z")
        return value

    @model_validator(mode="after")
    def _warmup(self) -> Scenario:
        if self.warmup_days >= self.horizon_days:
            raise ValueError("warmup_days must be shorter than horizon_days")
        return self

    def with_overrides(self, *, replications: int | None = None,
                       seed: int | None = None) -> Scenario:
        update: dict[str, Any] = {}
        if replications is not None:
            update["replications"] = replications
        if seed is not None:
            update["seed"] = seed
        return self.model_copy(update=update)


# ---- loading, with line numbers --------------------------------------------------------------


def _node_line(root: yaml.Node | None, loc: Sequence[int | str]) -> tuple[int, list[str]]:
    """The line of the deepest node on `loc` and the path parts that exist in the file (plus a
    last, missing field name). Discriminator tags that are not keys of the file are dropped."""
    node = root
    line = (root.start_mark.line + 1) if root is not None else 1
    parts: list[str] = []
    for i, part in enumerate(loc):
        found: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            key = "from" if part == "from_" else part
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                    found = v
                    line = k.start_mark.line + 1
                    break
        elif (isinstance(node, yaml.SequenceNode) and isinstance(part, int)
              and 0 <= part < len(node.value)):
            found = node.value[part]
            line = found.start_mark.line + 1
        if found is not None:
            node = found
            parts.append("from" if part == "from_" else str(part))
        elif i == len(loc) - 1:
            parts.append(str(part))
    return line, parts


def _fault(root: yaml.Node | None, loc: Sequence[int | str], text: str) -> FieldError:
    line, parts = _node_line(root, loc)
    field = f"line {line}: {'.'.join(parts) or '(top)'}"
    return FieldError(field, text.replace("{", "{{").replace("}", "}}"))


def _pydantic_faults(root: yaml.Node | None, exc: ValidationError) -> list[FieldError]:
    out: list[FieldError] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "union_tag_invalid":
            message = f"unknown distribution; known: {', '.join(DISTRIBUTIONS)}"
            loc = (*loc, "dist")
        elif err["type"] == "union_tag_not_found":
            message = f"missing 'dist'; one of: {', '.join(DISTRIBUTIONS)}"
            loc = (*loc, "dist")
        elif err["type"] == "missing":
            message = "missing field"
        out.append(_fault(root, loc, message))
    return out


def _semantic_faults(
    sc: Scenario,
    root: yaml.Node | None,
    directory: Mapping[str, JurisdictionInfo],
    instruments: Mapping[str, Instrument],
) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, code in enumerate(sc.jurisdictions):
        if code not in directory:
            errors.append(_fault(root, ("jurisdictions", i), f"unknown jurisdiction '{code}'"))
    listed = set(sc.jurisdictions)
    for name, res in sc.resources.items():
        if res.jurisdiction not in listed:
            errors.append(_fault(root, ("resources", name, "jurisdiction"),
                                 f"jurisdiction '{res.jurisdiction}' is not in 'jurisdictions'"))
    for i, rt in enumerate(sc.request_types):
        base: tuple[int | str, ...] = ("request_types", i)
        for side, code in (("from_", rt.from_), ("to", rt.to)):
            if code not in listed:
                errors.append(_fault(root, (*base, side),
                                     f"jurisdiction '{code}' is not in 'jurisdictions'"))
        instrument = instruments.get(rt.instrument)
        if instrument is None:
            errors.append(_fault(root, (*base, "instrument"),
                                 f"unknown instrument '{rt.instrument}'; known: "
                                 f"{', '.join(sorted(instruments))}"))
        else:
            for code in (rt.from_, rt.to):
                info = directory.get(code)
                if info is not None and not info.bound_by(instrument.binding):
                    errors.append(_fault(root, (*base, "instrument"),
                                         f"'{rt.instrument}' does not bind '{code}' "
                                         f"(needs binding '{instrument.binding}')"))
        if rt.emergency_share > 0 and instrument is not None and instrument.emergency is None:
            errors.append(_fault(root, (*base, "emergency_share"),
                                 f"'{rt.instrument}' has no emergency procedure"))
        last = 0
        reviews = 0
        for j, st in enumerate(rt.stages):
            sbase = (*base, "stages", j)
            order = PHASE_ORDER.index(st.phase)
            if order < last:
                errors.append(_fault(root, (*sbase, "phase"),
                                     "stages must follow the lifecycle: validation, "
                                     "preparation, review, execution"))
            last = max(last, order)
            reviews += st.phase is Phase.REVIEW
            if st.resource not in sc.resources:
                errors.append(_fault(root, (*sbase, "resource"),
                                     f"unknown resource '{st.resource}'"))
            permitted = instrument.verbs if instrument is not None else None
            state = PHASE_STATE[st.phase]
            allowed = workflow.allowed_verbs(state, permitted)
            if st.refusal > 0 and Verb.REFUSE not in allowed:
                errors.append(_fault(root, (*sbase, "refusal"),
                                     f"the workflow does not allow 'refuse' while "
                                     f"'{state.value}'"))
            loop = Verb.RETURN_TO_DRAFT if st.phase is Phase.VALIDATION else (
                Verb.REQUEST_INFORMATION)
            if st.incomplete > 0 and loop not in allowed:
                errors.append(_fault(root, (*sbase, "incomplete"),
                                     f"the workflow does not allow '{loop.value}' while "
                                     f"'{state.value}'"))
        if reviews != 1:
            errors.append(_fault(root, (*base, "stages"),
                                 f"needs exactly one 'review' stage, has {reviews}"))
        if rt.trial is not None:
            court = sc.resources.get(rt.trial.resource)
            if court is None:
                errors.append(_fault(root, (*base, "trial", "resource"),
                                     f"unknown resource '{rt.trial.resource}'"))
            elif court.kind is not ResourceKind.COURTS:
                errors.append(_fault(root, (*base, "trial", "resource"),
                                     f"'{rt.trial.resource}' is not a courts resource"))
    return errors


def parse(text: str, *, source: str = "scenario") -> Scenario:
    """A checked `Scenario` from YAML text, or `ValidationFailed` naming lines and fields."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise ValidationFailed([FieldError(f"line {line}: (yaml)",
                                           f"{source}: not valid YAML")]) from exc
    if not isinstance(raw, dict):
        raise ValidationFailed([FieldError("line 1: (top)", "a scenario is a YAML mapping")])
    try:
        sc = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ValidationFailed(_pydantic_faults(root, exc)) from exc
    errors = _semantic_faults(sc, root, load_jurisdictions(), catalogue())
    if errors:
        raise ValidationFailed(errors)
    return sc


def load(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationFailed([FieldError("line 0: (file)", f"cannot read {path.name}")]) from exc
    return parse(text, source=path.name)
