"""Routes of the directory: jurisdictions, authorities and the authority finder."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query, Request

from rogatory.deps import CurrentActor, SessionDep, language_for
from rogatory.directory import service
from rogatory.directory.finder import find_authority
from rogatory.instruments import catalogue
from rogatory.requests.enums import DataCategory, Measure

router = APIRouter(tags=["directory"])


@router.get("/jurisdictions", summary="Jurisdictions, their languages and instruments")
def list_jurisdictions(session: SessionDep, actor: CurrentActor) -> list[dict[str, Any]]:
    return [asdict(j) for j in service.jurisdictions(session=session).values()]


@router.get("/jurisdictions/{code}", summary="One jurisdiction")
def get_jurisdiction(code: str, session: SessionDep, actor: CurrentActor) -> dict[str, Any]:
    return asdict(service.jurisdiction(session=session, code=code))


@router.get("/authorities", summary="Authorities, filtered by jurisdiction and kind")
def list_authorities(
    session: SessionDep, actor: CurrentActor, jurisdiction: str | None = None,
    kind: str | None = None,
) -> list[dict[str, Any]]:
    found = service.authorities(session=session, jurisdiction=jurisdiction, kind=kind)
    return [asdict(a) for a in found]


@router.get("/finder", summary="Which instrument and which authority, and why")
def finder(
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    requesting: str = Query(min_length=2, max_length=2),
    requested: str = Query(min_length=2, max_length=2),
    measure: Measure = Query(),
    data_category: DataCategory | None = None,
    urgent: bool = False,
) -> list[dict[str, Any]]:
    proposals = find_authority(
        requesting=requesting.upper(), requested=requested.upper(), measure=measure,
        data_category=data_category, urgent=urgent,
        jurisdictions=service.jurisdictions(session=session),
        authorities=service.authorities(session=session),
        instruments=catalogue.catalogue(),
    )
    return [p.as_dict(language_for(request, actor)) for p in proposals]
