"""The simulator's fast paths give the answers of the long way: `Staff` grants in the order, at
the times and with the events of SimPy's own resources; `Calendar.span` is `next_open` then
`finish`; due times memoised per local day are `deadlines.due_at`'s; and a run leaves no
reference cycles (so pausing the cyclic collector during it cannot leak)."""

from __future__ import annotations

import gc
import random
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import simpy

from rogatory.instruments.catalogue import catalogue
from rogatory.requests import deadlines
from rogatory.sim import model as sim_model
from rogatory.sim import scenario
from rogatory.sim.model import Calendar, LocalDays, Model, SimClock, Staff

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
EPOCH = datetime(2026, 1, 5, tzinfo=UTC)
ZONES = ["Europe/Berlin", "Europe/Paris", "America/New_York", "Asia/Kolkata", "UTC"]


class _Counting(simpy.Environment):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.events = 0

    def schedule(self, event: Any, priority: Any = 1, delay: Any = 0) -> None:
        self.events += 1
        super().schedule(event, priority, delay)


class _Now:
    """Just the time of an environment, to set at will."""

    now = 0.0


def _workload(seed: int, n: int) -> list[tuple[float, int, float]]:
    """(arrival, priority, hold) with ties in time and zero holds, to stress same-time order."""
    rng = random.Random(seed)
    t, out = 0.0, []
    for _ in range(n):
        t += rng.choice([0.0, 0.0, 0.25, rng.expovariate(2.0)])
        out.append((t, rng.choice([0, 1, 1, 1]), rng.choice([0.0, 0.5, rng.expovariate(0.7)])))
    return out


def _grants(use_staff: bool, work: list[tuple[float, int, float]],
            capacity: int) -> tuple[list[tuple[int, float]], int]:
    env = _Counting()
    staff = Staff(env, capacity)
    stock = simpy.PriorityResource(env, capacity=capacity)
    order: list[tuple[int, float]] = []

    def user(i: int, prio: int, hold: float) -> Generator[Any, Any, None]:
        if use_staff:
            yield staff.request(prio)
            order.append((i, env.now))
            yield env.timeout(hold)
            staff.release()
        else:
            with stock.request(priority=prio) as req:
                yield req
                order.append((i, env.now))
                yield env.timeout(hold)

    def source() -> Generator[Any, Any, None]:
        for i, (at, prio, hold) in enumerate(work):
            yield env.timeout(at - env.now)
            env.process(user(i, prio, hold))

    env.process(source())
    env.run()
    return order, env.events


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("capacity", [1, 3])
def test_staff_grants_like_simpy_priority_resource(seed: int, capacity: int) -> None:
    work = _workload(seed, 300)
    assert _grants(True, work, capacity) == _grants(False, work, capacity)


def test_calendar_span_is_next_open_then_finish() -> None:
    sc = scenario.load(SCENARIOS / "mla_baseline.yaml")
    rng = random.Random(5)
    for name, res in sc.resources.items():
        cal = Calendar(res, "Europe/Berlin" if res.jurisdiction == "DE" else "America/New_York",
                       sc.start, 60)
        points = [rng.uniform(-2, 70) for _ in range(400)] + cal.starts[:20] + cal.ends[:20]
        for t in points:
            for work in (0.0, 1e-9, rng.uniform(0, 0.4), rng.uniform(0, 5)):
                begin = cal.next_open(t)
                assert cal.span(t, work) == (begin, cal.finish(begin, work)), (name, t, work)


@pytest.mark.parametrize("zone", ZONES)
def test_local_days_agree_with_the_clock(zone: str) -> None:
    days = LocalDays(zone, EPOCH, 400)
    env = _Now()
    clock = SimClock(env, EPOCH)  # type: ignore[arg-type]
    local = ZoneInfo(zone)
    rng = random.Random(zone)
    # spread over the year (both DST changes) and close to local midnights
    points = [rng.uniform(0, 400) for _ in range(2000)]
    points += [m + d for m in days.midnights[1:-1] for d in (-2e-8, -5e-9, 0.0, 5e-9, 2e-8)]
    for t in points:
        env.now = t
        day = days.day(t)
        if day is None:
            continue
        start, end = day
        assert start <= t < end
        on = clock.now().astimezone(local).date()
        for edge in (start, end - 1e-12):
            env.now = edge
            assert clock.now().astimezone(local).date() == on, (zone, t, edge)


def test_day_periods_depend_only_on_the_local_day() -> None:
    """What the memo relies on, asked of `deadlines.due_at` itself for every day-based rule."""
    rng = random.Random(11)
    rules = [r for ins in catalogue().values() for r in ins.deadlines if sim_model._in_days(r)]
    assert rules
    for zone in ZONES:
        days = LocalDays(zone, EPOCH, 400)
        for _ in range(60):
            day = days.day(rng.uniform(0, 400))
            if day is None:
                continue
            times = [EPOCH + timedelta(days=day[0]), EPOCH + timedelta(days=day[1]),
                     EPOCH + timedelta(days=rng.uniform(*day))]
            for rule in rules:
                for emergency in (False, True):
                    dues = {deadlines.due_at(rule, when, emergency=emergency, timezone=zone)
                            for when in times}
                    assert len(dues) == 1, (rule.kind, zone, times)


@pytest.mark.parametrize(("name", "memoisable"),
                         [("eio.yaml", True), ("direct_requests.yaml", False)])  # EPOC: hours
def test_memoised_due_times_change_nothing(name: str, memoisable: bool,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    sc = scenario.load(SCENARIOS / name).model_copy(
        update={"horizon_days": 200.0, "warmup_days": 0.0})
    calls = [0]
    due_at = deadlines.due_at

    def counted(*args: Any, **kwargs: Any) -> datetime:
        calls[0] += 1
        return due_at(*args, **kwargs)

    monkeypatch.setattr(deadlines, "due_at", counted)
    fast = Model(sc, 3)
    fast.run()
    memoised, calls[0] = calls[0], 0
    monkeypatch.setattr(sim_model, "_in_days", lambda _rule: False)  # due_at on every start
    slow = Model(sc, 3)
    slow.run()
    assert fast.records == slow.records
    assert sum(len(r.deadlines) for r in fast.records) > 100
    assert (memoised < calls[0]) is memoisable


def test_a_run_leaves_no_reference_cycles() -> None:
    sc = scenario.load(SCENARIOS / "eio.yaml").model_copy(
        update={"horizon_days": 120.0, "warmup_days": 0.0})
    model = Model(sc, 1)
    gc.collect()
    model.run()
    assert gc.isenabled()
    assert model.records
    assert gc.collect() == 0
