"""Benchmark of authentication and the access policy.

Targets:
1. the policy check adds under 1 ms per request at p99: for one API call that is the bearer
   token lookup (`identity.authenticate_token`, one indexed query) plus the visibility rule on
   the request read (`policy.require_visible`), timed per call over N calls against the demo
   database on SQLite;
2. login with argon2id stays within the OWASP-recommended cost parameters (OWASP Password
   Storage Cheat Sheet: argon2id, m >= 19 MiB, t >= 2, p = 1): the parameters in use are printed
   and checked, and one login (argon2id verify + TOTP) is timed, side by side with the bare
   argon2id verify of the same hash as the baseline.

Run: `.venv/bin/python bench/bench_auth.py [--n N]`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pyotp
from sqlalchemy import select

from rogatory.bootstrap import ensure_node_key, migrate
from rogatory.clock import SystemClock
from rogatory.config import DEFAULT_SECRET, Settings
from rogatory.db import make_engine, make_session_factory, unit_of_work
from rogatory.demo import DEMO_PASSWORD, demo_totp_secret, load
from rogatory.directory import seed
from rogatory.directory import service as directory
from rogatory.identity import credentials
from rogatory.identity import service as identity
from rogatory.identity.models import User
from rogatory.identity.policy import require_visible
from rogatory.requests.models import Request
from rogatory.requests.service import parties_of

POLICY_P99_TARGET_MS = 1.0
OWASP = {"memory_kib": 19_456, "time_cost": 2, "parallelism": 1}
USER = "camille.martin"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="policy checks to time")
    parser.add_argument("--logins", type=int, default=20, help="logins to time")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    try:
        settings = Settings(data_dir=work, demo=True)
        engine = make_engine(settings)
        migrate(engine)
        ensure_node_key(settings)
        factory = make_session_factory(engine)
        clock = SystemClock()
        with unit_of_work(factory) as session:
            directory.seed(session=session, jurisdictions=seed.load_jurisdictions(),
                           authorities=seed.load_authorities())
            load(session=session, settings=settings, clock=clock)
        token = identity.demo_token(DEFAULT_SECRET, USER)

        with factory() as session:
            request = session.scalars(select(Request)).first()
            assert request is not None
            parties = parties_of(request)
            samples = []
            for _ in range(200):  # warm up
                require_visible(identity.authenticate_token(
                    session=session, token=token, now=clock.now()), parties, "request")
            for _ in range(args.n):
                begin = time.perf_counter()
                actor = identity.authenticate_token(session=session, token=token,
                                                    now=clock.now())
                require_visible(actor, parties, "request")
                samples.append((time.perf_counter() - begin) * 1000)
        p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
        ok = p99 < POLICY_P99_TARGET_MS
        print(f"policy check (token lookup + visibility), {args.n:,} calls, SQLite:")
        print(f"  p50 {p50:.3f} ms   p99 {p99:.3f} ms   target p99 < {POLICY_P99_TARGET_MS} ms: "
              f"{'PASS' if ok else 'FAIL'}")

        hasher = credentials.HASHER
        params = {"memory_kib": hasher.memory_cost, "time_cost": hasher.time_cost,
                  "parallelism": hasher.parallelism}
        within = (params["memory_kib"] >= OWASP["memory_kib"]
                  and params["time_cost"] >= OWASP["time_cost"]
                  and params["parallelism"] == OWASP["parallelism"])
        with factory() as session:
            user = session.scalar(select(User).where(User.username == USER))
            assert user is not None and user.password_hash is not None
            stored_hash = user.password_hash
        login_times, verify_times = [], []
        secret = demo_totp_secret(DEFAULT_SECRET, USER)
        for _ in range(args.logins):
            begin = time.perf_counter()
            hasher.verify(stored_hash, DEMO_PASSWORD)
            verify_times.append(time.perf_counter() - begin)
            with factory() as session:
                session.execute(  # each login needs a code not used yet
                    User.__table__.update().where(User.username == USER)
                    .values(totp_last_step=None))
                session.commit()
                code = pyotp.TOTP(secret).now()
                begin = time.perf_counter()
                credentials.login(session=session, username=USER, password=DEMO_PASSWORD,
                                  code=code, node_secret=DEFAULT_SECRET, clock=clock)
                login_times.append(time.perf_counter() - begin)
                session.rollback()
        print(f"argon2id parameters m={params['memory_kib']} KiB t={params['time_cost']} "
              f"p={params['parallelism']}; OWASP: m>={OWASP['memory_kib']} KiB "
              f"t>={OWASP['time_cost']} p={OWASP['parallelism']}: "
              f"{'PASS' if within else 'FAIL'}")
        login_ms = statistics.median(login_times) * 1000
        verify_ms = statistics.median(verify_times) * 1000
        print(f"  login (password + TOTP)  median {login_ms:7.1f} ms\n"
              f"  bare argon2id verify     median {verify_ms:7.1f} ms   "
              f"(ratio {login_ms / verify_ms:.2f})")
        engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
