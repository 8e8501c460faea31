"""Safeguards fixtures: the teardown of the safeguards tables (children first) before `factory`
empties the tables it knows, and helpers that carry requests through the real service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from conftest import World  # the suite-wide conftest (tests/ is on sys.path)
from rogatory.clock import ManualClock
from rogatory.demo import complete_form
from rogatory.identity import service as identity
from rogatory.identity.models import Role
from rogatory.requests import service
from rogatory.requests.enums import Verb
from rogatory.requests.models import Case, Request
from rogatory.safeguards import service as safeguards
from rogatory.safeguards.models import (
    Decision,
)
from rogatory.safeguards.rules import AssessmentInput, Outcome, Stage

EPOC_FORM: dict[str, Any] = {
    "issuing_file_number": "PARQUET-J3-2026-0417",
    "addressee_name": "Atlas Hosting GmbH",
    "addressee_capacity": "legal_representative",
    "identifiers": "Account ops@lockstorm.example, IP 203.0.113.7 from 1-3 Nov 2026",
    "offence_description": "Ransomware against hospitals (art. 323-1 code pénal)",
    "necessity_and_proportionality": "The only source to identify the administrator.",
    "transfer_to_authority": "Parquet de Paris, J3",
    "contact_email": "j3@parquet-paris.example",
}

# The persons, narrative and texts the public register must never show.
SECRET_NAME = "Jean-Baptiste Marchetti"
SECRET_NARRATIVE = "encrypted the oncology ward's servers at Hôpital Édouard-Herriot"


def assessment(**changes: Any) -> AssessmentInput:
    values: dict[str, Any] = {
        "offence": "Extortion by an organised gang and attacks on information systems "
                   "(art. 312-1, 323-1 code pénal)",
        "maximum_penalty_years": 10,
        "necessity": f"The account holder, believed to be {SECRET_NAME}, {SECRET_NARRATIVE}.",
        "proportionality": "Traffic data of one account over three days, for an attack on "
                           "three hospitals.",
        "least_intrusive_alternative": "Subscriber data alone.",
        "alternative_insufficient_because": "The subscriber data are false; only the "
                                            "connection logs lead to the administrator.",
        "data_from": date(2026, 11, 1), "data_to": date(2026, 11, 3),
        "data_scope": "Connection logs (IP, port, time) of ops@lockstorm.example.",
        "persons_affected": f"The account holder ({SECRET_NAME}); nobody else.",
        "privileged_persons": ("none",),
    }
    values.update(changes)
    return AssessmentInput(**values)


@dataclass
class Flow:
    """Drives one request through the real service, committing after each step."""

    session: Session
    world: World
    clock: ManualClock

    def commit(self) -> None:
        self.session.commit()

    def create(self, *, instrument: str = "epoc", categories: list[str] | None = None,
               issuer: str = "fr_judge", validating: str | None = None,
               executing: str = "de-atlas-hosting", emergency: bool = False,
               form: dict[str, Any] | None = None) -> Request:
        actor = self.world.actors[issuer]
        if form is None:
            form = dict(EPOC_FORM) if instrument == "epoc" else complete_form(
                instrument, executing, self.clock)
        request = service.create_request(
            session=self.session, actor=actor, clock=self.clock, draft=service.RequestDraft(
                case_reference=self.world.case_reference, instrument=instrument,
                issuing_authority_id=actor.authority_id,
                validating_authority_id=validating or actor.authority_id,
                executing_authority_id=executing, data_categories=categories or ["traffic"],
                emergency=emergency, form=form, language="fr"))
        self.commit()
        return request

    def act(self, who: str, request: Request, verb: Verb, **kw: Any) -> Request:
        out = service.act(session=self.session, actor=self.world.actors[who],
                          request_id=request.id, clock=self.clock,
                          action=service.Action(verb=verb, expected_version=request.version,
                                                **kw))
        self.commit()
        return out

    def assess(self, who: str, request: Request, **changes: Any) -> Any:
        row = safeguards.record_assessment(session=self.session, actor=self.world.actors[who],
                                           request_id=request.id, values=assessment(**changes),
                                           clock=self.clock)
        self.commit()
        return row

    def decide(self, who: str, request: Request, stage: Stage, outcome: Outcome,
               grounds: list[str], reasons: str = "Reasons stated in full.",
               **kw: Any) -> Decision:
        row = safeguards.decide(
            session=self.session, actor=self.world.actors[who], request_id=request.id,
            clock=self.clock, draft=safeguards.DecisionDraft(
                stage=stage, outcome=outcome, grounds=grounds, reasons=reasons, **kw))
        self.commit()
        return row

    def translate(self, who: str, request: Request) -> Request:
        for name, status in service.translation_status(self.session, request).items():
            if status == "needed":
                request = service.set_translation(
                    session=self.session, actor=self.world.actors[who], request_id=request.id,
                    expected_version=request.version, field_name=name,
                    language=service.accepted_languages(self.session, request)[0],
                    text=f"Translation of {name}", certified=True, clock=self.clock)
                self.commit()
        return request

    def validated(self, request: Request, who: str = "fr_judge") -> Request:
        """Submitted, assessed when intrusive, and validated by a reasoned decision."""
        request = self.act(who, request, Verb.SUBMIT)
        from rogatory.instruments import catalogue
        from rogatory.safeguards import rules

        if rules.is_intrusive(catalogue.get(request.instrument), request.data_categories,
                              request.form):
            self.assess(who, request)
        self.decide(who, request, Stage.VALIDATION, Outcome.GRANT,
                    ["necessary", "proportionate"], expected_version=request.version)
        self.session.refresh(request)
        return request

    def sent(self, request: Request, who: str = "fr_judge") -> Request:
        request = self.validated(request, who)
        request = self.translate(who, request)
        return self.act(who, request, Verb.SEND)

    def later(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))


@pytest.fixture
def flow(session: Session, world: World, clock: ManualClock) -> Flow:
    return Flow(session, world, clock)


POLICE_AUTHORITY = "fr-contact-point-24-7"
"""The French police's 24/7 contact point (rank `police`): an authority whose orders need
validation (Reg. (EU) 2023/1543 Art. 4(1)(b), `rules.NEEDS_VALIDATION`)."""


@pytest.fixture
def police(factory: sessionmaker[Session], world: World, clock: ManualClock) -> str:
    """An officer of the police contact point who drafts (role `prosecutor`, the drafting role
    of an investigating authority), working on the world's case; added to `world` (actors and
    tokens) as "fr_police"."""
    with factory() as s:
        user = identity.ensure_user(session=s, username="fr_police", display_name="fr_police",
                                    authority_id=POLICE_AUTHORITY, role=Role.PROSECUTOR,
                                    language="en", timezone="UTC", clock=clock)
        world.actors["fr_police"] = identity.actor_for(s, user)
        world.tokens["fr_police"] = identity.issue_token(session=s, user=user, name="test",
                                                         clock=clock)
        case = s.scalars(select(Case).where(Case.reference == world.case_reference)).one()
        case.participants = [*case.participants, POLICE_AUTHORITY]
        s.commit()
    return "fr_police"
