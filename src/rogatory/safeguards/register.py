"""The anonymized public register of decisions: what was decided, on which instrument, with
which coded grounds and legal basis, and when (by month).

It is built from five columns of the decisions and nothing else: instrument, stage, outcome,
grounds (codes) and legal basis (derived from the instrument, never typed by the decider) —
plus the month of the decision and whether a later decision superseded it. No name, no
authority, no reference, no identifier, no free text, no case narrative: nothing in it leads to
a person or a file. Rows are sorted by their content, not by time, so their order reveals
nothing either. Counts are over the decisions in force (not superseded)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rogatory.clock import ensure_utc
from rogatory.i18n import N_, translate
from rogatory.instruments import catalogue
from rogatory.safeguards import rules
from rogatory.safeguards.models import Decision

ROW_KEYS = ("instrument", "stage", "outcome", "grounds", "legal_basis", "month")


@dataclass(frozen=True)
class RegisterRow:
    instrument: str
    stage: str
    outcome: str
    grounds: tuple[str, ...]
    legal_basis: str
    month: str  # YYYY-MM

    def to_dict(self) -> dict[str, Any]:
        return {"instrument": self.instrument, "stage": self.stage, "outcome": self.outcome,
                "grounds": list(self.grounds), "legal_basis": self.legal_basis,
                "month": self.month}


def _label(code: str, instrument: str, lang: str) -> str | None:
    """The reader's name for a code: a ground for refusal of the instrument, a reason, a
    stage or an outcome."""
    found = catalogue.catalogue().get(instrument)
    ground = next((g for g in found.refusal_grounds if g.code == code), None) if found else None
    if ground is not None:
        return translate(ground.label, lang)
    if code in rules.REASONS:
        return translate(rules.REASONS[code].label, lang)
    if code in {*rules.Stage, *rules.Outcome}:
        return translate(rules.LABELS[code], lang)
    return None


def rows(*, session: Session, instrument: str | None = None) -> list[RegisterRow]:
    """Every decision in force, anonymized, sorted by content."""
    query = select(Decision.id, Decision.supersedes_id, Decision.instrument, Decision.stage,
                   Decision.outcome, Decision.grounds, Decision.legal_basis,
                   Decision.decided_at)
    if instrument:
        query = query.where(Decision.instrument == instrument)
    found = session.execute(query).all()
    superseded = {r.supersedes_id for r in found if r.supersedes_id}
    out = [RegisterRow(instrument=r.instrument, stage=r.stage, outcome=r.outcome,
                       grounds=tuple(sorted(r.grounds)), legal_basis=r.legal_basis,
                       month=ensure_utc(r.decided_at).strftime("%Y-%m"))
           for r in found if r.id not in superseded]
    return sorted(out, key=lambda r: (r.month, r.instrument, r.stage, r.outcome, r.grounds,
                                      r.legal_basis))


def public_register(*, session: Session, instrument: str | None = None,
                    lang: str = "en") -> dict[str, Any]:
    """The register as published: counts by instrument and outcome, by instrument and ground,
    the anonymized rows, and the names of the codes in the reader's language."""
    found = rows(session=session, instrument=instrument)
    by_outcome = Counter((r.instrument, r.stage, r.outcome) for r in found)
    by_ground = Counter((r.instrument, r.outcome, g) for r in found for g in r.grounds)
    labels: dict[str, str] = {}
    for r in found:
        for code in (r.stage, r.outcome, *r.grounds):
            name = _label(code, r.instrument, lang)
            if name is not None:
                labels.setdefault(code, name)
    return {
        "decisions": len(found),
        "by_outcome": [{"instrument": i, "stage": s, "outcome": o, "count": n}
                       for (i, s, o), n in sorted(by_outcome.items())],
        "by_ground": [{"instrument": i, "outcome": o, "ground": g, "count": n}
                      for (i, o, g), n in sorted(by_ground.items())],
        "rows": [r.to_dict() for r in found],
        "labels": dict(sorted(labels.items())),
        "notice": translate(NOTICE, lang),
    }


NOTICE = N_("Decisions in force, anonymized: instrument, stage, outcome, coded grounds, legal "
            "basis and month only.")
