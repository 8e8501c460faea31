"""Every allowed and every forbidden transition of the request lifecycle."""

from __future__ import annotations

import pytest

from rogatory.errors import InvalidTransition
from rogatory.requests import workflow
from rogatory.requests.enums import FINAL_STATES, State, Verb

ISSUED = [State.ISSUED, State.RECEIVED, State.ACKNOWLEDGED, State.UNDER_REVIEW,
          State.MORE_INFORMATION_REQUESTED, State.EXECUTING, State.REFUSED, State.EXECUTED,
          State.PARTIALLY_EXECUTED]

EXPECTED: dict[tuple[State, Verb], State] = {
    (State.DRAFT, Verb.SUBMIT): State.VALIDATION,
    (State.VALIDATION, Verb.VALIDATE): State.ISSUED,
    (State.VALIDATION, Verb.RETURN_TO_DRAFT): State.DRAFT,
    (State.ISSUED, Verb.SEND): State.RECEIVED,
    (State.RECEIVED, Verb.ACKNOWLEDGE): State.ACKNOWLEDGED,
    (State.ACKNOWLEDGED, Verb.BEGIN_REVIEW): State.UNDER_REVIEW,
    (State.UNDER_REVIEW, Verb.REQUEST_INFORMATION): State.MORE_INFORMATION_REQUESTED,
    (State.EXECUTING, Verb.REQUEST_INFORMATION): State.MORE_INFORMATION_REQUESTED,
    (State.MORE_INFORMATION_REQUESTED, Verb.PROVIDE_INFORMATION): State.UNDER_REVIEW,
    (State.UNDER_REVIEW, Verb.BEGIN_EXECUTION): State.EXECUTING,
    (State.RECEIVED, Verb.REFUSE): State.REFUSED,
    (State.ACKNOWLEDGED, Verb.REFUSE): State.REFUSED,
    (State.UNDER_REVIEW, Verb.REFUSE): State.REFUSED,
    (State.EXECUTING, Verb.EXECUTE): State.EXECUTED,
    (State.EXECUTING, Verb.EXECUTE_PARTIALLY): State.PARTIALLY_EXECUTED,
    (State.EXECUTED, Verb.CLOSE): State.CLOSED,
    (State.PARTIALLY_EXECUTED, Verb.CLOSE): State.CLOSED,
    (State.REFUSED, Verb.CLOSE): State.CLOSED,
    (State.RECEIVED, Verb.EXTEND_DEADLINE): State.RECEIVED,
    (State.ACKNOWLEDGED, Verb.EXTEND_DEADLINE): State.ACKNOWLEDGED,
    (State.UNDER_REVIEW, Verb.EXTEND_DEADLINE): State.UNDER_REVIEW,
    (State.EXECUTING, Verb.EXTEND_DEADLINE): State.EXECUTING,
    (State.EXECUTED, Verb.EXTEND_DEADLINE): State.EXECUTED,
    (State.PARTIALLY_EXECUTED, Verb.EXTEND_DEADLINE): State.PARTIALLY_EXECUTED,
    **{
        (s, Verb.WITHDRAW): State.WITHDRAWN
        for s in State
        if s not in FINAL_STATES
        and s not in (State.REFUSED, State.EXECUTED, State.PARTIALLY_EXECUTED)
    },
    # Reg. (EU) 2023/1543 Art. 4(5): an emergency draft issued without prior validation, then
    # validated, refused or lapsed at any stage once issued and before it ends
    (State.DRAFT, Verb.ISSUE_EMERGENCY): State.ISSUED,
    **{(s, Verb.VALIDATE_EX_POST): s for s in ISSUED},
    **{(s, Verb.REFUSE_EX_POST): State.WITHDRAWN for s in ISSUED},
    **{(s, Verb.LAPSE): State.WITHDRAWN for s in ISSUED},
}

PAIRS = [(s, v) for s in State for v in Verb]


@pytest.mark.parametrize(("state", "verb"), PAIRS, ids=[f"{s}-{v}" for s, v in PAIRS])
def test_every_pair(state: State, verb: Verb) -> None:
    if (state, verb) in EXPECTED:
        assert workflow.next_state(state, verb) is EXPECTED[(state, verb)]
        assert verb in workflow.allowed_verbs(state)
    else:
        with pytest.raises(InvalidTransition) as info:
            workflow.next_state(state, verb)
        allowed = sorted(v.value for v in workflow.allowed_verbs(state))
        assert sorted(info.value.details["allowed"]) == allowed
        assert f"'{verb.value}' is not allowed while the request is '{state.value}'" in str(
            info.value
        )


def test_instrument_limits_verbs() -> None:
    with pytest.raises(InvalidTransition) as info:
        workflow.next_state(State.RECEIVED, Verb.EXTEND_DEADLINE, [Verb.ACKNOWLEDGE])
    assert info.value.details["allowed"] == ["acknowledge"]


def test_final_states_have_no_holder_and_no_verbs() -> None:
    for state in FINAL_STATES:
        assert workflow.holder(state) is None
        assert workflow.allowed_verbs(state) == []


def test_table_check_rejects_a_trap(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = dict(workflow.TRANSITIONS)
    stuck = State.MORE_INFORMATION_REQUESTED
    broken[Verb.PROVIDE_INFORMATION] = workflow.Transition(
        frozenset({stuck}), None, broken[Verb.PROVIDE_INFORMATION].sides)
    for ending in (Verb.WITHDRAW, Verb.REFUSE_EX_POST, Verb.LAPSE):
        broken[ending] = workflow.Transition(
            broken[ending].sources - {stuck}, State.WITHDRAWN, broken[ending].sides)
    monkeypatch.setattr(workflow, "TRANSITIONS", broken)
    with pytest.raises(AssertionError, match="more_information_requested is a trap"):
        workflow._check_table()


def test_table_check_rejects_an_unreachable_state(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = dict(workflow.TRANSITIONS)
    for ending in (Verb.WITHDRAW, Verb.REFUSE_EX_POST, Verb.LAPSE):
        del broken[ending]
    monkeypatch.setattr(workflow, "TRANSITIONS", broken)
    with pytest.raises(AssertionError, match=r"unreachable states.*withdrawn"):
        workflow._check_table()


def test_the_node_s_own_verbs_are_apart() -> None:
    """`lapse` is the deadline job's (Art. 4(5)); the validation after the fact needs one to be
    pending, which the service checks."""
    assert {Verb.LAPSE} == workflow.SYSTEM_VERBS
    assert {Verb.VALIDATE_EX_POST, Verb.REFUSE_EX_POST} == workflow.EX_POST_VERBS
    assert sorted(workflow.ISSUED_STATES) == sorted(ISSUED)
