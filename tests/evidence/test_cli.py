"""`rogatory evidence` against a node of each engine: ingest (with the progress bar), list,
show and custody as JSON, and a refused claimed hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import World
from rogatory.cli import app
from rogatory.config import Settings

pytestmark = pytest.mark.usefixtures("factory")  # empties what the tests write


def _env(settings: Settings) -> dict[str, str]:
    env = {"ROGATORY_DATA_DIR": str(settings.data_dir), "ROGATORY_SECRET_KEY": "test-secret",
           "ROGATORY_OPERATOR_ACTS_AS": "true"}
    if settings.database_url:
        env["ROGATORY_DATABASE_URL"] = settings.database_url
    if settings.database_schema:
        env["ROGATORY_DATABASE_SCHEMA"] = settings.database_schema
    return env


META = ["--examiner", "Claire", "--acquired-at", "2026-11-01T10:00:00+00:00", "--tool", "FTK",
        "--tool-version", "4.7", "--method", "logical"]


def test_ingest_list_show_custody(settings: Settings, world: World, tmp_path: Path) -> None:
    runner = CliRunner()
    env = _env(settings)
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(b"first file" * 1000)
    second.write_bytes(b"second file")
    r = runner.invoke(app, ["evidence", "ingest", str(first), str(second), "--case",
                            world.case_reference, "--as", "fr_prosecutor", *META, "--json"],
                      env=env)
    assert r.exit_code == 0, r.output
    done = json.loads(r.stdout)
    assert [d["sha256"] for d in done] == [hashlib.sha256(first.read_bytes()).hexdigest(),
                                           hashlib.sha256(b"second file").hexdigest()]
    r = runner.invoke(app, ["evidence", "list", "--case", world.case_reference, "--as",
                            "fr_prosecutor", "--json"], env=env)
    assert [i["exhibit_number"] for i in json.loads(r.stdout)] == [
        "FR-2026-LOCKSTORM/EX-0001", "FR-2026-LOCKSTORM/EX-0002"]
    r = runner.invoke(app, ["evidence", "show", done[0]["id"], "--as", "fr_prosecutor",
                            "--json"], env=env)
    assert json.loads(r.stdout)["original_name"] == "a.bin"
    r = runner.invoke(app, ["evidence", "custody", done[0]["id"], "--as", "fr_prosecutor",
                            "--json"], env=env)
    assert [e["kind"] for e in json.loads(r.stdout)] == ["acquired"]
    r = runner.invoke(app, ["evidence", "custody", done[0]["id"], "--as", "it_outsider"],
                      env=env)
    assert r.exit_code == 1 and "not found" in r.output


def test_wrong_claimed_hash(settings: Settings, world: World, tmp_path: Path) -> None:
    path = tmp_path / "c.bin"
    path.write_bytes(b"content")
    r = CliRunner().invoke(app, ["evidence", "ingest", str(path), "--case",
                                 world.case_reference, "--as", "fr_prosecutor", *META,
                                 "--sha256", "1" * 64], env=_env(settings))
    assert r.exit_code == 1
    assert "claimed.sha256" in r.output and "expected " + "1" * 64 in " ".join(r.output.split())
