"""Routes of the instrument catalogue (read-only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from rogatory.deps import CurrentActor, language_for
from rogatory.instruments import catalogue, views

router = APIRouter(tags=["instruments"])


@router.get("/instruments", summary="The instrument catalogue")
def list_instruments(request: Request, actor: CurrentActor) -> list[dict[str, Any]]:
    lang = language_for(request, actor)
    return [views.summary(i, lang) for i in catalogue.catalogue().values()]


@router.get("/instruments/{code}", summary="One instrument: form, rules, deadlines, grounds")
def get_instrument(code: str, request: Request, actor: CurrentActor) -> dict[str, Any]:
    return views.detail(catalogue.get(code), language_for(request, actor))
