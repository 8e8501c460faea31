"""The `rogatory` command line: set up and serve a node, browse the directory and catalogue,
and carry requests through their lifecycle. Every list/show command also takes `--json`."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError as PydanticValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from rogatory.clock import SystemClock
from rogatory.config import Settings
from rogatory.db import make_engine, make_session_factory, unit_of_work
from rogatory.errors import ConfigurationError, RogatoryError, ValidationFailed
from rogatory.evidence.cli import app as evidence_app
from rogatory.identity.policy import Actor
from rogatory.requests.enums import DataCategory, Measure, State, Verb
from rogatory.requests.workflow import SYSTEM_VERBS

EVENT_LOOP = "asyncio"
"""The event loop `rogatory serve` runs uvicorn on (see `serve`)."""

app = typer.Typer(help="Rogatory: cross-border judicial cooperation against cybercrime.",
                  pretty_exceptions_show_locals=False,
                  no_args_is_help=True)
requests_app = typer.Typer(help="Draft, act on and track requests.", no_args_is_help=True)
cases_app = typer.Typer(help="Cases.", no_args_is_help=True)
jurisdictions_app = typer.Typer(help="Jurisdictions.", no_args_is_help=True)
authorities_app = typer.Typer(help="Authorities.", no_args_is_help=True)
instruments_app = typer.Typer(help="The instrument catalogue.", no_args_is_help=True)
deadlines_app = typer.Typer(help="Legal deadlines.", no_args_is_help=True)
app.add_typer(requests_app, name="requests")
app.add_typer(cases_app, name="cases")
app.add_typer(jurisdictions_app, name="jurisdictions")
app.add_typer(authorities_app, name="authorities")
app.add_typer(instruments_app, name="instruments")
app.add_typer(deadlines_app, name="deadlines")
app.add_typer(evidence_app, name="evidence")


def _register_subcommands() -> None:
    from rogatory.audit.cli import app as audit_app
    from rogatory.evidence.verify_cli import verify
    from rogatory.identity import cli as identity_cli
    from rogatory.identity.cli import app as users_app
    from rogatory.ledger.cli import app as ledger_app
    from rogatory.safeguards.cli import app as safeguards_app
    from rogatory.sim.cli import exercise, simulate

    app.add_typer(ledger_app, name="ledger")
    app.add_typer(safeguards_app, name="safeguards")
    app.add_typer(audit_app, name="audit")
    app.add_typer(users_app, name="users")
    app.command("login")(identity_cli.login)
    app.command("logout")(identity_cli.logout)
    app.command("simulate")(simulate)
    app.command("exercise")(exercise)
    app.command("verify")(verify)

console = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]
AsOpt = Annotated[str, typer.Option("--as", envvar="ROGATORY_USER",
                                    help="Act as this user (the node's operator acts for them)")]


NOT_INITIALISED = "the node's database is not initialised: run `rogatory init` first"


@contextmanager
def _session() -> Iterator[Session]:
    settings = Settings()
    url = settings.effective_database_url
    if url.startswith("sqlite") and not (settings.data_dir / "rogatory.db").exists():
        raise ConfigurationError(NOT_INITIALISED)  # and create no empty database file
    engine = make_engine(settings)
    try:
        if not inspect(engine).has_table("alembic_version"):
            raise ConfigurationError(NOT_INITIALISED)
        with unit_of_work(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


_language = {"current": "en"}  # the acting user's language, for error messages


_acting: dict[str, Actor | None] = {"actor": None}  # who the command acts as, for the log


def _run(fn: Callable[[], None]) -> None:
    """Run a command body; a RogatoryError becomes a clear message and exit code 1. A command
    that acted as a user goes into the access log with its outcome."""
    _language["current"] = "en"
    _acting["actor"] = None
    status = 1
    try:
        fn()
        status = 0
    except PydanticValidationError as exc:
        for detail in exc.errors():
            name = "ROGATORY_" + "_".join(str(p) for p in detail["loc"]).upper()
            err.print(f"[red]error:[/] {name}: {detail['msg']}")
        raise typer.Exit(1) from None
    except ValidationFailed as exc:
        err.print(f"[red]error:[/] {exc.message}")
        for e in exc.errors:
            err.print(f"  [bold]{e.field}[/]: {e.text(_language['current'])}")
        raise typer.Exit(1) from None
    except RogatoryError as exc:
        err.print(f"[red]error ({exc.code}):[/] {exc.message}")
        raise typer.Exit(1) from None
    finally:
        _log_access(status)


def _log_access(status: int) -> None:
    actor = _acting["actor"]
    if actor is None:
        return
    import getpass
    import socket

    from rogatory.audit.recorder import Access, write
    from rogatory.clock import SystemClock

    args = sys.argv[1:]
    access = Access(
        at=SystemClock().now(), channel="cli",
        source=f"{getpass.getuser()}@{socket.gethostname()}"[:64],
        user_id=actor.user_id, username=actor.username, authority_id=actor.authority_id,
        role=actor.role.value, action="rogatory " + " ".join(
            a for a in args[:2] if not a.startswith("-")),
        target=" ".join(args)[:500], status=status, allowed=status == 0)
    with _session() as session:
        write(session, [access])


MSG_CLI_TOKEN = (
    "the command line acts as the holder of an API token: set ROGATORY_TOKEN to a token of "
    "'{user}' (`rogatory login` prints one after password and TOTP), or, on a node whose "
    "operator may act for its users, ROGATORY_OPERATOR_ACTS_AS=true")


def _actor(session: Session, username: str) -> Actor:
    """Who a command acts as: the holder of `ROGATORY_TOKEN`, who must be the user named by
    `--as` (a read-only token cannot drive the command line). Without a token, only a demo node
    or one configured with `operator_acts_as` lets its operator act for the named user (the
    access log records the command either way)."""
    from rogatory.clock import SystemClock
    from rogatory.errors import Unauthenticated
    from rogatory.identity import service as identity

    token = os.environ.get("ROGATORY_TOKEN", "").strip()
    if token:
        actor = identity.authenticate_token(session=session, token=token,
                                            now=SystemClock().now(), write=True)
        if username and username != actor.username:
            raise Unauthenticated(f"ROGATORY_TOKEN is not a token of '{username}'")
    else:
        settings = Settings()
        if not (settings.demo or settings.operator_acts_as):
            raise Unauthenticated(MSG_CLI_TOKEN.format(user=username))
        actor = identity.actor_by_username(session=session, username=username)
    _language["current"] = actor.language
    _acting["actor"] = actor
    return actor


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title)
    for i, c in enumerate(columns):
        table.add_column(c, no_wrap=i == 0, overflow="fold")
    for r in rows:
        table.add_row(*[str(v) if v is not None else "" for v in r])
    console.print(table)


# --- node ----------------------------------------------------------------------------------------


@app.command()
def init(demo: Annotated[bool, typer.Option(help="Load the demo data set")] = False) -> None:
    """Create the database, run migrations, seed the directory, make node keys (idempotent)."""
    from rogatory import bootstrap
    from rogatory.directory import seed
    from rogatory.directory import service as directory

    def body() -> None:
        settings = Settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings)
        bootstrap.migrate(engine)
        with unit_of_work(make_session_factory(engine)) as session:
            n_j, n_a = directory.seed(session=session, jurisdictions=seed.load_jurisdictions(),
                                      authorities=seed.load_authorities())
        bootstrap.ensure_node_key(settings)
        from rogatory.evidence.store import EvidenceStore

        EvidenceStore(settings.evidence_dir).recover()  # temp files a crash left behind
        from rogatory.timestamp.authority import ensure_tsa

        ensure_tsa(settings)  # the built-in time-stamping authority's key and certificates
        console.print(f"database ready; directory: {n_j} jurisdictions, {n_a} authorities; "
                      f"node key in {bootstrap.node_key_path(settings)}")
        if demo:
            from rogatory import demo as demo_data

            with unit_of_work(make_session_factory(engine)) as session:
                created = demo_data.load(session=session, settings=settings,
                                         clock=SystemClock())
            console.print("demo data loaded" if created else "demo data already present")
        engine.dispose()

    _run(body)


@app.command()
def serve() -> None:
    """Serve the node's API (and run the deadline scanner every minute)."""
    import uvicorn

    from rogatory.app import create_app

    settings = Settings()
    _run(settings.require_production_secrets)
    application = create_app(settings)
    stop = threading.Event()

    def scanner() -> None:
        from rogatory.requests import service

        while not stop.wait(60):
            try:
                with unit_of_work(application.state.session_factory) as session:
                    service.scan_deadlines(session=session, clock=application.state.clock)
            except RogatoryError as exc:  # e.g. a request changed meanwhile: next minute
                err.print(f"deadline scan: {exc.message}")

    threading.Thread(target=scanner, daemon=True, name="deadline-scanner").start()
    url = f"http://{settings.host}:{settings.port}"
    console.print(f"[bold]Rogatory[/] node {settings.node_name} at [link={url}]{url}[/] "
                  f"(API docs {url}/docs)")
    if settings.demo:
        from rogatory import demo as demo_data

        with unit_of_work(application.state.session_factory) as session:
            logins = demo_data.logins(session=session, settings=settings)
        _table(f"Demo logins (password {logins[0]['password'] if logins else ''} + the TOTP "
               "code of the secret, e.g. `oathtool --totp -b SECRET`; or the API token: "
               "Authorization: Bearer …)",
               ["user", "role", "authority", "TOTP secret", "API token"],
               [[u["username"], u["role"], u["authority"], u["totp_secret"], u["token"]]
                for u in logins])
    # Python's own event loop, not uvloop: saturated by 64 connections, uvloop served about 1%
    # of the reads in 1-4 s while asyncio's loop kept every one under 0.6 s, at the same
    # throughput (bench/bench_http.py; README, Benchmarks).
    uvicorn.run(application, host=settings.host, port=settings.port, log_level="warning",
                loop=EVENT_LOOP)
    stop.set()


# --- directory and catalogue ---------------------------------------------------------------------


@jurisdictions_app.command("list")
def jurisdictions_list(as_json: JsonOpt = False) -> None:
    """Jurisdictions with their languages and the instruments that bind them."""
    from rogatory.directory import service as directory

    def body() -> None:
        with _session() as session:
            found = directory.jurisdictions(session=session)
        if as_json:
            _print_json([asdict(j) for j in found.values()])
            return
        _table("Jurisdictions", ["code", "name", "languages", "instruments"], [
            [j.code, j.name, ", ".join(j.languages),
             ", ".join(b.key + ("" if b.verified else "?") for b in j.bindings)]
            for j in found.values()])

    _run(body)


@jurisdictions_app.command("show")
def jurisdictions_show(code: str, as_json: JsonOpt = False) -> None:
    """One jurisdiction."""
    from rogatory.directory import service as directory

    def body() -> None:
        with _session() as session:
            j = directory.jurisdiction(session=session, code=code)
        if as_json:
            _print_json(asdict(j))
            return
        _table(f"{j.name} ({j.code})", ["binding", "verified", "note"],
               [[b.key, b.verified, b.note] for b in j.bindings])
        console.print(f"languages: {', '.join(j.languages)}; time zone: {j.timezone}")

    _run(body)


@authorities_app.command("list")
def authorities_list(
    jurisdiction: Annotated[str | None, typer.Option(help="ISO alpha-2")] = None,
    kind: Annotated[str | None, typer.Option()] = None, as_json: JsonOpt = False,
) -> None:
    """Authorities, by jurisdiction and kind."""
    from rogatory.directory import service as directory

    def body() -> None:
        with _session() as session:
            found = directory.authorities(session=session, jurisdiction=jurisdiction, kind=kind)
        if as_json:
            _print_json([asdict(a) for a in found])
            return
        _table("Authorities", ["id", "state", "kind", "rank", "name", "languages"], [
            [a.id, a.jurisdiction, a.kind.value, a.rank.value if a.rank else "", a.name,
             ", ".join(a.languages)] for a in found])

    _run(body)


@app.command()
def find(
    requesting: Annotated[str, typer.Option("--from", help="Requesting state (alpha-2)")],
    requested: Annotated[str, typer.Option("--to", help="Requested state (alpha-2)")],
    measure: Annotated[Measure, typer.Option()],
    category: Annotated[DataCategory | None, typer.Option()] = None,
    urgent: Annotated[bool, typer.Option()] = False,
    as_json: JsonOpt = False,
) -> None:
    """The authority finder: which instrument, which authority, and why."""
    from rogatory.directory import service as directory
    from rogatory.directory.finder import find_authority
    from rogatory.instruments import catalogue

    def body() -> None:
        with _session() as session:
            proposals = find_authority(
                requesting=requesting.upper(), requested=requested.upper(), measure=measure,
                data_category=category, urgent=urgent,
                jurisdictions=directory.jurisdictions(session=session),
                authorities=directory.authorities(session=session),
                instruments=catalogue.catalogue())
        if as_json:
            _print_json([p.as_dict() for p in proposals])
            return
        _table("Proposals", ["rank", "instrument", "authority", "verified", "reason"], [
            [p.rank, p.instrument_short_name, p.authority.name if p.authority else "", p.verified,
             p.reason]
            for i, p in enumerate(proposals)])

    _run(body)


@instruments_app.command("list")
def instruments_list(as_json: JsonOpt = False) -> None:
    """Every instrument in the catalogue."""
    from rogatory.instruments import catalogue, views

    rows = [views.summary(i, "en") for i in catalogue.catalogue().values()]
    if as_json:
        _print_json(rows)
        return
    _table("Instruments", ["code", "short", "name", "legal basis", "verified"], [
        [r["code"], r["short_name"], r["name"], r["legal_basis"], r["verified"]] for r in rows])


@instruments_app.command("show")
def instruments_show(code: str, as_json: JsonOpt = False) -> None:
    """One instrument: deadlines, grounds for refusal, form."""
    from rogatory.instruments import catalogue, views

    def body() -> None:
        instrument = catalogue.get(code)
        if as_json:
            _print_json(views.detail(instrument, "en"))
            return
        console.print(f"[bold]{instrument.name}[/] ({instrument.short_name}) — "
                      f"{instrument.legal_basis}, version {instrument.version}")
        if not instrument.verified:
            console.print(f"[yellow]{views.UNVERIFIED_NOTICE}[/]")
        _table("Deadlines", ["kind", "period", "emergency", "article", "verified"], [
            [d.kind, str(d.duration), str(d.emergency_duration or ""), d.article, d.verified]
            for d in instrument.deadlines])
        _table("Grounds for refusal", ["code", "ground", "article", "verified"], [
            [g.code, g.label, g.article, g.verified] for g in instrument.refusal_grounds])
        _table("Form", ["section", "field", "type", "required", "translate"], [
            [s.code, f.label, f.type, f.required, f.translate]
            for s in instrument.sections for f in s.fields])

    _run(body)


# --- cases ---------------------------------------------------------------------------------------


@cases_app.command("list")
def cases_list(user: AsOpt, as_json: JsonOpt = False) -> None:
    """Cases you may see."""
    from rogatory.requests import service

    def body() -> None:
        with _session() as session:
            found = service.list_cases(session=session, actor=_actor(session, user))
            rows = [{"reference": c.reference, "title": c.title,
                     "created_at": c.created_at.isoformat()} for c in found]
        if as_json:
            _print_json(rows)
            return
        _table("Cases", ["reference", "title", "opened"],
               [[r["reference"], r["title"], r["created_at"]] for r in rows])

    _run(body)


@cases_app.command("show")
def cases_show(user: AsOpt, reference: str, as_json: JsonOpt = False) -> None:
    """One case and the requests in it that you may see."""
    from rogatory.identity.policy import sees_case_narrative
    from rogatory.requests import service

    def body() -> None:
        with _session() as session:
            actor = _actor(session, user)
            case = service.get_case(session=session, actor=actor, reference=reference)
            rows, _ = service.list_requests(session=session, actor=actor,
                                            case_reference=reference, limit=500)
            data: dict[str, Any] = {
                "reference": case.reference, "title": case.title,
                "summary": case.summary if sees_case_narrative(actor) else "",
                    "lead_authority_id": case.lead_authority_id,
                    "participants": list(case.participants),
                    "created_at": case.created_at.isoformat(),
                    "requests": [{"id": r.id, "reference": r.reference, "state": r.state}
                                 for r in rows]}
        if as_json:
            _print_json(data)
            return
        console.print(f"[bold]{data['reference']}[/] {data['title']}\n{data['summary']}")
        _table("Requests", ["id", "reference", "state"],
               [[r["id"], r["reference"], r["state"]] for r in data["requests"]])

    _run(body)


@cases_app.command("create")
def cases_create(user: AsOpt, reference: str, title: str,
                 summary: Annotated[str, typer.Option()] = "") -> None:
    """Open a case led by your authority."""
    from rogatory.requests import service

    def body() -> None:
        with _session() as session:
            case = service.create_case(session=session, actor=_actor(session, user),
                                       reference=reference, title=title, summary=summary,
                                       clock=SystemClock())
            console.print(f"case {case.reference} opened")

    _run(body)


# --- requests ------------------------------------------------------------------------------------


def _read(session: Session, request_id: str, user: str) -> dict[str, Any]:
    from rogatory.requests import service, views

    actor = _actor(session, user)
    request = service.get_request(session=session, actor=actor, request_id=request_id)
    return views.request_read(session, request, actor, SystemClock().now(),
                              actor.language).model_dump(mode="json")


def _print_request(data: dict[str, Any]) -> None:
    console.print(f"[bold]{data['reference']}[/] ({data['instrument_name']}) "
                  f"{data['requesting_state']} → {data['requested_state']}  id {data['id']}")
    console.print(f"state: [bold]{data['state_label']}[/] (version {data['version']}); "
                  f"held by: {data['holder_authority'] or '—'}")
    if not data["instrument_verified"]:
        console.print("[yellow]some rules of this instrument are unverified[/]")
    if data["deadlines"]:
        _table("Deadlines", ["deadline", "due (UTC)", "status", "countdown", "legal basis"], [
            [d["label"], d["due_at"], d["status_label"], d["countdown"], d["legal_basis"]
             + ("" if d["verified"] else " (unverified)")] for d in data["deadlines"]])
    console.print(f"you may now: {', '.join(data['allowed_verbs']) or 'nothing'}")


@requests_app.command("list")
def requests_list(
    user: AsOpt, state: Annotated[State | None, typer.Option()] = None,
    instrument: Annotated[str | None, typer.Option()] = None,
    case: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 50, as_json: JsonOpt = False,
) -> None:
    """Requests you may see, newest first."""
    from rogatory.requests import service

    def body() -> None:
        with _session() as session:
            rows, total = service.list_requests(
                session=session, actor=_actor(session, user), state=state,
                instrument=instrument, case_reference=case, limit=limit)
            data = [{"id": r.id, "reference": r.reference, "instrument": r.instrument,
                     "from": r.requesting_state, "to": r.requested_state, "state": r.state,
                     "version": r.version} for r in rows]
        if as_json:
            _print_json({"total": total, "items": data})
            return
        _table(f"Requests ({total})", ["id", "reference", "instrument", "from", "to", "state"],
               [[d["id"], d["reference"], d["instrument"], d["from"], d["to"], d["state"]]
                for d in data])

    _run(body)


@requests_app.command("show")
def requests_show(user: AsOpt, request_id: str, as_json: JsonOpt = False) -> None:
    """One request with its deadlines and what you may do next."""

    def body() -> None:
        with _session() as session:
            data = _read(session, request_id, user)
        if as_json:
            _print_json(data)
        else:
            _print_request(data)

    _run(body)


@requests_app.command("timeline")
def requests_timeline(user: AsOpt, request_id: str, as_json: JsonOpt = False) -> None:
    """Who did what, when, why and on which legal basis."""
    from sqlalchemy import select

    from rogatory.requests import service, views
    from rogatory.requests.models import TimelineEvent

    def body() -> None:
        with _session() as session:
            request = service.get_request(session=session, actor=_actor(session, user),
                                          request_id=request_id)
            events = [views.event_read(session, e).model_dump(mode="json") for e in
                      session.scalars(select(TimelineEvent).where(
                          TimelineEvent.request_id == request.id).order_by(TimelineEvent.id))]
        if as_json:
            _print_json(events)
            return
        _table("Timeline", ["at (UTC)", "verb", "state", "by", "reason", "legal basis"], [
            [e["at"], e["verb"], e["to_state"], e["actor"] or "node", e["reason"],
             e["legal_basis"]] for e in events])

    _run(body)


@requests_app.command("create")
def requests_create(
    user: AsOpt,
    case: Annotated[str, typer.Option(help="Case reference")],
    instrument: Annotated[str, typer.Option(help="Instrument code, e.g. epoc")],
    executing: Annotated[str, typer.Option(help="Executing authority or provider id")],
    category: Annotated[list[str], typer.Option(help="Data category (repeatable)")],
    validating: Annotated[str | None, typer.Option(help="Validating authority id")] = None,
    emergency: Annotated[bool, typer.Option()] = False,
    form: Annotated[str, typer.Option(help="Form values as JSON, or @file.json")] = "{}",
    language: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Draft a request for your authority."""
    from rogatory.requests import service

    def body() -> None:
        raw = Path(form[1:]).read_text(encoding="utf-8") if form.startswith("@") else form
        try:
            values = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValidationFailed([_field_error("form", str(exc))]) from None
        with _session() as session:
            actor = _actor(session, user)
            draft = service.RequestDraft(
                case_reference=case, instrument=instrument,
                issuing_authority_id=actor.authority_id,
                validating_authority_id=validating or actor.authority_id,
                executing_authority_id=executing, data_categories=category,
                emergency=emergency, form=values, language=language)
            created = service.create_request(session=session, actor=actor, draft=draft,
                                             clock=SystemClock())
            session.flush()
            data = _read(session, created.id, user)
        if as_json:
            _print_json(data)
        else:
            _print_request(data)

    _run(body)


def _field_error(field: str, message: str) -> Any:
    from rogatory.errors import FieldError

    return FieldError(field, message)


@requests_app.command("translate")
def requests_translate(
    user: AsOpt, request_id: str, field: str,
    language: Annotated[str, typer.Option()], text: Annotated[str, typer.Option()],
    version: Annotated[int, typer.Option(help="Version you acted on")],
    certified: Annotated[bool, typer.Option()] = False,
) -> None:
    """Provide the translation of one free-text field."""
    from rogatory.requests import service

    def body() -> None:
        with _session() as session:
            r = service.set_translation(
                session=session, actor=_actor(session, user), request_id=request_id,
                expected_version=version, field_name=field, language=language, text=text,
                certified=certified, clock=SystemClock())
            console.print(f"translation recorded; version {r.version}")

    _run(body)


def _verb_command(verb: Verb) -> None:
    def command(
        user: AsOpt,
        request_id: str,
        version: Annotated[int, typer.Option(help="Version you acted on (see `show`)")],
        reason: Annotated[str, typer.Option()] = "",
        legal_basis: Annotated[str, typer.Option()] = "",
        ground: Annotated[str | None, typer.Option(help="Refusal ground code")] = None,
        deadline: Annotated[str | None, typer.Option(help="Deadline kind to extend")] = None,
        as_json: JsonOpt = False,
    ) -> None:
        from rogatory.requests import service

        def body() -> None:
            with _session() as session:
                actor = _actor(session, user)
                service.act(session=session, actor=actor, request_id=request_id,
                            action=service.Action(verb=verb, expected_version=version,
                                                  reason=reason, legal_basis=legal_basis,
                                                  ground=ground, deadline_kind=deadline),
                            clock=SystemClock())
                session.flush()
                data = _read(session, request_id, user)
            if as_json:
                _print_json(data)
            else:
                _print_request(data)

        _run(body)

    command.__doc__ = f"Workflow verb '{verb.value}'."
    requests_app.command(verb.value.replace("_", "-"))(command)


for _verb in Verb:
    if _verb not in SYSTEM_VERBS:  # `lapse` is the deadline scan's (`deadlines scan`)
        _verb_command(_verb)


@deadlines_app.command("scan")
def deadlines_scan(as_json: JsonOpt = False) -> None:
    """Record every deadline that has passed (the job `serve` runs every minute)."""
    from rogatory.requests import service

    def body() -> None:
        with _session() as session:
            changed = service.scan_deadlines(session=session, clock=SystemClock())
            rows = [{"request_id": d.request_id, "deadline": d.kind, "status": d.status,
                     "due_at": d.due_at.isoformat()} for d in changed]
        if as_json:
            _print_json(rows)
        else:
            console.print(f"{len(rows)} deadline(s) lapsed")

    _run(body)


_register_subcommands()

if __name__ == "__main__":
    app()
