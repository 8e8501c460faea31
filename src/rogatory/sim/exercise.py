"""Exercise mode: simulated cases driven through a real node's service layer.

Where `rogatory simulate` runs a scenario's workload through the workflow *rules* in SimPy,
`rogatory exercise` rehearses it on a node: every simulated request is created, submitted,
validated, translated, sent, acknowledged, reviewed, perhaps questioned or refused, executed and
closed through `rogatory.requests.service` (each verb in its own transaction of the real
database, with its real timeline event and ledger leaf), by exercise users of the directory's
authorities, under a `ManualClock` that jumps from one event to the next. The node's deadline
job (`scan_deadlines`) runs whenever the virtual clock passes a due time, so what breaches is
what the node itself records.

The scenario supplies the request types (instrument, requesting and requested state, arrival
rates, emergency share), the service times of each stage (working hours of the stage's resource,
in its jurisdiction's opening hours), calendar delays, transit, and the probabilities of a
more-information loop or a refusal. Resources are not contended here: an exercise is about the
rules and the record, not the queues (`rogatory simulate` measures those).

Caution: the deadline job marks *every* open deadline past the virtual now. An exercise refuses
to run the job when a deadline of a request not made by an exercise user would be touched;
rehearse on a dedicated node (or a start time before the real requests' due times)."""

from __future__ import annotations

import heapq
import random
import secrets
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from rogatory.clock import ManualClock
from rogatory.db import unit_of_work
from rogatory.demo import _Script
from rogatory.directory import service as directory
from rogatory.directory.enums import AuthorityKind
from rogatory.directory.info import AuthorityInfo, JurisdictionInfo
from rogatory.errors import RogatoryError, VerificationError
from rogatory.identity import service as identity
from rogatory.identity.models import Role, User
from rogatory.identity.policy import Actor
from rogatory.instruments.catalogue import catalogue
from rogatory.instruments.schema import Instrument
from rogatory.ledger import service as ledger_service
from rogatory.ledger import store as ledger_store
from rogatory.requests import service
from rogatory.requests.enums import DataCategory, DeadlineStatus, Rank, State, Verb
from rogatory.requests.models import Deadline, Request, TimelineEvent
from rogatory.sim.model import Calendar, Sampler, sampler
from rogatory.sim.scenario import Phase, RequestType, Scenario, Stage

USER_PREFIX = "exercise."
SCAN_LAG = timedelta(minutes=1)  # the deadline job runs this long after a due time passes
CALENDAR_DAYS = 3 * 365  # opening calendars are built this far; beyond, time counts in full
DAY = timedelta(days=1)

SessionFactory = sessionmaker[Session]


class ExerciseError(RogatoryError):
    """The exercise cannot be set up or a simulated step was refused by the node."""

    code = "exercise_failed"


@dataclass(frozen=True)
class DeadlineOutcome:
    kind: str
    status: str
    due_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class CaseOutcome:
    """What happened to one simulated request."""

    reference: str
    request_type: str
    instrument: str
    emergency: bool
    issuing_authority: str
    executing_authority: str
    outcome: str  # executed, partially_executed or refused (before closing)
    final_state: str
    drafted_at: datetime
    ended_at: datetime | None
    timeline_events: int
    information_requests: int
    deadlines: list[DeadlineOutcome]

    @property
    def breaches(self) -> list[DeadlineOutcome]:
        return [d for d in self.deadlines if d.status == DeadlineStatus.BREACHED.value]

    @property
    def days(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.drafted_at) / DAY


@dataclass(frozen=True)
class ExerciseReport:
    scenario: str
    seed: int
    start: datetime
    end: datetime
    cases: list[CaseOutcome]
    ledger_before: int
    ledger_after: int
    audit_ok: bool
    audit_message: str
    users: list[str]

    @property
    def breaches(self) -> int:
        return sum(len(c.breaches) for c in self.cases)

    @property
    def deadlines(self) -> int:
        return sum(len(c.deadlines) for c in self.cases)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario, "seed": self.seed, "start": self.start.isoformat(),
            "end": self.end.isoformat(), "ledger_before": self.ledger_before,
            "ledger_after": self.ledger_after, "audit_ok": self.audit_ok,
            "audit_message": self.audit_message, "users": self.users,
            "breaches": self.breaches,
            "cases": [{
                "reference": c.reference, "request_type": c.request_type,
                "instrument": c.instrument, "emergency": c.emergency,
                "issuing_authority": c.issuing_authority,
                "executing_authority": c.executing_authority, "outcome": c.outcome,
                "final_state": c.final_state, "drafted_at": c.drafted_at.isoformat(),
                "ended_at": c.ended_at.isoformat() if c.ended_at else None,
                "days": None if c.days is None else round(c.days, 2),
                "timeline_events": c.timeline_events,
                "information_requests": c.information_requests,
                "deadlines": [{"kind": d.kind, "status": d.status,
                               "due_at": d.due_at.isoformat(),
                               "closed_at": d.closed_at.isoformat() if d.closed_at else None}
                              for d in c.deadlines],
            } for c in self.cases],
        }


# ---- the parties ------------------------------------------------------------------------------

_ISSUING_ROLE = {Rank.PROSECUTOR: Role.PROSECUTOR, Rank.JUDGE: Role.JUDGE,
                 Rank.COURT: Role.JUDGE, Rank.INVESTIGATING_JUDGE: Role.INVESTIGATING_JUDGE,
                 Rank.CENTRAL_AUTHORITY: Role.CENTRAL_AUTHORITY_OFFICER}
_VALIDATING_ROLE = {Rank.JUDGE: Role.JUDGE, Rank.COURT: Role.JUDGE,
                    Rank.INVESTIGATING_JUDGE: Role.INVESTIGATING_JUDGE}
_EXECUTING_ROLE = {AuthorityKind.PROVIDER_LEGAL_REPRESENTATIVE: Role.PROVIDER_RESPONDER,
                   AuthorityKind.CENTRAL_AUTHORITY: Role.CENTRAL_AUTHORITY_OFFICER}


@dataclass(frozen=True)
class _Parties:
    category: DataCategory
    issuing: AuthorityInfo
    validating: AuthorityInfo
    executing: AuthorityInfo


def _parties(rt: RequestType, instrument: Instrument, authorities: list[AuthorityInfo],
             rng: random.Random) -> _Parties:
    """Issuing, validating and executing authorities for a request of type `rt` (the category
    drawn among those the directory can serve)."""
    requesting = [a for a in authorities if a.jurisdiction == rt.from_]
    requested = [a for a in authorities if a.jurisdiction == rt.to]
    executing = next((a for kind in instrument.addressed_to for a in requested
                      if a.kind is kind), None)
    if executing is None:
        raise ExerciseError(f"{rt.name}: no authority of {rt.to} receives "
                            f"{instrument.short_name} ({', '.join(instrument.addressed_to)})")
    categories = [c.code for c in instrument.data_categories]
    rng.shuffle(categories)
    for category in categories:
        rule = instrument.issuer_rule(category)
        issuers = [a for a in requesting if a.rank in rule.may_issue]
        preferred = [a for a in issuers if a.kind is AuthorityKind.ISSUING] or issuers
        if not preferred:
            continue
        issuing = rng.choice(preferred)
        validators = [a for a in requesting if a.rank in rule.validators]
        validating = next((a for a in validators if a.kind is AuthorityKind.VALIDATING),
                          issuing if issuing.rank in rule.validators else
                          (validators[0] if validators else None))
        if validating is not None:
            return _Parties(category, issuing, validating, executing)
    raise ExerciseError(f"{rt.name}: no authority of {rt.from_} may issue and validate "
                        f"{instrument.short_name}")


def _username(side: str, authority_id: str) -> str:
    return f"{USER_PREFIX}{side}.{authority_id}"[:64]


# ---- the run ----------------------------------------------------------------------------------


@dataclass
class _Live:
    """One simulated request while it runs."""

    rt: RequestType
    instrument: Instrument
    parties: _Parties
    who: dict[str, str]  # side -> username
    emergency: bool
    request_id: str = ""
    reference: str = ""
    drafted_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str = "open"
    information_requests: int = 0


@dataclass
class _Route:
    stages: dict[Phase, list[tuple[Stage, Calendar, Sampler, Sampler | None, Sampler | None]]]
    transit: Sampler | None
    data_age: Sampler | None
    retention: dict[str, float] = field(default_factory=dict)


class _Exercise:
    def __init__(self, scenario: Scenario, factory: SessionFactory, start: datetime,
                 seed: int) -> None:
        self.sc = scenario
        self.factory = factory
        self.start = start
        self.seed = seed
        self.rng = random.Random(seed)
        self.clock = ManualClock(start)
        self.instruments = catalogue()
        self.actors: dict[str, Actor] = {}
        self.cases: dict[str, str] = {}  # issuing authority -> case reference
        self.live: list[_Live] = []
        self.request_ids: set[str] = set()
        with unit_of_work(factory) as session:
            self.jurisdictions: dict[str, JurisdictionInfo] = directory.jurisdictions(
                session=session)
            self.authorities = directory.authorities(session=session)
        missing = sorted(set(scenario.jurisdictions) - set(self.jurisdictions))
        if missing:
            raise ExerciseError(f"the node's directory lacks {', '.join(missing)}")
        for rt in scenario.request_types:  # every type servable, before anything is written
            _parties(rt, self.instruments[rt.instrument], self.authorities, random.Random(0))
        self.routes = [self._route(rt) for rt in scenario.request_types]

    # -- set-up --

    def _route(self, rt: RequestType) -> _Route:
        hours = 1.0 / 24.0
        by_phase: dict[Phase, list[tuple[Stage, Calendar, Sampler, Sampler | None,
                                         Sampler | None]]] = {p: [] for p in Phase}
        retention: dict[str, float] = {}
        for st in rt.stages:
            res = self.sc.resources[st.resource]
            cal = Calendar(res, self.jurisdictions[res.jurisdiction].timezone, self.start,
                           CALENDAR_DAYS)
            by_phase[st.phase].append((
                st, cal, sampler(st.service, self.rng, hours),
                sampler(st.delay, self.rng) if st.delay else None,
                sampler(st.reply, self.rng) if st.reply else None))
            if res.retention_days is not None:
                retention[st.resource] = res.retention_days
        return _Route(
            stages=by_phase,
            transit=sampler(rt.transit, self.rng) if rt.transit else None,
            data_age=sampler(rt.data_age, self.rng) if rt.data_age else None,
            retention=retention)

    def _actor(self, session: Session, side: str, authority: AuthorityInfo, role: Role) -> str:
        username = _username(side, authority.id)
        if username not in self.actors:
            language = authority.languages[0] if authority.languages else "en"
            user = identity.ensure_user(
                session=session, username=username,
                display_name=f"Exercise {side} officer, {authority.name}"[:200],
                authority_id=authority.id, role=role, language=language,
                timezone=self.jurisdictions[authority.jurisdiction].timezone, clock=self.clock)
            self.actors[username] = identity.actor_for(session, user)
        return username

    def _enlist(self, session: Session, p: _Parties) -> dict[str, str]:
        issuing_rank = p.issuing.rank
        validating_rank = p.validating.rank
        issuer = self._actor(session, "issuing", p.issuing, _ISSUING_ROLE.get(
            issuing_rank, Role.PROSECUTOR) if issuing_rank else Role.PROSECUTOR)
        if p.validating.id == p.issuing.id:
            validator = issuer  # the issuer validates its own order (its rank allows it)
        else:
            validator = self._actor(session, "validating", p.validating, _VALIDATING_ROLE.get(
                validating_rank, Role.PROSECUTOR) if validating_rank else Role.PROSECUTOR)
        executor = self._actor(session, "executing", p.executing,
                               _EXECUTING_ROLE.get(p.executing.kind, Role.EXECUTING_OFFICER))
        return {"issuing": issuer, "validating": validator, "executing": executor}

    def _case_for(self, session: Session, who: str, p: _Parties) -> str:
        reference = self.cases.get(p.issuing.id)
        if reference is None:
            reference = (f"EXERCISE-{self.sc.name.upper()}-{p.issuing.jurisdiction}-"
                         f"{secrets.token_hex(4).upper()}")[:64]
            service.create_case(
                session=session, actor=self.actors[who], reference=reference,
                title=f"Exercise {self.sc.name}: simulated cases of {p.issuing.name}"[:200],
                summary=f"Rehearsal of scenario '{self.sc.name}'. {self.sc.description}".strip(),
                participants=[p.validating.id], clock=self.clock)
            self.cases[p.issuing.id] = reference
        return reference

    # -- transactions --

    @contextmanager
    def _tx(self) -> Iterator[tuple[Session, _Script]]:
        with unit_of_work(self.factory) as session:
            yield session, _Script(session, self.actors, self.clock)

    def _act(self, live: _Live, side: str, verb: Verb, **kw: Any) -> None:
        try:
            with self._tx() as (session, script):
                request = session.get(Request, live.request_id)
                assert request is not None
                script.act(live.who[side], request, verb, timedelta(0), **kw)
        except RogatoryError as exc:
            raise ExerciseError(f"{live.reference}: '{verb.value}' refused by the node: "
                                f"{exc.message}") from exc

    def _create(self, live: _Live) -> None:
        p = live.parties
        requesting = self.jurisdictions[p.issuing.jurisdiction]
        try:
            with self._tx() as (session, script):
                live.who = self._enlist(session, p)
                case = self._case_for(session, live.who["issuing"], p)
                request = script.create(
                    live.who["issuing"], live.instrument.code, p.executing.id,
                    [p.category.value], validating=p.validating.id, emergency=live.emergency,
                    case=case, language=requesting.languages[0] if requesting.languages
                    else "en")
                live.request_id, live.reference = request.id, request.reference
        except RogatoryError as exc:
            raise ExerciseError(f"{live.rt.name}: the node refused the draft: "
                                f"{exc.message}") from exc
        self.request_ids.add(live.request_id)
        live.drafted_at = self.clock.now()

    def _translate(self, live: _Live) -> None:
        with self._tx() as (session, script):
            request = session.get(Request, live.request_id)
            assert request is not None
            if "needed" in service.translation_status(session, request).values():
                language = service.accepted_languages(session, request)[0]
                script.translate(live.who["issuing"], request, language)

    # -- time --

    def _days(self) -> float:
        return (self.clock.now() - self.start) / DAY

    def _work(self, stage: tuple[Stage, Calendar, Sampler, Sampler | None, Sampler | None]
              ) -> timedelta:
        """How long the stage takes from now: its work in the resource's opening hours, then
        its calendar delay."""
        _, cal, service_time, delay, _ = stage
        now = self._days()
        end = cal.finish(cal.next_open(now), service_time())
        extra = delay() if delay is not None else 0.0
        return timedelta(days=max(0.0, end - now) + extra)

    def _scan_until(self, until: datetime) -> None:
        """Run the deadline job each time the clock passes an open deadline before `until`."""
        while True:
            with unit_of_work(self.factory) as session:
                due = session.scalar(select(func.min(Deadline.due_at)).where(
                    Deadline.status == DeadlineStatus.OPEN.value, Deadline.due_at < until))
            if due is None:
                return
            due = due if due.tzinfo else due.replace(tzinfo=self.start.tzinfo)
            when = max(self.clock.now(), min(due + SCAN_LAG, until))
            self.clock.set(when)
            with unit_of_work(self.factory) as session:
                self._guard(session)
                service.scan_deadlines(session=session, clock=self.clock)
            if when >= until:
                return

    def _guard(self, session: Session) -> None:
        """Refuse to let the virtual clock breach deadlines of real (non-exercise) requests."""
        foreign = session.scalar(
            select(func.count()).select_from(Deadline)
            .join(Request, Request.id == Deadline.request_id)
            .join(User, User.id == Request.created_by)
            .where(Deadline.status == DeadlineStatus.OPEN.value,
                   Deadline.due_at < self.clock.now(),
                   ~User.username.startswith(USER_PREFIX, autoescape=True)))
        if foreign:
            raise ExerciseError(
                f"the virtual clock ({self.clock.now().isoformat()}) would breach {foreign} "
                "deadline(s) of real requests: run the exercise on a dedicated node or from an "
                "earlier --start")

    # -- one request --

    def _request(self, live: _Live, route: _Route) -> Generator[timedelta, None, None]:
        rng = self.rng
        rt, instrument = live.rt, live.instrument
        self._create(live)
        data_born = self._days() - (route.data_age() if route.data_age else 0.0)
        self._act(live, "issuing", Verb.SUBMIT)
        while True:  # validation, with returns to draft
            returned = False
            for stage in route.stages[Phase.VALIDATION]:
                yield self._work(stage)
                st, *_, reply = stage
                if st.incomplete and rng.random() < st.incomplete:
                    returned = True
                    self._act(live, "validating", Verb.RETURN_TO_DRAFT,
                              reason="Exercise: the file is incomplete; please complete it.")
                    yield timedelta(days=reply() if reply is not None else 1.0)
                    self._act(live, "issuing", Verb.SUBMIT)
                    break
            if not returned:
                break
        self._act(live, "validating", Verb.VALIDATE,
                  reason="Exercise: necessary and proportionate.")
        for stage in route.stages[Phase.PREPARATION]:
            yield self._work(stage)
        self._translate(live)
        self._act(live, "issuing", Verb.SEND)
        if route.transit is not None:
            yield timedelta(days=route.transit())
        self._act(live, "executing", Verb.ACKNOWLEDGE)
        self._act(live, "executing", Verb.BEGIN_REVIEW)
        refused = False
        for stage in route.stages[Phase.REVIEW][:1]:
            while True:
                yield self._work(stage)
                st, *_, reply = stage
                u = rng.random()
                if u < st.refusal:
                    grounds = [g.code for g in instrument.refusal_grounds]
                    self._act(live, "executing", Verb.REFUSE,
                              reason="Exercise: the executing authority refuses.",
                              ground=rng.choice(grounds) if grounds else None)
                    refused = True
                    break
                if u < st.refusal + st.incomplete:
                    yield from self._information(live, reply)
                    continue
                break
        if refused:
            live.outcome = State.REFUSED.value
        else:
            self._act(live, "executing", Verb.BEGIN_EXECUTION)
            lost = False
            for stage in route.stages[Phase.EXECUTION]:
                st, *_, reply = stage
                while True:
                    began = self._days()
                    yield self._work(stage)
                    if st.incomplete and rng.random() < st.incomplete:
                        yield from self._information(live, reply)
                        self._act(live, "executing", Verb.BEGIN_EXECUTION)
                        continue
                    break
                keep = route.retention.get(st.resource)
                if keep is not None and not rt.preserved and began - data_born > keep:
                    lost = True
            if lost and Verb.EXECUTE_PARTIALLY in instrument.verbs:
                self._act(live, "executing", Verb.EXECUTE_PARTIALLY,
                          reason="Exercise: part of the data was no longer retained.")
                live.outcome = State.PARTIALLY_EXECUTED.value
            else:
                self._act(live, "executing", Verb.EXECUTE, reason="Exercise: data produced.")
                live.outcome = State.EXECUTED.value
        yield timedelta(hours=1)
        self._act(live, "issuing", Verb.CLOSE, reason="Exercise: file closed.")
        live.ended_at = self.clock.now()

    def _information(self, live: _Live, reply: Sampler | None
                     ) -> Generator[timedelta, None, None]:
        self._act(live, "executing", Verb.REQUEST_INFORMATION,
                  reason="Exercise: please state the exact period and identifiers.")
        live.information_requests += 1
        yield timedelta(days=reply() if reply else 1.0)
        self._act(live, "issuing", Verb.PROVIDE_INFORMATION,
                  reason="Exercise: period and identifiers stated.")

    # -- the whole exercise --

    def run(self, cases: int) -> ExerciseReport:
        with unit_of_work(self.factory) as session:
            before = ledger_store.size(session=session)
        types = self.sc.request_types
        weights = [rt.rate_per_day for rt in types]
        total = sum(weights)
        if total <= 0:
            weights, total = [1.0] * len(types), float(len(types))
        queue: list[tuple[datetime, int, Generator[timedelta, None, None]]] = []
        at = self.start
        for seq in range(cases):
            index = self.rng.choices(range(len(types)), weights=weights)[0]
            rt = types[index]
            instrument = self.instruments[rt.instrument]
            live = _Live(rt=rt, instrument=instrument,
                         parties=_parties(rt, instrument, self.authorities, self.rng), who={},
                         emergency=(instrument.emergency is not None
                                    and self.rng.random() < rt.emergency_share))
            self.live.append(live)
            heapq.heappush(queue, (at, seq, self._request(live, self.routes[index])))
            at += timedelta(days=self.rng.expovariate(total))
        while queue:
            when, seq, process = heapq.heappop(queue)
            self._scan_until(when)
            self.clock.set(max(self.clock.now(), when))
            try:
                wait = next(process)
            except StopIteration:
                continue
            heapq.heappush(queue, (self.clock.now() + wait, seq, process))
        self._scan_until(self.clock.now())
        return self._report(before)

    def _report(self, before: int) -> ExerciseReport:
        outcomes: list[CaseOutcome] = []
        with unit_of_work(self.factory) as session:
            after = ledger_store.size(session=session)
            for live in self.live:
                request = session.get(Request, live.request_id)
                assert request is not None and live.drafted_at is not None
                events = session.scalar(select(func.count()).select_from(TimelineEvent).where(
                    TimelineEvent.request_id == live.request_id)) or 0
                rows = session.scalars(select(Deadline).where(
                    Deadline.request_id == live.request_id).order_by(Deadline.id)).all()
                outcomes.append(CaseOutcome(
                    reference=live.reference, request_type=live.rt.name,
                    instrument=live.instrument.code, emergency=live.emergency,
                    issuing_authority=live.parties.issuing.id,
                    executing_authority=live.parties.executing.id, outcome=live.outcome,
                    final_state=request.state, drafted_at=live.drafted_at,
                    ended_at=live.ended_at, timeline_events=int(events),
                    information_requests=live.information_requests,
                    deadlines=[DeadlineOutcome(d.kind, d.status, d.due_at, d.closed_at)
                               for d in rows]))
        audit_ok, message = True, ""
        try:
            with unit_of_work(self.factory) as session:
                size = ledger_service.audit(session=session)
            message = f"{size} leaves verified"
        except VerificationError as exc:
            audit_ok, message = False, exc.message
        return ExerciseReport(
            scenario=self.sc.name, seed=self.seed, start=self.start, end=self.clock.now(),
            cases=outcomes, ledger_before=before, ledger_after=after, audit_ok=audit_ok,
            audit_message=message, users=sorted(self.actors))


def run_exercise(*, scenario: Scenario, session_factory: SessionFactory, start: datetime,
                 cases: int, seed: int) -> ExerciseReport:
    """Drive `cases` simulated requests of `scenario` through the node's service layer from the
    virtual time `start` (seeded: the same draws, parties and timings for the same seed)."""
    if start.tzinfo is None:
        raise ExerciseError("the exercise start needs a time zone")
    if cases < 1:
        raise ExerciseError("an exercise needs at least one case")
    return _Exercise(scenario, session_factory, start, seed).run(cases)
