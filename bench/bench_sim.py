"""Benchmark of the pilot simulator: 100,000 simulated requests through the full workflow (real
`workflow.next_state`, catalogue deadlines, working-hour calendars), timed against a bare SimPy
M/M/c queue of the same size in the same run. Prints the events per second of each, the ratio
(target >= 0.3x) and the simulator's wall time (target < 60 s), then PASS or FAIL."""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Generator
from typing import Any

import simpy

from rogatory.sim import scenario
from rogatory.sim.model import Model, build_calendars

REQUESTS = 100_000
RATE = 100.0  # per day
HORIZON = REQUESTS / RATE

SCENARIO = f"""\
name: bench
seed: 1
replications: 1
horizon_days: {HORIZON}
warmup_days: 0
jurisdictions: [FR, DE]
resources:
  fr_judges: {{kind: validating_judges, jurisdiction: FR, count: 60}}
  fr_de_translators: {{kind: translators, jurisdiction: FR, language_pair: fr-de, count: 120}}
  de_prosecutors: {{kind: executing_prosecutors, jurisdiction: DE, count: 250}}
  de_providers: {{kind: provider_response_teams, jurisdiction: DE, count: 60,
                 retention_days: 180}}
request_types:
  - name: fr_de_eio
    instrument: eio
    from: FR
    to: DE
    rate_per_day: {RATE}
    emergency_share: 0.05
    data_age: {{dist: uniform, low: 5, high: 45}}
    transit: {{dist: triangular, low: 0.5, mode: 1, high: 4}}
    stages:
      - phase: validation
        resource: fr_judges
        service: {{dist: lognormal, mean: 2, sigma: 0.5}}
      - phase: preparation
        resource: fr_de_translators
        service: {{dist: gamma, shape: 4, mean: 4}}
      - phase: review
        resource: de_prosecutors
        service: {{dist: lognormal, mean: 4, sigma: 0.5}}
        refusal: 0.05
        incomplete: 0.10
        reply: {{dist: lognormal, mean: 10, sigma: 0.5}}
      - phase: execution
        resource: de_prosecutors
        service: {{dist: lognormal, mean: 4, sigma: 0.5}}
      - phase: execution
        resource: de_providers
        service: {{dist: exponential, mean: 2}}
"""


class CountingEnvironment(simpy.Environment):  # type: ignore[misc]
    """A SimPy environment that counts scheduled events (same overhead in both models)."""

    def __init__(self) -> None:
        super().__init__()
        self.events = 0

    def schedule(self, event: Any, priority: Any = 1, delay: Any = 0) -> None:
        self.events += 1
        super().schedule(event, priority, delay)


def bare_mmc(n: int, servers: int, rate: float, mean_service: float) -> tuple[int, float]:
    """A bare SimPy M/M/c queue with `n` customers: (events, seconds)."""
    env = CountingEnvironment()
    rng = random.Random(1)
    station = simpy.Resource(env, capacity=servers)

    def customer() -> Generator[Any, Any, None]:
        with station.request() as slot:
            yield slot
            yield env.timeout(rng.expovariate(1.0 / mean_service))

    def source() -> Generator[Any, Any, None]:
        for _ in range(n):
            yield env.timeout(rng.expovariate(rate))
            env.process(customer())

    start = time.perf_counter()
    env.process(source())
    env.run()
    return env.events, time.perf_counter() - start


def main() -> int:
    sc = scenario.parse(SCENARIO)
    build_calendars(sc)  # set-up outside the timed run (cached per process)
    env = CountingEnvironment()
    model = Model(sc, 1, env=env)
    start = time.perf_counter()
    model.run()
    wall = time.perf_counter() - start
    done = sum(r.closed is not None for r in model.records)
    sim_rate = env.events / wall

    mmc_events, mmc_wall = bare_mmc(len(model.records), servers=250, rate=RATE,
                                    mean_service=1.0)
    mmc_rate = mmc_events / mmc_wall
    ratio = sim_rate / mmc_rate
    ok = ratio >= 0.3 and wall < 60.0
    print(f"simulator: {len(model.records):,} requests ({done:,} closed), {env.events:,} events "
          f"in {wall:.2f} s = {sim_rate:,.0f} events/s")
    print(f"bare M/M/c: {len(model.records):,} customers, {mmc_events:,} events "
          f"in {mmc_wall:.2f} s = {mmc_rate:,.0f} events/s")
    print(f"ratio {ratio:.2f}x (target >= 0.3x); wall {wall:.1f} s (target < 60 s): "
          f"{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
