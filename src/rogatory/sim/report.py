"""Plots (matplotlib, Agg: PNG and SVG) and a self-contained `report.html` of a simulation
summary, written for a ministry official: key figures in plain words, where the months go, the
choke points and the deadline breaches. The HTML embeds its plots as base64 PNG and loads
nothing from outside."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

_STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1b1b1b;line-height:1.45}h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;
border-bottom:1px solid #ccc}table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}th{background:#f0f0f0}
td:first-child,th:first-child{text-align:left}.key{font-size:1.1rem;background:#f6f8fa;
padding:.8rem 1rem;border-left:4px solid #2a5db0}img{max-width:100%}.note{color:#555;
font-size:.9rem}"""


def _m(node: Any) -> float:
    if isinstance(node, dict) and isinstance(node.get("mean"), int | float):
        return float(node["mean"])
    return float("nan")


def _ci(node: Any) -> str:
    if not isinstance(node, dict):
        return ""
    lo, hi = node.get("ci95", [None, None])
    if lo is None or hi is None:
        return ""
    return f"{lo:,.1f} – {hi:,.1f}"


def _save(fig: Any, out: Path, stem: str) -> dict[str, Path]:
    png, svg = out / f"{stem}.png", out / f"{stem}.svg"
    fig.savefig(png, dpi=110, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(svg, bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return {"png": png, "svg": svg}


def plot_end_to_end(summary: dict[str, Any], out: Path) -> dict[str, Path]:
    """Per instrument: mean, p50, p90 and p99 of end-to-end days, with 95% CI whiskers."""
    inst = {k: v for k, v in summary.get("instruments", {}).items() if "end_to_end_days" in v}
    fig, ax = plt.subplots(figsize=(7, 0.9 + 0.9 * max(1, len(inst))))
    labels = ["p50", "mean", "p90", "p99"]
    height = 0.8 / len(labels)
    for j, q in enumerate(labels):
        ys = [i + j * height for i in range(len(inst))]
        vals = [_m(v["end_to_end_days"][q]) for v in inst.values()]
        errs = [[max(0.0, _m(v["end_to_end_days"][q]) - (v["end_to_end_days"][q]["ci95"][0]
                                                       or 0.0)) for v in inst.values()],
                [max(0.0, (v["end_to_end_days"][q]["ci95"][1] or 0.0) -
                     _m(v["end_to_end_days"][q])) for v in inst.values()]]
        ax.barh(ys, vals, height=height, xerr=errs, label=q, capsize=2)
    ax.set_yticks([i + 0.3 for i in range(len(inst))], list(inst))
    ax.set_xlabel("days from drafting to closing")
    ax.set_title("End-to-end time per instrument (95% CI across replications)")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, out, "end_to_end")


def plot_stage_waits(summary: dict[str, Any], out: Path) -> dict[str, Path]:
    """Per stage (resource): mean queue wait and mean time in service, in days."""
    stages = summary.get("stages", {})
    names = list(stages)
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.45 * max(1, len(names))))
    waits = [_m(stages[n]["wait_days"]) for n in names]
    service = [_m(stages[n]["service_days"]) for n in names]
    labels = [f"{n} ({stages[n]['jurisdiction']})" for n in names]
    ax.barh(labels, waits, label="waiting in queue")
    ax.barh(labels, service, left=waits, label="being worked (in working hours)")
    ax.set_xlabel("days per visit (mean)")
    ax.set_title("Queue wait and service per stage")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, out, "stage_waits")


def plot_choke_points(summary: dict[str, Any], out: Path) -> dict[str, Path]:
    chokes = summary.get("choke_points", [])[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.45 * max(1, len(chokes))))
    ax.barh([c["stage"] + (f" ({c['jurisdiction']})" if c["jurisdiction"] else "")
             for c in chokes], [100 * (c["share_of_delay"] or 0.0) for c in chokes],
            color="#b0452a")
    ax.set_xlabel("% of all end-to-end time")
    ax.set_title("Where the time goes")
    return _save(fig, out, "choke_points")


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _months(days: float) -> str:
    return f"{days:,.0f} days (about {days / 30.44:,.1f} months)"


def render_html(summary: dict[str, Any], plots: dict[str, dict[str, Path]],
                comparison: dict[str, Any] | None = None) -> str:
    e = html.escape
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>Simulation report: {e(str(summary.get('scenario')))}</title>"
             f"<style>{_STYLE}</style></head><body>"]
    parts.append(f"<h1>Simulation report: {e(str(summary.get('scenario')))}</h1>")
    if summary.get("description"):
        parts.append(f"<p>{e(str(summary['description']))}</p>")
    parts.append(f"<p class='note'>{summary.get('replications')} simulated years-long runs "
                 f"(replications) of {summary.get('horizon_days'):,.0f} days each, the first "
                 f"{summary.get('warmup_days'):,.0f} days discarded; ranges are 95% confidence "
                 f"intervals across runs. Seed {summary.get('seed')}.</p>")
    parts.append("<h2>Key figures</h2>")
    for code, node in summary.get("instruments", {}).items():
        if "end_to_end_days" not in node:
            continue
        e2e = node["end_to_end_days"]
        parts.append(
            f"<p class='key'><b>{e(code)}</b>: a request takes on average "
            f"{_months(_m(e2e['mean']))} from drafting to closing (range {_ci(e2e['mean'])} "
            f"days). Half are done within {_m(e2e['p50']):,.0f} days; one in ten takes longer "
            f"than {_m(e2e['p90']):,.0f} days. {100 * _m(node['success_rate']):.1f}% obtain "
            f"the evidence, {100 * _m(node['refusal_rate']):.1f}% are refused and "
            f"{100 * _m(node['evidence_lost_share']):.1f}% come too late: the provider no "
            f"longer holds the data.</p>")
    chokes = summary.get("choke_points", [])
    if chokes:
        top = chokes[0]
        where = f" in {top['jurisdiction']}" if top["jurisdiction"] else ""
        parts.append("<h2>Where the months go: choke points</h2>")
        parts.append(f"<p>The largest share of the time, {100 * (top['share_of_delay'] or 0):.0f}"
                     f"%, is spent at <b>{e(top['stage'])}</b>{e(where)}.</p>")
        parts.append("<table><tr><th>rank</th><th>stage</th><th>country</th>"
                     "<th>share of time</th><th>95% CI</th></tr>")
        for c in chokes:
            lo, hi = c["ci95"]
            ci = f"{100 * lo:.1f}–{100 * hi:.1f}%" if lo is not None and hi is not None else ""
            parts.append(f"<tr><td>{c['rank']}</td><td>{e(c['stage'])}</td>"
                         f"<td>{e(c['jurisdiction'] or '–')}</td>"
                         f"<td>{100 * (c['share_of_delay'] or 0):.1f}%</td><td>{ci}</td></tr>")
        parts.append("</table>")
        parts.append(_img(plots["choke_points"]["png"], "share of time per stage"))
    parts.append("<h2>Queues and staff</h2><p>How long a request waits for each team, and how "
                 "busy the team is during its working hours (above about 85% queues grow fast; "
                 "adding staff there shortens waits the most).</p>")
    parts.append("<table><tr><th>stage</th><th>country</th><th>staff</th><th>wait (days)</th>"
                 "<th>95% CI</th><th>busy</th></tr>")
    for name, st in summary.get("stages", {}).items():
        parts.append(f"<tr><td>{e(name)}</td><td>{e(st['jurisdiction'])}</td>"
                     f"<td>{st['count']}</td><td>{_m(st['wait_days']):,.1f}</td>"
                     f"<td>{_ci(st['wait_days'])}</td>"
                     f"<td>{100 * _m(st['utilization']):.0f}%</td></tr>")
    parts.append("</table>")
    parts.append(_img(plots["stage_waits"]["png"], "queue wait per stage"))
    parts.append("<h2>Legal deadlines</h2>")
    rows = []
    for code, node in summary.get("instruments", {}).items():
        for kind, rate in node.get("deadline_breach_rate", {}).items():
            rows.append(f"<tr><td>{e(code)}</td><td>{e(kind)}</td>"
                        f"<td>{100 * _m(rate):.1f}%</td></tr>")
    if rows:
        parts.append("<p>Share of deadlines missed (deadlines come from the instrument "
                     "catalogue, the same rules the service enforces).</p><table><tr>"
                     "<th>instrument</th><th>deadline</th><th>missed</th></tr>")
        parts.extend(rows)
        parts.append("</table>")
    else:
        parts.append("<p>The instruments simulated set no time limits.</p>")
    parts.append("<h2>End-to-end time</h2>")
    parts.append(_img(plots["end_to_end"]["png"], "end-to-end time per instrument"))
    if comparison is not None:
        parts.append(_comparison_html(comparison))
    parts.append("<p class='note'>Figures are model outputs under the stated assumptions, "
                 "calibrated to published averages; they are not observations.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _comparison_html(comparison: dict[str, Any]) -> str:
    e = html.escape
    rows = []
    for path, d in comparison["differences"].items():
        if not (path.endswith(".mean") or "wait_days.mean" in path or "utilization" in path
                or "success_rate" in path or "evidence_lost" in path):
            continue
        if d["difference"] is None or abs(d["difference"]) < 1e-9:
            continue
        lo, hi = d["ci95"]
        ci = f"{lo:,.3f} – {hi:,.3f}" if lo is not None and hi is not None else ""
        rows.append(f"<tr><td>{e(path)}</td><td>{d['a']:,.3f}</td><td>{d['b']:,.3f}</td>"
                    f"<td>{d['difference']:+,.3f}</td><td>{ci}</td>"
                    f"<td>{'yes' if d['significant'] else 'no'}</td></tr>")
    return (f"<h2>What the reform changes: {e(str(comparison['b']))} vs "
            f"{e(str(comparison['a']))}</h2><p>Differences (reform minus baseline) with "
            f"95% confidence intervals ({e(comparison['method'])}).</p><table><tr><th>figure"
            "</th><th>baseline</th><th>reform</th><th>difference</th><th>95% CI</th>"
            "<th>clear?</th></tr>" + "".join(rows) + "</table>")


def write_report(summary: dict[str, Any], out: Path,
                 comparison: dict[str, Any] | None = None) -> Path:
    """Plots (PNG + SVG) and `report.html` in `out`; returns the report's path."""
    out.mkdir(parents=True, exist_ok=True)
    plots = {
        "end_to_end": plot_end_to_end(summary, out),
        "stage_waits": plot_stage_waits(summary, out),
        "choke_points": plot_choke_points(summary, out),
    }
    path = out / "report.html"
    path.write_text(render_html(summary, plots, comparison), encoding="utf-8")
    return path
