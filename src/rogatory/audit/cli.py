"""`rogatory audit`: the access log for the oversight auditor — list it, or export the audit
report of a case or a period as JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from rogatory.audit import service

app = typer.Typer(help="The access log: who read or changed what, when, from where.",
                  no_args_is_help=True)

SinceOpt = Annotated[datetime | None, typer.Option(help="From this time (UTC if no offset)")]
UntilOpt = Annotated[datetime | None, typer.Option(help="Before this time")]
UserOpt = Annotated[str | None, typer.Option("--user", help="Only this user's accesses")]
CaseOpt = Annotated[str | None, typer.Option("--case", help="Only accesses to this case")]


def _query(since: datetime | None, until: datetime | None, user: str | None,
           case: str | None, denied: bool = False, limit: int = 1_000) -> service.Query:
    def utc(value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)

    return service.Query(since=utc(since), until=utc(until), username=user,
                         case_reference=case, denied_only=denied, limit=limit)


@app.command("list")
def list_(
    as_user: Annotated[str, typer.Option("--as", envvar="ROGATORY_USER",
                                         help="The auditor consulting the log")],
    since: SinceOpt = None, until: UntilOpt = None, user: UserOpt = None, case: CaseOpt = None,
    denied: Annotated[bool, typer.Option(help="Only denied accesses")] = False,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """The access records, oldest first."""
    from rogatory.cli import _actor, _print_json, _run, _session, _table

    def body() -> None:
        with _session() as session:
            actor = _actor(session, as_user)
            rows = service.records(session=session, actor=actor,
                                   query=_query(since, until, user, case, denied, limit))
            data = [service.as_dict(r) for r in rows]
        if json_out:
            _print_json(data)
            return
        _table("Access log", ["at", "user", "role", "action", "target", "status", "leaf"],
               [[d["at"], d["username"] or "-", d["role"] or "-", d["action"], d["target"],
                 d["status"], d["ledger_index"]] for d in data])

    _run(body)


@app.command()
def report(
    as_user: Annotated[str, typer.Option("--as", envvar="ROGATORY_USER",
                                         help="The auditor making the report")],
    out: Annotated[Path, typer.Option(help="Write the report (JSON) here")],
    since: SinceOpt = None, until: UntilOpt = None, user: UserOpt = None, case: CaseOpt = None,
) -> None:
    """Export the audit report of a case or a period (JSON: counts, denials, every record with
    its ledger leaf)."""
    from rogatory.cli import _actor, _run, _session, console

    def body() -> None:
        with _session() as session:
            actor = _actor(session, as_user)
            data = service.report(session=session, actor=actor,
                                  query=_query(since, until, user, case, limit=1_000_000))
        out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        console.print(f"{data['count']} records ({data['denied']} denied) written to {out}")

    _run(body)
