"""Benchmark of `GET /api/v1/requests/{id}` over loopback HTTP with `wrk`.

Targets, at 64 connections (`wrk -t2 -c64 -d10s --latency`):
1. throughput at least 50% of a bare FastAPI endpoint measured in the same run;
2. p99 latency under 50 ms.

The node is the demo (`rogatory init --demo` in a temporary data directory, SQLite) served by
`rogatory serve` as a subprocess; the reader is `camille.martin` with the demo token, on the
first request that `GET /api/v1/requests` lists for her.

Baseline, in the same run: a bare FastAPI app (a module written to the temporary directory, one
synchronous GET route on the same path returning a constant JSON body of about the same size,
no middleware, no database) served by uvicorn with the options `rogatory serve` uses (one
worker, log level warning, Python's asyncio event loop (`rogatory.cli.EVENT_LOOP`), the default
HTTP implementation), on another loopback port.

The two servers are measured in alternating rounds (`--rounds`, 3 by default: bare then node,
node then bare, bare then node), each run `--duration` seconds; the verdicts use the median
ratio and the median p99, so that a change of the machine's speed during the run (it shares a
host) weighs on both sides alike. Each round's figures are printed.

Both servers are stopped at the end, also on error. `wrk` must be installed (Debian: `apt-get
install wrk`); without it the script says so and exits 2.

Run: `.venv/bin/python bench/bench_http.py [--duration S] [--rounds N] [--connections C]
[--threads T] [--show-wrk]`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rogatory.cli import EVENT_LOOP
from rogatory.config import DEFAULT_SECRET
from rogatory.identity.service import demo_token

THROUGHPUT_TARGET = 0.5  # of the bare endpoint's requests/s
P99_TARGET_MS = 50.0
DEMO_USER = "camille.martin"
HOST = "127.0.0.1"

BARE_APP = '''"""A bare FastAPI app: the framework floor for one JSON GET."""
import json
import os

from fastapi import FastAPI

app = FastAPI()
BODY = json.loads(os.environ["BENCH_BARE_BODY"])


@app.get("/api/v1/requests/{request_id}")
def get_request(request_id: str) -> dict:
    return {**BODY, "id": request_id}
'''


@dataclass(frozen=True)
class WrkResult:
    requests: int
    requests_per_second: float
    p99_ms: float
    non_2xx: int
    socket_errors: dict[str, int]
    output: str

    @property
    def problems(self) -> list[str]:
        """Why the figures do not describe successful responses (wrk leaves timed-out
        requests out of its latency distribution, so a p99 with timeouts is not a p99)."""
        found = [f"{n:,} socket {kind} errors" for kind, n in self.socket_errors.items() if n]
        if self.non_2xx:
            found.append(f"{self.non_2xx:,} non-2xx responses")
        if self.requests == 0:
            found.append("no response completed")
        return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def http_get(url: str, token: str | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            status: int = response.status
            body: bytes = response.read()
            return status, body
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Server:
    """A server subprocess with its log; `stop` ends it (terminate, then kill)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], cwd: Path,
                 log: Path) -> None:
        self.name, self.log = name, log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(command, env=env, cwd=cwd, stdout=self._log_file,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait_ready(self, url: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n"
                                   f"{self.tail()}")
            try:
                status, _ = http_get(url, timeout=1.0)
                if status < 500:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 20) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def errors(self) -> list[str]:
        """The exception lines of the log (`SomeError: message`)."""
        pattern = re.compile(r"^[\w.]+(Error|Exception): ")
        lines = self.log.read_text(errors="replace").splitlines()
        return [line[:200] for line in lines if pattern.match(line)]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if not self._log_file.closed:
            self._log_file.close()


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str) -> WrkResult:
    """Requests/s, the 99% latency (ms) and errors from `wrk --latency` output."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    count = re.search(r"^\s*(\d+) requests in ", output, re.MULTILINE)
    if rps is None or count is None:
        raise RuntimeError(f"cannot parse wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        requests=int(count.group(1)),
        requests_per_second=float(rps.group(1)),
        p99_ms=float(p99.group(1)) * _UNITS_MS[p99.group(2)] if p99 else float("nan"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=dict(zip(("connect", "read", "write", "timeout"),
                               (int(g) for g in errors.groups()), strict=True))
        if errors else {},
        output=output,
    )


def run_wrk(wrk: str, url: str, token: str, *, threads: int, connections: int,
            duration: int) -> WrkResult:
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
               "-H", f"Authorization: Bearer {token}", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60,
                          check=True)
    return parse_wrk(done.stdout)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any ROGATORY_* setting of the caller, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROGATORY_")}
    env.update(extra)
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of one run on each server, alternating which goes first "
                             "(3)")
    parser.add_argument("--connections", type=int, default=64, help="wrk -c (64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t (2)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="seconds of untimed wrk load on each server first (2; 0: none)")
    parser.add_argument("--show-wrk", action="store_true", help="print wrk's own output too")
    args = parser.parse_args()

    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed. Install it, e.g. on Debian/Ubuntu:\n"
              "  apt-get update && apt-get install -y wrk\n"
              "(or run `make bench`, which installs it when absent)", file=sys.stderr)
        return 2

    bin_dir = Path(sys.executable).parent
    rogatory = bin_dir / "rogatory"
    work = Path(tempfile.mkdtemp(prefix="bench-http-"))
    token = demo_token(DEFAULT_SECRET, DEMO_USER)
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work, True)
        node_env = clean_env(ROGATORY_DATA_DIR=str(work / "node"), ROGATORY_DEMO="true",
                             ROGATORY_HOST=HOST)
        subprocess.run([str(rogatory), "init", "--demo"], env=node_env, cwd=work, check=True,
                       stdout=subprocess.DEVNULL, timeout=300)

        node_port, bare_port = free_port(), free_port()
        node = Server("rogatory serve", [str(rogatory), "serve"],
                      {**node_env, "ROGATORY_PORT": str(node_port)}, work, work / "node.log")
        stack.callback(node.stop)
        node_base = f"http://{HOST}:{node_port}"
        node.wait_ready(f"{node_base}/healthz")

        status, body = http_get(f"{node_base}/api/v1/requests", token)
        if status != 200:
            raise RuntimeError(f"GET /api/v1/requests: {status} {body[:300]!r}")
        items: list[dict[str, Any]] = json.loads(body)["items"]
        if not items:
            raise RuntimeError(f"{DEMO_USER} sees no request")
        request_id = str(items[0]["id"])
        node_url = f"{node_base}/api/v1/requests/{request_id}"
        status, body = http_get(node_url, token)
        if status != 200:
            raise RuntimeError(f"GET {node_url}: {status} {body[:300]!r}")
        real = json.loads(body)

        # the bare body: the same keys' worth of bytes, as one constant document
        size = len(body)
        filler = max(0, size - len(json.dumps({"id": request_id, "filler": ""})))
        bare_body = json.dumps({"filler": "x" * filler})
        (work / "bare_app.py").write_text(BARE_APP)
        bare = Server(
            "bare uvicorn",
            [sys.executable, "-m", "uvicorn", "bare_app:app", "--host", HOST, "--port",
             str(bare_port), "--workers", "1", "--log-level", "warning", "--loop", EVENT_LOOP],
            clean_env(BENCH_BARE_BODY=bare_body, PYTHONPATH=str(work)), work, work / "bare.log",
        )
        stack.callback(bare.stop)
        bare_url = f"http://{HOST}:{bare_port}/api/v1/requests/{request_id}"
        bare.wait_ready(bare_url)
        _, bare_sample = http_get(bare_url)

        options: dict[str, int] = {"threads": args.threads, "connections": args.connections}
        if args.warmup > 0:
            run_wrk(wrk, bare_url, token, duration=args.warmup, **options)
            run_wrk(wrk, node_url, token, duration=args.warmup, **options)
        # Rounds alternate which server goes first, so that a drift of the machine's speed
        # (other tenants of the host) weighs on both sides alike; the verdicts use the medians.
        rounds: list[tuple[WrkResult, WrkResult]] = []
        for n in range(args.rounds):
            order = [("bare", bare_url), ("rogatory", node_url)]
            if n % 2:
                order.reverse()
            done = {name: run_wrk(wrk, url, token, duration=args.duration, **options)
                    for name, url in order}
            rounds.append((done["rogatory"], done["bare"]))
        ratios = [got.requests_per_second / base.requests_per_second for got, base in rounds]
        ratio = statistics.median(ratios)
        p99 = statistics.median(got.p99_ms for got, _ in rounds)
        invalid = [(name, n, r) for n, (got, base) in enumerate(rounds, start=1)
                   for name, r in (("rogatory", got), ("bare", base)) if r.problems]
        valid = not invalid
        print(f"GET /api/v1/requests/{{id}} as {DEMO_USER} ({real['reference']}, "
              f"{len(body):,} bytes; bare body {len(bare_sample):,} bytes)")
        print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency, "
              f"loopback, one uvicorn worker each, {args.rounds} alternating rounds")
        for n, (got, base) in enumerate(rounds, start=1):
            print(f"  round {n}: rogatory {got.requests_per_second:8,.0f} requests/s "
                  f"p99 {got.p99_ms:8.2f} ms | bare {base.requests_per_second:8,.0f} "
                  f"requests/s p99 {base.p99_ms:7.2f} ms | ratio {ratios[n - 1]:.2f}")
        print(f"  median     ratio {ratio:.2f} (rogatory / bare), rogatory p99 {p99:.2f} ms")
        for name, n, result in invalid:
            print(f"  INVALID round {n} ({name}): {'; '.join(result.problems)} "
                  "- timed-out requests are not in wrk's latency figures")
        print(f"  throughput target >= {THROUGHPUT_TARGET:.0%} of bare: "
              f"{verdict(valid and ratio >= THROUGHPUT_TARGET)}")
        print(f"  p99 target < {P99_TARGET_MS:g} ms at {args.connections} connections: "
              f"{verdict(valid and p99 < P99_TARGET_MS)}")
        # wrk is a closed loop: each connection waits for its answer before asking again, so
        # the mean latency is connections / throughput (Little's law) whatever the server does
        floor = {name: 1000 * args.connections / statistics.median(
            r[i].requests_per_second for r in rounds) for i, name in enumerate(("rogatory",
                                                                               "bare"))}
        print(f"  closed-loop mean latency (connections / throughput): rogatory "
              f"{floor['rogatory']:.0f} ms, bare {floor['bare']:.0f} ms; a p99 under "
              f"{P99_TARGET_MS:g} ms needs more than "
              f"{1000 * args.connections / P99_TARGET_MS:,.0f} requests/s")
        # stop now (the exit stack would too) so that the logs are complete, then say what
        # the servers logged as errors: a failed run usually names its cause there
        node.stop()
        bare.stop()
        for server in (node, bare):
            errors = server.errors()
            if errors:
                print(f"  {server.name} logged {len(errors):,} error(s); last: {errors[-1]}")
        if args.show_wrk:
            for n, (got, base) in enumerate(rounds, start=1):
                for name, result in (("rogatory", got), ("bare", base)):
                    print(f"\n--- wrk output, round {n}, {name}:\n{result.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
