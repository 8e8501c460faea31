"""`rogatory simulate`: run a scenario (or compare two) and write `summary.json`, plots and
`report.html` to the output folder. `rogatory exercise`: drive a scenario's simulated cases
through this node's service layer under a virtual clock. Heavy libraries are imported only when a
run starts."""

from __future__ import annotations

import json
import sys
from datetime import datetime
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


def _parse_start(value: str | None, default: datetime) -> datetime:
    if value is None:
        return default
    try:
        start = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO date-time: {value!r}", param_hint="--start") from exc
    if start.tzinfo is None:
        raise typer.BadParameter("needs a time zone, e.g. 2026-01-05T08:00:00+00:00",
                                 param_hint="--start")
    return start


exercise_app = typer.Typer(help="Exercise mode: rehearse a scenario on this node.",
                           pretty_exceptions_show_locals=False)
"""`exercise` alone (the node's CLI registers it with `app.command("exercise")(exercise)`;
`app` keeps `simulate` as its single command)."""


@exercise_app.command("exercise")
def exercise(
    scenario_file: Annotated[Path, typer.Argument(
        metavar="SCENARIO.yaml", help="The scenario whose request types are rehearsed.")],
    cases: Annotated[int, typer.Option("--cases", min=1, max=10_000,
                                       help="Simulated requests to drive.")] = 20,
    seed: Annotated[int | None, typer.Option("--seed", min=0,
                                             help="Override the scenario's seed.")] = None,
    start: Annotated[str | None, typer.Option(
        "--start", metavar="ISO", help="Virtual start time (default: the scenario's start).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")
                       ] = False,
) -> None:
    """Rehearse SCENARIO.yaml on this node: simulated cases go through the real service verbs,
    database, deadline job and ledger under a virtual clock; prints what happened and what
    breached."""
    from sqlalchemy import inspect

    from rogatory.cli import NOT_INITIALISED, _run
    from rogatory.config import Settings
    from rogatory.db import make_engine, make_session_factory
    from rogatory.errors import ConfigurationError
    from rogatory.sim.exercise import run_exercise
    from rogatory.sim.scenario import Scenario

    sc = _load(scenario_file, None, seed)
    assert isinstance(sc, Scenario)
    begin = _parse_start(start, sc.start)
    console = Console(width=None if sys.stdout.isatty() else 200)

    def body() -> None:
        settings = Settings()
        if (settings.effective_database_url.startswith("sqlite")
                and not (settings.data_dir / "rogatory.db").exists()):
            raise ConfigurationError(NOT_INITIALISED)
        engine = make_engine(settings)
        try:
            if not inspect(engine).has_table("alembic_version"):
                raise ConfigurationError(NOT_INITIALISED)
            report = run_exercise(scenario=sc, session_factory=make_session_factory(engine),
                                  start=begin, cases=cases, seed=sc.seed)
        finally:
            engine.dispose()
        if as_json:
            console.print_json(json.dumps(report.to_dict()))
        else:
            _print_report(console, report)
        if not report.audit_ok:
            raise typer.Exit(1)

    _run(body)


def _print_report(console: Console, report: object) -> None:
    from rich.table import Table

    from rogatory.sim.exercise import ExerciseReport

    assert isinstance(report, ExerciseReport)
    table = Table(title=f"Exercise '{report.scenario}' (seed {report.seed})")
    for column in ("reference", "type", "emergency", "outcome", "final state", "days",
                   "events", "info loops", "deadlines", "breached"):
        table.add_column(column, justify="right" if column in (
            "days", "events", "info loops") else "left")
    for c in report.cases:
        breached = ", ".join(d.kind for d in c.breaches)
        table.add_row(c.reference, c.request_type, "yes" if c.emergency else "",
                      c.outcome, c.final_state,
                      "" if c.days is None else f"{c.days:.1f}", str(c.timeline_events),
                      str(c.information_requests),
                      ", ".join(f"{d.kind}:{d.status}" for d in c.deadlines),
                      f"[red]{breached}[/red]" if breached else "")
    console.print(table)
    final = sum(c.final_state in ("closed", "withdrawn") for c in report.cases)
    console.print(f"virtual time {report.start.isoformat()} → {report.end.isoformat()}")
    console.print(f"{len(report.cases)} requests, {final} ended; {report.deadlines} deadlines, "
                  f"{report.breaches} breached")
    kinds: dict[str, int] = {}
    for c in report.cases:
        for d in c.breaches:
            kinds[d.kind] = kinds.get(d.kind, 0) + 1
    if kinds:
        console.print("breached: " + ", ".join(f"{k} ×{n}" for k, n in sorted(kinds.items())))
    console.print(f"ledger {report.ledger_before} → {report.ledger_after} leaves; audit "
                  + ("[green]passed[/green]" if report.audit_ok else "[red]FAILED[/red]")
                  + f" ({report.audit_message})")
