"""The request lifecycle as data: one typed transition table, checked when imported (every state
reachable from draft, every open state able to end), and pure functions over it.

No generic update may set a status: the service changes state only through `next_state`.

Issue without prior validation (Reg. (EU) 2023/1543 Art. 4(5), unverified): `issue_emergency`
takes an emergency draft straight to issued; the validating side then validates
(`validate_ex_post`) or refuses (`refuse_ex_post`, the order is withdrawn) at whatever stage the
order has reached, and the deadline job withdraws it (`lapse`) when 48 hours pass without either.
Whether a validation after the fact is pending is not a state but a stored deadline: the service
checks it (`rogatory.requests.service`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rogatory.errors import InvalidTransition
from rogatory.requests.enums import FINAL_STATES, OPEN_STATES, Side, State, Verb

S = State
V = Verb


@dataclass(frozen=True)
class Transition:
    """A verb: from which states, to which state (`None`: the state stays), by which side."""

    sources: frozenset[State]
    target: State | None
    sides: frozenset[Side]


def _t(sources: Iterable[State], target: State | None, *sides: Side) -> Transition:
    return Transition(frozenset(sources), target, frozenset(sides))


ISSUED_STATES = frozenset(State) - {S.DRAFT, S.VALIDATION} - FINAL_STATES
"""Every state of an order once issued and before it ends: where a validation after the fact
(Art. 4(5)) may still be awaited — the order may have been sent, executed or refused meanwhile."""

TRANSITIONS: dict[Verb, Transition] = {
    V.SUBMIT: _t([S.DRAFT], S.VALIDATION, Side.ISSUING),
    V.VALIDATE: _t([S.VALIDATION], S.ISSUED, Side.VALIDATING),
    V.RETURN_TO_DRAFT: _t([S.VALIDATION], S.DRAFT, Side.VALIDATING),
    V.SEND: _t([S.ISSUED], S.RECEIVED, Side.ISSUING),
    V.ACKNOWLEDGE: _t([S.RECEIVED], S.ACKNOWLEDGED, Side.EXECUTING),
    V.BEGIN_REVIEW: _t([S.ACKNOWLEDGED], S.UNDER_REVIEW, Side.EXECUTING),
    V.REQUEST_INFORMATION: _t(
        [S.UNDER_REVIEW, S.EXECUTING], S.MORE_INFORMATION_REQUESTED, Side.EXECUTING
    ),
    V.PROVIDE_INFORMATION: _t([S.MORE_INFORMATION_REQUESTED], S.UNDER_REVIEW, Side.ISSUING),
    V.BEGIN_EXECUTION: _t([S.UNDER_REVIEW], S.EXECUTING, Side.EXECUTING),
    V.REFUSE: _t([S.RECEIVED, S.ACKNOWLEDGED, S.UNDER_REVIEW], S.REFUSED, Side.EXECUTING),
    V.EXECUTE: _t([S.EXECUTING], S.EXECUTED, Side.EXECUTING),
    V.EXECUTE_PARTIALLY: _t([S.EXECUTING], S.PARTIALLY_EXECUTED, Side.EXECUTING),
    V.CLOSE: _t([S.EXECUTED, S.PARTIALLY_EXECUTED, S.REFUSED], S.CLOSED, Side.ISSUING),
    V.WITHDRAW: _t(OPEN_STATES, S.WITHDRAWN, Side.ISSUING),
    # executed too: a preservation period (EPOC-PR Annex VI) runs on after the data are kept
    V.EXTEND_DEADLINE: _t(
        [S.RECEIVED, S.ACKNOWLEDGED, S.UNDER_REVIEW, S.EXECUTING, S.EXECUTED,
         S.PARTIALLY_EXECUTED],
        None,
        Side.ISSUING,
        Side.EXECUTING,
    ),
    V.ISSUE_EMERGENCY: _t([S.DRAFT], S.ISSUED, Side.ISSUING),
    V.VALIDATE_EX_POST: _t(ISSUED_STATES, None, Side.VALIDATING),
    V.REFUSE_EX_POST: _t(ISSUED_STATES, S.WITHDRAWN, Side.VALIDATING),
    # on the issuing authority's behalf (Art. 4(5): it withdraws the order), by the job only
    V.LAPSE: _t(ISSUED_STATES, S.WITHDRAWN, Side.ISSUING),
}

EX_POST_VERBS = frozenset({V.VALIDATE_EX_POST, V.REFUSE_EX_POST})
"""Verbs that need a validation after the fact to be pending (the service checks it)."""
SYSTEM_VERBS = frozenset({V.LAPSE})
"""Verbs only the node's jobs perform; no user may (`rogatory.requests.service.act` refuses)."""


def unavailable(*, ex_post_pending: bool, without_validation: bool) -> frozenset[Verb]:
    """Verbs the state allows but a request's circumstances do not, so nobody is offered them:
    the node's own; the validation after the fact and its refusal unless one is pending, and
    closing while one is (Reg. (EU) 2023/1543 Art. 4(5)); issuing without prior validation
    unless the rule allows it (`without_validation`)."""
    hidden = set(SYSTEM_VERBS)
    hidden |= {V.CLOSE} if ex_post_pending else EX_POST_VERBS
    if not without_validation:
        hidden.add(V.ISSUE_EMERGENCY)
    return frozenset(hidden)


HOLDER: dict[State, Side | None] = {
    S.DRAFT: Side.ISSUING,
    S.VALIDATION: Side.VALIDATING,
    S.ISSUED: Side.ISSUING,
    S.RECEIVED: Side.EXECUTING,
    S.ACKNOWLEDGED: Side.EXECUTING,
    S.UNDER_REVIEW: Side.EXECUTING,
    S.MORE_INFORMATION_REQUESTED: Side.ISSUING,
    S.EXECUTING: Side.EXECUTING,
    S.REFUSED: Side.ISSUING,
    S.EXECUTED: Side.ISSUING,
    S.PARTIALLY_EXECUTED: Side.ISSUING,
    S.CLOSED: None,
    S.WITHDRAWN: None,
}


def allowed_verbs(state: State, permitted: Iterable[Verb] | None = None) -> list[Verb]:
    """Verbs allowed in `state`, limited to those the instrument `permitted` (if given)."""
    limit = set(Verb) if permitted is None else set(permitted)
    return [v for v, t in TRANSITIONS.items() if state in t.sources and v in limit]


def next_state(state: State, verb: Verb, permitted: Iterable[Verb] | None = None) -> State:
    """The state after `verb`, or `InvalidTransition` naming the verbs allowed instead."""
    permitted = None if permitted is None else frozenset(permitted)  # no-op for a frozenset
    transition = TRANSITIONS.get(verb)
    # the common case without building the allowed list (the simulator calls this millions of
    # times); anything not allowed falls through to the full answer below
    if transition is not None and state in transition.sources and (
        permitted is None or verb in permitted
    ):
        return state if transition.target is None else transition.target
    allowed = allowed_verbs(state, permitted)
    raise InvalidTransition(verb.value, state.value, [v.value for v in allowed])


def holder(state: State) -> Side | None:
    """Which side must act next (`None` once the request has ended)."""
    return HOLDER[state]


def _check_table() -> None:
    """Every state reachable from draft; every open state can reach an end; no dead verbs."""
    if set(HOLDER) != set(State):
        raise AssertionError("HOLDER must name every state")
    edges = {
        s: {t.target or s for t in TRANSITIONS.values() if s in t.sources} for s in State
    }
    seen, todo = {S.DRAFT}, [S.DRAFT]
    while todo:
        for nxt in edges[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    if seen != set(State):
        raise AssertionError(f"unreachable states: {sorted(set(State) - seen)}")
    for state in State:
        if state in FINAL_STATES:
            if edges[state]:
                raise AssertionError(f"final state {state} has outgoing verbs")
            continue
        reach, todo = {state}, [state]
        while todo:
            for nxt in edges[todo.pop()] - reach:
                reach.add(nxt)
                todo.append(nxt)
        if not reach & FINAL_STATES:
            raise AssertionError(f"state {state} is a trap: it cannot reach an end")
    for verb, tr in TRANSITIONS.items():
        if not tr.sources or not tr.sides:
            raise AssertionError(f"verb {verb} has no source state or no side")


_check_table()
