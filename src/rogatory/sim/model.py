"""The discrete-event model of the pilot simulator (SimPy): simulated requests walk the real
lifecycle and meet the real deadlines.

Every state change goes through `rogatory.requests.workflow.next_state` with a real `Verb` and the
instrument's permitted verbs; deadlines start and end on the instrument's `DeadlineRule`s and are
computed by `rogatory.requests.deadlines` (`due_at`, `extended_due_at`, `closing_status`) against a
`SimClock` whose time is the simulation's: nothing of the rules is copied here. Two of these pure
functions are memoised because every request asks them the same questions: `next_state` per
(state, verb), and `due_at` of a rule counted in days per local day of its start.

Speed (bench/bench_sim.py): `Staff` grants people with the order and the events of SimPy's
resources but without their generic queues; durations are drawn by numpy in batches, one stream
per distribution (`drawer`); and the cyclic garbage collector is paused during a run, which makes
no reference cycles (tests/sim/test_model_parts.py checks these).

Time is in days since `Scenario.start` (UTC). A resource works only in its opening hours (local
time of its jurisdiction, holidays excepted): `Calendar` turns working hours into calendar time.
Requests arrive as Poisson processes until the horizon; the run then drains (up to a cap) so that
long requests are not censored. Requests drafted after the warm-up are recorded."""

from __future__ import annotations

import gc
import math
import random
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from heapq import heappop, heappush
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import simpy

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


BATCH = 1024


def drawer(d: Distribution, gen: np.random.Generator, scale: float = 1.0) -> Sampler:
    """Like `sampler`, but from a numpy generator of its own, `BATCH` values at a time: one
    numpy call per batch instead of a Python-level draw (a loop, for the normal and the gamma)
    every time."""
    if isinstance(d, Fixed):
        value = d.value * scale
        return lambda: value
    draw: Callable[[], Any]
    if isinstance(d, Exponential):
        draw = partial(gen.exponential, d.mean * scale, BATCH)
    elif isinstance(d, Lognormal):
        mu = math.log(d.mean * scale) - d.sigma**2 / 2
        draw = partial(gen.lognormal, mu, d.sigma, BATCH)
    elif isinstance(d, Gamma):
        draw = partial(gen.gamma, d.shape, d.mean * scale / d.shape, BATCH)
    elif isinstance(d, Triangular):
        draw = partial(gen.triangular, d.low * scale, d.mode * scale, d.high * scale, BATCH)
    else:
        draw = partial(gen.uniform, d.low * scale, d.high * scale, BATCH)
    return batched(draw)


def batched(draw: Callable[[], Any]) -> Sampler:
    """One value at a time from the arrays `draw()` returns."""
    values: Iterator[float] = iter(())

    def sample() -> float:
        nonlocal values
        x = next(values, None)
        if x is None:
            values = iter(np.asarray(draw()).tolist())
            x = next(values)
        return x

    return sample


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

    def span(self, t: float, work: float) -> tuple[float, float]:
        """`(next_open(t), finish(next_open(t), work))` in one search, to the same bits: when
        `work` days of open time queued at `t` start and end."""
        starts = self.starts
        i = bisect_right(starts, t) - 1
        if i >= 0 and t < self.ends[i]:
            begin = t
            target = self.cum_before[i] + (t - starts[i]) + work
        elif i + 1 < len(starts):
            i += 1
            begin = starts[i]
            target = self.cum_before[i] + work
        else:
            return t, self.finish(t, work)
        cum_before, cum_after = self.cum_before, self.cum_after
        if target <= cum_before[i]:  # no work at all: as `finish` does
            return begin, self.finish(begin, work)
        if target <= cum_after[i]:  # done within the same opening
            return begin, starts[i] + (target - cum_before[i])
        j = bisect_left(cum_after, target, i + 1)  # every opening up to i ends below target
        if j >= len(starts):
            return begin, self.finish(begin, work)
        return begin, starts[j] + (target - cum_before[j])


class LocalDays:
    """The local midnights of a time zone in simulation days: which local day a time falls on,
    without building a datetime (to memoise day-based deadlines per local day)."""

    GUARD = 1e-8  # days (under a millisecond): closer to a midnight, give no answer

    def __init__(self, timezone: str, epoch: datetime, until_days: float) -> None:
        zone = ZoneInfo(timezone)
        day = epoch.astimezone(zone).date() - timedelta(days=1)
        last = day + timedelta(days=int(until_days) + 3)
        midnights: list[float] = []
        while day <= last:
            # a midnight skipped by a DST change resolves to the first instant of the day
            first = datetime.combine(day, time(0), zone).astimezone(UTC)
            midnights.append((first - epoch).total_seconds() / DAY)
            day += timedelta(days=1)
        self.midnights = midnights

    def day(self, t: float) -> tuple[float, float] | None:
        """The local day holding `t`, as (start, end) in simulation days narrowed by `GUARD` on
        both sides (the clock rounds to microseconds); None when `t` is not inside those bounds
        (close to a midnight, or outside the table)."""
        m = self.midnights
        i = bisect_right(m, t) - 1
        if i < 0 or i + 1 >= len(m):
            return None
        start, end = m[i] + self.GUARD, m[i + 1] - self.GUARD
        return (start, end) if start <= t < end else None


class Staff:
    """`count` people serving SimPy processes one request each, in the order of
    `simpy.PriorityResource` (lower priority first, first come first served among equals; one
    priority for all is `simpy.Resource`'s order) and with its two events per use: `request()`
    succeeds when a person is granted; `release()` frees them and, when processed, hands them to
    the head of the queue. SimPy's resources reach the same through generic put and get queues
    re-scanned on every event; this keeps only what the model uses (no preemption, no
    cancelling)."""

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.busy = 0
        self.queue: list[tuple[int, int, simpy.Event]] = []  # heap: (priority, arrival, event)
        self._arrival = count()

    def request(self, priority: int = 0) -> simpy.Event:
        if not self.queue and self.busy < self.capacity:
            self.busy += 1
            return self.env.timeout(0)  # granted at once: an event that fires now
        event = simpy.Event(self.env)
        heappush(self.queue, (priority, next(self._arrival), event))
        if self.busy < self.capacity:  # freed by a release not yet processed
            self.busy += 1
            heappop(self.queue)[2].succeed()
        return event

    def release(self) -> simpy.Event:
        self.busy -= 1
        event = self.env.timeout(0)  # fires now, then hands the person over
        event.callbacks.append(self._hand_over)
        return event

    def _hand_over(self, _: simpy.Event) -> None:
        if self.queue and self.busy < self.capacity:
            self.busy += 1
            heappop(self.queue)[2].succeed()


class Pool:
    """A staffed resource during one replication: its SimPy queue, calendar and statistics."""

    def __init__(self, env: simpy.Environment, name: str, res: Resource, cal: Calendar) -> None:
        self.name = name
        self.spec = res
        self.staff = Staff(env, res.count)  # emergencies (priority 0) go first
        self.cal = cal
        self.work = 0.0  # open days worked, for work started inside the window
        self.waits = array("d")  # of requests drafted after the warm-up
        self.services = array("d")


@dataclass
class Compiled:
    """A stage ready to run: its pool and samplers."""

    spec: Stage
    pool: Pool
    service: Sampler  # open days of work
    delay: Sampler | None
    reply: Sampler | None

    def __post_init__(self) -> None:  # the pool's methods, looked up once
        self.request = self.pool.staff.request
        self.release = self.pool.staff.release
        self.span = self.pool.cal.span


@dataclass
class _Start:
    """A deadline rule a verb starts, ready to run. When every period of the rule is in whole
    days, `last` keeps the last `deadlines.due_at` answer (per emergency) with the local day it
    holds for: the function is pure, such a period depends only on the local day it starts (Reg.
    1182/71 Art. 3; `tests/sim` checks this against `due_at` itself), and simulation time only
    moves forward, so most requests reuse the answer of the one before."""

    rule: DeadlineRule
    tz: str
    met_by: frozenset[Verb]
    days: LocalDays | None
    extendable: bool
    last: list[tuple[float, float, datetime] | None] = field(
        default_factory=lambda: [None, None])  # [normal, emergency]: (day start, end, due)
    outcome: dict[DeadlineStatus, tuple[str, str, bool]] = field(init=False)  # for a Record

    def __post_init__(self) -> None:  # one shared tuple per status instead of one per request
        self.outcome = {s: (self.rule.kind, s.value, False) for s in DeadlineStatus}


@dataclass
class Route:
    """A request type ready to run."""

    spec: RequestType
    instrument: Instrument
    gap: Sampler  # days between arrivals (Poisson)
    permitted: frozenset[Verb]
    started_by: dict[Verb, list[_Start]]
    meets: frozenset[Verb]  # every verb that meets some deadline of the instrument
    timed: frozenset[Verb]  # every verb that starts or meets one
    tz: dict[Side, str]
    stages: dict[Phase, list[Compiled]]
    transit: Sampler | None
    data_age: Sampler | None
    trial_lag: Sampler | None
    trial_service: Sampler | None
    trial_pool: Pool | None
    # `workflow.next_state` answers, memoised per (state, verb): a pure function of both
    moves: dict[tuple[State, Verb], State] = field(default_factory=dict)


@dataclass(slots=True)
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


class _Req:
    __slots__ = ("history", "open", "rec", "recorded", "route", "state", "tracking")

    def __init__(self, route: Route, rec: Record, recorded: bool) -> None:
        self.route = route
        self.rec = rec
        self.recorded = recorded  # drafted after the warm-up: its waits count
        self.state = State.DRAFT
        # the states since the oldest open deadline that may be extended (the only ones asked)
        self.history: list[tuple[float, State]] = []
        self.tracking = 0  # how many such deadlines are open
        self.open: list[tuple[_Start, datetime]] = []  # open deadlines, with their due times


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
        self.rng = random.Random(seed)  # arrivals and the coin flips (incomplete, refused...)
        self._streams = np.random.SeedSequence(seed)  # and one stream per distribution
        self.clock = SimClock(self.env, scenario.start)
        self.until = scenario.horizon_days * 3 + 730
        self.warmup = scenario.warmup_days
        self.horizon = scenario.horizon_days
        directory = directory if directory is not None else load_jurisdictions()
        self.calendars = calendars if calendars is not None else build_calendars(
            scenario, directory)
        self.pools = {
            name: Pool(self.env, name, res, self.calendars[name])
            for name, res in scenario.resources.items()
        }
        self._days: dict[str, LocalDays] = {}
        instruments = catalogue()
        self.routes = [self._route(rt, instruments[rt.instrument], directory)
                       for rt in scenario.request_types]
        self.records: list[Record] = []

    def _local_days(self, timezone: str) -> LocalDays:
        days = self._days.get(timezone)
        if days is None:
            days = self._days[timezone] = LocalDays(timezone, self.sc.start, self.until)
        return days

    def _generator(self) -> np.random.Generator:
        return np.random.default_rng(self._streams.spawn(1)[0])

    def _drawer(self, d: Distribution, scale: float = 1.0) -> Sampler:
        return drawer(d, self._generator(), scale)

    def _route(self, rt: RequestType, instrument: Instrument,
               directory: dict[str, JurisdictionInfo]) -> Route:
        hours = 1.0 / 24.0  # service distributions are in working hours; the clock is in days
        by_phase: dict[Phase, list[Compiled]] = {p: [] for p in Phase}
        for st in rt.stages:
            by_phase[st.phase].append(Compiled(
                spec=st,
                pool=self.pools[st.resource],
                service=self._drawer(st.service, hours),
                delay=self._drawer(st.delay) if st.delay else None,
                reply=self._drawer(st.reply) if st.reply else None,
            ))
        issuing = directory[rt.from_].timezone
        tz = {Side.ISSUING: issuing, Side.VALIDATING: issuing,
              Side.EXECUTING: directory[rt.to].timezone}
        started: dict[Verb, list[_Start]] = {}
        for verb in Verb:
            rules = deadlines.rules_started_by(instrument, verb)
            if rules:
                started[verb] = [
                    _Start(rule, tz[rule.holder], frozenset(rule.met_by),
                           self._local_days(tz[rule.holder]) if _in_days(rule) else None,
                           rule.extension is not None)
                    for rule in rules]
        return Route(
            spec=rt,
            instrument=instrument,
            gap=batched(partial(self._generator().exponential,
                                1.0 / rt.rate_per_day if rt.rate_per_day > 0 else 1.0, BATCH)),
            permitted=frozenset(instrument.verbs),
            started_by=started,
            meets=frozenset(v for r in instrument.deadlines for v in r.met_by),
            timed=frozenset(v for r in instrument.deadlines for v in [r.starts_on, *r.met_by]),
            tz=tz,
            stages=by_phase,
            transit=self._drawer(rt.transit) if rt.transit else None,
            data_age=self._drawer(rt.data_age) if rt.data_age else None,
            trial_lag=self._drawer(rt.trial.lag) if rt.trial else None,
            trial_service=self._drawer(rt.trial.service, hours) if rt.trial else None,
            trial_pool=self.pools[rt.trial.resource] if rt.trial else None,
        )

    # ---- the lifecycle, through the real workflow and deadline rules --------------------------

    def _move(self, route: Route, state: State, verb: Verb) -> State:
        try:
            new = workflow.next_state(state, verb, route.permitted)
        except InvalidTransition as exc:
            raise SimulationError(f"{route.spec.name}: {exc.message}") from exc
        route.moves[(state, verb)] = new
        return new

    def _step(self, req: _Req, verb: Verb) -> None:
        """Apply `verb` through the workflow; close and open deadlines as the rules say."""
        route = req.route
        state = route.moves.get((req.state, verb))
        if state is None:
            state = self._move(route, req.state, verb)
        req.state = state
        if req.tracking:
            req.history.append((self.env.now, state))
        if verb in route.timed:
            self._deadlines(req, verb)

    def _deadlines(self, req: _Req, verb: Verb) -> None:
        """Settle the open deadlines `verb` meets, then open those it starts."""
        route = req.route
        t = self.env.now
        if req.open and verb in route.meets:
            now = self.clock.now()
            still: list[tuple[_Start, datetime]] = []
            for start, due in req.open:
                if verb not in start.met_by:
                    still.append((start, due))
                    continue
                status = deadlines.closing_status(start.rule, due, now)
                if status is DeadlineStatus.BREACHED and start.extendable:
                    self._extend(req, start, due, now)
                else:
                    req.rec.deadlines.append(start.outcome[status])
                if start.extendable:
                    req.tracking -= 1
                    if not req.tracking:
                        req.history = []
            req.open = still
        starts = route.started_by.get(verb)
        if starts:
            emergency = req.rec.emergency
            for start in starts:
                last = start.last[emergency]
                if last is not None and last[0] <= t < last[1]:
                    req.open.append((start, last[2]))
                else:
                    req.open.append((start, self._due(start, emergency, t)))
                if start.extendable:  # keep the states from now on, to judge the extension
                    if not req.tracking:
                        req.history = [(t, req.state)]
                    req.tracking += 1

    def _due(self, start: _Start, emergency: bool, t: float) -> datetime:
        """`deadlines.due_at` of `start` at time `t`, kept for the rest of its local day."""
        due = deadlines.due_at(start.rule, self.clock.now(), emergency=emergency,
                               timezone=start.tz)
        day = start.days.day(t) if start.days is not None else None
        if day is not None:
            start.last[emergency] = (day[0], day[1], due)
        return due

    def _state_at(self, req: _Req, t: float) -> State:
        state = req.history[0][1]
        for when, st in req.history:
            if when > t:
                break
            state = st
        return state

    def _extend(self, req: _Req, start: _Start, due: datetime, now: datetime) -> None:
        """A deadline that may be extended was breached: the holder extends it before the due
        time if the workflow lets it in that state, and the extended one is judged instead."""
        rule = start.rule
        status = DeadlineStatus.BREACHED
        extended = False
        state = self._state_at(req, self.clock.days(due))
        try:
            workflow.next_state(state, Verb.EXTEND_DEADLINE, req.route.permitted)
        except InvalidTransition:
            pass
        else:
            extended = True
            status = deadlines.closing_status(
                rule, deadlines.extended_due_at(rule, due, start.tz), now)
        req.rec.deadlines.append((rule.kind, status.value, extended))

    def _serve(self, req: _Req, stage: Compiled, priority: int) -> Generator[Any, Any, float]:
        """Queue for the stage's pool, work in its hours, then any calendar delay. Returns the
        time the work started."""
        env = self.env
        entered = env.now
        yield stage.request(priority)
        now = env.now
        work = stage.service()
        begin, end = stage.span(now, work)
        left = end - now
        yield env.timeout(left if left > 0.0 else 0.0)
        stage.release()
        wait, service = begin - entered, end - begin
        pool = stage.pool
        if req.recorded:
            pool.waits.append(wait)
            pool.services.append(service)
        if self.warmup <= begin < self.horizon:
            pool.work += work
        d = req.rec.delays
        name = pool.name
        if stage.delay is None:
            d[name] = d.get(name, 0.0) + wait + service
        else:
            extra = stage.delay()
            d[name] = d.get(name, 0.0) + wait + service + extra
            yield env.timeout(extra)
        return begin

    def _reply(self, req: _Req, stage: Compiled) -> Generator[Any, Any, None]:
        assert stage.reply is not None
        t = stage.reply()
        req.rec.delays[REPLIES] = req.rec.delays.get(REPLIES, 0.0) + t
        yield self.env.timeout(t)

    def request(self, route: Route, emergency: bool) -> Generator[Any, Any, None]:
        env, rng, step, serve = self.env, self.rng, self._step, self._serve
        drafted = env.now
        rec = Record(route.spec.name, route.instrument.code, emergency, drafted)
        self.records.append(rec)
        req = _Req(route, rec, drafted >= self.warmup)
        prio = 0 if emergency else 1
        data_born = drafted - (route.data_age() if route.data_age else 0.0)
        step(req, Verb.SUBMIT)
        validation = route.stages[Phase.VALIDATION]
        while validation:
            again = False
            for st in validation:
                yield from serve(req, st, prio)
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
            yield from serve(req, st, prio)
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
            yield from serve(req, review, prio)
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
                    begin = yield from serve(req, st, prio)
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
        if req.open:
            now = self.clock.now()
            for start, due in req.open:  # never met: breached if its time has passed
                rule = start.rule
                if rule.effect is DeadlineEffect.RESPOND_BY and now > due:
                    rec.deadlines.append((rule.kind, DeadlineStatus.BREACHED.value, False))
            req.open = []
        if (not refused and route.spec.trial is not None and route.trial_pool is not None
                and route.trial_lag is not None and route.trial_service is not None
                and rng.random() < route.spec.trial.share):
            yield env.timeout(route.trial_lag())
            pool = route.trial_pool
            queued = env.now
            yield pool.staff.request(prio)
            granted = env.now
            work = route.trial_service()
            begin, end = pool.cal.span(granted, work)
            left = end - granted
            yield env.timeout(left if left > 0.0 else 0.0)
            pool.staff.release()
            if req.recorded:
                pool.waits.append(begin - queued)
                pool.services.append(end - begin)
            if self.warmup <= begin < self.horizon:
                pool.work += work
            rec.verdict = env.now - rec.drafted

    def _arrivals(self, route: Route) -> Generator[Any, Any, None]:
        rate = route.spec.rate_per_day
        if rate <= 0:
            return
        share = route.spec.emergency_share
        rng, env, horizon = self.rng, self.env, self.sc.horizon_days
        timeout, process, request, gap = env.timeout, env.process, self.request, route.gap
        while True:
            yield timeout(gap())
            if env.now >= horizon:
                return
            process(request(route, rng.random() < share))

    def run(self) -> None:
        for route in self.routes:
            self.env.process(self._arrivals(route))
        # The run makes no reference cycles (tests/sim checks it): reference counting frees
        # everything, and the cyclic collector would only rescan the growing records again and
        # again (a sixth of the run at 100,000 requests). It is paused for the run, then restored.
        paused = gc.isenabled()
        gc.disable()
        try:
            self.env.run(until=self.until)
        finally:
            if paused:
                gc.enable()


def _in_days(rule: DeadlineRule) -> bool:
    """Whether every period of `rule` is in whole days (then its due time is memoisable)."""
    return rule.duration.days is not None and (
        rule.emergency_duration is None or rule.emergency_duration.days is not None)


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
