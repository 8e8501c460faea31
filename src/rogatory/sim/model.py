"""The discrete-event model of the pilot simulator (SimPy): simulated requests walk the real
lifecycle and meet the real deadlines.

Every state change goes through `rogatory.requests.workflow.next_state` with a real `Verb` and the
instrument's permitted verbs; deadlines start and end on the instrument's `DeadlineRule`s and are
computed by `rogatory.requests.deadlines` (`due_at`, `extended_due_at`, `closing_status`) against a
`SimClock` whose time is the simulation's: nothing of the rules is copied here.

Time is in days since `Scenario.start` (UTC). A resource works only in its opening hours (local
time of its jurisdiction, holidays excepted): `Calendar` turns working hours into calendar time.
Requests arrive as Poisson processes until the horizon; the run then drains (up to a cap) so that
long requests are not censored. Requests drafted after the warm-up are recorded."""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right, insort_right
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import simpy
from simpy.resources.resource import SortedQueue

from rogatory.directory.info import JurisdictionInfo
from rogatory.directory.seed import load_jurisdictions
from rogatory.errors import InvalidTransition
from rogatory.instruments.catalogue import catalogue
from rogatory.instruments.schema import DeadlineRule, Instrument
from rogatory.requests import deadlines, workflow
from rogatory.requests.enums import DeadlineEffect, DeadlineStatus, Side, State, Verb
from rogatory.sim.scenario import (
    WEEKDAYS,
    Distribution,
    Exponential,
    Fixed,
    Gamma,
    Lognormal,
    Phase,
    RequestType,
    Resource,
    ResourceKind,
    Scenario,
    Stage,
    Triangular,
)

DAY = 86400.0
TRANSIT = "transit"
REPLIES = "replies to requests for information"

Sampler = Callable[[], float]


class SimulationError(RuntimeError):
    """A simulated request broke a workflow rule (plain args: SimPy re-raises by copying)."""


class SimClock:
    """The `Clock` protocol over simulation time: `env.now` days after a fixed UTC epoch."""

    def __init__(self, env: simpy.Environment, epoch: datetime) -> None:
        if epoch.tzinfo is None:
            raise ValueError("SimClock needs a timezone-aware epoch")
        self.env = env
        self.epoch = epoch.astimezone(UTC)

    def now(self) -> datetime:
        return self.epoch + timedelta(days=float(self.env.now))

    def days(self, when: datetime) -> float:
        """Simulation time (days) of an aware datetime."""
        return (when - self.epoch).total_seconds() / DAY


def sampler(d: Distribution, rng: random.Random, scale: float = 1.0) -> Sampler:
    """A function drawing from `d` (multiplied by `scale`) with `rng`."""
    if isinstance(d, Exponential):
        lam = 1.0 / (d.mean * scale)
        return lambda: rng.expovariate(lam)
    if isinstance(d, Lognormal):
        import math

        mu = math.log(d.mean * scale) - d.sigma**2 / 2
        sigma = d.sigma
        return lambda: rng.lognormvariate(mu, sigma)
    if isinstance(d, Gamma):
        shape, theta = d.shape, d.mean * scale / d.shape
        return lambda: rng.gammavariate(shape, theta)
    if isinstance(d, Triangular):
        lo, hi, mode = d.low * scale, d.high * scale, d.mode * scale
        return lambda: rng.triangular(lo, hi, mode)
    if isinstance(d, Fixed):
        value = d.value * scale
        return lambda: value
    lo, hi = d.low * scale, d.high * scale
    return lambda: rng.uniform(lo, hi)


class Calendar:
    """Opening intervals of a resource in simulation days, with the open time before each, so
    that 'when is `work` of open time done, starting at `t`' is two binary searches."""

    def __init__(self, res: Resource, timezone: str, epoch: datetime, until_days: float) -> None:
        zone = ZoneInfo(timezone)
        open_days = {WEEKDAYS.index(d) for d in res.hours.days}
        holidays = set(res.holidays)
        start_m, end_m = res.hours.start_minutes, res.hours.end_minutes
        day = epoch.astimezone(zone).date() - timedelta(days=1)
        last = day + timedelta(days=int(until_days) + 2)
        starts: list[float] = []
        ends: list[float] = []
        while day <= last:
            if day.weekday() in open_days and day not in holidays:
                s = self._instant(day, start_m, zone)
                e = self._instant(day, end_m, zone)
                s_days = (s - epoch).total_seconds() / DAY
                e_days = (e - epoch).total_seconds() / DAY
                if starts and s_days <= ends[-1]:
                    ends[-1] = max(ends[-1], e_days)  # 24/7: one long interval
                else:
                    starts.append(s_days)
                    ends.append(e_days)
            day += timedelta(days=1)
        self.starts = starts
        self.ends = ends
        cum = [0.0]
        for a, b in zip(starts, ends, strict=True):
            cum.append(cum[-1] + (b - a))
        self.cum_before = cum[:-1]
        self.cum_after = cum[1:]

    @staticmethod
    def _instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
        # aware arithmetic is wall-clock arithmetic: local opening hours survive DST changes
        return (datetime.combine(day, time(0), zone) + timedelta(minutes=minutes)).astimezone(UTC)

    def open_time(self, t: float) -> float:
        """Open time (days) elapsed from the calendar's start until `t`."""
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return 0.0
        return self.cum_before[i] + min(t - self.starts[i], self.ends[i] - self.starts[i])

    def next_open(self, t: float) -> float:
        i = bisect_right(self.starts, t) - 1
        if i >= 0 and t < self.ends[i]:
            return t
        if i + 1 < len(self.starts):
            return self.starts[i + 1]
        return t

    def finish(self, t: float, work: float) -> float:
        """When `work` days of open time started (or queued) at `t` are done."""
        target = self.open_time(t) + work
        j = bisect_left(self.cum_after, target)
        if j >= len(self.starts):  # past the calendar's end: count continuously
            return max(t, self.ends[-1] if self.ends else t) + (target - self.cum_after[-1])
        return self.starts[j] + (target - self.cum_before[j])


class _InsortQueue(SortedQueue):
    """SimPy's priority put-queue, kept sorted by inserting each request in place (O(log n) key
    look-ups) instead of re-sorting the whole queue on every request; same order, ties FIFO."""

    def append(self, item: Any) -> None:
        if self.maxlen is not None and len(self) >= self.maxlen:
            raise RuntimeError("Cannot append event. Queue is full.")
        insort_right(self, item, key=_request_key)


def _request_key(request: Any) -> Any:
    return request.key


class _PriorityResource(simpy.PriorityResource):
    PutQueue = _InsortQueue


class Pool:
    """A staffed resource during one replication: its SimPy queue, calendar and statistics."""

    def __init__(self, env: simpy.Environment, name: str, res: Resource, cal: Calendar,
                 priority: bool) -> None:
        self.name = name
        self.spec = res
        # emergencies go first; without any, a plain FIFO queue (cheaper) behaves the same
        self.queue = (_PriorityResource(env, capacity=res.count) if priority
                      else simpy.Resource(env, capacity=res.count))
        self.cal = cal
        self.work = 0.0  # open days worked, for work started inside the window
        self.waits: list[float] = []
        self.services: list[float] = []


def _ask(pool: Pool, priority: int) -> Any:
    if isinstance(pool.queue, simpy.PriorityResource):
        return pool.queue.request(priority=priority)
    return pool.queue.request()


@dataclass
class Compiled:
    """A stage ready to run: its pool and samplers."""

    spec: Stage
    pool: Pool
    service: Sampler  # open days of work
    delay: Sampler | None
    reply: Sampler | None


@dataclass
class Route:
    """A request type ready to run."""

    spec: RequestType
    instrument: Instrument
    permitted: frozenset[Verb]
    started_by: dict[Verb, list[DeadlineRule]]
    tz: dict[Side, str]
    extendable: bool
    stages: dict[Phase, list[Compiled]]
    transit: Sampler | None
    data_age: Sampler | None
    trial_lag: Sampler | None
    trial_service: Sampler | None
    trial_pool: Pool | None


@dataclass
class Record:
    """What happened to one simulated request."""

    request_type: str
    instrument: str
    emergency: bool
    drafted: float
    closed: float | None = None
    outcome: str = "open"
    evidence_lost: bool = False
    verdict: float | None = None
    delays: dict[str, float] = field(default_factory=dict)
    deadlines: list[tuple[str, str, bool]] = field(default_factory=list)  # kind, status, extended


@dataclass
class _OpenDeadline:
    rule: DeadlineRule
    due: datetime
    tz: str


class _Req:
    __slots__ = ("history", "open", "rec", "route", "state")

    def __init__(self, route: Route, rec: Record) -> None:
        self.route = route
        self.rec = rec
        self.state = State.DRAFT
        self.history: list[tuple[float, State]] = [(rec.drafted, State.DRAFT)]
        self.open: list[_OpenDeadline] = []


class Model:
    """One replication of a scenario."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        *,
        env: simpy.Environment | None = None,
        directory: dict[str, JurisdictionInfo] | None = None,
        calendars: dict[str, Calendar] | None = None,
    ) -> None:
        self.sc = scenario
        self.env = env if env is not None else simpy.Environment()
        self.rng = random.Random(seed)
        self.clock = SimClock(self.env, scenario.start)
        self.until = scenario.horizon_days * 3 + 730
        directory = directory if directory is not None else load_jurisdictions()
        self.calendars = calendars if calendars is not None else build_calendars(
            scenario, directory)
        urgent = {name for rt in scenario.request_types if rt.emergency_share > 0
                  for name in [st.resource for st in rt.stages] +
                  ([rt.trial.resource] if rt.trial else [])}
        self.pools = {
            name: Pool(self.env, name, res, self.calendars[name], name in urgent)
            for name, res in scenario.resources.items()
        }
        instruments = catalogue()
        self.routes = [self._route(rt, instruments[rt.instrument], directory)
                       for rt in scenario.request_types]
        self.records: list[Record] = []

    def _route(self, rt: RequestType, instrument: Instrument,
               directory: dict[str, JurisdictionInfo]) -> Route:
        hours = 1.0 / 24.0  # service distributions are in working hours; the clock is in days
        by_phase: dict[Phase, list[Compiled]] = {p: [] for p in Phase}
        for st in rt.stages:
            by_phase[st.phase].append(Compiled(
                spec=st,
                pool=self.pools[st.resource],
                service=sampler(st.service, self.rng, hours),
                delay=sampler(st.delay, self.rng) if st.delay else None,
                reply=sampler(st.reply, self.rng) if st.reply else None,
            ))
        started: dict[Verb, list[DeadlineRule]] = {}
        for verb in Verb:
            rules = deadlines.rules_started_by(instrument, verb)
            if rules:
                started[verb] = rules
        issuing = directory[rt.from_].timezone
        return Route(
            spec=rt,
            instrument=instrument,
            permitted=frozenset(instrument.verbs),
            started_by=started,
            tz={Side.ISSUING: issuing, Side.VALIDATING: issuing,
                Side.EXECUTING: directory[rt.to].timezone},
            extendable=any(r.extension is not None for r in instrument.deadlines),
            stages=by_phase,
            transit=sampler(rt.transit, self.rng) if rt.transit else None,
            data_age=sampler(rt.data_age, self.rng) if rt.data_age else None,
            trial_lag=sampler(rt.trial.lag, self.rng) if rt.trial else None,
            trial_service=sampler(rt.trial.service, self.rng, hours) if rt.trial else None,
            trial_pool=self.pools[rt.trial.resource] if rt.trial else None,
        )

    # ---- the lifecycle, through the real workflow and deadline rules --------------------------

    def _step(self, req: _Req, verb: Verb) -> None:
        """Apply `verb` through the workflow; close and open deadlines as the rules say."""
        try:
            req.state = workflow.next_state(req.state, verb, req.route.permitted)
        except InvalidTransition as exc:
            raise SimulationError(f"{req.route.spec.name}: {exc.message}") from exc
        if req.route.extendable:  # the state history is needed to judge extensions only
            req.history.append((self.env.now, req.state))
        rules = req.route.started_by.get(verb)
        if not req.open and not rules:
            return
        now = self.clock.now()
        if req.open:
            still: list[_OpenDeadline] = []
            for od in req.open:
                if verb in od.rule.met_by:
                    self._settle(req, od, now)
                else:
                    still.append(od)
            req.open = still
        if rules:
            for rule in rules:
                tz = req.route.tz[rule.holder]
                due = deadlines.due_at(rule, now, emergency=req.rec.emergency, timezone=tz)
                req.open.append(_OpenDeadline(rule, due, tz))

    def _state_at(self, req: _Req, t: float) -> State:
        state = req.history[0][1]
        for when, st in req.history:
            if when > t:
                break
            state = st
        return state

    def _settle(self, req: _Req, od: _OpenDeadline, now: datetime) -> None:
        status = deadlines.closing_status(od.rule, od.due, now)
        extended = False
        if status is DeadlineStatus.BREACHED and od.rule.extension is not None:
            # the holder extends before the due time if the workflow lets it in that state
            state = self._state_at(req, self.clock.days(od.due))
            try:
                workflow.next_state(state, Verb.EXTEND_DEADLINE, req.route.permitted)
            except InvalidTransition:
                pass
            else:
                extended = True
                due = deadlines.extended_due_at(od.rule, od.due, od.tz)
                status = deadlines.closing_status(od.rule, due, now)
        req.rec.deadlines.append((od.rule.kind, status.value, extended))

    def _serve(self, req: _Req, stage: Compiled, priority: int) -> Generator[Any, Any, float]:
        """Queue for the stage's pool, work in its hours, then any calendar delay. Returns the
        time the work started."""
        pool = stage.pool
        env = self.env
        entered = env.now
        with _ask(pool, priority) as slot:
            yield slot
            begin = pool.cal.next_open(env.now)
            work = stage.service()
            end = pool.cal.finish(begin, work)
            yield env.timeout(max(0.0, end - env.now))
        wait, service = begin - entered, end - begin
        if req.rec.drafted >= self.sc.warmup_days:
            pool.waits.append(wait)
            pool.services.append(service)
        if self.sc.warmup_days <= begin < self.sc.horizon_days:
            pool.work += work
        d = req.rec.delays
        d[pool.name] = d.get(pool.name, 0.0) + wait + service
        if stage.delay is not None:
            extra = stage.delay()
            d[pool.name] += extra
            yield env.timeout(extra)
        return begin

    def _reply(self, req: _Req, stage: Compiled) -> Generator[Any, Any, None]:
        assert stage.reply is not None
        t = stage.reply()
        req.rec.delays[REPLIES] = req.rec.delays.get(REPLIES, 0.0) + t
        yield self.env.timeout(t)

    def request(self, route: Route, emergency: bool) -> Generator[Any, Any, None]:
        env, rng, step = self.env, self.rng, self._step
        rec = Record(route.spec.name, route.instrument.code, emergency, env.now)
        self.records.append(rec)
        req = _Req(route, rec)
        prio = 0 if emergency else 1
        data_born = env.now - (route.data_age() if route.data_age else 0.0)
        step(req, Verb.SUBMIT)
        validation = route.stages[Phase.VALIDATION]
        while validation:
            again = False
            for st in validation:
                yield from self._serve(req, st, prio)
                if st.spec.incomplete and rng.random() < st.spec.incomplete:
                    step(req, Verb.RETURN_TO_DRAFT)
                    yield from self._reply(req, st)
                    step(req, Verb.SUBMIT)
                    again = True
                    break
            if not again:
                break
        step(req, Verb.VALIDATE)
        for st in route.stages[Phase.PREPARATION]:
            yield from self._serve(req, st, prio)
        step(req, Verb.SEND)
        if route.transit is not None:
            t = route.transit()
            rec.delays[TRANSIT] = t
            yield env.timeout(t)
        step(req, Verb.ACKNOWLEDGE)
        step(req, Verb.BEGIN_REVIEW)
        review = route.stages[Phase.REVIEW][0]
        refused = False
        while True:
            yield from self._serve(req, review, prio)
            u = rng.random()
            if u < review.spec.refusal:
                step(req, Verb.REFUSE)
                refused = True
                break
            if u < review.spec.refusal + review.spec.incomplete:
                step(req, Verb.REQUEST_INFORMATION)
                yield from self._reply(req, review)
                step(req, Verb.PROVIDE_INFORMATION)
                continue
            break
        if not refused:
            step(req, Verb.BEGIN_EXECUTION)
            lost = False
            for st in route.stages[Phase.EXECUTION]:
                begin = env.now
                while True:
                    begin = yield from self._serve(req, st, prio)
                    if st.spec.incomplete and rng.random() < st.spec.incomplete:
                        step(req, Verb.REQUEST_INFORMATION)
                        yield from self._reply(req, st)
                        step(req, Verb.PROVIDE_INFORMATION)
                        step(req, Verb.BEGIN_EXECUTION)
                        continue
                    break
                keep = st.pool.spec.retention_days
                if keep is not None and not route.spec.preserved and begin - data_born > keep:
                    lost = True
            rec.evidence_lost = lost
            if lost and Verb.EXECUTE_PARTIALLY in route.permitted:
                step(req, Verb.EXECUTE_PARTIALLY)
            else:
                step(req, Verb.EXECUTE)
        rec.outcome = req.state.value
        step(req, Verb.CLOSE)
        rec.closed = env.now
        now = self.clock.now()
        for od in req.open:  # never met: breached if its time has passed
            if od.rule.effect is DeadlineEffect.RESPOND_BY and now > od.due:
                rec.deadlines.append((od.rule.kind, DeadlineStatus.BREACHED.value, False))
        req.open = []
        if (not refused and route.spec.trial is not None and route.trial_pool is not None
                and route.trial_lag is not None and route.trial_service is not None
                and rng.random() < route.spec.trial.share):
            yield env.timeout(route.trial_lag())
            pool = route.trial_pool
            queued = begin = env.now
            with _ask(pool, prio) as slot:
                yield slot
                begin = pool.cal.next_open(env.now)
                work = route.trial_service()
                end = pool.cal.finish(begin, work)
                yield env.timeout(max(0.0, end - env.now))
            if rec.drafted >= self.sc.warmup_days:
                pool.waits.append(begin - queued)
                pool.services.append(end - begin)
            if self.sc.warmup_days <= begin < self.sc.horizon_days:
                pool.work += work
            rec.verdict = env.now - rec.drafted

    def _arrivals(self, route: Route) -> Generator[Any, Any, None]:
        rate = route.spec.rate_per_day
        if rate <= 0:
            return
        share = route.spec.emergency_share
        rng, env, horizon = self.rng, self.env, self.sc.horizon_days
        while True:
            yield env.timeout(rng.expovariate(rate))
            if env.now >= horizon:
                return
            env.process(self.request(route, rng.random() < share))

    def run(self) -> None:
        for route in self.routes:
            self.env.process(self._arrivals(route))
        self.env.run(until=self.until)


def build_calendars(scenario: Scenario,
                    directory: dict[str, JurisdictionInfo] | None = None) -> dict[str, Calendar]:
    """The opening calendars of every resource, in its jurisdiction's time zone."""
    directory = directory if directory is not None else load_jurisdictions()
    until = scenario.horizon_days * 3 + 730
    out: dict[str, Calendar] = {}
    for name, res in scenario.resources.items():
        tz = directory[res.jurisdiction].timezone
        key = (res.model_dump_json(), tz, scenario.start.isoformat(), until)
        cal = _CALENDARS.get(key)
        if cal is None:
            cal = _CALENDARS[key] = Calendar(res, tz, scenario.start, until)
        out[name] = cal
    return out


_CALENDARS: dict[tuple[str, str, str, float], Calendar] = {}
"""Calendars are pure functions of their inputs: built once per process."""


def resource_kinds() -> list[str]:
    return [k.value for k in ResourceKind]
