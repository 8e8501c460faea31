"""`rogatory simulate`: run a scenario (or compare two) and write `summary.json`, plots and
`report.html` to the output folder. Heavy libraries are imported only when a run starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from rogatory.errors import ValidationFailed

app = typer.Typer(help="Pilot simulator: run scenarios through the real workflow rules.",
                  pretty_exceptions_show_locals=False)
_err = Console(stderr=True)


def _load(path: Path, replications: int | None, seed: int | None) -> object:
    from rogatory.sim import scenario

    try:
        sc = scenario.load(path)
    except ValidationFailed as exc:
        _err.print(f"[red]{path}: invalid scenario[/red]")
        for e in exc.errors:
            _err.print(f"  {e.field}: {e.text()}", markup=False, highlight=False)
        raise typer.Exit(2) from exc
    return sc.with_overrides(replications=replications, seed=seed)


@app.command("simulate")
def simulate(
    scenario_file: Annotated[Path | None, typer.Argument(
        metavar="SCENARIO.yaml", help="The scenario to run.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for summary, plots, report.")] = Path(
        "out"),
    replications: Annotated[int | None, typer.Option(
        "--replications", min=1, help="Override the scenario's replications.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0,
                                             help="Override the scenario's seed.")] = None,
    compare: Annotated[tuple[Path, Path] | None, typer.Option(
        "--compare", metavar="A.yaml B.yaml",
        help="Run two scenarios and show what B changes against A.")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="Processes (default: every core).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Simulate SCENARIO.yaml (or --compare A.yaml B.yaml) and write the results to --out."""
    from rogatory.sim import report, run
    from rogatory.sim.scenario import Scenario

    console = Console()
    if compare is not None:
        if scenario_file is not None:
            raise typer.BadParameter("give either SCENARIO.yaml or --compare A.yaml B.yaml")
        a_path, b_path = compare
        sa, sb = _load(a_path, replications, seed), _load(b_path, replications, seed)
        assert isinstance(sa, Scenario) and isinstance(sb, Scenario)
        a = run.run(sa, workers=workers, progress=not quiet)
        b = run.run(sb, workers=workers, progress=not quiet)
        diff = run.compare(a, b)
        run.write_summary(a, out / "a")
        run.write_summary(b, out / "b")
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.json").write_text(
            json.dumps(diff, sort_keys=True, indent=2) + "\n", encoding="utf-8")
        report.write_report(a, out / "a")
        path = report.write_report(b, out, comparison=diff)
        for key, d in diff["differences"].items():
            if key.startswith("instruments.") and key.endswith("end_to_end_days.mean"):
                lo, hi = d["ci95"]
                console.print(f"{key}: {d['a']} → {d['b']} days, difference "
                              f"{d['difference']:+} (95% CI {lo} to {hi})")
        console.print(f"report: {path}")
        return
    if scenario_file is None:
        raise typer.BadParameter("give SCENARIO.yaml or --compare A.yaml B.yaml")
    sc = _load(scenario_file, replications, seed)
    assert isinstance(sc, Scenario)
    summary = run.run(sc, workers=workers, progress=not quiet)
    run.write_summary(summary, out)
    path = report.write_report(summary, out)
    for code, node in summary["instruments"].items():
        if "end_to_end_days" in node:
            m = node["end_to_end_days"]["mean"]
            console.print(f"{code}: mean end-to-end {m['mean']} days (95% CI {m['ci95'][0]} "
                          f"to {m['ci95'][1]}), success {node['success_rate']['mean']}")
    if summary["choke_points"]:
        top = summary["choke_points"][0]
        console.print(f"top choke point: {top['stage']} ({top['jurisdiction'] or '-'}), "
                      f"{top['share_of_delay']} of all time")
    console.print(f"report: {path}")
