"""The authorization matrix, on SQLite and PostgreSQL: every authenticated route of the node
(the API and the portal's pages) × every role × own or foreign jurisdiction × party to the
order or not, every cell asserted.

The routes come from the application itself (`app.routes`, included routers flattened): each is
either public (`PUBLIC`, with a test that it answers without credentials) or probed by the
matrix (`probes`); a route that is neither, or a classified route that is gone, fails
`test_every_route_is_classified`, so a new route cannot slip through unclassified.

The expected answers are written out here from the access policy as the identity-and-access
issue states it, never computed with `rogatory.identity.policy` or the services (that would test
the policy against itself): the role sets and audiences below are the specification, copied by
hand. A user sees an order only when their authority is a party to it (issuing, validating once
submitted, executing once sent) or through the oversight role; the notified enforcing authority
sees the notification and the decisions of its own review, not the order's file; unknown and
forbidden look the same (404); a user who sees an order but is not on the side of a verb gets
403. Each probe has one expectation class (`Everyone`, `Read`, `Act`, `Refused`, `RoleGated`,
`DraftInCase`); a cell whose verb gets past the policy meets a business refusal (422) that
changes nothing, so every cell runs against the same world. Besides the status, a cell checks
what a list shows, what a role must never see (an auditor the order's content, a provider or an
auditor the case's narrative), and, where it answers 404, that an unknown id gets the same
answer (but for the id itself, where a page echoes its own address).

The world: one case led by a French investigating judge's office, with a Paris prosecutor's
office working on it; in it a traffic-data EPOC (Reg. (EU) 2023/1543) to a German provider,
validated by a French judge (a separate authority), sent (so the German central authority is
notified as enforcing authority and has reviewed it), with received data and an evidence item;
a second order still in validation and a third still a draft. Users of all 11 roles sit at each
of eight places: the issuing, validating, executing (provider) and enforcing authorities, the
case's other authority, another French authority, another German one and an Italian one."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import re
import secrets
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from conftest import World, serving
from rogatory.app import create_app
from rogatory.bootstrap import ensure_node_key
from rogatory.clock import ManualClock
from rogatory.config import Settings
from rogatory.deps import session_cookie_name
from rogatory.identity import service as identity
from rogatory.identity.models import Role

# --- the places and the people -------------------------------------------------------------------


class Pos(StrEnum):
    """Where a user's authority stands towards the case and its orders."""

    ISSUING = "issuing authority"
    VALIDATING = "validating authority"
    CASE_TEAM = "other authority working on the case"
    OWN_OTHER = "other authority of the issuing state"
    EXECUTING = "addressed provider (executing)"
    ENFORCING = "notified enforcing authority"
    REQUESTED_OTHER = "other authority of the requested state"
    THIRD_STATE = "authority of a third state"


@dataclass(frozen=True)
class Place:
    authority: str
    own: bool  # in the issuing state (FR), the jurisdiction the order comes from
    party: bool  # a party to the sent order (the notified enforcing authority included)


PLACES: dict[Pos, Place] = {
    Pos.ISSUING: Place("fr-tj-paris-instruction", own=True, party=True),
    Pos.VALIDATING: Place("fr-tj-paris-jld", own=True, party=True),
    Pos.CASE_TEAM: Place("fr-parquet-paris-j3", own=True, party=False),
    Pos.OWN_OTHER: Place("fr-central-authority", own=True, party=False),
    Pos.EXECUTING: Place("de-atlas-hosting", own=False, party=True),
    Pos.ENFORCING: Place("de-central-authority", own=False, party=True),
    Pos.REQUESTED_OTHER: Place("de-sta-berlin-rechtshilfe", own=False, party=False),
    Pos.THIRD_STATE: Place("it-central-authority", own=False, party=False),
}

R = Role

# The specification, by hand (see the module docstring): which roles act on which side.
ISSUING_SIDE = frozenset({R.PROSECUTOR, R.JUDGE, R.INVESTIGATING_JUDGE,
                          R.CENTRAL_AUTHORITY_OFFICER})
VALIDATING_SIDE = frozenset({R.JUDGE, R.INVESTIGATING_JUDGE, R.PROSECUTOR})
EXECUTING_SIDE = frozenset({R.EXECUTING_OFFICER, R.CENTRAL_AUTHORITY_OFFICER,
                            R.PROVIDER_RESPONDER, R.PROSECUTOR, R.JUDGE,
                            R.INVESTIGATING_JUDGE})
ENFORCING_SIDE = frozenset({R.CENTRAL_AUTHORITY_OFFICER, R.PROSECUTOR, R.JUDGE,
                            R.INVESTIGATING_JUDGE, R.EXECUTING_OFFICER})
DRAFTERS = ISSUING_SIDE  # who opens cases and drafts orders in their own authority's name
TOOL_APPROVERS = frozenset({R.JUDGE, R.INVESTIGATING_JUDGE, R.ADMINISTRATOR})
EVIDENCE_HANDLERS = frozenset({R.FORENSIC_EXAMINER, R.PROSECUTOR, R.INVESTIGATING_JUDGE,
                               R.EXECUTING_OFFICER, R.PROVIDER_RESPONDER})
OVERSIGHT = frozenset({R.OVERSIGHT_AUDITOR})  # sees everything, acts on nothing


@dataclass(frozen=True)
class Audience:
    """Who may see a thing: users of these places (any role), and the oversight role."""

    name: str
    places: frozenset[Pos]

    def sees(self, role: Role, pos: Pos) -> bool:
        return role in OVERSIGHT or pos in self.places


def _aud(name: str, *places: Pos) -> Audience:
    return Audience(name, frozenset(places))


P = Pos
CASE_TEAM = _aud("the case's team and the parties to its orders",
                 P.ISSUING, P.CASE_TEAM, P.VALIDATING, P.EXECUTING)
EVIDENCE_READERS = _aud("the case's team (the item's own authority, here on it)",
                        P.ISSUING, P.CASE_TEAM)
SENT_PARTIES = _aud("the sent order's parties", P.ISSUING, P.VALIDATING, P.EXECUTING)
SUBMITTED_PARTIES = _aud("the submitted order's parties", P.ISSUING, P.VALIDATING)
DRAFT_PARTIES = _aud("the draft's issuing authority", P.ISSUING)
WITH_ENFORCING = _aud("the sent order's parties and its notified enforcing authority",
                      P.ISSUING, P.VALIDATING, P.EXECUTING, P.ENFORCING)
ASSESSORS = _aud("the order's issuing and validating authorities", P.ISSUING, P.VALIDATING)
CONTROLLER = _aud("the issuing authority (controller of the data received)", P.ISSUING)
NOTIFIED = _aud("the notified enforcing authority", P.ENFORCING)


# --- expectation classes -------------------------------------------------------------------------


class Expectation(Protocol):
    def statuses(self, role: Role, pos: Pos) -> frozenset[int]: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Everyone:
    """Catalogue, directory, own lists: every authenticated user."""

    status: int = 200

    def statuses(self, role: Role, pos: Pos) -> frozenset[int]:
        return frozenset({self.status})

    def describe(self) -> str:
        return f"every authenticated user → {self.status}"


@dataclass(frozen=True)
class Read:
    """A scoped read: its audience → 200, everyone else → 404."""

    audience: Audience

    def statuses(self, role: Role, pos: Pos) -> frozenset[int]:
        return frozenset({200 if self.audience.sees(role, pos) else 404})

    def describe(self) -> str:
        return f"read: {self.audience.name} and oversight → 200, others → 404"


@dataclass(frozen=True)
class ReadWithin:
    """A read of the part of a scope one may see: `audience` → 200; the rest of `scope` sees
    the scope but nothing in it → `empty` (what a scope with nothing in it answers anyone);
    everyone else → 404."""

    audience: Audience
    scope: Audience
    empty: int

    def statuses(self, role: Role, pos: Pos) -> frozenset[int]:
        if self.audience.sees(role, pos):
            return frozenset({200})
        return frozenset({self.empty if self.scope.sees(role, pos) else 404})

    def describe(self) -> str:
        return (f"read: {self.audience.name} and oversight → 200, the rest of "
                f"{self.scope.name} → {self.empty}, others → 404")


@dataclass(frozen=True)
class Act:
    """A scoped verb: those who see it and act on the right side (a role of that side, at an
    authority of that side) get past the policy (`allowed`: the business answer, here always
    a refusal that changes nothing); others who see it → 403; everyone else → 404."""

    audience: Audience
    actors: tuple[tuple[Pos, frozenset[Role]], ...]
    allowed: frozenset[int]
    side: str

    def statuses(self, role: Role, pos: Pos) -> frozenset[int]:
        if not self.audience.sees(role, pos):
            return frozenset({404})
        if any(pos == p and role in roles for p, roles in self.actors):
            return self.allowed
        return frozenset({403})

    def describe(self) -> str:
        return (f"verb: {self.side} → {sorted(self.allowed)}, others of "
                f"{self.audience.name} and oversight → 403, others → 404")


@dataclass(frozen=True)
class Refused:
    """A verb the order's state does not allow: whoever sees the order learns that (`status`),
    whatever their side; everyone else → 404."""

    audience: Audience
    status: int

    def statuses(self, role: Role, pos: Pos) -> frozenset[int]:
        return frozenset({self.status if self.audience.sees(role, pos) else 404})

    def describe(self) -> str:
        return f"not allowed now: {self.audience.name} and oversight → {self.status}, " \
            "others → 404"


@dataclass(frozen=True)
class RoleGated:
    """Not scoped to a request: these roles, wherever they are → `allowed`, others → 403."""

    roles: frozenset[Role]
    allowed: int
    name: str

    def statuses(self, role: Role, pos: Pos) -> frozenset[int]:
        return frozenset({self.allowed if role in self.roles else 403})

    def describe(self) -> str:
        return f"role-gated: {self.name} → {self.allowed}, others → 403"


@dataclass(frozen=True)
class DraftInCase:
    """Drafting an order in a case: a case the user may not see is an unknown value (422,
    naming `case_reference`); in a case they see, drafters get past the policy (201, or 422
    for the instrument's own rules), others → 403."""

    audience: Audience
    created: int = 201

    def statuses(self, role: Role, pos: Pos) -> frozenset[int]:
        if not self.audience.sees(role, pos):
            return frozenset({422})
        return frozenset({self.created, 422}) if role in DRAFTERS else frozenset({403})

    def describe(self) -> str:
        return f"draft in case: unseen case → 422 (case_reference), drafters of " \
            f"{self.audience.name} → {self.created}/422, others → 403"


def anywhere(audience: Audience, roles: frozenset[Role]) -> tuple[tuple[Pos, frozenset[Role]],
                                                                    ...]:
    return tuple((p, roles) for p in sorted(audience.places))


# --- the probes: every authenticated route, one or more sub-cases each ---------------------------

Ids = dict[str, str]
Listing = Callable[[Any], set[str]]


@dataclass(frozen=True)
class Probe:
    method: str
    route: str  # the route's path as the application declares it
    path: str  # with the world's ids as {placeholders}; at most one is an id to guess
    expect: Expectation
    what: str = ""
    json: Any = None
    fresh: Callable[[int], Any] | None = None  # a body of its own for each call
    content: bytes | None = None
    stream: bool = False
    token: str = "main"
    listing: Listing | None = None
    listed: tuple[tuple[str, Audience], ...] = ()  # (id placeholder, who finds it listed)
    portal: bool = False  # a page of the portal: the session cookie (and CSRF token) instead
    form: dict[str, Any] | None = None  # an HTML form's fields (portal)
    withheld: tuple[tuple[str, frozenset[Role]], ...] = ()  # (text, roles that never see it)

    def fill(self, ids: Ids, unknown: bool = False) -> tuple[str, str]:
        """The path with the world's ids (or an unknown one), and that id."""
        values = dict(ids)
        subject = ""
        for name in re.findall(r"\{(\w+)\}", self.path):
            if unknown:
                values[name] = UNKNOWN[name]()
            subject = values[name]
        return self.path.format(**values), subject

    @property
    def guessable(self) -> bool:
        return bool(re.search(r"\{(\w+)\}", self.path))

    def label(self) -> str:
        return f"{self.method} {self.route}" + (f" [{self.what}]" if self.what else "")


UNKNOWN: dict[str, Callable[[], str]] = {
    "C": lambda: f"FR-2026-UNKNOWN-{secrets.token_hex(4).upper()}",
    **{name: lambda: str(uuid.uuid4()) for name in ("R", "V", "D", "E", "X", "Dv", "De", "T")},
}

REQ = "/api/v1/requests/{request_id}"
SECRET_CONTENT = "ops@lockstorm.example"  # in the order's form (its content)
SECRET_NARRATIVE = "Narrative of the LockStorm attacks"  # the case's summary


def _ids(key: str) -> Listing:
    def extract(body: Any) -> set[str]:
        rows = body["items"] if isinstance(body, dict) else body
        return {str(row[key]) for row in rows}
    return extract


def probes(versions: dict[str, int]) -> list[Probe]:
    """Every authenticated route with its expectation; `versions`: the orders' versions, for
    the bodies of verbs (a stale version would answer 409 before the policy)."""
    r_v, v_v, d_v = versions["R"], versions["V"], versions["D"]

    content = ((SECRET_CONTENT, OVERSIGHT),)  # oversight reads metadata, not content
    narrative = ((SECRET_NARRATIVE, OVERSIGHT | {R.PROVIDER_RESPONDER}),)

    def verb(name: str, verb: str, version: int, expect: Expectation) -> Probe:
        return Probe("POST", f"{REQ}/actions/{{verb}}", f"/api/v1/requests/{{{name}}}/actions/"
                     f"{verb}", expect, what=f"{verb} on {name}",
                     json={"version": version, "reason": ""})

    def page_verb(name: str, verb: str, version: int, expect: Expectation) -> Probe:
        return Probe("POST", "/requests/{request_id}/act", f"/requests/{{{name}}}/act", expect,
                     what=f"{verb} on {name}", portal=True,
                     form={"verb": verb, "version": version, "reason": ""})

    issuing = ((P.ISSUING, ISSUING_SIDE),)
    executing = ((P.EXECUTING, EXECUTING_SIDE),)
    validating = ((P.VALIDATING, VALIDATING_SIDE),)
    enforcing = ((P.ENFORCING, ENFORCING_SIDE),)
    refused = frozenset({422})
    controller = Act(CONTROLLER, issuing, refused, "the issuing side's roles at the issuing "
                     "authority")
    handlers = Act(CASE_TEAM, anywhere(CASE_TEAM, EVIDENCE_HANDLERS), refused,
                   "evidence handlers of the case's team")
    keepers = Act(EVIDENCE_READERS, anywhere(EVIDENCE_READERS, EVIDENCE_HANDLERS), refused,
                  "evidence handlers of those who may see the item")
    return [
        Probe("POST", "/auth/logout", "/auth/logout", Everyone(204), token="logout"),
        # catalogue and directory
        Probe("GET", "/api/v1/instruments", "/api/v1/instruments", Everyone()),
        Probe("GET", "/api/v1/instruments/{code}", "/api/v1/instruments/epoc", Everyone()),
        Probe("GET", "/api/v1/jurisdictions", "/api/v1/jurisdictions", Everyone()),
        Probe("GET", "/api/v1/jurisdictions/{code}", "/api/v1/jurisdictions/DE", Everyone()),
        Probe("GET", "/api/v1/authorities", "/api/v1/authorities?jurisdiction=DE", Everyone()),
        Probe("GET", "/api/v1/finder", "/api/v1/finder?requesting=FR&requested=DE"
              "&measure=production", Everyone()),
        Probe("GET", "/api/v1/tools", "/api/v1/tools", Everyone()),
        Probe("GET", "/api/v1/tools/{tool_id}", "/api/v1/tools/{T}", Everyone()),
        Probe("POST", "/api/v1/tools", "/api/v1/tools",
              RoleGated(TOOL_APPROVERS, 201, "judges and the administrator"),
              fresh=lambda n: {"name": f"Matrix tool {n}", "version": "1.0",
                               "purpose": "Clusters addresses", "error_rates": "none known",
                               "bias_assessment": "none identified"}),
        Probe("GET", "/api/v1/data-protection/due", "/api/v1/data-protection/due", Everyone()),
        Probe("GET", "/api/v1/notifications", "/api/v1/notifications", Everyone(),
              listing=_ids("request_id"), listed=(("R", NOTIFIED),)),
        # cases
        Probe("GET", "/api/v1/cases", "/api/v1/cases", Everyone(), listing=_ids("reference"),
              listed=(("C", CASE_TEAM),), withheld=narrative),
        Probe("POST", "/api/v1/cases", "/api/v1/cases",
              RoleGated(DRAFTERS, 201, "drafting roles"),
              fresh=lambda n: {"reference": f"MATRIX-{n}-{secrets.token_hex(3)}",
                               "title": "A case of one's own"}),
        Probe("GET", "/api/v1/cases/{reference}", "/api/v1/cases/{C}", Read(CASE_TEAM),
              withheld=narrative),
        # requests
        Probe("GET", "/api/v1/requests", "/api/v1/requests?limit=500", Everyone(),
              listing=_ids("id"),
              listed=(("R", SENT_PARTIES), ("V", SUBMITTED_PARTIES), ("D", DRAFT_PARTIES))),
        Probe("POST", "/api/v1/requests", "/api/v1/requests", DraftInCase(CASE_TEAM),
              fresh=lambda n: {"case_reference": "{C}", "instrument": "epoc",
                               "executing_authority_id": "de-atlas-hosting",
                               "data_categories": ["subscriber"], "form": {}}),
        # one order as it moves: the validating authority joins once it is submitted, the
        # executing one once it is sent (the other routes on an order probe the sent one)
        Probe("GET", REQ, "/api/v1/requests/{R}", Read(SENT_PARTIES), what="R",
              withheld=content),
        Probe("GET", REQ, "/api/v1/requests/{V}", Read(SUBMITTED_PARTIES), what="V"),
        Probe("GET", REQ, "/api/v1/requests/{D}", Read(DRAFT_PARTIES), what="D"),
        Probe("GET", f"{REQ}/timeline", "/api/v1/requests/{R}/timeline", Read(SENT_PARTIES)),
        Probe("GET", f"{REQ}/render", "/api/v1/requests/{R}/render", Read(SENT_PARTIES),
              withheld=content),
        Probe("GET", f"{REQ}/events", "/api/v1/requests/{R}/events", Read(SENT_PARTIES),
              stream=True),
        Probe("PATCH", REQ, "/api/v1/requests/{R}",
              Act(SENT_PARTIES, ((P.ISSUING, DRAFTERS),), refused,
                  "drafters of the issuing authority"), what="R (no longer a draft)",
              json={"version": r_v, "form": {}}),
        Probe("PUT", f"{REQ}/translations/{{field}}",
              "/api/v1/requests/{R}/translations/offence_description",
              Act(SENT_PARTIES, ((P.ISSUING, DRAFTERS),), refused,
                  "drafters of the issuing authority"), what="R (sent: fixed)",
              json={"version": r_v, "language": "de", "text": "Übersetzung"}),
        verb("R", "withdraw", r_v, Act(SENT_PARTIES, issuing, refused,
                                       "the issuing side (empty reason)")),
        verb("R", "refuse", r_v, Act(SENT_PARTIES, executing, refused,
                                     "the executing side (empty reason)")),
        verb("R", "validate", r_v, Refused(SENT_PARTIES, 409)),
        verb("V", "return_to_draft", v_v, Act(SUBMITTED_PARTIES, validating, refused,
                                              "the validating side (empty reason)")),
        verb("D", "withdraw", d_v, Act(DRAFT_PARTIES, issuing, refused,
                                       "the issuing side (empty reason)")),
        # safeguards
        Probe("POST", f"{REQ}/assessments", "/api/v1/requests/{R}/assessments",
              Act(SENT_PARTIES, issuing + validating, refused,
                  "the issuing and validating sides (too late once sent)"), json={}),
        Probe("GET", f"{REQ}/assessments", "/api/v1/requests/{R}/assessments", Read(ASSESSORS)),
        Probe("POST", f"{REQ}/decisions", "/api/v1/requests/{R}/decisions",
              Act(SENT_PARTIES, validating, refused, "the validating side"),
              what="validation", json={"stage": "validation", "outcome": "grant"}),
        Probe("POST", f"{REQ}/decisions", "/api/v1/requests/{R}/decisions",
              Act(SENT_PARTIES, executing, refused, "the executing side"),
              what="execution", json={"stage": "execution", "outcome": "grant"}),
        Probe("POST", f"{REQ}/decisions", "/api/v1/requests/{R}/decisions",
              Act(WITH_ENFORCING, enforcing, refused, "the notified enforcing authority"),
              what="enforcement", json={"stage": "enforcement", "outcome": "grant"}),
        Probe("GET", f"{REQ}/decisions", "/api/v1/requests/{R}/decisions",
              Read(WITH_ENFORCING), listing=_ids("id"),
              listed=(("Dv", SENT_PARTIES), ("De", WITH_ENFORCING))),
        Probe("GET", "/api/v1/decisions/{decision_id}", "/api/v1/decisions/{Dv}",
              Read(SENT_PARTIES), what="validation decision"),
        Probe("GET", "/api/v1/decisions/{decision_id}", "/api/v1/decisions/{De}",
              Read(WITH_ENFORCING), what="enforcement decision"),
        Probe("GET", f"{REQ}/notification", "/api/v1/requests/{R}/notification",
              Read(WITH_ENFORCING), withheld=content),
        Probe("POST", f"{REQ}/non-execution", "/api/v1/requests/{R}/non-execution",
              Act(SENT_PARTIES, executing, refused, "the executing side"), json={}),
        Probe("GET", f"{REQ}/non-execution", "/api/v1/requests/{R}/non-execution",
              Read(SENT_PARTIES)),
        Probe("POST", f"{REQ}/data", "/api/v1/requests/{R}/data", controller, json={}),
        Probe("GET", f"{REQ}/data", "/api/v1/requests/{R}/data", Read(CONTROLLER)),
        Probe("POST", "/api/v1/data/{data_id}/review", "/api/v1/data/{X}/review", controller,
              json={}),
        Probe("POST", "/api/v1/data/{data_id}/deletion", "/api/v1/data/{X}/deletion",
              controller, json={}),
        Probe("POST", "/api/v1/data/{data_id}/transfers", "/api/v1/data/{X}/transfers",
              controller, json={}),
        Probe("GET", "/api/v1/data/{data_id}/transfers", "/api/v1/data/{X}/transfers",
              Read(CONTROLLER)),
        Probe("POST", f"{REQ}/informing-deferrals", "/api/v1/requests/{R}/informing-deferrals",
              controller, json={}),
        Probe("GET", f"{REQ}/informing-deferrals", "/api/v1/requests/{R}/informing-deferrals",
              Read(CONTROLLER)),
        # evidence
        Probe("POST", "/api/v1/cases/{reference}/evidence", "/api/v1/cases/{C}/evidence",
              handlers, content=b"bytes without a name or metadata"),
        Probe("GET", "/api/v1/cases/{reference}/evidence", "/api/v1/cases/{C}/evidence",
              Read(CASE_TEAM), listing=_ids("id"), listed=(("E", EVIDENCE_READERS),)),
        Probe("GET", "/api/v1/evidence/{item_id}", "/api/v1/evidence/{E}",
              Read(EVIDENCE_READERS)),
        Probe("GET", "/api/v1/evidence/{item_id}/custody", "/api/v1/evidence/{E}/custody",
              Read(EVIDENCE_READERS)),
        Probe("POST", "/api/v1/evidence/{item_id}/custody", "/api/v1/evidence/{E}/custody",
              keepers, json={"kind": "acquired"}),
        # the portal's pages: the same services and policy, answered in HTML
        Probe("GET", "/", "/", Everyone(303), portal=True),
        Probe("GET", "/inbox", "/inbox", Everyone(), portal=True, withheld=content),
        Probe("GET", "/dashboard", "/dashboard", Everyone(), portal=True),
        Probe("GET", "/requests/new", "/requests/new", Everyone(), portal=True,
              withheld=narrative),
        Probe("POST", "/requests/new", "/requests/new", DraftInCase(CASE_TEAM, created=303),
              portal=True, form={"case_reference": "{C}", "instrument": "epoc",
                                 "executing_authority_id": "de-atlas-hosting",
                                 "data_categories": "subscriber"}),
        Probe("GET", "/requests/{request_id}", "/requests/{R}", Read(SENT_PARTIES),
              portal=True, withheld=content + narrative),
        Probe("GET", "/requests/{request_id}/edit", "/requests/{R}/edit",
              Act(SENT_PARTIES, ((P.ISSUING, DRAFTERS),), frozenset({200}),
                  "drafters of the issuing authority (the form is theirs)"), portal=True,
              withheld=content),
        Probe("POST", "/requests/{request_id}/edit", "/requests/{R}/edit",
              Act(SENT_PARTIES, ((P.ISSUING, DRAFTERS),), refused,
                  "drafters of the issuing authority"), what="R (no longer a draft)",
              portal=True, form={"version": r_v}),
        Probe("POST", "/requests/{request_id}/translations", "/requests/{R}/translations",
              Act(SENT_PARTIES, ((P.ISSUING, DRAFTERS),), refused,
                  "drafters of the issuing authority"), what="R (sent: fixed)", portal=True,
              form={"version": r_v, "field": "offence_description", "language": "de",
                    "text": "Übersetzung"}),
        page_verb("R", "withdraw", r_v, Act(SENT_PARTIES, issuing, refused,
                                            "the issuing side (empty reason)")),
        page_verb("R", "refuse", r_v, Act(SENT_PARTIES, executing, refused,
                                          "the executing side (empty reason)")),
        Probe("GET", "/evidence/{item_id}", "/evidence/{E}", Read(EVIDENCE_READERS),
              portal=True),
        # a package of the items one may see; none to see answers as an empty case does
        Probe("GET", "/cases/{reference}/package", "/cases/{C}/package",
              ReadWithin(EVIDENCE_READERS, CASE_TEAM, 422), portal=True),
        Probe("POST", "/preferences", "/preferences", Everyone(303), portal=True,
              form={"language": "en"}),
        Probe("POST", "/logout", "/logout", Everyone(303), portal=True, token="logout"),
    ]


MATRIX_ROUTES = frozenset((p.method, p.route) for p in probes({"R": 1, "V": 1, "D": 1}))

# Public: answered without any credentials (what each answers an anonymous caller).
PUBLIC: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {
    ("GET", "/healthz"): (200, {}),
    ("GET", "/openapi.json"): (200, {}),
    ("GET", "/docs"): (200, {}),
    ("GET", "/docs/oauth2-redirect"): (200, {}),
    ("GET", "/redoc"): (200, {}),
    ("GET", "/public/register"): (200, {}),
    ("GET", "/tsa/certs.pem"): (200, {}),
    # a TSA answers a malformed query with a rejection in a 200 reply (RFC 3161 §2.4.2)
    ("POST", "/tsa"): (200, {"content": b"not a TimeStampReq",
                             "headers": {"Content-Type": "application/timestamp-query"}}),
    # login takes credentials, not a token: wrong ones → 401 with the login's own answer
    ("POST", "/auth/login"): (401, {"json": {"username": "nobody-matrix", "password": "x",
                                             "code": "000000"}}),
    # the portal's login page, and its form (refused without the page's nonce cookie)
    ("GET", "/login"): (200, {}),
    ("POST", "/login"): (403, {"data": {"username": "nobody-matrix", "password": "x",
                                        "code": "000000", "csrf_token": "forged"}}),
    ("*", "/static"): (200, {"path": "/static/portal.css"}),
    # login with OpenID Connect: off (404) unless the node is configured for it
    ("GET", "/login/oidc"): (404, {}),
    ("GET", "/login/oidc/callback"): (404, {}),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the application serves (HEAD goes with GET), included
    routers flattened; a route without methods (a mount) as ("*", path), so that it too must be
    classified."""
    # FastAPI keeps an included router as one entry of `app.routes`; this flattens it
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: Iterable[Any] = flatten(app.routes) if flatten is not None else app.routes
    found: set[tuple[str, str]] = set()
    for route in routes:
        path = getattr(route, "path", None)
        assert isinstance(path, str), f"a route without a path: {route!r}"
        methods = getattr(route, "methods", None)
        if not methods:
            found.add(("*", path))
        found |= {(m, path) for m in methods or () if m != "HEAD"}
    return found


# --- the world -----------------------------------------------------------------------------------

EPOC_FORM: dict[str, Any] = {
    "issuing_file_number": "TJ-PARIS-2026-0099",
    "addressee_name": "Atlas Hosting GmbH",
    "addressee_capacity": "legal_representative",
    "identifiers": "Account ops@lockstorm.example, IP 203.0.113.7 from 1-3 Nov 2026",
    "offence_description": "Ransomware against hospitals (art. 323-1 code pénal)",
    "necessity_and_proportionality": "The only source to identify the administrator.",
    "transfer_to_authority": "Tribunal judiciaire de Paris, instruction",
    "contact_email": "instruction@tj-paris.example",
}
ASSESSMENT: dict[str, Any] = {
    "offence": "Extortion and attacks on information systems (art. 312-1, 323-1 code pénal)",
    "maximum_penalty_years": 10,
    "necessity": "Only the logs lead to the administrator.",
    "proportionality": "One account, three days.",
    "least_intrusive_alternative": "Subscriber data.",
    "alternative_insufficient_because": "They are false.",
    "data_from": "2026-11-01", "data_to": "2026-11-03",
    "data_scope": "Connection logs of one account.",
    "persons_affected": "The account holder.",
    "privileged_persons": ["none"],
}
EVIDENCE_META = ("original_name=disk.img&examiner=Claire&acquired_at=2026-11-01T10:00:00Z"
                 "&tool=FTK&tool_version=4.7&method=logical&seal_number=S-1")

@dataclass(repr=False)
class Matrix:
    app: FastAPI
    live: str  # base URL of the same node served on loopback (for the endless live timeline)
    tokens: dict[tuple[Pos, Role], dict[str, str]]  # (place, role) → {"main": …, "web": …}
    cookie: str  # the portal's session cookie
    ids: Ids = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    cells: int = 0
    failures: list[str] = field(default_factory=list)
    guessed: dict[tuple[str, Pos, Role | None], tuple[int, str]] = field(default_factory=dict)
    numbers: Iterator[int] = field(default_factory=itertools.count)  # for bodies of their own

    def __repr__(self) -> str:  # short, for pytest's report
        return f"Matrix({self.cells} cells, {len(self.failures)} wrong)"

    def headers(self, pos: Pos, role: Role, token: str = "main") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[(pos, role)][token]}"}

    def credentials(self, probe: Probe, pos: Pos, role: Role) -> dict[str, str]:
        """A bearer token for the API; for the portal its session cookie, and the session's
        CSRF token on a form."""
        if not probe.portal:
            return self.headers(pos, role, probe.token)
        kind = "web-logout" if probe.token == "logout" else "web"
        mine = self.tokens[(pos, role)]
        found = {"Cookie": f"{self.cookie}={mine[kind]}"}
        if probe.method != "GET":
            found["X-CSRF-Token"] = mine[f"{kind}-csrf"]
        return found


class Answer(Protocol):
    """A response, of httpx or of the test client's own httpx."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def content(self) -> bytes: ...

    def json(self) -> Any: ...


def ok(response: Answer, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _build(client: TestClient, m: Matrix) -> None:
    """The case, its orders and their records, made through the API by the right users."""
    judge = m.headers(P.ISSUING, R.INVESTIGATING_JUDGE)
    validator = m.headers(P.VALIDATING, R.JUDGE)
    case = f"FR-2026-MATRIX-{secrets.token_hex(3).upper()}"
    ok(client.post("/api/v1/cases", headers=judge, json={
        "reference": case, "title": "LockStorm (matrix)", "summary": SECRET_NARRATIVE,
        "participants": [PLACES[P.CASE_TEAM].authority]}), 201)

    def draft(categories: list[str]) -> Any:
        return ok(client.post("/api/v1/requests", headers=judge, json={
            "case_reference": case, "instrument": "epoc", "language": "fr",
            "validating_authority_id": PLACES[P.VALIDATING].authority,
            "executing_authority_id": PLACES[P.EXECUTING].authority,
            "data_categories": categories, "form": EPOC_FORM}), 201)

    def act(request: Any, verb: str) -> Any:
        return ok(client.post(f"/api/v1/requests/{request['id']}/actions/{verb}", headers=judge,
                              json={"version": request["version"]}))

    sent = act(draft(["traffic"]), "submit")
    rid = sent["id"]
    assessment = ok(client.post(f"/api/v1/requests/{rid}/assessments", headers=judge,
                                json=ASSESSMENT), 201)
    validation = ok(client.post(f"/api/v1/requests/{rid}/decisions", headers=validator, json={
        "stage": "validation", "outcome": "grant", "grounds": ["necessary", "proportionate"],
        "reasons": "Necessary and proportionate.", "assessment_id": assessment["id"],
        "version": sent["version"]}), 201)
    version = ok(client.get(f"/api/v1/requests/{rid}", headers=judge))["version"]
    for name in ("offence_description", "necessity_and_proportionality"):
        version = ok(client.put(f"/api/v1/requests/{rid}/translations/{name}", headers=judge,
                                json={"version": version, "language": "de",
                                      "text": "Übersetzung", "certified": True}))["version"]
    sent = act({"id": rid, "version": version}, "send")
    assert sent["state"] == "received"
    review = ok(client.post(f"/api/v1/requests/{rid}/decisions",
                            headers=m.headers(P.ENFORCING, R.CENTRAL_AUTHORITY_OFFICER), json={
                                "stage": "enforcement", "outcome": "grant",
                                "grounds": ["no_grounds"], "reasons": "No ground raised."}), 201)
    data = ok(client.post(f"/api/v1/requests/{rid}/data", headers=judge, json={
        "category": "traffic", "description": "Connection logs", "purpose": "Identify him",
        "retention_until": "2027-11-01"}), 201)
    item = ok(client.post(f"/api/v1/cases/{case}/evidence?{EVIDENCE_META}", headers={
        **judge, "Content-Type": "application/octet-stream"},
        content=secrets.token_bytes(64)), 201)
    tool = ok(client.post("/api/v1/tools", headers=validator, json={
        "name": "Matrix baseline tool", "version": secrets.token_hex(4), "purpose": "p",
        "error_rates": "none known", "bias_assessment": "none identified"}), 201)
    submitted = act(draft(["subscriber"]), "submit")
    drafted = draft(["subscriber"])
    m.ids.update(C=case, R=rid, V=submitted["id"], D=drafted["id"], Dv=validation["id"],
                 De=review["id"], X=data["id"], E=item["id"], T=tool["id"])
    m.versions.update(R=sent["version"], V=submitted["version"], D=drafted["version"])


@pytest.fixture
def app(settings: Settings, clock: ManualClock, engine: Engine,
        factory: sessionmaker[Session]) -> Iterator[FastAPI]:
    application = create_app(settings, clock)
    yield application
    application.state.audit.close()  # what the server does when it stops
    application.state.engine.dispose()


@pytest.fixture
def matrix(app: FastAPI, settings: Settings, clock: ManualClock,
           factory: sessionmaker[Session]) -> Iterator[Matrix]:
    tokens: dict[tuple[Pos, Role], dict[str, str]] = {}
    secret = settings.secret_key.get_secret_value()
    with factory() as s:
        for pos, place in PLACES.items():
            for role in Role:
                name = f"mx-{pos.name.lower()}-{role.value}"
                user = identity.ensure_user(session=s, username=name, display_name=name,
                                            authority_id=place.authority, role=role,
                                            language="en", timezone="UTC", clock=clock)
                tokens[(pos, role)] = {
                    kind: identity.issue_token(session=s, user=user, name=kind, clock=clock)
                    for kind in ("main", "logout")}
                for kind in ("web", "web-logout"):  # the portal's session cookie
                    token = identity.open_web_session(session=s, user=user, clock=clock)
                    tokens[(pos, role)][kind] = token
                    tokens[(pos, role)][f"{kind}-csrf"] = identity.csrf_token(secret, token)
        s.commit()
    ensure_node_key(settings)  # as `rogatory init` does (made on first use, it races)
    streaming = create_app(settings, clock)  # the live timeline needs a real server
    with serving(streaming) as address:
        m = Matrix(app=app, live=f"http://{address}", tokens=tokens,
                   cookie=session_cookie_name(settings))
        _build(TestClient(app), m)
        yield m
    streaming.state.engine.dispose()


# --- running the cells ---------------------------------------------------------------------------

CONCURRENCY = 4  # cells in flight at once: the database's round trips overlap


@dataclass
class Clients:
    app: httpx.AsyncClient
    live: httpx.AsyncClient


async def _call(m: Matrix, c: Clients, probe: Probe, path: str, headers: dict[str, str],
                n: int) -> tuple[int, Any]:
    """(status, JSON body or text) of one call."""
    if probe.stream:
        async with c.live.stream(probe.method, path, headers=headers) as response:
            if response.status_code == 200:  # an endless stream: the headers say enough
                return 200, response.headers.get("content-type", "")
            await response.aread()
            return response.status_code, _body(response)
    kwargs: dict[str, Any] = {"headers": headers}
    if probe.fresh is not None:
        body = probe.fresh(n)
        kwargs["json"] = {k: (v.format(**m.ids) if isinstance(v, str) else v)
                          for k, v in body.items()}
    elif probe.json is not None:
        kwargs["json"] = probe.json
    elif probe.content is not None:
        kwargs["content"] = probe.content
        kwargs["headers"] = {**headers, "Content-Type": "application/octet-stream"}
    elif probe.form is not None:
        kwargs["data"] = {k: (v.format(**m.ids) if isinstance(v, str) else str(v))
                          for k, v in probe.form.items()}
    response = await c.app.request(probe.method, path, **kwargs)
    return response.status_code, _body(response)


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def who(role: Role, pos: Pos) -> str:
    place = PLACES[pos]
    return (f"{role.value} at {place.authority} ({'own' if place.own else 'foreign'} "
            f"jurisdiction, {'party' if place.party else 'not a party'}: {pos.value})")


async def run_cell(m: Matrix, c: Clients, probe: Probe, role: Role, pos: Pos) -> None:
    """Call the probe as this user; count and check its status, then what it lists, what it
    must withhold, and (where refused as unknown) that an unknown id is answered the same."""
    expected = probe.expect.statuses(role, pos)
    headers = m.credentials(probe, pos, role)
    path, subject = probe.fill(m.ids)
    status, body = await _call(m, c, probe, path, headers, next(m.numbers))
    where = f"{probe.label()}: {who(role, pos)}"
    m.cells += 1
    if status not in expected:
        m.failures.append(f"{where} → {status}, expected {'/'.join(map(str, sorted(expected)))}"
                          f" ({probe.expect.describe()}); {_brief(body)}")
        return
    if isinstance(probe.expect, DraftInCase) and status == 422 and isinstance(body, dict):
        m.cells += 1
        fields = {e.get("field") for e in body.get("errors", [])}
        if ("case_reference" in fields) == probe.expect.audience.sees(role, pos):
            m.failures.append(f"{where} → 422 naming {sorted(map(str, fields))}: the case must "
                              "be an unknown value exactly when the user may not see it")
    if probe.listing is not None and status == 200:
        found = probe.listing(body)
        for name, audience in probe.listed:
            m.cells += 1
            if (m.ids[name] in found) != audience.sees(role, pos):
                m.failures.append(f"{where}: {name} {'' if m.ids[name] in found else 'not '}"
                                  f"listed, but it is for {audience.name} and oversight")
    for text, roles in probe.withheld:
        if role in roles:
            m.cells += 1
            if text in str(body):
                m.failures.append(f"{where} → {status} shows {text!r}, which a "
                                  f"{role.value} must not see")
    if expected == frozenset({404}) and probe.guessable:
        # id-guessing: an unknown id is answered exactly as this forbidden one, but for the id
        # itself where the answer echoes the address (the API's answer to an unknown id is
        # fetched once per route and place; a page, which names its reader, for each user)
        m.cells += 1
        key = (f"{probe.label()} {probe.path}", pos, role if probe.portal else None)
        if key not in m.guessed:
            guess, other = probe.fill(m.ids, unknown=True)
            answer = await _call(m, c, probe, guess, headers, next(m.numbers))
            m.guessed[key] = (answer[0], _shape(answer[1], other))
        if m.guessed[key] != (status, _shape(body, subject)):
            m.failures.append(f"{where}: an unknown id answers {m.guessed[key][0]} "
                              f"{_brief(m.guessed[key][1])}, the forbidden one {status} "
                              f"{_brief(body)}")


def _shape(body: Any, subject: str) -> str:
    """A body as text, the id it was asked for replaced by a placeholder."""
    text = body if isinstance(body, str) else json.dumps(body, sort_keys=True)
    return text.replace(subject, "{id}")


def _brief(body: Any) -> str:
    """At most 200 characters of a body; an HTML page's title."""
    text = body if isinstance(body, str) else json.dumps(body, sort_keys=True)
    title = re.search(r"<title>(.*?)</title>", text)
    return f"page {title.group(1)!r}" if title else text[:200]


async def run_matrix(m: Matrix) -> None:
    transport = httpx.ASGITransport(app=m.app, raise_app_exceptions=False)
    limit = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(transport=transport, base_url="http://matrix.test") as app, \
            httpx.AsyncClient(base_url=m.live, timeout=10) as live:
        clients = Clients(app=app, live=live)

        async def cell(probe: Probe, role: Role, pos: Pos) -> None:
            async with limit:
                await run_cell(m, clients, probe, role, pos)

        await asyncio.gather(*(cell(probe, role, pos) for probe in probes(m.versions)
                               for pos in Pos for role in Role))


# --- the tests -----------------------------------------------------------------------------------


def test_every_route_is_classified(app: FastAPI) -> None:
    """Every route is public or in the matrix; nothing classified is gone."""
    served = app_routes(app)
    classified = set(PUBLIC) | MATRIX_ROUTES
    assert not served - classified, f"routes neither public nor in the matrix: " \
        f"{sorted(served - classified)}"
    assert not classified - served, f"classified routes the app no longer has: " \
        f"{sorted(classified - served)}"
    assert not set(PUBLIC) & MATRIX_ROUTES


def test_public_routes_answer_without_credentials(app: FastAPI) -> None:
    with TestClient(app) as client:
        for (method, path), (status, given) in PUBLIC.items():
            kwargs = dict(given)
            path = kwargs.pop("path", path)
            response = client.request("GET" if method == "*" else method, path, **kwargs)
            assert response.status_code == status, (method, path, response.text[:200])
            if status == 401:  # the login's own refusal, not a demand for a token
                assert response.json()["code"] == "unauthenticated"
                assert "token" not in response.json()["message"]


def test_every_other_route_refuses_the_unauthenticated(app: FastAPI) -> None:
    """No token (or a made-up one): the API answers 401, the portal sends to its login page."""
    unknown = {name: make() for name, make in UNKNOWN.items()}
    with TestClient(app, follow_redirects=False) as client:
        for probe in probes({"R": 1, "V": 1, "D": 1}):
            for headers in ({}, {"Authorization": "Bearer rgt_not-a-token"},
                            {"Cookie": "rogatory_session=rgt_not-a-session"}):
                response = client.request(probe.method, probe.path.format(**unknown),
                                          headers=headers, json=probe.json, data=probe.form)
                forged = "Cookie" in headers and probe.method != "GET"
                if probe.portal and not (forged and response.status_code == 403):
                    assert response.status_code == 303, (probe.label(), headers)
                    assert response.headers["location"].startswith("/login?next="), \
                        (probe.label(), headers)
                elif forged:
                    # a cookie without the session's CSRF token is refused before it is read
                    assert response.status_code in (401, 403), (probe.label(), headers)
                    if not probe.portal:
                        assert response.json()["code"] in ("unauthenticated", "csrf_refused")
                else:
                    assert response.status_code == 401, (probe.label(), headers, response.text)


def test_ids_outside_the_matrix_are_no_oracle(app: FastAPI, world: World) -> None:
    """The ids the matrix does not guess: those of the catalogue and the directory, which every
    user may read (an unknown one is simply not found), and a case reference in a body or a
    query, where one the user may not see is answered as one that does not exist. (`world`: a
    case of the Paris prosecutor's office and an investigating judge; the German provider and
    the Italian central authority have nothing to do with it.)"""
    hidden, unknown = world.case_reference, f"FR-2026-UNKNOWN-{secrets.token_hex(4).upper()}"
    with TestClient(app) as client:
        anyone = {"Authorization": f"Bearer {world.tokens['de_provider']}"}
        for path in ("/api/v1/instruments/no-such-instrument", "/api/v1/jurisdictions/QQ",
                     f"/api/v1/tools/{uuid.uuid4()}"):
            response = client.get(path, headers=anyone)
            assert (response.status_code, response.json()["code"]) == (404, "not_found"), path
        for who_, is_drafter in (("de_provider", False), ("it_outsider", True)):
            headers = {"Authorization": f"Bearer {world.tokens[who_]}"}
            # drafting in a case: the same 422 naming `case_reference`
            answers = [client.post("/api/v1/requests", headers=headers, json={
                "case_reference": ref, "instrument": "epoc",
                "executing_authority_id": "de-atlas-hosting",
                "data_categories": ["subscriber"]}) for ref in (hidden, unknown)]
            assert [a.status_code for a in answers] == [422, 422], who_
            assert answers[0].json() == answers[1].json(), who_
            # filtering one's requests by case: the same empty page
            pages = [client.get(f"/api/v1/requests?case={ref}", headers=headers)
                     for ref in (hidden, unknown)]
            assert [p.status_code for p in pages] == [200, 200]
            assert pages[0].json() == pages[1].json() == {
                "items": [], "total": 0, "limit": 50, "offset": 0}, who_
            if not is_drafter:
                # opening a case under a reference already taken: a user who may not open
                # cases at all is refused the same way whether or not the reference exists
                opened = [client.post("/api/v1/cases", headers=headers, json={
                    "reference": ref, "title": "Probe"}) for ref in (hidden, unknown)]
                assert [o.status_code for o in opened] == [403, 403], \
                    (who_, [o.json() for o in opened])
                assert opened[0].json() == opened[1].json()


def test_the_matrix(matrix: Matrix, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every probe × every role × every place; all mismatches reported together."""
    if importlib.util.find_spec("sniffio") is None:
        # httpx's ASGI transport tries `import sniffio` on every call: when it is not
        # installed, each try searches sys.path again (a third of this test's time)
        monkeypatch.setitem(sys.modules, "sniffio", None)
    assert {(PLACES[p].own, PLACES[p].party) for p in Pos} == {
        (True, True), (True, False), (False, True), (False, False)}  # all four quadrants
    guessed_elsewhere = {p.label() for p in probes(matrix.versions) if p.guessable and not any(
        p.expect.statuses(role, pos) == {404} for pos in Pos for role in Role)}
    assert guessed_elsewhere == {"GET /api/v1/tools/{tool_id}"}  # see the test above
    asyncio.run(run_matrix(matrix))
    print(f"{matrix.cells} cells asserted")
    assert not matrix.failures, f"{len(matrix.failures)} of {matrix.cells} cells wrong:\n" + \
        "\n".join(sorted(matrix.failures))
