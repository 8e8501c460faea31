"""The pilot simulator: scenario checks with line numbers, the real workflow and deadline rules,
reproducibility, the calibration of the shipped scenarios, reports and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import simpy
from typer.testing import CliRunner

from rogatory.clock import Clock
from rogatory.errors import InvalidTransition, ValidationFailed
from rogatory.requests import workflow
from rogatory.sim import run, scenario
from rogatory.sim.cli import app
from rogatory.sim.model import Calendar, Model, SimClock, SimulationError
from rogatory.sim.report import write_report

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

SMALL = """\
name: small
seed: 7
replications: 2
horizon_days: 120
warmup_days: 10
jurisdictions: [FR, DE]
resources:
  fr_judges:
    kind: validating_judges
    jurisdiction: FR
    count: 1
  de_prosecutors:
    kind: executing_prosecutors
    jurisdiction: DE
    count: 2
request_types:
  - name: fr_de
    instrument: eio
    from: FR
    to: DE
    rate_per_day: 1.0
    stages:
      - phase: validation
        resource: fr_judges
        service: {dist: exponential, mean: 2}
      - phase: review
        resource: de_prosecutors
        service: {dist: lognormal, mean: 3, sigma: 0.5}
        refusal: 0.1
        incomplete: 0.2
        reply: {dist: fixed, value: 5}
      - phase: execution
        resource: de_prosecutors
        service: {dist: triangular, low: 1, mode: 2, high: 6}
"""


def _errors(text: str) -> list[str]:
    with pytest.raises(ValidationFailed) as info:
        scenario.parse(text)
    return [f"{e.field}: {e.text()}" for e in info.value.errors]


def test_small_scenario_parses() -> None:
    sc = scenario.parse(SMALL)
    assert sc.request_types[0].from_ == "FR"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("jurisdictions: [FR, DE]", "jurisdictions: [FR, XX]", "line 6: jurisdictions.1"),
        ("instrument: eio", "instrument: nonesuch", "line 18: request_types.0.instrument"),
        ("{dist: exponential, mean: 2}", "{dist: weibull, mean: 2}",
         "line 25: request_types.0.stages.0.service.dist"),
        ("rate_per_day: 1.0", "rate_per_day: -1", "line 21: request_types.0.rate_per_day"),
        ("    count: 1\n", "", "line 8: resources.fr_judges.count"),
        ("horizon_days: 120\n", "", "line 1: horizon_days"),
        ("refusal: 0.1", "refusal: 0.1\n        delay: {dist: gamma, mean: 2}",
         "line 30: request_types.0.stages.1.delay.shape"),
    ],
)
def test_bad_scenario_names_line_and_field(old: str, new: str, expected: str) -> None:
    assert old in SMALL
    errors = _errors(SMALL.replace(old, new, 1))
    assert any(e.startswith(expected) for e in errors), errors


def test_unknown_distribution_and_instrument_messages() -> None:
    errors = _errors(SMALL.replace("dist: exponential", "dist: weibull"))
    assert "unknown distribution" in errors[0] and "lognormal" in errors[0]
    errors = _errors(SMALL.replace("instrument: eio", "instrument: nonesuch"))
    assert "unknown instrument 'nonesuch'" in errors[0]
    errors = _errors(SMALL.replace("jurisdictions: [FR, DE]", "jurisdictions: [FR, XX]"))
    assert "unknown jurisdiction 'XX'" in " ".join(errors)


def test_instrument_must_bind_both_states() -> None:
    text = SMALL.replace("jurisdictions: [FR, DE]", "jurisdictions: [FR, US]").replace(
        "jurisdiction: DE", "jurisdiction: US").replace("to: DE", "to: US")
    errors = _errors(text)
    assert any("line 18: request_types.0.instrument" in e and "does not bind 'US'" in e
               for e in errors), errors


def test_workflow_decides_where_refusal_is_possible() -> None:
    text = SMALL.replace("service: {dist: triangular, low: 1, mode: 2, high: 6}",
                         "service: {dist: triangular, low: 1, mode: 2, high: 6}\n"
                         "        refusal: 0.2")
    errors = _errors(text)
    assert any("request_types.0.stages.2.refusal" in e and "'refuse'" in e for e in errors)


def test_shipped_scenarios_load() -> None:
    for path in sorted(SCENARIOS.glob("*.yaml")):
        scenario.load(path)


def test_sim_clock_is_a_clock() -> None:
    env = simpy.Environment()
    start = datetime(2026, 1, 5, tzinfo=UTC)
    clock: Clock = SimClock(env, start)
    env.run(until=1.5)
    assert clock.now() == start + timedelta(days=1.5)


def test_calendar_works_only_in_local_hours() -> None:
    sc = scenario.parse(SMALL)
    res = sc.resources["de_prosecutors"]
    cal = Calendar(res, "Europe/Berlin", sc.start, 60)
    # Monday 5 Jan 2026 09:00 Berlin; 8 working hours end Monday 17:00, 10 hours Tuesday 11:00
    begin = cal.next_open(0.0)
    berlin = ZoneInfo("Europe/Berlin")
    as_local = [(sc.start + timedelta(days=x)).astimezone(berlin) for x in (
        begin, cal.finish(begin, 8 / 24), cal.finish(begin, 10 / 24), cal.finish(begin, 48 / 24))]
    assert [(d.day, d.hour) for d in as_local] == [(5, 9), (5, 17), (6, 11), (12, 17)]


def test_simulation_goes_through_workflow_next_state(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise InvalidTransition("submit", "draft", [])

    monkeypatch.setattr(workflow, "next_state", refuse)
    model = Model(scenario.parse(SMALL), 1)
    with pytest.raises(SimulationError, match="'submit' is not allowed"):
        model.run()


def test_deadlines_come_from_the_catalogue() -> None:
    model = Model(scenario.parse(SMALL), 3)
    model.run()
    kinds = {k for r in model.records for k, _, _ in r.deadlines}
    assert kinds == {"acknowledgement", "recognition", "execution"}
    states = {r.outcome for r in model.records if r.closed is not None}
    assert states <= {"executed", "partially_executed", "refused"} and "refused" in states


def test_same_seed_gives_identical_summary_in_parallel_or_not(tmp_path: Path) -> None:
    sc = scenario.parse(SMALL).with_overrides(replications=3)
    one = run.dumps(run.run(sc, workers=1))
    two = run.dumps(run.run(sc, workers=2))
    assert one == two
    other = run.dumps(run.run(sc.with_overrides(seed=8), workers=1))
    assert other != one


@pytest.fixture(scope="module")
def mla() -> dict[str, Any]:
    sc = scenario.load(SCENARIOS / "mla_baseline.yaml").with_overrides(replications=4)
    return run.run(sc, workers=2)


def test_mla_baseline_reproduces_ten_months(mla: dict[str, Any]) -> None:
    """European Commission (2018): MLA takes on average 10 months; tolerance 300 ± 45 days."""
    mean = mla["instruments"]["budapest_mla"]["end_to_end_days"]["mean"]["mean"]
    assert 255 <= mean <= 345, mean
    assert mla["choke_points"][0]["rank"] == 1


def test_eio_within_30_plus_90_days() -> None:
    """Dir. 2014/41/EU Art. 12: recognition 30 (+30) days, execution 90 days; EC: ≤ 120 days."""
    sc = scenario.load(SCENARIOS / "eio.yaml").with_overrides(replications=2)
    s = run.run(sc, workers=2)
    eio = s["instruments"]["eio"]
    assert eio["end_to_end_days"]["mean"]["mean"] <= 120
    assert eio["deadline_breach_rate"]["recognition"]["mean"] <= 0.10
    assert eio["deadline_breach_rate"]["execution"]["mean"] <= 0.10


def test_direct_requests_succeed_like_sirius() -> None:
    """SIRIUS: 66% (2018), 68.4% (2019) success; tolerance 0.66–0.684 ± 0.03."""
    sc = scenario.load(SCENARIOS / "direct_requests.yaml").with_overrides(replications=2)
    s = run.run(sc, workers=2)
    rate = s["instruments"]["epoc"]["success_rate"]["mean"]
    assert 0.63 <= rate <= 0.714, rate


def test_two_more_translators_cut_translation_waits(mla: dict[str, Any]) -> None:
    sc = scenario.load(SCENARIOS / "mla_two_more_translators.yaml").with_overrides(
        replications=4)
    reform = run.run(sc, workers=2)
    diff = run.compare(mla, reform)
    assert diff["method"] == "paired"
    d = diff["differences"]["stages.de_en_translators.wait_days"]
    assert d["difference"] < 0 and d["ci95"][1] < 0
    assert diff["differences"]["stages.de_en_translators.utilization"]["difference"] < 0


def test_report_is_self_contained(mla: dict[str, Any], tmp_path: Path) -> None:
    path = write_report(mla, tmp_path)
    page = path.read_text(encoding="utf-8")
    assert "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "choke points" in page.lower() and "months" in page
    for stem in ("end_to_end", "stage_waits", "choke_points"):
        assert (tmp_path / f"{stem}.png").stat().st_size > 1000
        assert (tmp_path / f"{stem}.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_cli_simulate_and_compare(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text(SMALL, encoding="utf-8")
    b = tmp_path / "b.yaml"
    b.write_text(SMALL.replace("    count: 2", "    count: 4").replace("name: small",
                                                                       "name: reform"))
    runner = CliRunner()
    res = runner.invoke(app, [str(a), "--out", str(tmp_path / "one"), "--replications", "2",
                              "--seed", "3", "--workers", "1", "--quiet"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "one" / "summary.json").exists()
    assert (tmp_path / "one" / "report.html").exists()
    res = runner.invoke(app, ["--compare", str(a), str(b), "--out", str(tmp_path / "cmp"),
                              "--replications", "2", "--workers", "1", "--quiet"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "cmp" / "compare.json").exists()


def test_cli_bad_scenario_exits_with_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL.replace("rate_per_day: 1.0", "rate_per_day: -2"), encoding="utf-8")
    res = CliRunner().invoke(app, [str(bad), "--out", str(tmp_path / "o"), "--quiet"])
    assert res.exit_code == 2
    assert "line 21: request_types.0.rate_per_day" in res.output
