"""`rogatory safeguards` on a demo node (SQLite and PostgreSQL): the public register, the
decisions and the assessment behind the demo's traffic-data EPOC, the German central authority's
notification, the tools register and the data received; errors name the field and exit 1."""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from conftest import ENGINES, PG_URL
from rogatory.cli import app
from rogatory.i18n import translate
from rogatory.safeguards import rules, service

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def plain(output: str) -> str:
    return " ".join(ANSI.sub("", output).split())


@dataclass
class Node:
    runner: CliRunner

    def run(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == code, f"`rogatory {' '.join(args)}`:\n{result.output}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def request(self, user: str, instrument: str, to: str, state: str) -> str:
        items = self.json("requests", "list", "--as", user, "--limit", "500")["items"]
        found = [r["id"] for r in items if (r["instrument"], r["to"], r["state"])
                 == (instrument, to, state)]
        assert len(found) == 1, items
        return str(found[0])


@pytest.fixture(scope="module", params=ENGINES)
def node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Node]:
    data_dir = tmp_path_factory.mktemp(f"safeguards-cli-{request.param}")
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ROGATORY_")}
    env.update(ROGATORY_DATA_DIR=str(data_dir), ROGATORY_SECRET_KEY="cli-test-secret",
               ROGATORY_NODE_NAME="cli.test", ROGATORY_OPERATOR_ACTS_AS="true")
    schema, admin = None, None
    if request.param == "postgresql":
        schema = f"rgt_sg_{os.getpid()}_{secrets.token_hex(4)}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        env.update(ROGATORY_DATABASE_URL=PG_URL, ROGATORY_DATABASE_SCHEMA=schema)
    try:
        runner = CliRunner(env=env)
        first = runner.invoke(app, ["init", "--demo"], catch_exceptions=False)
        assert first.exit_code == 0, first.output
        yield Node(runner)
    finally:
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


def test_the_demo_public_register_names_nobody(node: Node) -> None:
    published = node.json("safeguards", "register")
    assert published["decisions"] == 7  # the demo's validations
    assert {r["instrument"] for r in published["rows"]} == {
        "epoc", "epoc_pr", "eio", "budapest_preservation"}
    text = json.dumps(published, ensure_ascii=False)
    for secret in ("LockStorm", "Camille", "Hélène", "fr-parquet", "Necessary and", "EPOC-FR"):
        assert secret not in text
    out = plain(node.run("safeguards", "register", "--lang", "fr").output)
    assert "Decisions" in out and "Reg. (EU) 2023/1543 Art. 5(4)" in out


def test_the_traffic_epoc_was_assessed_decided_with_a_tool_and_notified(node: Node) -> None:
    rid = node.request("helene.roux", "epoc", "DE", "under_review")
    [assessment] = node.json("safeguards", "assessments", "--as", "helene.roux", rid)
    assert assessment["current"] and assessment["maximum_penalty_years"] == 20
    assert assessment["threshold_problems"] == []
    [decision] = node.json("safeguards", "decisions", "--as", "helene.roux", rid)
    assert decision["assessment_id"] == assessment["id"]
    assert [t["name"] for t in decision["tools"]] == ["WalletCluster (demo)"]
    assert node.json("safeguards", "decision", "--as", "mia.hoffmann",
                     decision["id"])["id"] == decision["id"]
    [note] = node.json("safeguards", "notifications", "--as", "anna.schmidt")
    assert note["request_id"] == rid and note["status"] == "pending"
    assert note["enforcing_authority"]["id"] == "de-central-authority"
    assert node.json("safeguards", "notification", "--as", "helene.roux", rid)["suspensive"]
    # the provider may not transmit while the German review runs
    version = node.json("requests", "show", "--as", "mia.hoffmann", rid)["version"]
    node.run("requests", "begin-execution", "--as", "mia.hoffmann", rid, "--version",
             str(version))
    out = plain(node.run("requests", "execute", "--as", "mia.hoffmann", rid, "--version",
                         str(version + 1), code=1).output)
    assert "notification: " in out and "Reg. (EU) 2023/1543 Art. 8(4), 10(2)" in out
    tools = node.json("safeguards", "tools", "list", "--as", "mia.hoffmann")
    assert tools[0]["approved_by"] == "Marc Lambert"


def test_data_received_and_errors_naming_fields(node: Node, tmp_path: Path) -> None:
    rid = node.request("camille.martin", "epoc", "NL", "closed")
    [item] = node.json("safeguards", "data", "list", "--as", "camille.martin", rid)
    assert item["purpose"].startswith("Criminal proceedings FR-2026-LOCKSTORM")
    due = node.json("safeguards", "data", "due", "--as", "camille.martin")
    assert due == {"review": [], "retention_ended": []}
    out = plain(node.run("safeguards", "data", "transfer", "--as", "camille.martin", item["id"],
                         "--to", "US", "--recipient", "FBI", "--purpose", "Same case",
                         "--consent-reference", "", "--consent-date", "2026-11-01",
                         code=1).output)
    consent = translate(rules.MSG_CONSENT, "fr").format(article=rules.ONWARD_TRANSFER.article)
    assert f"consent_reference: {consent}" in out  # in Camille's language
    draft = node.request("camille.martin", "freezing_order", "DE", "draft")
    values = tmp_path / "assessment.json"
    values.write_text(json.dumps({"offence": "Blanchiment", "necessity": ""}), encoding="utf-8")
    out = plain(node.run("safeguards", "assess", "--as", "camille.martin", draft,
                         "--values", f"@{values}", code=1).output)
    assert f"necessity: {translate(rules.MSG_REQUIRED, 'fr')}" in out
    assert "Traceback" not in out
    out = plain(node.run("safeguards", "decide", "--as", "camille.martin", draft, "--stage",
                         "validation", "--outcome", "grant", "--ground", "necessary",
                         "--reasons", "x", code=1).output)
    awaited = translate(service.MSG_NOT_AWAITED, "fr").format(stage="validation", state="draft")
    assert f"stage: {awaited}" in out
