"""The `rogatory` command line on SQLite and PostgreSQL, driven as a new user would drive it:
`init --demo` (twice), the directory and catalogue, the demo's cases and requests, an EPOC from
draft to executed with `--as` and `--version`, the error messages, and the deadline scan.

Each module run per engine gets a node of its own (a temporary data directory, and for PostgreSQL
a fresh schema dropped afterwards); the environment reaches the CLI only through
`CliRunner(env=...)`, so nothing leaks into other tests."""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import create_engine, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import rogatory.instruments
from conftest import ENGINES, PG_URL
from rogatory.cli import app
from rogatory.config import Settings
from rogatory.db import make_engine
from rogatory.requests.models import Deadline

CASE = "FR-2026-LOCKSTORM"
CAMILLE = "camille.martin"  # FR prosecutor, fr-parquet-paris-j3
MIA = "mia.hoffmann"  # DE provider responder, de-atlas-hosting
JONAS = "jonas.becker"  # DE executing officer, de-sta-berlin-rechtshilfe
AUDITOR = "margot.weber"  # oversight auditor: sees every request

# A complete EPOC (Annex I) form: every field `required: true` in instruments/definitions/epoc.yaml.
FORM: dict[str, Any] = {
    "issuing_file_number": "PARQUET-J3-2026-0999",
    "addressee_name": "Atlas Hosting GmbH — legal representative",
    "addressee_capacity": "legal_representative",
    "identifiers": "Compte ops@lockstorm.example ; IP 203.0.113.7, 2026-11-01 02:14-04:40 UTC",
    "offence_description": "Rançongiciel « LockStorm » contre trois hôpitaux (art. 323-1 C. pén.)",
    "necessity_and_proportionality": "Seule piste pour identifier l'administrateur du serveur.",
    "transfer_to_authority": "Parquet de Paris, section J3",
    "contact_email": "j3.cyber@parquet-paris.example",
}

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def plain(output: str) -> str:
    """Output without colour codes and with rich's line wrapping undone."""
    return " ".join(ANSI.sub("", output).split())


@dataclass
class Node:
    """One node set up by `rogatory init --demo`, and a runner whose env points at it."""

    engine: str
    runner: CliRunner
    settings: Settings
    first_init: Result

    def run(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == code, (
            f"`rogatory {' '.join(args)}` exited {result.exit_code}, expected {code}:\n"
            f"{result.output}")
        return result

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        return json.loads(result.stdout)

    def fail(self, *args: str) -> str:
        """Run a command that must fail cleanly: exit 1 and a message (no traceback)."""
        result = self.run(*args, code=1)
        out = plain(result.output)
        assert "Traceback" not in out
        assert "error" in out.lower(), out
        return out

    def show(self, user: str, request_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self.json("requests", "show", "--as", user, request_id)
        return data

    def requests(self, user: str) -> dict[str, Any]:
        data: dict[str, Any] = self.json("requests", "list", "--as", user, "--limit", "500")
        return data

    def draft(self, form: dict[str, Any] | None = None, user: str = CAMILLE) -> dict[str, Any]:
        """A new EPOC draft to de-atlas-hosting, the form given inline as JSON."""
        data: dict[str, Any] = self.json(
            "requests", "create", "--as", user, "--case", CASE, "--instrument", "epoc",
            "--executing", "de-atlas-hosting", "--category", "subscriber",
            "--form", json.dumps(FORM if form is None else form, ensure_ascii=False))
        return data

    def act(self, user: str, verb: str, request_id: str, version: int) -> dict[str, Any]:
        data: dict[str, Any] = self.json("requests", verb, "--as", user, request_id,
                                         "--version", str(version))
        assert data["version"] > version, f"{verb} did not move the version"
        return data


@pytest.fixture(scope="module", params=ENGINES)
def node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Node]:
    """A fresh node per test module and engine, initialised once with `init --demo`."""
    data_dir = tmp_path_factory.mktemp(f"cli-{request.param}")
    # none of the caller's ROGATORY_* settings (e.g. ROGATORY_USER) may reach the CLI
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ROGATORY_")}
    env.update(ROGATORY_DATA_DIR=str(data_dir), ROGATORY_SECRET_KEY="cli-test-secret",
               ROGATORY_NODE_NAME="cli.test",
               ROGATORY_OPERATOR_ACTS_AS="true")  # `--as` without a token (see test_cli_login)
    schema: str | None = None
    admin = None
    if request.param == "postgresql":
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        schema = f"rgt_cli_{os.getpid()}_{worker}_{secrets.token_hex(3)}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        env.update(ROGATORY_DATABASE_URL=PG_URL, ROGATORY_DATABASE_SCHEMA=schema)
    try:
        settings = Settings(data_dir=data_dir, secret_key="cli-test-secret",
                            database_url=PG_URL if schema else None, database_schema=schema)
        runner = CliRunner(env=env)
        first = runner.invoke(app, ["init", "--demo"], catch_exceptions=False)
        assert first.exit_code == 0, first.output
        yield Node(engine=request.param, runner=runner, settings=settings, first_init=first)
    finally:
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


# --- init ----------------------------------------------------------------------------------------


def test_init_demo_twice_is_idempotent(node: Node) -> None:
    first = plain(node.first_init.output)
    assert "database ready" in first
    assert "demo data loaded" in first
    assert "already present" not in first
    before = node.requests(AUDITOR)
    assert before["total"] >= 9  # the demo's nine requests at least
    cases_before = node.json("cases", "list", "--as", AUDITOR)

    second = plain(node.run("init", "--demo").output)
    assert "database ready" in second
    assert "demo data already present" in second
    assert "demo data loaded" not in second

    after = node.requests(AUDITOR)
    assert after["total"] == before["total"]
    assert {r["id"] for r in after["items"]} == {r["id"] for r in before["items"]}
    assert node.json("cases", "list", "--as", AUDITOR) == cases_before
    # the node key made by the first run is kept
    assert (node.settings.keys_dir / "node-ed25519.pem").is_file()


# --- directory and catalogue ---------------------------------------------------------------------


def test_jurisdictions_list_and_show(node: Node) -> None:
    found = node.json("jurisdictions", "list")
    assert isinstance(found, list)
    by_code = {j["code"]: j for j in found}
    assert len(by_code) == len(found)
    assert {"FR", "DE", "NL", "US"} <= set(by_code)
    # as many as `init` reported seeding
    seeded = re.search(r"directory: (\d+) jurisdictions", plain(node.first_init.output))
    assert seeded is not None and int(seeded.group(1)) == len(found)
    assert "de" in by_code["DE"]["languages"]
    assert "eu_e_evidence" in {b["key"] for b in by_code["DE"]["bindings"]}

    fr = node.json("jurisdictions", "show", "FR")
    assert fr["code"] == "FR"
    assert fr["name"] == "France"
    assert "fr" in fr["languages"]
    assert fr["timezone"] == "Europe/Paris"
    keys = {b["key"] for b in fr["bindings"]}
    assert {"eu_e_evidence", "eio", "budapest"} <= keys
    assert fr == by_code["FR"]


def test_authorities_of_germany(node: Node) -> None:
    found = node.json("authorities", "list", "--jurisdiction", "DE")
    assert found, "no German authority"
    assert {a["jurisdiction"] for a in found} == {"DE"}
    by_id = {a["id"]: a for a in found}
    atlas = by_id["de-atlas-hosting"]
    assert atlas["kind"] == "provider_legal_representative"
    assert set(atlas["languages"]) >= {"de", "en"}
    assert by_id["de-sta-berlin-rechtshilfe"]["kind"] == "executing"
    assert not any(a.startswith("fr-") for a in by_id)


def test_instruments_list_and_show(node: Node) -> None:
    found = node.json("instruments", "list")
    codes = {i["code"] for i in found}
    definitions = Path(rogatory.instruments.__file__).parent / "definitions"
    assert codes == {p.stem for p in definitions.glob("*.yaml")}
    epoc_row = next(i for i in found if i["code"] == "epoc")
    assert epoc_row["short_name"] == "EPOC"
    assert "production" in epoc_row["measures"]

    epoc = node.json("instruments", "show", "epoc")
    assert epoc["code"] == "epoc"
    assert epoc["legal_basis"] == "Regulation (EU) 2023/1543"
    assert {c["code"] for c in epoc["data_categories"]} == {
        "subscriber", "identification", "traffic", "content"}
    execution = next(d for d in epoc["deadlines"] if d["kind"] == "execution")
    assert execution["duration"]["days"] == 10
    assert execution["emergency_duration"]["hours"] == 8
    assert {"send", "execute", "refuse"} <= set(epoc["verbs"])
    fields = {f["name"]: f for s in epoc["sections"] for f in s["fields"]}
    required = {name for name, f in fields.items() if f["required"]}
    assert required == set(FORM), "the test's form must be exactly the required fields"
    translated = {name for name, f in fields.items() if f["translate"]}
    assert translated == {"offence_description", "necessity_and_proportionality"}


def test_find_proposes_epoc_first_for_traffic_data(node: Node) -> None:
    proposals = node.json("find", "--from", "FR", "--to", "DE", "--measure", "production",
                          "--category", "traffic")
    assert len(proposals) >= 2
    first = proposals[0]
    assert first["rank"] == 1
    assert first["instrument_code"] == "epoc"
    assert first["authority"]["id"] == "de-atlas-hosting"
    assert first["reason"]
    assert [p["rank"] for p in proposals] == sorted(p["rank"] for p in proposals)
    assert "eio" in [p["instrument_code"] for p in proposals[1:]]
    assert all(p["authority"] is None or p["authority"]["jurisdiction"] == "DE"
               for p in proposals)


# --- the demo's cases and requests ---------------------------------------------------------------


def test_cases_list(node: Node) -> None:
    cases = node.json("cases", "list", "--as", CAMILLE)
    references = [c["reference"] for c in cases]
    assert CASE in references
    # the German case is Felix Wagner's; Camille's authority takes no part in it
    assert "DE-2026-ZAC-5521" not in references
    lockstorm = next(c for c in cases if c["reference"] == CASE)
    assert "LockStorm" in lockstorm["title"]
    datetime.fromisoformat(lockstorm["created_at"])


def test_requests_visible_to_each_party(node: Node) -> None:
    camille = node.requests(CAMILLE)
    assert camille["total"] == len(camille["items"])
    mine = {(r["instrument"], r["to"], r["state"]) for r in camille["items"]}
    assert {
        ("epoc", "NL", "closed"),
        ("epoc_pr", "NL", "acknowledged"),
        ("eio", "DE", "more_information_requested"),
        ("budapest_preservation", "US", "acknowledged"),
        ("epoc", "DE", "received"),
        ("freezing_order", "DE", "draft"),
    } <= mine
    assert all(r["from"] == "FR" for r in camille["items"])
    freezing = next(r for r in camille["items"] if r["instrument"] == "freezing_order")

    jonas = node.requests(JONAS)
    seen_by_jonas = {r["id"] for r in jonas["items"]}
    assert freezing["id"] not in seen_by_jonas  # a draft is not sent yet
    assert {r["instrument"] for r in jonas["items"]} == {"eio"}
    # the executing authority cannot even read the draft by its id
    out = node.fail("requests", "show", "--as", JONAS, freezing["id"])
    assert "not found" in out.lower()
    # but the issuer can
    assert node.show(CAMILLE, freezing["id"])["state"] == "draft"


def test_requests_show_and_timeline(node: Node) -> None:
    items = node.requests(CAMILLE)["items"]
    eio = next(r for r in items if r["instrument"] == "eio")
    shown = node.show(CAMILLE, eio["id"])
    assert shown["id"] == eio["id"]
    assert shown["reference"] == eio["reference"]
    assert shown["case_reference"] == CASE
    assert shown["state"] == "more_information_requested"
    assert shown["version"] == eio["version"]
    assert shown["executing_authority"]["id"] == "de-sta-berlin-rechtshilfe"
    assert shown["sent_at"] is not None
    assert "provide_information" in shown["allowed_verbs"]

    timeline = node.json("requests", "timeline", "--as", CAMILLE, eio["id"])
    verbs = [e["verb"] for e in timeline]
    assert verbs[0] == "create"
    assert verbs.index("send") < verbs.index("acknowledge") < verbs.index("begin_review")
    assert verbs[-1] == "request_information"
    assert timeline[-1]["to_state"] == "more_information_requested"
    assert timeline[-1]["actor"] == "Jonas Becker"
    assert timeline[-1]["reason"]
    assert timeline[-1]["version"] == shown["version"]
    versions = [e["version"] for e in timeline]
    assert versions == sorted(versions)
    ats = [datetime.fromisoformat(e["at"]) for e in timeline]
    assert ats == sorted(ats)


# --- an EPOC from draft to executed --------------------------------------------------------------


def test_epoc_lifecycle(node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("form.json").write_text(json.dumps(FORM, ensure_ascii=False), encoding="utf-8")
    created = node.json("requests", "create", "--as", CAMILLE, "--case", CASE,
                        "--instrument", "epoc", "--executing", "de-atlas-hosting",
                        "--category", "subscriber", "--form", "@form.json")
    rid, version = created["id"], created["version"]
    assert created["state"] == "draft"
    assert version == 1
    assert created["form"] == FORM
    assert (created["requesting_state"], created["requested_state"]) == ("FR", "DE")
    assert created["case_reference"] == CASE
    assert created["issuing_authority"]["id"] == "fr-parquet-paris-j3"
    assert created["executing_authority"]["id"] == "de-atlas-hosting"
    assert created["data_categories"] == ["subscriber"]
    assert created["language"] == "fr"
    assert created["deadlines"] == []
    assert created["allowed_verbs"] == ["submit", "withdraw"]
    assert rid in {r["id"] for r in node.requests(CAMILLE)["items"]}
    # the provider sees nothing before it is sent
    assert rid not in {r["id"] for r in node.requests(MIA)["items"]}

    submitted = node.act(CAMILLE, "submit", rid, version)
    assert submitted["state"] == "validation"
    validated = node.act(CAMILLE, "validate", rid, submitted["version"])
    assert validated["state"] == "issued"
    assert "send" in validated["allowed_verbs"]
    version = validated["version"]

    # French text for a German provider: each free-text field needs a translation
    needed = [name for name, status in node.show(CAMILLE, rid)["translations"].items()
              if status == "needed"]
    assert sorted(needed) == ["necessity_and_proportionality", "offence_description"]
    for i, field in enumerate(needed):
        language = ("de", "en")[i % 2]
        out = plain(node.run("requests", "translate", "--as", CAMILLE, rid, field,
                             "--language", language, "--text", f"[{language}] {field}",
                             "--version", str(version), "--certified").output)
        assert f"version {version + 1}" in out, out
        version += 1
    issued = node.show(CAMILLE, rid)
    assert issued["version"] == version
    assert set(issued["translations"].values()) == {"certified"}

    sent = node.act(CAMILLE, "send", rid, version)
    assert sent["state"] == "received"
    assert sent["sent_at"] is not None

    # after sending: the execution deadline runs, with a countdown
    after_send = node.show(CAMILLE, rid)
    [deadline] = after_send["deadlines"]
    assert deadline["kind"] == "execution"
    assert deadline["status"] == "open"
    assert deadline["holder"] == "executing"
    assert deadline["countdown"] and deadline["countdown"].endswith(" left")
    assert 9 * 86400 < deadline["remaining_seconds"] <= 11 * 86400
    span = datetime.fromisoformat(deadline["due_at"]) - datetime.fromisoformat(
        deadline["starts_at"])
    assert timedelta(days=10) <= span < timedelta(days=11)
    table = plain(node.run("requests", "show", "--as", CAMILLE, rid).output)
    assert re.search(r"\d+d \d\dh \d\dm left", table), table
    assert after_send["reference"] in table

    # the provider now sees it and works it through
    assert rid in {r["id"] for r in node.requests(MIA)["items"]}
    [for_mia] = node.show(MIA, rid)["deadlines"]
    assert (for_mia["status"], for_mia["holder"]) == ("open", "executing")
    assert for_mia["countdown"] and for_mia["countdown"].endswith(" left")
    data = sent
    for verb, state in [("acknowledge", "acknowledged"), ("begin-review", "under_review"),
                        ("begin-execution", "executing"), ("execute", "executed")]:
        assert verb.replace("-", "_") in node.show(MIA, rid)["allowed_verbs"]
        data = node.act(MIA, verb, rid, data["version"])
        assert data["state"] == state, verb

    final = node.show(CAMILLE, rid)
    assert final["state"] == "executed"
    [deadline] = final["deadlines"]
    assert deadline["status"] == "met"
    assert deadline["closed_at"] is not None
    assert deadline["countdown"] is None

    timeline = node.json("requests", "timeline", "--as", CAMILLE, rid)
    assert [e["verb"] for e in timeline] == [
        "create", "submit", "validate", "translate", "translate", "send", "acknowledge",
        "begin_review", "begin_execution", "execute"]
    assert timeline[-1]["to_state"] == "executed"
    assert timeline[-1]["actor"] == "Mia Hoffmann"
    assert timeline[-1]["version"] == final["version"]
    assert {e["actor"] for e in timeline[:6]} == {"Camille Martin"}


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["cases", "list"],
    ["requests", "list"],
    ["requests", "create", "--case", CASE, "--instrument", "epoc",
     "--executing", "de-atlas-hosting", "--category", "subscriber",
     "--form", json.dumps(FORM)],
])
def test_unknown_user(node: Node, command: list[str]) -> None:
    before = node.requests(AUDITOR)["total"]
    out = node.fail(*command[:2], "--as", "ghost.user", *command[2:])
    assert "ghost.user" in out
    assert "no active user" in out
    assert node.requests(AUDITOR)["total"] == before


def test_send_before_validation_names_the_allowed_verbs(node: Node) -> None:
    draft = node.draft()
    out = node.fail("requests", "send", "--as", CAMILLE, draft["id"], "--version", "1")
    assert "send" in out
    assert "draft" in out
    assert "submit, withdraw" in out
    submitted = node.act(CAMILLE, "submit", draft["id"], 1)
    out = node.fail("requests", "send", "--as", CAMILLE, draft["id"],
                    "--version", str(submitted["version"]))
    assert "validation" in out
    assert "validate, return_to_draft, withdraw" in out
    # nothing changed
    still = node.show(CAMILLE, draft["id"])
    assert (still["state"], still["version"]) == ("validation", submitted["version"])
    assert still["sent_at"] is None


def test_send_without_translations_names_each_field(node: Node) -> None:
    draft = node.draft()
    v = node.act(CAMILLE, "submit", draft["id"], 1)["version"]
    v = node.act(CAMILLE, "validate", draft["id"], v)["version"]
    out = node.fail("requests", "send", "--as", CAMILLE, draft["id"], "--version", str(v))
    assert "translations.offence_description" in out
    assert "translations.necessity_and_proportionality" in out
    assert node.show(CAMILLE, draft["id"])["state"] == "issued"


def test_create_with_a_bad_form_names_each_field(node: Node) -> None:
    before = node.requests(CAMILLE)["total"]
    bad = {**FORM, "contact_email": "not-an-address", "addressee_capacity": "owner",
           "maximum_penalty_years": "ten", "period_from": "yesterday", "colour": "blue"}
    result = node.run("requests", "create", "--as", CAMILLE, "--case", CASE,
                      "--instrument", "epoc", "--executing", "de-atlas-hosting",
                      "--category", "subscriber", "--form", json.dumps(bad), "--json", code=1)
    out = plain(result.output)
    for field in ("form.contact_email", "form.addressee_capacity",
                  "form.maximum_penalty_years", "form.period_from", "form.colour"):
        assert f"{field}:" in out, f"{field} not named in: {out}"
    for fine in ("form.identifiers", "form.addressee_name", "form.issuing_file_number"):
        assert fine not in out
    assert result.stdout.strip() == ""  # no JSON for a request that was not made
    assert node.requests(CAMILLE)["total"] == before


def test_create_with_bad_json_or_bad_parties(node: Node) -> None:
    out = node.fail("requests", "create", "--as", CAMILLE, "--case", CASE,
                    "--instrument", "epoc", "--executing", "de-atlas-hosting",
                    "--category", "subscriber", "--form", '{"issuing_file_number": ')
    assert "form" in out
    out = node.fail("requests", "create", "--as", CAMILLE, "--case", "NO-SUCH-CASE",
                    "--instrument", "epoc", "--executing", "nowhere",
                    "--category", "gossip", "--form", json.dumps(FORM))
    for field in ("case_reference", "executing_authority_id", "data_categories"):
        assert field in out, f"{field} not named in: {out}"


def test_submit_of_an_incomplete_draft_names_each_missing_field(node: Node) -> None:
    partial = {k: v for k, v in FORM.items() if k not in ("identifiers", "contact_email")}
    draft = node.draft(partial)  # a draft may be incomplete
    out = node.fail("requests", "submit", "--as", CAMILLE, draft["id"], "--version", "1")
    assert "form.identifiers" in out
    assert "form.contact_email" in out
    assert "form.addressee_name" not in out
    assert node.show(CAMILLE, draft["id"])["state"] == "draft"


def test_stale_version_is_refused(node: Node) -> None:
    draft = node.draft()
    submitted = node.act(CAMILLE, "submit", draft["id"], 1)
    assert submitted["version"] == 2
    out = node.fail("requests", "validate", "--as", CAMILLE, draft["id"], "--version", "1")
    assert "version 1" in out
    assert "version 2" in out
    out = node.fail("requests", "translate", "--as", CAMILLE, draft["id"],
                    "offence_description", "--language", "de", "--text", "x", "--version", "1")
    assert "version 1" in out
    still = node.show(CAMILLE, draft["id"])
    assert (still["state"], still["version"]) == ("validation", 2)
    assert still["translations"]["offence_description"] == "needed"


def test_unknown_instrument(node: Node) -> None:
    out = node.fail("instruments", "show", "nope")
    assert "nope" in out
    assert "unknown instrument" in out


def test_unknown_request(node: Node) -> None:
    out = node.fail("requests", "show", "--as", CAMILLE, "00000000-0000-0000-0000-000000000000")
    assert "not found" in out.lower()


# --- deadlines -----------------------------------------------------------------------------------


def test_deadlines_scan(node: Node) -> None:
    first = node.json("deadlines", "scan")
    assert isinstance(first, list)
    for row in first:
        assert set(row) == {"request_id", "deadline", "status", "due_at"}
        assert row["status"] in ("breached", "expired")
    assert node.json("deadlines", "scan") == []  # each lapse is recorded once

    # an EPOC sent now, whose execution deadline is then made to lie in the past
    draft = node.draft()
    rid, v = draft["id"], 1
    for verb in ("submit", "validate"):
        v = node.act(CAMILLE, verb, rid, v)["version"]
    for field in ("offence_description", "necessity_and_proportionality"):
        node.run("requests", "translate", "--as", CAMILLE, rid, field, "--language", "en",
                 "--text", f"[en] {field}", "--version", str(v))
        v += 1
    assert node.act(CAMILLE, "send", rid, v)["state"] == "received"
    past = datetime.now(UTC) - timedelta(hours=1)
    engine = make_engine(node.settings)
    try:
        with engine.begin() as conn:
            changed = conn.execute(update(Deadline).where(Deadline.request_id == rid)
                                   .values(due_at=past)).rowcount
    finally:
        engine.dispose()
    assert changed == 1
    overdue = node.show(CAMILLE, rid)["deadlines"][0]
    assert overdue["status"] == "open"
    assert overdue["countdown"].startswith("overdue by")

    lapsed = node.json("deadlines", "scan")
    assert [(r["request_id"], r["deadline"], r["status"]) for r in lapsed] == [
        (rid, "execution", "breached")]
    assert node.json("deadlines", "scan") == []
    after = node.show(CAMILLE, rid)["deadlines"][0]
    assert after["status"] == "breached"
    assert after["countdown"] is None
    timeline = node.json("requests", "timeline", "--as", CAMILLE, rid)
    assert timeline[-1]["verb"] == "deadline_breached"
    assert timeline[-1]["actor"] is None


# --- known bugs ----------------------------------------------------------------------------------


def test_command_before_init_fails_cleanly(node: Node, tmp_path: Path) -> None:
    env = {**node.runner.env, "ROGATORY_DATA_DIR": str(tmp_path / "empty")}
    admin = None
    if node.engine == "postgresql":
        schema = f"rgt_cli_empty_{os.getpid()}_{secrets.token_hex(3)}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        env["ROGATORY_DATABASE_SCHEMA"] = schema
    try:
        result = CliRunner(env=env).invoke(app, ["cases", "list", "--as", CAMILLE])
    finally:
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"crashed: {result.exception!r}")
    assert result.exit_code == 1
    assert "rogatory init" in plain(result.output)


def test_bad_setting_names_the_variable(node: Node) -> None:
    runner = CliRunner(env={**node.runner.env, "ROGATORY_DATABASE_SCHEMA": "bad-name"})
    result = runner.invoke(app, ["cases", "list", "--as", CAMILLE], catch_exceptions=False)
    assert result.exit_code == 1
    out = plain(result.output)
    assert "ROGATORY_DATABASE_SCHEMA" in out and "Traceback" not in out


def test_unknown_state_filter_is_refused(node: Node) -> None:
    result = node.run("requests", "list", "--as", CAMILLE, "--state", "bogus", code=2)
    assert "bogus" in plain(result.output)
    executed = node.json("requests", "list", "--as", CAMILLE, "--state", "closed")
    assert executed["total"] >= 1
    assert {i["state"] for i in executed["items"]} == {"closed"}


def test_ledger_checkpoint_and_verify(node: Node, tmp_path: Path) -> None:
    result = node.runner.invoke(app, ["ledger", "checkpoint"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    note = result.stdout
    assert note.splitlines()[0].endswith("/ledger") and "\n\n— " in note
    saved = tmp_path / "checkpoint.txt"
    saved.write_text(note, encoding="utf-8")
    out = plain(node.run("ledger", "verify", "--checkpoint", str(saved)).output)
    assert "ledger intact" in out and "signature valid" in out
    forged = tmp_path / "forged.txt"
    forged.write_text(note.replace("/ledger\n", "/ledger-x\n"), encoding="utf-8")
    assert "error" in node.fail("ledger", "verify", "--checkpoint", str(forged)).lower()


# --- issue without prior validation (Reg. (EU) 2023/1543 Art. 4(5)) -----------------------------


def test_issue_emergency_and_the_lapse_by_the_deadline_scan(node: Node) -> None:
    """`requests issue-emergency` by an officer of the French police's 24/7 contact point (an
    authority whose orders need validation); no `requests lapse` command: the order lapses when
    `deadlines scan` finds its 48 hours passed, and the provider sees it withdrawn."""
    from rogatory.clock import SystemClock
    from rogatory.identity import service as identity
    from rogatory.identity.models import Role

    officer = "lucas.moreau"
    engine = make_engine(node.settings)
    try:
        with Session(engine) as session:
            identity.ensure_user(session=session, username=officer, display_name="Lucas Moreau",
                                 authority_id="fr-contact-point-24-7", role=Role.PROSECUTOR,
                                 language="en", timezone="Europe/Paris", clock=SystemClock())
            session.commit()
    finally:
        engine.dispose()
    node.run("cases", "create", "--as", officer, "FR-2026-HOSTAGE", "Hostage-taking")
    created = node.json(
        "requests", "create", "--as", officer, "--case", "FR-2026-HOSTAGE", "--instrument",
        "epoc", "--executing", "de-atlas-hosting", "--category", "subscriber", "--validating",
        "fr-parquet-paris-j3", "--emergency", "--form", json.dumps(FORM, ensure_ascii=False))
    rid = created["id"]
    assert "issue_emergency" in created["allowed_verbs"]
    out = node.fail("requests", "issue-emergency", "--as", officer, rid, "--version", "1")
    assert "reason" in out
    issued = node.json("requests", "issue-emergency", "--as", officer, rid, "--version", "1",
                       "--reason", "Imminent threat to a hostage's life.")
    assert issued["state"] == "issued"
    [due] = issued["deadlines"]
    assert due["kind"] == "ex_post_validation" and due["legal_basis"] == (
        "Reg. (EU) 2023/1543 Art. 4(5)") and due["verified"] is False
    v = issued["version"]
    for field in ("offence_description", "necessity_and_proportionality"):
        node.run("requests", "translate", "--as", officer, rid, field, "--language", "en",
                 "--text", f"[en] {field}", "--version", str(v))
        v += 1
    assert node.act(officer, "send", rid, v)["state"] == "received"
    assert "lapse" in plain(node.run("requests", "lapse", "--as", officer, rid, "--version",
                                     str(v + 1), code=2).output)

    engine = make_engine(node.settings)
    try:
        with engine.begin() as conn:
            conn.execute(update(Deadline).where(
                Deadline.request_id == rid, Deadline.kind == "ex_post_validation").values(
                due_at=datetime.now(UTC) - timedelta(minutes=1)))
    finally:
        engine.dispose()
    lapsed = node.json("deadlines", "scan")
    assert [(r["deadline"], r["status"]) for r in lapsed if r["request_id"] == rid] == [
        ("ex_post_validation", "breached")]
    seen = node.show(MIA, rid)
    assert seen["state"] == "withdrawn" and seen["allowed_verbs"] == []
    assert {d["kind"]: d["status"] for d in seen["deadlines"]} == {
        "ex_post_validation": "breached", "execution": "cancelled"}
    timeline = node.json("requests", "timeline", "--as", MIA, rid)
    assert timeline[-1]["verb"] == "lapse" and timeline[-1]["actor"] is None
    assert timeline[-1]["legal_basis"] == "Reg. (EU) 2023/1543 Art. 4(5)"
    out = node.fail("requests", "validate-ex-post", "--as", CAMILLE, rid, "--version",
                    str(seen["version"]))
    assert "not allowed while the request is 'withdrawn'" in out
