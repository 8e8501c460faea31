"""The portal's read model on SQLite and PostgreSQL, against a plain Python computation over the
same requests: which requests each role's tabs hold, in which order, page by page, how many each
tab counts, and the dashboard's counts and durations. 80 requests where the prosecutor's
authority sits on one, two or none of the three sides, in every state, some emergencies, some
with open deadlines (and closed ones that must not count), updated at times that tie, some
answered (executed, partly executed, refused) once or twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from conftest import START, World
from rogatory.identity.policy import OVERSIGHT_ROLES, Actor
from rogatory.requests.enums import FINAL_STATES, DeadlineStatus, State
from rogatory.requests.models import Deadline, Request, TimelineEvent
from rogatory.requests.service import parties_of
from rogatory.web import workspace
from rogatory.web.workspace import PAGE_SIZE, Filters, Sort, Tab

MINE = "fr-parquet-paris-j3"  # fr_prosecutor's authority
COUNT = 80
OTHERS = ("fr-tj-paris-instruction", "de-atlas-hosting", "nl-nimbus-mail")
SENT_STATES = [s for s in State if s not in (State.DRAFT, State.VALIDATION)]
# (issuing, validating, executing): mine on one side, on two, or on none
SIDES = [(MINE, MINE, "de-atlas-hosting"), ("fr-tj-paris-instruction", MINE, "de-atlas-hosting"),
         ("de-atlas-hosting", "de-atlas-hosting", MINE), (MINE, "fr-tj-paris-instruction", MINE),
         ("fr-tj-paris-instruction", "fr-tj-paris-instruction", "de-atlas-hosting"),
         (MINE, MINE, "nl-nimbus-mail"), ("nl-nimbus-mail", "nl-nimbus-mail", "de-atlas-hosting")]


@dataclass(frozen=True)
class Made:
    id: str
    reference: str
    issuing: str
    validating: str
    executing: str
    state: State
    emergency: bool
    instrument: str
    created_at: datetime
    sent_at: datetime | None
    updated_at: datetime
    next_due: datetime | None
    answered_at: datetime | None  # the first event into executed, partly executed or refused
    deadlines: tuple[DeadlineStatus, ...]


def _make(factory: sessionmaker[Session], world: World) -> list[Made]:
    made: list[Made] = []
    creator = world.actors["fr_prosecutor"].user_id
    states = list(State)
    instruments = ("epoc", "eio", "budapest_preservation")
    answers = (State.EXECUTED, State.PARTIALLY_EXECUTED, State.REFUSED)
    with factory() as session:
        for i in range(COUNT):
            issuing, validating, executing = SIDES[i % len(SIDES)]
            state = states[(i * 5) % len(states)]
            created = START - timedelta(days=i % 11, hours=i)
            sent = START + timedelta(hours=i) if state in SENT_STATES else None
            updated = START + timedelta(minutes=i % 9)  # ties, broken by id
            request = Request(
                id=f"req-{i:03d}", reference=f"REF-{(i * 37) % 100:03d}-{i:03d}",
                case_id="case-1", instrument=instruments[i % 3], instrument_version="1",
                requesting_state="FR", requested_state="DE", issuing_authority_id=issuing,
                validating_authority_id=validating, executing_authority_id=executing,
                data_categories=["subscriber"], emergency=i % 7 == 3, language="fr",
                form={"big": "x" * 200}, translations={}, state=state.value,
                created_by=creator, created_at=created, updated_at=updated, sent_at=sent,
                version=1)
            session.add(request)
            session.flush()
            answered: list[datetime] = []
            if sent is not None:
                events = [(State.ACKNOWLEDGED, sent + timedelta(hours=2))]  # not an answer
                if i % 3 != 2:
                    answered = [sent + timedelta(days=i % 6, hours=i % 5 + 1)]
                    if i % 2:  # a second answer later: the first one counts
                        answered.append(answered[0] + timedelta(days=2))
                    events += [(answers[(i + n) % 3], at) for n, at in enumerate(answered)]
                for n, (to_state, at) in enumerate(events):
                    session.add(TimelineEvent(
                        request_id=request.id, at=at, verb="test", from_state=None,
                        to_state=to_state.value, version=n + 1, details={}))
            due: list[datetime] = []
            if i % 4 != 0:  # a quarter without any open deadline
                due = [START + timedelta(days=(i * 13) % 17, hours=i % 5)]
                if i % 3 == 0:
                    due.append(due[0] - timedelta(hours=30 + i))  # the earlier one comes first
            statuses = [DeadlineStatus.OPEN] * len(due) + [DeadlineStatus.MET]
            for n, at in enumerate(due):
                session.add(_deadline(request.id, f"open{n}", at, DeadlineStatus.OPEN))
            # closed deadlines, due before every open one: never the "next" deadline
            session.add(_deadline(request.id, "met", START - timedelta(days=3),
                                  DeadlineStatus.MET))
            if i % 5 == 0:
                statuses.append(DeadlineStatus.BREACHED)
                session.add(_deadline(request.id, "breached", START - timedelta(days=9),
                                      DeadlineStatus.BREACHED))
            made.append(Made(request.id, request.reference, issuing, validating, executing,
                             state, request.emergency, request.instrument, created, sent,
                             updated, min(due, default=None), min(answered, default=None),
                             tuple(statuses)))
        session.commit()
    return made


def _deadline(request_id: str, kind: str, due: datetime, status: DeadlineStatus) -> Deadline:
    return Deadline(request_id=request_id, kind=kind, label=kind, legal_basis="Art. 10",
                    verified=True, effect="respond_by", holder="executing", emergency=False,
                    starts_at=START - timedelta(days=20), due_at=due, status=status.value,
                    extensions_used=0,
                    closed_at=None if status is DeadlineStatus.OPEN else START)


def _visible(actor: Actor, r: Made) -> bool:
    """The Python twin of the party filter (`Parties.sides_of`), everything for oversight."""
    if actor.role in OVERSIGHT_ROLES:
        return True
    probe = Request(issuing_authority_id=r.issuing, validating_authority_id=r.validating,
                    executing_authority_id=r.executing, state=r.state.value, sent_at=r.sent_at)
    return bool(parties_of(probe).sides_of(actor.authority_id))


def _in_tab(actor: Actor, tab: Tab, r: Made) -> bool:
    mine = actor.authority_id
    return _visible(actor, r) and {
        Tab.INCOMING: r.executing == mine and r.sent_at is not None,
        Tab.TO_VALIDATE: r.validating == mine and r.state is State.VALIDATION,
        Tab.OUTGOING: r.issuing == mine and r.state is not State.DRAFT,
        Tab.DRAFTS: r.issuing == mine and r.state is State.DRAFT,
        Tab.ALL: True,
    }[tab]


ORDERS: dict[Sort, Callable[[Made], tuple[object, ...]]] = {
    # finished last, emergencies first, then the nearest open deadline (none last), then the
    # most recently updated, then the id
    Sort.DUE: lambda r: (r.state in FINAL_STATES, not r.emergency, r.next_due is None,
                         r.next_due or START, -r.updated_at.timestamp(), r.id),
    Sort.UPDATED: lambda r: (-r.updated_at.timestamp(), r.id),
    Sort.REFERENCE: lambda r: (r.reference,),
}


@pytest.mark.parametrize("who", ["fr_prosecutor", "de_provider", "auditor", "fr_judge"])
def test_each_tab_page_by_page_and_its_count_match_a_python_computation(
        factory: sessionmaker[Session], world: World, who: str) -> None:
    made = _make(factory, world)
    actor = world.actors[who]
    tabs = workspace.tabs_for(actor.role)
    with factory() as session:
        counts = workspace.tab_counts(session, actor, tabs)
        for tab in tabs:
            expected = [r for r in made if _in_tab(actor, tab, r)]
            assert counts[tab] == sum(1 for r in expected if r.state not in FINAL_STATES), tab
            for sort, key in ORDERS.items():
                ordered = sorted(expected, key=key)
                pages = max(1, -(-len(ordered) // PAGE_SIZE))
                for number in range(1, pages + 2):  # one past the last: the last again
                    got = workspace.inbox(session, actor, Filters(tab=tab, sort=sort,
                                                                  page=number))
                    page = min(number, pages)
                    want = ordered[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
                    assert (got.total, got.page, got.pages) == (len(ordered), page, pages)
                    assert [row.id for row in got.rows] == [r.id for r in want], (tab, sort,
                                                                                  number)
                    assert [row.next_due_at for row in got.rows] == [r.next_due for r in want]


def test_the_prosecutor_s_data_set_covers_the_cases(factory: sessionmaker[Session],
                                                     world: World) -> None:
    """The data above is worth its name: the prosecutor's inbox spans three pages and page 3
    exists; every tab holds something; some requests are visible through two sides at once and
    some not at all."""
    made = _make(factory, world)
    actor = world.actors["fr_prosecutor"]
    with factory() as session:
        counts = workspace.tab_counts(session, actor, workspace.tabs_for(actor.role))
        everything = workspace.inbox(session, actor, Filters(tab=Tab.ALL, page=3))
    assert everything.pages == 3 and everything.page == 3 and everything.rows
    assert all(counts[t] > 0 for t in counts), counts
    sides = [len(parties_of(Request(issuing_authority_id=r.issuing,
                                    validating_authority_id=r.validating,
                                    executing_authority_id=r.executing, state=r.state.value,
                                    sent_at=r.sent_at)).sides_of(MINE)) for r in made]
    assert 0 in sides and 2 in sides
    # the counts are not a sum of the queues: requests on two sides count once in "all"
    assert counts[Tab.ALL] < sum(counts[t] for t in counts if t is not Tab.ALL)
    assert any(r.emergency and r.next_due for r in made)
    assert len({r.updated_at for r in made}) < len(made)  # ties in the order


def _median(values: list[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


@pytest.mark.parametrize("who", ["fr_prosecutor", "de_provider", "auditor", "it_outsider"])
def test_the_dashboard_matches_a_python_computation(factory: sessionmaker[Session],
                                                    world: World, who: str) -> None:
    made = _make(factory, world)
    actor = world.actors[who]
    seen = [r for r in made if _visible(actor, r)]
    days = 86400.0
    with factory() as session:
        data = workspace.dashboard(session, actor)
    assert data.by_state == [(s, n) for s in State
                             if (n := sum(1 for r in seen if r.state is s))]
    counts = {code: sum(1 for r in seen if r.instrument == code) for code in
              {r.instrument for r in seen}}
    assert data.by_instrument == sorted(counts.items(), key=lambda c: (-c[1], c[0]))
    to_send = _median([(r.sent_at - r.created_at).total_seconds() / days
                       for r in seen if r.sent_at])
    to_answer = _median([(r.answered_at - r.sent_at).total_seconds() / days
                         for r in seen if r.sent_at and r.answered_at])
    assert data.median_days_to_send == (pytest.approx(to_send, abs=1e-6) if to_send else None)
    assert data.median_days_to_answer == (pytest.approx(to_answer, abs=1e-6) if to_answer
                                          else None)
    statuses = [s for r in seen for s in r.deadlines]
    assert data.open_deadlines == statuses.count(DeadlineStatus.OPEN)
    assert data.breached == statuses.count(DeadlineStatus.BREACHED)
    if who != "it_outsider":  # a party to none of them sees nothing; the others see figures
        assert data.median_days_to_send and data.median_days_to_answer and data.breached
