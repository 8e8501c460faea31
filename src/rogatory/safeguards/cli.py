"""`rogatory safeguards`: assessments, reasoned decisions, notifications of the enforcing
State, a provider's Annex III answers, data protection for data received, the register of
analytic tools, and the anonymized public register. Every list and show takes `--json`; the
node's operator acts for the user named by `--as`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from rogatory.clock import SystemClock
from rogatory.safeguards.rules import NotificationStatus, Outcome, Stage

app = typer.Typer(help="Judicial safeguards: assessments, decisions, notifications, data "
                  "protection, analytic tools, the public register.", no_args_is_help=True)
data_app = typer.Typer(help="Data received: purpose, retention, transfers, informing.",
                       no_args_is_help=True)
tools_app = typer.Typer(help="The register of analytic tools.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(tools_app, name="tools")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]
AsOpt = Annotated[str, typer.Option("--as", envvar="ROGATORY_USER",
                                    help="Act as this user (the node's operator acts for them)")]
DateOpt = Annotated[str | None, typer.Option(help="A date, YYYY-MM-DD")]


def _dump(model: BaseModel | list[Any]) -> Any:
    if isinstance(model, list):
        return [m.model_dump(mode="json") for m in model]
    return model.model_dump(mode="json")


def _date(name: str, value: str | None) -> date | None:
    from rogatory.errors import FieldError, ValidationFailed

    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed([FieldError(name, "Not a date (YYYY-MM-DD).")]) from None


def _values(raw: str) -> dict[str, Any]:
    from rogatory.errors import FieldError, ValidationFailed

    text = Path(raw[1:]).read_text(encoding="utf-8") if raw.startswith("@") else raw
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed([FieldError("values", str(exc))]) from None
    if not isinstance(values, dict):
        raise ValidationFailed([FieldError("values", "A JSON object is required.")])
    return values


def _lang() -> str:
    from rogatory.cli import _language

    return _language["current"]


# --- assessments ---------------------------------------------------------------------------------


@app.command("assess")
def assess(
    user: AsOpt, request_id: str,
    values: Annotated[str, typer.Option(
        help="The assessment as JSON, or @file.json (keys as in the API: offence, "
        "maximum_penalty_years, necessity, proportionality, least_intrusive_alternative, "
        "alternative_insufficient_because, data_from, data_to, data_scope, persons_affected, "
        "privileged_persons, ...)")],
    as_json: JsonOpt = False,
) -> None:
    """Record the necessity and proportionality assessment of an intrusive measure."""
    from rogatory.cli import _actor, _print_json, _run, _session, console
    from rogatory.requests import service as requests_service
    from rogatory.safeguards import service, views
    from rogatory.safeguards.schemas import AssessmentCreate

    def body() -> None:
        from pydantic import ValidationError

        from rogatory.errors import FieldError, ValidationFailed

        try:
            parsed = AssessmentCreate.model_validate(_values(values))
        except ValidationError as exc:
            raise ValidationFailed([FieldError(".".join(str(p) for p in e["loc"]) or "values",
                                               str(e["msg"]).replace("{", "{{").replace("}", "}}"))
                                    for e in exc.errors()]) from None
        with _session() as session:
            actor = _actor(session, user)
            from rogatory.safeguards.rules import AssessmentInput

            row = service.record_assessment(
                session=session, actor=actor, request_id=request_id, clock=SystemClock(),
                values=AssessmentInput(**{**parsed.model_dump(),
                                          "privileged_persons": tuple(parsed.privileged_persons)}))
            found = requests_service.get_request(session=session, actor=actor,
                                                 request_id=request_id)
            read = views.assessment_read(session, row, found.instrument,
                                         list(found.data_categories), current=True,
                                         actor=actor, lang=_lang())
        if as_json:
            _print_json(_dump(read))
            return
        console.print(f"assessment {read.number} recorded ({read.id})")
        for problem in read.threshold_problems:
            console.print(f"[yellow]threshold not met:[/] {problem}")

    _run(body)


@app.command("assessments")
def assessments(user: AsOpt, request_id: str, as_json: JsonOpt = False) -> None:
    """The assessments of a request (the last is the current one)."""
    from rogatory.cli import _actor, _print_json, _run, _session, _table
    from rogatory.requests import service as requests_service
    from rogatory.safeguards import service, views

    def body() -> None:
        with _session() as session:
            actor = _actor(session, user)
            rows = service.list_assessments(session=session, actor=actor, request_id=request_id)
            found = requests_service.get_request(session=session, actor=actor,
                                                 request_id=request_id)
            reads = [views.assessment_read(session, a, found.instrument,
                                           list(found.data_categories),
                                           current=i == len(rows) - 1, actor=actor,
                                           lang=_lang())
                     for i, a in enumerate(rows)]
        if as_json:
            _print_json(_dump(reads))
            return
        _table("Assessments", ["#", "current", "offence", "max. penalty", "period", "threshold",
                               "by"],
               [[a.number, a.current, a.offence, a.maximum_penalty_years,
                 f"{a.data_from} – {a.data_to}",
                 "; ".join(a.threshold_problems) or "met", a.author] for a in reads])

    _run(body)


# --- decisions -----------------------------------------------------------------------------------


@app.command("decide")
def decide(
    user: AsOpt, request_id: str,
    stage: Annotated[Stage, typer.Option(help="validation, execution or enforcement")],
    outcome: Annotated[Outcome, typer.Option(help="grant, partial or deny")],
    ground: Annotated[list[str], typer.Option(help="A coded reason or ground (repeatable)")],
    reasons: Annotated[str, typer.Option(help="The statement of reasons")],
    version: Annotated[int | None, typer.Option(
        help="The request version decided on (when the decision performs a verb)")] = None,
    assessment: Annotated[str | None, typer.Option(help="Assessment relied on")] = None,
    tool: Annotated[list[str] | None, typer.Option(
        help="An analytic tool that contributed (repeatable)")] = None,
    supersedes: Annotated[str | None, typer.Option(help="Decision this one replaces")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Decide with reasons; performs the verb the request awaits (validate, return to draft,
    begin execution, refuse)."""
    from rogatory.cli import _actor, _print_json, _run, _session, console
    from rogatory.safeguards import service, views

    def body() -> None:
        with _session() as session:
            actor = _actor(session, user)
            row = service.decide(session=session, actor=actor, request_id=request_id,
                                 clock=SystemClock(), draft=service.DecisionDraft(
                                     stage=stage, outcome=outcome, grounds=list(ground),
                                     reasons=reasons, assessment_id=assessment,
                                     tools=list(tool or []), supersedes=supersedes,
                                     expected_version=version))
            read = views.decision_reads(session, [row], _lang())[0]
        if as_json:
            _print_json(_dump(read))
        else:
            console.print(f"decision {read.id}: {read.stage_label}, {read.outcome_label} "
                          f"({read.legal_basis})")

    _run(body)


def _print_decisions(reads: list[Any]) -> None:
    from rogatory.cli import _table

    _table("Decisions", ["id", "at (UTC)", "stage", "outcome", "grounds", "legal basis", "by",
                         "tools", "superseded by"],
           [[d.id, d.decided_at.isoformat(), d.stage_label, d.outcome_label,
             ", ".join(g.code for g in d.grounds), d.legal_basis,
             f"{d.decided_by} ({d.decided_by_authority})",
             ", ".join(f"{t.name} {t.version}" for t in d.tools), d.superseded_by_id or ""]
            for d in reads])


@app.command("decisions")
def decisions(user: AsOpt, request_id: str, as_json: JsonOpt = False) -> None:
    """The decisions on a request."""
    from rogatory.cli import _actor, _print_json, _run, _session
    from rogatory.safeguards import service, views

    def body() -> None:
        with _session() as session:
            rows = service.list_decisions(session=session, actor=_actor(session, user),
                                          request_id=request_id)
            reads = views.decision_reads(session, rows, _lang())
        if as_json:
            _print_json(_dump(reads))
        else:
            _print_decisions(reads)

    _run(body)


@app.command("decision")
def decision(user: AsOpt, decision_id: str, as_json: JsonOpt = False) -> None:
    """One decision, with its reasons."""
    from rogatory.cli import _actor, _print_json, _run, _session, console
    from rogatory.safeguards import service, views

    def body() -> None:
        with _session() as session:
            row = service.get_decision(session=session, actor=_actor(session, user),
                                       decision_id=decision_id)
            read = views.decision_reads(session, [row], _lang())[0]
        if as_json:
            _print_json(_dump(read))
            return
        _print_decisions([read])
        console.print(f"reasons: {read.reasons}")

    _run(body)


# --- notifications -------------------------------------------------------------------------------


def _print_notifications(reads: list[Any]) -> None:
    from rogatory.cli import _table

    _table("Notifications", ["request", "reference", "enforcing authority", "status",
                             "window ends (UTC)", "countdown", "suspensive"],
           [[n.request_id, n.reference, n.enforcing_authority.name, n.status.value,
             n.window_due_at.isoformat(), n.countdown or "", n.suspensive] for n in reads])


@app.command("notifications")
def notifications(user: AsOpt, status: Annotated[NotificationStatus | None,
                                                  typer.Option()] = None,
                  as_json: JsonOpt = False) -> None:
    """Orders notified to your authority as enforcing authority (Reg. (EU) 2023/1543 Art. 8)."""
    from rogatory.cli import _actor, _print_json, _run, _session
    from rogatory.safeguards import service, views

    def body() -> None:
        now = SystemClock().now()
        with _session() as session:
            actor = _actor(session, user)
            rows = service.list_notifications(session=session, actor=actor, status=status)
            reads = [views.notification_read(session, n, now, actor=actor) for n in rows]
        if as_json:
            _print_json(_dump(reads))
        else:
            _print_notifications(reads)

    _run(body)


@app.command("notification")
def notification(user: AsOpt, request_id: str, as_json: JsonOpt = False) -> None:
    """The notification of the enforcing State for one request."""
    from rogatory.cli import _actor, _print_json, _run, _session
    from rogatory.safeguards import service, views

    def body() -> None:
        with _session() as session:
            actor = _actor(session, user)
            row = service.get_notification(session=session, actor=actor, request_id=request_id)
            read = views.notification_read(session, row, SystemClock().now(), actor=actor)
        if as_json:
            _print_json(_dump(read))
        else:
            _print_notifications([read])

    _run(body)


# --- Annex III -----------------------------------------------------------------------------------


@app.command("non-execution")
def non_execution(
    user: AsOpt, request_id: str,
    reason: Annotated[list[str], typer.Option(
        help="immunity_privilege, de_facto_impossibility, incomplete_or_erroneous, "
        "conflicting_obligations or other (repeatable)")],
    explanation: Annotated[str, typer.Option()],
    preserved: Annotated[bool, typer.Option("--preserved/--not-preserved",
                                            help="Are the data preserved?")],
    preserved_until: DateOpt = None,
    conflict_details: Annotated[str, typer.Option()] = "",
    information_required: Annotated[str, typer.Option()] = "",
    as_json: JsonOpt = False,
) -> None:
    """A provider cannot execute an order: coded reasons, and whether the data are preserved
    (Reg. (EU) 2023/1543 Annex III)."""
    from rogatory.cli import _actor, _print_json, _run, _session, console
    from rogatory.safeguards import service, views

    def body() -> None:
        with _session() as session:
            row = service.record_non_execution(
                session=session, actor=_actor(session, user), request_id=request_id,
                clock=SystemClock(), draft=service.NonExecutionDraft(
                    reasons=list(reason), explanation=explanation, data_preserved=preserved,
                    preserved_until=_date("preserved_until", preserved_until),
                    conflict_details=conflict_details,
                    information_required=information_required))
            read = views.non_execution_read(session, row, _lang())
        if as_json:
            _print_json(_dump(read))
        else:
            console.print(f"Annex III answer recorded ({read.id})")

    _run(body)


# --- data protection -----------------------------------------------------------------------------


def _print_data(reads: list[Any]) -> None:
    from rogatory.cli import _table

    _table("Data received", ["id", "category", "description", "purpose", "retention until",
                             "review", "restricted", "deleted"],
           [[d.id, d.category, d.description, d.purpose, d.retention_until, d.review_due_on,
             d.restriction_reason or "" if d.restricted else "",
             d.deleted_at.isoformat() if d.deleted_at else ""] for d in reads])


@data_app.command("record")
def data_record(
    user: AsOpt, request_id: str,
    category: Annotated[str, typer.Option()], description: Annotated[str, typer.Option()],
    purpose: Annotated[str, typer.Option(help="The proceedings the data may serve")],
    retention_until: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    evidence_reference: Annotated[str, typer.Option(help="Exhibit number, if any")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Record data received, with their purpose and retention period."""
    from rogatory.cli import _actor, _print_json, _run, _session, console
    from rogatory.safeguards import service, views

    def body() -> None:
        with _session() as session:
            row = service.record_data(
                session=session, actor=_actor(session, user), request_id=request_id,
                clock=SystemClock(), draft=service.DataDraft(
                    category=category, description=description, purpose=purpose,
                    retention_until=_date("retention_until", retention_until),
                    evidence_reference=evidence_reference))
            read = views.data_read(row)
        if as_json:
            _print_json(_dump(read))
        else:
            console.print(f"data recorded ({read.id}); review due {read.review_due_on}")

    _run(body)


@data_app.command("list")
def data_list(user: AsOpt, request_id: str, as_json: JsonOpt = False) -> None:
    """Data received on a request."""
    from rogatory.cli import _actor, _print_json, _run, _session
    from rogatory.safeguards import service, views

    def body() -> None:
        with _session() as session:
            reads = [views.data_read(r) for r in service.list_data(
                session=session, actor=_actor(session, user), request_id=request_id)]
        if as_json:
            _print_json(_dump(reads))
        else:
            _print_data(reads)

    _run(body)


@data_app.command("review")
def data_review(user: AsOpt, data_id: str,
                retention_until: Annotated[str, typer.Option(help="YYYY-MM-DD")],
                note: Annotated[str, typer.Option(help="Why the data are still needed")],
                as_json: JsonOpt = False) -> None:
    """Review the need to keep data: a new end of the retention period."""
    from rogatory.cli import _actor, _print_json, _run, _session, console
    from rogatory.safeguards import service, views

    def body() -> None:
        with _session() as session:
            read = views.data_read(service.review_data(
                session=session, actor=_actor(session, user), data_id=data_id,
                retention_until=_date("retention_until", retention_until), note=note,
                clock=SystemClock()))
        if as_json:
            _print_json(_dump(read))
        else:
            console.print(f"kept until {read.retention_until}; next review {read.review_due_on}")

    _run(body)


@data_app.command("delete")
def data_delete(user: AsOpt, data_id: str, reason: Annotated[str, typer.Option()],
                as_json: JsonOpt = False) -> None:
    """Record that data were deleted."""
    from rogatory.cli import _actor, _print_json, _run, _session, console
    from rogatory.safeguards import service, views

    def body() -> None:
        with _session() as session:
            read = views.data_read(service.delete_data(
                session=session, actor=_actor(session, user), data_id=data_id, reason=reason,
                clock=SystemClock()))
        if as_json:
            _print_json(_dump(read))
        else:
            console.print("deletion recorded")

    _run(body)


@data_app.command("transfer")
def data_transfer(
    user: AsOpt, data_id: str,
    to: Annotated[str, typer.Option("--to", help="The third State (ISO alpha-2)")],
    recipient: Annotated[str, typer.Option()], purpose: Annotated[str, typer.Option()],
    consent_reference: Annotated[str, typer.Option(help="The providing State's consent")],
    consent_date: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    as_json: JsonOpt = False,
) -> None:
    """Record an onward transfer to a third State, with the prior consent it rests on."""
    from rogatory.cli import _actor, _print_json, _run, _session, console
    from rogatory.safeguards import service, views

    def body() -> None:
        with _session() as session:
            read = views.transfer_read(service.transfer_data(
                session=session, actor=_actor(session, user), data_id=data_id,
                clock=SystemClock(), draft=service.TransferDraft(
                    third_state=to, recipient=recipient, purpose=purpose,
                    consent_reference=consent_reference,
                    consent_date=_date("consent_date", consent_date))))
        if as_json:
            _print_json(_dump(read))
        else:
            console.print(f"transfer to {read.third_state} recorded ({read.id})")

    _run(body)


@data_app.command("defer-informing")
def data_defer(user: AsOpt, request_id: str,
               reason: Annotated[str, typer.Option(
                   help="obstruct_inquiries, prejudice_proceedings, public_security, "
                   "national_security or rights_of_others")],
               until: Annotated[str, typer.Option(help="Review by, YYYY-MM-DD")],
               note: Annotated[str, typer.Option()] = "", as_json: JsonOpt = False) -> None:
    """Defer informing the persons whose data were obtained, with the reason."""
    from rogatory.cli import _actor, _print_json, _run, _session, console
    from rogatory.safeguards import service, views

    def body() -> None:
        with _session() as session:
            read = views.deferral_read(service.defer_informing(
                session=session, actor=_actor(session, user), request_id=request_id,
                reason=reason, note=note, until=_date("until", until), clock=SystemClock()),
                _lang())
        if as_json:
            _print_json(_dump(read))
        else:
            console.print(f"informing deferred until {read.until}: {read.reason.label}")

    _run(body)


@data_app.command("due")
def data_due(user: AsOpt, as_json: JsonOpt = False) -> None:
    """Data due for review, or kept past their retention period."""
    from rogatory.cli import _actor, _print_json, _run, _session
    from rogatory.safeguards import service, views

    def body() -> None:
        with _session() as session:
            due = service.data_due(session=session, actor=_actor(session, user),
                                   today=SystemClock().now().date())
            review = [views.data_read(r) for r in due.review]
            ended = [views.data_read(r) for r in due.retention_ended]
        if as_json:
            _print_json({"review": _dump(review), "retention_ended": _dump(ended)})
            return
        _print_data(review)
        _print_data(ended)

    _run(body)


# --- analytic tools ------------------------------------------------------------------------------


@tools_app.command("list")
def tools_list(user: AsOpt, as_json: JsonOpt = False) -> None:
    """Registered analytic tools."""
    from rogatory.cli import _actor, _print_json, _run, _session, _table
    from rogatory.safeguards import service, views

    def body() -> None:
        with _session() as session:
            _actor(session, user)
            reads = [views.tool_read(session, t) for t in service.list_tools(session=session)]
        if as_json:
            _print_json(_dump(reads))
            return
        _table("Analytic tools", ["id", "name", "version", "purpose", "error rates",
                                  "bias assessment", "approved by"],
               [[t.id, t.name, t.version, t.purpose, t.error_rates, t.bias_assessment,
                 f"{t.approved_by} ({t.approved_by_authority})"] for t in reads])

    _run(body)


@tools_app.command("register")
def tools_register(
    user: AsOpt, name: Annotated[str, typer.Option()], version: Annotated[str, typer.Option()],
    purpose: Annotated[str, typer.Option()],
    error_rates: Annotated[str, typer.Option(help="Known error rates, or that none are known")],
    bias_assessment: Annotated[str, typer.Option()], as_json: JsonOpt = False,
) -> None:
    """Register and approve an analytic tool (a judge or the node's administrator)."""
    from rogatory.cli import _actor, _print_json, _run, _session, console
    from rogatory.safeguards import service, views

    def body() -> None:
        with _session() as session:
            read = views.tool_read(session, service.register_tool(
                session=session, actor=_actor(session, user), clock=SystemClock(),
                draft=service.ToolDraft(name=name, version=version, purpose=purpose,
                                        error_rates=error_rates,
                                        bias_assessment=bias_assessment)))
        if as_json:
            _print_json(_dump(read))
        else:
            console.print(f"tool {read.name} {read.version} registered ({read.id})")

    _run(body)


# --- the public register -------------------------------------------------------------------------


@app.command("register")
def public_register(
    instrument: Annotated[str | None, typer.Option(help="Only this instrument")] = None,
    lang: Annotated[str, typer.Option(help="Language of the names")] = "en",
    as_json: JsonOpt = False,
) -> None:
    """The anonymized public register of decisions (what GET /public/register serves)."""
    from rogatory.cli import _print_json, _run, _session, _table, console
    from rogatory.safeguards import register

    def body() -> None:
        with _session() as session:
            data = register.public_register(session=session, instrument=instrument, lang=lang)
        if as_json:
            _print_json(data)
            return
        console.print(data["notice"])
        _table("By outcome", ["instrument", "stage", "outcome", "count"],
               [[c["instrument"], c["stage"], c["outcome"], c["count"]]
                for c in data["by_outcome"]])
        _table("By ground", ["instrument", "outcome", "ground", "count"],
               [[c["instrument"], c["outcome"], c["ground"], c["count"]]
                for c in data["by_ground"]])
        _table("Decisions", ["month", "instrument", "stage", "outcome", "grounds", "legal basis"],
               [[r["month"], r["instrument"], r["stage"], r["outcome"], ", ".join(r["grounds"]),
                 r["legal_basis"]] for r in data["rows"]])

    _run(body)
