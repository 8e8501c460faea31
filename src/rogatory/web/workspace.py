"""The portal's read model: each role's workspace (which tab it opens on, what each tab holds),
the inbox query with its filters, sorting and pagination, and the dashboard's counts and
durations. Reads only; every row passes the same party filter as the API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    ColumnElement,
    Float,
    SQLColumnExpression,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from rogatory.i18n import N_
from rogatory.identity.models import Role
from rogatory.identity.policy import Actor
from rogatory.requests.enums import FINAL_STATES, DeadlineStatus, State
from rogatory.requests.models import Deadline, Request, TimelineEvent
from rogatory.requests.service import visible_to

PAGE_SIZE = 25


class Tab(StrEnum):
    INCOMING = "incoming"
    TO_VALIDATE = "to_validate"
    OUTGOING = "outgoing"
    DRAFTS = "drafts"
    ALL = "all"


TAB_LABELS: dict[Tab, str] = {
    Tab.INCOMING: N_("Incoming"),
    Tab.TO_VALIDATE: N_("To validate"),
    Tab.OUTGOING: N_("Outgoing"),
    Tab.DRAFTS: N_("Drafts"),
    Tab.ALL: N_("All requests"),
}

WORKSPACES: dict[Role, tuple[Tab, ...]] = {
    Role.PROSECUTOR: (Tab.OUTGOING, Tab.DRAFTS, Tab.TO_VALIDATE, Tab.INCOMING, Tab.ALL),
    Role.JUDGE: (Tab.TO_VALIDATE, Tab.OUTGOING, Tab.DRAFTS, Tab.INCOMING, Tab.ALL),
    Role.INVESTIGATING_JUDGE: (Tab.TO_VALIDATE, Tab.OUTGOING, Tab.DRAFTS, Tab.INCOMING,
                               Tab.ALL),
    Role.CENTRAL_AUTHORITY_OFFICER: (Tab.INCOMING, Tab.OUTGOING, Tab.DRAFTS, Tab.ALL),
    Role.EXECUTING_OFFICER: (Tab.INCOMING, Tab.ALL),
    Role.PROVIDER_RESPONDER: (Tab.INCOMING, Tab.ALL),
    Role.OVERSIGHT_AUDITOR: (Tab.ALL,),
}
"""The tabs of each role's workspace, the one it opens on first. Roles without a queue of
their own (coordinator, forensic examiner, victim liaison, administrator) see all they may."""

WORKSPACE_TITLES: dict[Role, str] = {
    Role.PROSECUTOR: N_("Prosecutor's desk"),
    Role.JUDGE: N_("Validation queue"),
    Role.INVESTIGATING_JUDGE: N_("Validation queue"),
    Role.CENTRAL_AUTHORITY_OFFICER: N_("Central authority inbox"),
    Role.EXECUTING_OFFICER: N_("Execution inbox"),
    Role.PROVIDER_RESPONDER: N_("Provider inbox"),
    Role.OVERSIGHT_AUDITOR: N_("Oversight (read only)"),
    Role.COORDINATOR: N_("Coordination board"),
}


def tabs_for(role: Role) -> tuple[Tab, ...]:
    return WORKSPACES.get(role, (Tab.ALL,))


def title_for(role: Role) -> str:
    return WORKSPACE_TITLES.get(role, N_("Requests"))


class Sort(StrEnum):
    DUE = "due"
    UPDATED = "updated"
    REFERENCE = "reference"


@dataclass(frozen=True)
class Filters:
    tab: Tab
    state: State | None = None
    instrument: str | None = None
    search: str | None = None
    emergency_only: bool = False
    sort: Sort = Sort.DUE
    page: int = 1


@dataclass(frozen=True)
class Row:
    id: str
    reference: str
    instrument: str
    requesting_state: str
    requested_state: str
    state: State
    emergency: bool
    next_due_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class InboxPage:
    rows: list[Row]
    total: int
    page: int
    pages: int


def _tab_filter(actor: Actor, tab: Tab) -> ColumnElement[bool]:
    mine = actor.authority_id
    if tab is Tab.INCOMING:
        return and_(Request.executing_authority_id == mine, Request.sent_at.is_not(None))
    if tab is Tab.TO_VALIDATE:
        return and_(Request.validating_authority_id == mine,
                    Request.state == State.VALIDATION.value)
    if tab is Tab.OUTGOING:
        return and_(Request.issuing_authority_id == mine, Request.state != State.DRAFT.value)
    if tab is Tab.DRAFTS:
        return and_(Request.issuing_authority_id == mine, Request.state == State.DRAFT.value)
    return literal(True)


def inbox(session: Session, actor: Actor, filters: Filters) -> InboxPage:
    """One page of the requests `actor` may see in a tab, with the next open deadline of each:
    by default the most urgent first (emergencies, then the nearest deadline).

    Two steps, so that a large inbox costs one pass over an index and one sort: the page's ids
    (read from the side's index of `requests`; for the default order, each candidate's nearest
    open deadline looked up in the index of `deadlines`), then those rows and their
    deadlines."""
    conditions: list[ColumnElement[bool]] = [_tab_filter(actor, filters.tab), visible_to(actor)]
    if filters.state is not None:
        conditions.append(Request.state == filters.state.value)
    if filters.instrument:
        conditions.append(Request.instrument == filters.instrument)
    if filters.search:
        conditions.append(Request.reference.ilike(f"%{filters.search}%"))
    if filters.emergency_only:
        conditions.append(Request.emergency.is_(True))
    where = and_(*conditions)
    total = session.scalar(select(func.count()).select_from(Request).where(where)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, filters.page), pages)
    ids = select(Request.id).where(where)
    if filters.sort is Sort.DUE:
        # the nearest open deadline, one index look-up per candidate: cheaper than joining a
        # grouped pass over every open deadline of the node. NULLS LAST (SQLite 3.30+) rather
        # than "IS NULL, due", which would look it up twice.
        due = (select(func.min(Deadline.due_at))
               .where(Deadline.request_id == Request.id,
                      Deadline.status == DeadlineStatus.OPEN.value)
               .correlate(Request).scalar_subquery())
        finished = case((Request.state.in_([s.value for s in FINAL_STATES]), 1), else_=0)
        ids = ids.order_by(finished, Request.emergency.desc(), due.asc().nulls_last(),
                           Request.updated_at.desc(), Request.id)
    elif filters.sort is Sort.REFERENCE:
        ids = ids.order_by(Request.reference)
    else:
        ids = ids.order_by(Request.updated_at.desc(), Request.id)
    chosen = list(session.scalars(ids.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    if not chosen:
        return InboxPage(rows=[], total=total, page=page, pages=pages)
    next_due = {request_id: due for request_id, due in session.execute(
        select(Deadline.request_id, func.min(Deadline.due_at))
        .where(Deadline.request_id.in_(chosen), Deadline.status == DeadlineStatus.OPEN.value)
        .group_by(Deadline.request_id))}
    found = {r.id: r for r in session.execute(
        select(Request.id, Request.reference, Request.instrument, Request.requesting_state,
               Request.requested_state, Request.state, Request.emergency, Request.updated_at)
        .where(Request.id.in_(chosen)))}
    rows = [Row(id=r.id, reference=r.reference, instrument=r.instrument,
                requesting_state=r.requesting_state, requested_state=r.requested_state,
                state=State(r.state), emergency=r.emergency, next_due_at=next_due.get(r.id),
                updated_at=r.updated_at)
            for r in (found[i] for i in chosen)]
    return InboxPage(rows=rows, total=total, page=page, pages=pages)


def tab_counts(session: Session, actor: Actor, tabs: Sequence[Tab]) -> dict[Tab, int]:
    """How many requests each tab holds, closed and withdrawn ones left out.

    One count per tab, each a subquery of one statement: a queue's count is then read from its
    side's index alone, and "all" from the three (a count(*) FILTER per tab over the party
    filter read every row it matched). The counts are not summed: one authority can be on two
    sides of a request."""
    visible = visible_to(actor)
    still_open = Request.state.not_in([s.value for s in FINAL_STATES])
    columns = [select(func.count()).select_from(Request)
               .where(_tab_filter(actor, t), visible, still_open)
               .scalar_subquery().label(t.value) for t in tabs]
    row = session.execute(select(*columns)).one()
    return {t: int(getattr(row, t.value) or 0) for t in tabs}


@dataclass(frozen=True)
class Dashboard:
    by_state: list[tuple[State, int]]
    by_instrument: list[tuple[str, int]]
    median_days_to_send: float | None
    median_days_to_answer: float | None
    breached: int
    open_deadlines: int


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _days_between(session: Session, later: SQLColumnExpression[datetime | None],
                  earlier: SQLColumnExpression[datetime | None]) -> ColumnElement[float]:
    """`later - earlier` in days, computed by the database: a float per row rather than two
    datetimes to build in Python (which cost more than the query with thousands of rows)."""
    if session.get_bind().dialect.name == "sqlite":  # stored as UTC text: Julian day numbers
        days = func.julianday(later) - func.julianday(earlier)
    else:
        days = extract("epoch", later - earlier) / 86400
    return cast(days, Float)


def dashboard(session: Session, actor: Actor) -> Dashboard:
    """The main counts and durations over the requests `actor` may see: by state, by instrument,
    median days from creation to sending and from sending to the executing side's answer
    (executed, partly executed or refused), deadlines open and breached."""
    visible = visible_to(actor)
    by_state = {State(s): n for s, n in session.execute(
        select(Request.state, func.count()).where(visible).group_by(Request.state))}
    by_instrument = sorted(((code, int(n)) for code, n in session.execute(
        select(Request.instrument, func.count()).where(visible).group_by(Request.instrument))),
        key=lambda r: (-r[1], r[0]))
    sent = list(session.scalars(
        select(_days_between(session, Request.sent_at, Request.created_at))
        .where(visible, Request.sent_at.is_not(None))))
    answered_at = (select(TimelineEvent.request_id, func.min(TimelineEvent.at).label("at"))
                   .where(TimelineEvent.to_state.in_([State.EXECUTED.value,
                                                      State.PARTIALLY_EXECUTED.value,
                                                      State.REFUSED.value]))
                   .group_by(TimelineEvent.request_id).subquery())
    answered = list(session.scalars(
        select(_days_between(session, answered_at.c.at, Request.sent_at))
        .join(answered_at, answered_at.c.request_id == Request.id)
        .where(visible, Request.sent_at.is_not(None))))
    deadline_counts = {status: int(n) for status, n in session.execute(
        select(Deadline.status, func.count()).join(Request, Request.id == Deadline.request_id)
        .where(visible).group_by(Deadline.status))}
    return Dashboard(
        by_state=[(s, by_state[s]) for s in State if by_state.get(s)],
        by_instrument=list(by_instrument),
        median_days_to_send=_median(sent),
        median_days_to_answer=_median(answered),
        breached=int(deadline_counts.get(DeadlineStatus.BREACHED.value, 0)),
        open_deadlines=int(deadline_counts.get(DeadlineStatus.OPEN.value, 0)),
    )
