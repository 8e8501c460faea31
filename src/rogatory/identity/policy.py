"""The one access policy: who may see a request and who may act on it, with the reason.

A user sees a request only when their authority is a party to it (issuing, validating,
executing) or through the oversight role; unknown and not-visible look the same (404)."""

from __future__ import annotations

from dataclasses import dataclass

from rogatory.errors import Forbidden, NotFound
from rogatory.identity.models import Role
from rogatory.requests.enums import Side, Verb
from rogatory.requests.workflow import TRANSITIONS


@dataclass(frozen=True)
class Actor:
    """The authenticated person (or machine account) acting."""

    user_id: str
    username: str
    display_name: str
    authority_id: str
    jurisdiction: str
    role: Role
    language: str = "en"
    timezone: str = "UTC"


@dataclass(frozen=True)
class Parties:
    """The authorities that are party to one request. The validating authority joins once the
    draft is submitted, the executing authority once the request is sent to it."""

    issuing: str
    validating: str
    executing: str
    submitted: bool = True
    sent: bool = True

    def sides_of(self, authority_id: str) -> set[Side]:
        sides = set()
        if authority_id == self.issuing:
            sides.add(Side.ISSUING)
        if authority_id == self.validating and (self.submitted or authority_id == self.issuing):
            sides.add(Side.VALIDATING)
        if authority_id == self.executing and self.sent:
            sides.add(Side.EXECUTING)
        return sides


SIDE_ROLES: dict[Side, frozenset[Role]] = {
    Side.ISSUING: frozenset(
        {Role.PROSECUTOR, Role.JUDGE, Role.INVESTIGATING_JUDGE, Role.CENTRAL_AUTHORITY_OFFICER}
    ),
    Side.VALIDATING: frozenset({Role.JUDGE, Role.INVESTIGATING_JUDGE, Role.PROSECUTOR}),
    Side.EXECUTING: frozenset(
        {
            Role.EXECUTING_OFFICER,
            Role.CENTRAL_AUTHORITY_OFFICER,
            Role.PROVIDER_RESPONDER,
            Role.PROSECUTOR,
            Role.JUDGE,
            Role.INVESTIGATING_JUDGE,
        }
    ),
}
OVERSIGHT_ROLES = frozenset({Role.OVERSIGHT_AUDITOR})
DRAFTING_ROLES = SIDE_ROLES[Side.ISSUING]


def can_see(actor: Actor, parties: Parties) -> bool:
    return actor.role in OVERSIGHT_ROLES or bool(parties.sides_of(actor.authority_id))


def require_visible(actor: Actor, parties: Parties, what: str) -> None:
    """NotFound unless the actor may see the request (forbidden looks like unknown)."""
    if not can_see(actor, parties):
        raise NotFound(f"{what} not found")


def acting_side(actor: Actor, parties: Parties, verb: Verb) -> Side:
    """The side on which `actor` performs `verb`, or Forbidden with the reason."""
    wanted = TRANSITIONS[verb].sides
    for side in sorted(parties.sides_of(actor.authority_id) & wanted):
        if actor.role in SIDE_ROLES[side]:
            return side
    sides = ", ".join(sorted(s.value for s in wanted))
    raise Forbidden(
        f"'{verb.value}' is for the {sides} side; your authority and role "
        f"({actor.role.value}) do not act on that side of this request"
    )


# Field-level minimization: each role sees the fields it needs.
NARRATIVE_WITHHELD_FROM = frozenset({Role.PROVIDER_RESPONDER, Role.OVERSIGHT_AUDITOR})
"""Roles that do not see a case's narrative (its summary): a provider sees the order addressed
to it (the data requested and the legal basis), an auditor the metadata."""
CONTENT_WITHHELD_FROM = frozenset({Role.OVERSIGHT_AUDITOR})
"""Roles that see a request's metadata (parties, states, deadlines, timeline) but not its
content (the form and its translations)."""


def sees_case_narrative(actor: Actor) -> bool:
    return actor.role not in NARRATIVE_WITHHELD_FROM


def sees_request_content(actor: Actor) -> bool:
    return actor.role not in CONTENT_WITHHELD_FROM


def require_drafting(actor: Actor, issuing_authority_id: str) -> None:
    """Only the issuing authority's own staff may draft in its name."""
    if actor.authority_id != issuing_authority_id or actor.role not in DRAFTING_ROLES:
        raise Forbidden("you may only draft requests for your own authority, as its prosecutor, "
                        "judge or central authority officer")
