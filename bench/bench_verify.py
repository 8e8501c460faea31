"""Benchmark of verifying an evidence package (`rogatory.evidence.verify.verify_package`).

Target (issue 3, "Performance"): `rogatory verify` of a package with 1 GiB of payload takes at
most 1.5x the time of `openssl dgst -sha256` over the same payload bytes.

The package is built by the real export (`rogatory.evidence.export.export_case`) on a throwaway
SQLite node in a temporary directory (set up as `bench_ingest.py` does: migrated, directory
seeded, a French prosecutor, one case): one item of `--size-mib` MiB of seeded pseudo-random
bytes is ingested with `service.ingest`, then the case is exported. The measured operation is
`verify_package(path)` — BagIt manifests (SHA-256 and BLAKE3 of every file, each file read
once), signed checkpoint, custody inclusion proofs, RFC 3161 tokens, CASE graph — and the report
must say intact.

Baseline, in the same run: `openssl dgst -sha256 data/<payload>` of the package. Each runs once
untimed to warm the page cache, then `--runs` timed rounds (default 3) run each in turn; prints
the median seconds, MB/s (10^6 bytes per second), the ratio, PASS or FAIL and a last line
`verdict: PASS` or `verdict: FAIL`. `--profile` adds a cProfile of one more verify. openssl is
required (exit 2 without it); otherwise the exit status is 0 whether or not the target is met
(read the verdict).

Run: `.venv/bin/python bench/bench_verify.py [--size-mib M] [--runs N] [--profile] [--keep DIR]`.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench_ingest import make_input, make_node, verdict
from rogatory.clock import SystemClock
from rogatory.evidence.export import export_case
from rogatory.evidence.verify import verify_package

TARGET = 1.5  # verify time at most this many times openssl dgst -sha256's


@dataclass
class Row:
    name: str
    what: str
    run: Callable[[], None]
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def run_openssl(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed (exit {done.returncode}): {done.stderr}")


def timed(row: Row) -> None:
    begin = time.perf_counter()
    row.run()
    row.times.append(time.perf_counter() - begin)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024,
                        help="size of the payload in MiB (default 1024)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one verify with cProfile and print the top")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args()

    openssl = shutil.which("openssl")
    if openssl is None:
        print("openssl is not installed; it is the baseline. Install it, e.g. on Debian/Ubuntu: "
              "apt-get install -y openssl")
        return 2

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-verify-"))
    work.mkdir(parents=True, exist_ok=True)
    dispose: Callable[[], None] = lambda: None  # noqa: E731
    try:
        source = work / "exhibit.bin"
        begin = time.perf_counter()
        expected = make_input(source, args.size_mib)
        node = make_node(work / "node")
        dispose = node.dispose
        reference = node.new_case()
        node.ingest(source, reference)
        source.unlink()
        package = work / "package"
        with node.factory() as session:
            export_case(session=session, actor=node.actor, case_reference=reference,
                        item_ids=None, out_dir=package, settings=node.settings,
                        clock=SystemClock())
        # the store's copy is not needed any more: free its pages and disk space
        node.store.path_for(expected).unlink()
        payload = [p for p in (package / "data").iterdir() if p.is_file()]
        assert len(payload) == 1, payload
        payload_file = payload[0]
        size = payload_file.stat().st_size
        total = sum(p.stat().st_size for p in package.rglob("*") if p.is_file())
        os.sync()
        print(f"package: {size:,} bytes of payload ({total - size:,} bytes of tag files), "
              f"built by export_case in {time.perf_counter() - begin:.1f} s (with the input "
              "and the ingest)")

        def verify() -> None:
            report = verify_package(package)
            if not report.intact:
                raise RuntimeError(f"the package does not verify:\n{report.text()}")

        rows = [
            Row("verify", "verify_package(path), report intact", verify),
            Row("sha256", "openssl dgst -sha256 PAYLOAD (baseline)",
                lambda: run_openssl([openssl, "dgst", "-sha256", str(payload_file)])),
        ]
        for row in rows:  # warm the page cache once, untimed
            timed(row)
            row.times.clear()
        for _ in range(args.runs):
            for row in rows:
                timed(row)

        print(f"verify of a package with {args.size_mib:,} MiB of payload; median of "
              f"{args.runs} runs after one warm-up each (page cache warm)")
        for row in rows:
            runs = ", ".join(f"{t:.2f}" for t in row.times)
            print(f"  {row.name:7} {row.median:7.2f} s  {size / row.median / 1e6:8.0f} MB/s"
                  f"   [{runs}]  {row.what}")
        ratio = rows[0].median / rows[1].median
        print(f"  verify / openssl sha256  {ratio:6.2f}   target <= {TARGET:g}: "
              f"{verdict(ratio <= TARGET)}")
        print(f"verdict: {verdict(ratio <= TARGET)}")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            verify()
            profiler.disable()
            print("\ncProfile of one verify (top 20 by cumulative time):")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(20)
        return 0
    finally:
        dispose()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
