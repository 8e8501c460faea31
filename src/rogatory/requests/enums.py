"""The vocabularies of the request lifecycle: states, verbs, data categories, ranks, deadline
statuses. Plain `StrEnum`s, stored as their values."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where a request stands (the DESIGN flow of one request)."""

    DRAFT = "draft"
    VALIDATION = "validation"
    ISSUED = "issued"
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    UNDER_REVIEW = "under_review"
    MORE_INFORMATION_REQUESTED = "more_information_requested"
    EXECUTING = "executing"
    REFUSED = "refused"
    EXECUTED = "executed"
    PARTIALLY_EXECUTED = "partially_executed"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class Verb(StrEnum):
    """Every named service verb that may change a request."""

    SUBMIT = "submit"
    VALIDATE = "validate"
    RETURN_TO_DRAFT = "return_to_draft"
    SEND = "send"
    ACKNOWLEDGE = "acknowledge"
    BEGIN_REVIEW = "begin_review"
    REQUEST_INFORMATION = "request_information"
    PROVIDE_INFORMATION = "provide_information"
    BEGIN_EXECUTION = "begin_execution"
    REFUSE = "refuse"
    EXECUTE = "execute"
    EXECUTE_PARTIALLY = "execute_partially"
    CLOSE = "close"
    WITHDRAW = "withdraw"
    EXTEND_DEADLINE = "extend_deadline"
    # Reg. (EU) 2023/1543 Art. 4(5): an emergency order issued without prior validation, its
    # validation (or refusal) after the fact, and its lapse when 48 hours pass without one
    ISSUE_EMERGENCY = "issue_emergency"
    VALIDATE_EX_POST = "validate_ex_post"
    REFUSE_EX_POST = "refuse_ex_post"
    LAPSE = "lapse"


class Side(StrEnum):
    """Which party acts: the issuing side, its validator, or the executing side."""

    ISSUING = "issuing"
    VALIDATING = "validating"
    EXECUTING = "executing"


class DataCategory(StrEnum):
    """Data categories of Reg. (EU) 2023/1543 Art. 3(9)-(12) and the general 'other'."""

    SUBSCRIBER = "subscriber"
    IDENTIFICATION = "identification"
    TRAFFIC = "traffic"
    CONTENT = "content"
    OTHER = "other"


class Rank(StrEnum):
    """Rank of an authority that issues or validates an order."""

    JUDGE = "judge"
    COURT = "court"
    INVESTIGATING_JUDGE = "investigating_judge"
    PROSECUTOR = "prosecutor"
    INVESTIGATING_AUTHORITY = "investigating_authority"
    CENTRAL_AUTHORITY = "central_authority"
    POLICE = "police"


class DeadlineStatus(StrEnum):
    OPEN = "open"
    MET = "met"
    BREACHED = "breached"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class DeadlineEffect(StrEnum):
    """`respond_by`: the holder must act before it; `preserve_until`: data are kept until it."""

    RESPOND_BY = "respond_by"
    PRESERVE_UNTIL = "preserve_until"


class Measure(StrEnum):
    """What the requesting authority wants done, as the authority finder asks it."""

    PRODUCTION = "production"
    PRESERVATION = "preservation"
    INVESTIGATIVE_MEASURE = "investigative_measure"
    EMERGENCY_DISCLOSURE = "emergency_disclosure"
    JOINT_INVESTIGATION = "joint_investigation"
    EXTRADITION = "extradition"
    FREEZING = "freezing"


OPEN_STATES = frozenset(
    {
        State.DRAFT,
        State.VALIDATION,
        State.ISSUED,
        State.RECEIVED,
        State.ACKNOWLEDGED,
        State.UNDER_REVIEW,
        State.MORE_INFORMATION_REQUESTED,
        State.EXECUTING,
    }
)
FINAL_STATES = frozenset({State.CLOSED, State.WITHDRAWN})
