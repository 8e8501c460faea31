"""Monte Carlo runs of a scenario: seeded replications spread over the cores, summarised with
95% confidence intervals across replications, and `compare` of two scenarios (a reform).

Reproducible: replication i draws from `SeedSequence([seed, i])`, results are gathered in
replication order and written with sorted keys and rounded numbers, so the same scenario and
seed give a byte-identical `summary.json`. Nothing time-of-day or machine-dependent is written."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rogatory.sim.model import REPLIES, TRANSIT, Model, Record
from rogatory.sim.scenario import Scenario

SUMMARY_VERSION = 1

# two-sided 95% Student t quantiles by degrees of freedom (1..30); beyond, the normal 1.96
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t95(df: int) -> float:
    if df < 1:
        return float("nan")
    return _T95[df - 1] if df <= len(_T95) else 1.96


def replication_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _r(x: float) -> float | None:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return round(float(x), 4)


# ---- one replication -------------------------------------------------------------------------


def _dist(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values, dtype=float)
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    return {"mean": float(arr.mean()), "p50": float(p50), "p90": float(p90), "p99": float(p99)}


def _group(records: Iterable[Record], key: Callable[[Record], str]) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = {}
    for rec in records:
        out.setdefault(key(rec), []).append(rec)
    return out


def _outcomes(recs: list[Record]) -> dict[str, Any]:
    done = [r for r in recs if r.closed is not None]
    n = len(done)
    block: dict[str, Any] = {"drafted": float(len(recs)), "completed": float(n)}
    if not n:
        return block
    block["end_to_end_days"] = _dist([r.closed - r.drafted for r in done if r.closed])
    block["success_rate"] = sum(r.outcome == "executed" and not r.evidence_lost
                                for r in done) / n
    block["refusal_rate"] = sum(r.outcome == "refused" for r in done) / n
    block["evidence_lost_share"] = sum(r.evidence_lost for r in done) / n
    verdicts = [r.verdict for r in done if r.verdict is not None]
    if verdicts:
        block["verdict_days"] = _dist(verdicts)
    kinds: dict[str, list[bool]] = {}
    for r in done:
        for kind, status, _ext in r.deadlines:
            kinds.setdefault(kind, []).append(status == "breached")
    block["deadline_breach_rate"] = {k: sum(v) / len(v) for k, v in sorted(kinds.items())}
    return block


def summarise_replication(model: Model) -> dict[str, Any]:
    """Plain numbers of one replication (records drafted after the warm-up)."""
    sc = model.sc
    recs = [r for r in model.records if r.drafted >= sc.warmup_days]
    window = sc.horizon_days - sc.warmup_days
    out: dict[str, Any] = {
        "instruments": {k: _outcomes(v) for k, v in
                        sorted(_group(recs, lambda r: r.instrument).items())},
        "request_types": {k: _outcomes(v) for k, v in
                          sorted(_group(recs, lambda r: r.request_type).items())},
    }
    stages: dict[str, Any] = {}
    for name, pool in sorted(model.pools.items()):
        open_days = pool.cal.open_time(sc.horizon_days) - pool.cal.open_time(sc.warmup_days)
        capacity = open_days * pool.spec.count
        stages[name] = {
            "served": float(len(pool.waits)),
            "wait_days": float(np.mean(pool.waits)) if pool.waits else 0.0,
            "wait_days_p90": float(np.percentile(pool.waits, 90)) if pool.waits else 0.0,
            "service_days": float(np.mean(pool.services)) if pool.services else 0.0,
            "utilization": pool.work / capacity if capacity > 0 else 0.0,
        }
    out["stages"] = stages
    done = [r for r in recs if r.closed is not None]
    total = sum((r.closed or 0.0) - r.drafted for r in done)
    shares: dict[str, float] = {}
    for r in done:
        for k, v in r.delays.items():
            shares[k] = shares.get(k, 0.0) + v
    out["delay_share"] = {k: (v / total if total > 0 else 0.0) for k, v in sorted(shares.items())}
    out["throughput"] = {
        "drafted": float(len(recs)),
        "completed": float(len(done)),
        "open_at_end": float(len(recs) - len(done)),
        "drafted_per_day": len(recs) / window if window > 0 else 0.0,
    }
    return out


def run_replication(args: tuple[Scenario, int]) -> dict[str, Any]:
    """Build and run replication `index` of a scenario; its summary (picklable, for a pool)."""
    scenario, index = args
    model = Model(scenario, replication_seed(scenario.seed, index))
    model.run()
    return summarise_replication(model)


# ---- across replications ---------------------------------------------------------------------


def _ci(values: list[float]) -> dict[str, Any]:
    n = len(values)
    mean = sum(values) / n
    if n > 1:
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
        half = t95(n - 1) * sd / math.sqrt(n)
    else:
        half = float("nan")
    return {"mean": _r(mean), "ci95": [_r(mean - half), _r(mean + half)], "n": n,
            "values": [_r(v) for v in values]}


def aggregate(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """Same-shaped replication dicts to one: each number becomes mean, 95% CI and values."""
    keys: list[str] = []
    for rep in reps:
        for k in rep:
            if k not in keys:
                keys.append(k)
    out: dict[str, Any] = {}
    for k in sorted(keys):
        present = [rep[k] for rep in reps if k in rep]
        if all(isinstance(v, dict) for v in present):
            out[k] = aggregate(present)
        else:
            out[k] = _ci([float(v) for v in present])
    return out


def choke_points(agg: dict[str, Any], scenario: Scenario) -> list[dict[str, Any]]:
    """Stages ranked by their share of all end-to-end time (wait + work + stage delays)."""
    ranked = []
    for name, node in agg.get("delay_share", {}).items():
        res = scenario.resources.get(name)
        ranked.append({
            "stage": name,
            "kind": res.kind.value if res else ("transit" if name == TRANSIT else (
                "issuing side" if name == REPLIES else "other")),
            "jurisdiction": res.jurisdiction if res else None,
            "share_of_delay": node["mean"],
            "ci95": node["ci95"],
        })
    ranked.sort(key=lambda x: (-(x["share_of_delay"] or 0.0), x["stage"]))
    for i, item in enumerate(ranked, 1):
        item["rank"] = i
    return ranked


def summarise(scenario: Scenario, reps: list[dict[str, Any]]) -> dict[str, Any]:
    agg = aggregate(reps)
    for name, node in agg.get("stages", {}).items():
        res = scenario.resources[name]
        node["kind"] = res.kind.value
        node["jurisdiction"] = res.jurisdiction
        node["count"] = res.count
    return {
        "version": SUMMARY_VERSION,
        "scenario": scenario.name,
        "description": scenario.description,
        "seed": scenario.seed,
        "replications": len(reps),
        "horizon_days": scenario.horizon_days,
        "warmup_days": scenario.warmup_days,
        "units": "days (calendar) unless named otherwise; rates are shares in [0, 1]",
        **agg,
        "choke_points": choke_points(agg, scenario),
    }


def run(scenario: Scenario, *, workers: int | None = None,
        progress: bool = False) -> dict[str, Any]:
    """All replications of `scenario` (over at most `os.cpu_count()` processes); the summary."""
    n = scenario.replications
    cpus = os.cpu_count() or 1
    workers = max(1, min(workers or cpus, cpus, n))
    jobs = [(scenario, i) for i in range(n)]
    reps: list[dict[str, Any]] = []
    bar = _progress(progress)
    with bar:
        task = bar.add_task(f"simulating {scenario.name}", total=n)
        if workers == 1:
            for job in jobs:
                reps.append(run_replication(job))
                bar.advance(task)
        else:
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(processes=workers) as pool:
                for rep in pool.imap(run_replication, jobs):
                    reps.append(rep)
                    bar.advance(task)
    return summarise(scenario, reps)


def _progress(enabled: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), disable=not enabled,
                    transient=False)


def dumps(summary: dict[str, Any]) -> str:
    return json.dumps(summary, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write_summary(summary: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "summary.json"
    path.write_text(dumps(summary), encoding="utf-8")
    return path


# ---- comparing two scenarios -----------------------------------------------------------------


def _leaves(node: Any, prefix: str = "") -> dict[str, list[float | None]]:
    """Every aggregated number by dotted path, with its per-replication values."""
    out: dict[str, list[float | None]] = {}
    if isinstance(node, dict):
        if "values" in node and "ci95" in node:
            out[prefix] = list(node["values"])
            return out
        for k, v in node.items():
            if k in ("choke_points",):
                continue
            out.update(_leaves(v, f"{prefix}.{k}" if prefix else k))
    return out


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """B minus A for every number both summaries have, with its 95% CI. Paired when both ran
    the same seed and number of replications (common random numbers), else Welch."""
    la, lb = _leaves(a), _leaves(b)
    paired = a.get("seed") == b.get("seed") and a.get("replications") == b.get("replications")
    diffs: dict[str, Any] = {}
    for path in sorted(set(la) & set(lb)):
        va = [v for v in la[path] if v is not None]
        vb = [v for v in lb[path] if v is not None]
        if not va or not vb:
            continue
        ma, mb = sum(va) / len(va), sum(vb) / len(vb)
        d = mb - ma
        if paired and len(va) == len(vb) == len(la[path]) == len(lb[path]) and len(va) > 1:
            ds = [y - x for x, y in zip(va, vb, strict=True)]
            sd = math.sqrt(sum((x - d) ** 2 for x in ds) / (len(ds) - 1))
            half = t95(len(ds) - 1) * sd / math.sqrt(len(ds))
        elif len(va) > 1 and len(vb) > 1:
            sa = sum((x - ma) ** 2 for x in va) / (len(va) - 1) / len(va)
            sb = sum((x - mb) ** 2 for x in vb) / (len(vb) - 1) / len(vb)
            se = math.sqrt(sa + sb)
            df = (sa + sb) ** 2 / ((sa**2 / (len(va) - 1) if sa else 0) +
                                   (sb**2 / (len(vb) - 1) if sb else 0)) if se > 0 else 1
            half = t95(max(1, int(df))) * se
        else:
            half = float("nan")
        diffs[path] = {"a": _r(ma), "b": _r(mb), "difference": _r(d),
                       "ci95": [_r(d - half), _r(d + half)],
                       "significant": bool(math.isfinite(half) and abs(d) > half)}
    return {"a": a.get("scenario"), "b": b.get("scenario"),
            "method": "paired" if paired else "welch", "differences": diffs}
