"""The authority finder, like the EJN Judicial Atlas: given the requesting and requested states,
the measure, the data category and the urgency, which instruments apply, in which order, and
which authority in the requested state receives each.

Pure: it reads the jurisdictions, authorities and instrument definitions it is given and never the
database. An instrument applies when both states are bound by its `binding` key, its `measures`
contain the measure and, when a category is given, its `data_categories` contain it. Proposals
are ordered by legal precedence (EU instruments between Member States first, then the Budapest
Second Additional Protocol, then the Budapest Convention itself), then direct orders to providers
before authority-to-authority requests, then the shortest legal deadline; when the case is urgent,
instruments with an emergency rule come first. When nothing applies the finder falls back to a
bilateral MLA treaty, or else to letters rogatory through the requested state's central authority
(for extradition: a request through diplomatic channels).
A proposal is `verified` only if both states' bindings and every rule of the instrument are."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from rogatory.directory.enums import AuthorityKind
from rogatory.directory.info import AuthorityInfo, JurisdictionInfo
from rogatory.errors import FieldError, ValidationFailed
from rogatory.i18n import N_
from rogatory.instruments.schema import Instrument
from rogatory.requests.enums import DataCategory, DeadlineEffect, Measure, Side

BILATERAL_MLA = "bilateral_mla"
LETTERS_ROGATORY = "letters_rogatory"
DIPLOMATIC_EXTRADITION = "diplomatic_extradition"
_ARTICLE = re.compile(r"\bArt(?:icle)?\.? ?\d+")

FAMILY_ORDER: Mapping[str, int] = {
    "eu_e_evidence": 0,  # direct orders to providers between Member States
    "eu_freezing": 1,
    "eio": 2,  # replaces the conventions between Member States bound by it (Dir. 2014/41 Art. 34)
    "jit": 3,
    "budapest_sap": 4,  # direct co-operation and emergency channels of CETS 224
    "budapest": 5,
    "extradition": 6,
}
"""Legal precedence of instrument families; a family not listed here comes after all of them."""

_KIND_WORDS: Mapping[AuthorityKind, str] = {
    AuthorityKind.ISSUING: "issuing authority",
    AuthorityKind.VALIDATING: "validating authority",
    AuthorityKind.CENTRAL_AUTHORITY: "central authority",
    AuthorityKind.EXECUTING: "executing authority",
    AuthorityKind.CONTACT_POINT_24_7: "24/7 point of contact",
    AuthorityKind.PROVIDER_LEGAL_REPRESENTATIVE: "service provider's legal representative",
}


@dataclass(frozen=True)
class Proposal:
    """One way to obtain the measure: the instrument, its addressee and why it applies."""

    instrument_code: str
    instrument_short_name: str
    authority: AuthorityInfo | None
    reason: str
    legal_basis: str
    verified: bool
    rank: int
    article: str | None = None  # the article the reason rests on
    caveats: tuple[str, ...] = ()  # why the proposal is unverified, for the UI


def find_authority(
    *,
    requesting: str,
    requested: str,
    measure: Measure,
    data_category: DataCategory | None,
    urgent: bool,
    jurisdictions: Mapping[str, JurisdictionInfo],
    authorities: Sequence[AuthorityInfo],
    instruments: Mapping[str, Instrument],
) -> list[Proposal]:
    """Every applicable route from `requesting` to `requested`, best first (rank 1).

    Raises `ValidationFailed` naming `requesting` or `requested` for an unknown state, and
    `requested` when both are the same state: that is a domestic case."""
    req_code = requesting.strip().upper()
    dst_code = requested.strip().upper()
    errors = [
        FieldError(name, N_("unknown jurisdiction '{code}'"), {"code": value})
        for name, code, value in (
            ("requesting", req_code, requesting),
            ("requested", dst_code, requested),
        )
        if code not in jurisdictions
    ]
    if not errors and req_code == dst_code:
        errors.append(
            FieldError(
                "requested",
                N_(
                    "the requested state must differ from the requesting state ('{code}'):"
                    " a domestic case needs no cross-border instrument"
                ),
                {"code": req_code},
            )
        )
    if errors:
        raise ValidationFailed(errors)
    src, dst = jurisdictions[req_code], jurisdictions[dst_code]
    in_dst = [a for a in authorities if a.jurisdiction == dst.code]
    urgent = urgent or measure is Measure.EMERGENCY_DISCLOSURE

    applicable: list[Instrument] = []
    rejected: list[str] = []
    for inst in instruments.values():
        if not _serves(inst, measure):
            continue
        why_not = _why_not(inst, src, dst, data_category)
        if why_not is None:
            applicable.append(inst)
        else:
            rejected.append(f"{inst.short_name}: {why_not}")

    if not applicable:
        return [_fallback(src, dst, measure, data_category, urgent, in_dst, rejected)]

    applicable.sort(key=lambda inst: _order(inst, urgent))
    return [
        _propose(inst, src, dst, measure, data_category, urgent, in_dst, rank)
        for rank, inst in enumerate(applicable, start=1)
    ]


def _serves(inst: Instrument, measure: Measure) -> bool:
    """The instrument lists the measure; an emergency disclosure is also served by a production
    instrument that has an emergency procedure (e.g. an EPOC under Reg. 2023/1543 Art. 10(4))."""
    if measure in inst.measures:
        return True
    return (
        measure is Measure.EMERGENCY_DISCLOSURE
        and Measure.PRODUCTION in inst.measures
        and inst.emergency is not None
    )


def _why_not(
    inst: Instrument,
    src: JurisdictionInfo,
    dst: JurisdictionInfo,
    category: DataCategory | None,
) -> str | None:
    """None if the instrument applies between the two states, else the reason it does not."""
    unbound = [_prose(j.name) for j in (src, dst) if not j.bound_by(inst.binding)]
    if unbound:
        return f"{' and '.join(unbound)} not bound by {inst.binding}"
    if category is not None and category not in {c.code for c in inst.data_categories}:
        return f"does not cover {category.value} data"
    return None


def _fastest(inst: Instrument, urgent: bool) -> timedelta:
    """The shortest period the executing side has to answer, or forever if none is set."""
    periods = [
        (d.emergency_duration if urgent and d.emergency_duration else d.duration).delta
        for d in inst.deadlines
        if d.effect is DeadlineEffect.RESPOND_BY and d.holder is Side.EXECUTING
    ]
    return min(periods, default=timedelta.max)


def _order(inst: Instrument, urgent: bool) -> tuple[int, int, int, timedelta, str]:
    emergency_first = 1 if urgent and inst.emergency is None else 0
    family = FAMILY_ORDER.get(inst.binding, len(FAMILY_ORDER))
    direct = 0 if inst.addressed_to[0] is AuthorityKind.PROVIDER_LEGAL_REPRESENTATIVE else 1
    return (emergency_first, family, direct, _fastest(inst, urgent), inst.code)


def _addressee(inst: Instrument, in_dst: Sequence[AuthorityInfo]) -> AuthorityInfo | None:
    for kind in inst.addressed_to:
        found = next((a for a in in_dst if a.kind is kind), None)
        if found is not None:
            return found
    return None


def _cited(*articles: str) -> str:
    """The first of `articles` that names an article by number, else the first one."""
    return next((a for a in articles if _ARTICLE.search(a)), articles[0])


def _measure_words(measure: Measure, category: str | None) -> str:
    words = measure.value.replace("_", " ")
    return f"{words} of {category}" if category else words


def _propose(
    inst: Instrument,
    src: JurisdictionInfo,
    dst: JurisdictionInfo,
    measure: Measure,
    category: DataCategory | None,
    urgent: bool,
    in_dst: Sequence[AuthorityInfo],
    rank: int,
) -> Proposal:
    src_b, dst_b = src.binding(inst.binding), dst.binding(inst.binding)
    assert src_b is not None and dst_b is not None  # checked by _why_not

    a, b = _prose(src.name), _prose(dst.name)
    sentences = [
        f"{a[:1].upper()}{a[1:]} and {b} are both bound by {inst.legal_basis} ({inst.binding})."
    ]
    served = measure if measure in inst.measures else Measure.PRODUCTION
    cat_rule = next((c for c in inst.data_categories if c.code == category), None)
    if cat_rule is not None and category is not None:
        label = cat_rule.label[:1].lower() + cat_rule.label[1:]
        issuers = inst.issuer_rule(category)
        ranks = ", ".join(r.value.replace("_", " ") for r in issuers.may_issue)
        sentences.append(
            f"{inst.short_name} ({inst.name}) covers {_measure_words(served, label)}"
            f" ({cat_rule.article}); it may be issued by: {ranks} ({issuers.article})."
        )
        article = _cited(issuers.article, cat_rule.article, inst.form_reference.article)
    else:
        by_category = list(dict.fromkeys(r.article for r in inst.issuers))
        who = (
            f"; who may issue depends on the data category ({'; '.join(by_category)})"
            if len(by_category) > 1
            else f"; issuing: {by_category[0]}"
            if by_category
            else ""
        )
        sentences.append(
            f"{inst.short_name} ({inst.name}) covers {_measure_words(served, None)}"
            f" ({inst.form_reference.article}){who}."
        )
        article = _cited(inst.form_reference.article, *by_category)
    if measure not in inst.measures:
        sentences.append(
            f"{inst.short_name} has no separate emergency disclosure: the data are sought as"
            " production under its emergency procedure."
        )
    if urgent and inst.emergency is not None:
        sentences.append(
            f"Urgent: {inst.short_name} has an emergency procedure ({inst.emergency.article})."
        )
        article = inst.emergency.article
    elif urgent:
        sentences.append(f"Urgent, but {inst.short_name} has no emergency procedure.")

    authority = _addressee(inst, in_dst)
    wanted = " or ".join(_KIND_WORDS[k] for k in inst.addressed_to)
    if authority is not None:
        sentences.append(
            f"Addressed to {authority.name}, the {_KIND_WORDS[authority.kind]} in {b}."
        )
    else:
        sentences.append(f"No {wanted} in {b} is in the directory yet.")

    caveats = [
        f"{j.name} / {inst.binding}: {b.note or 'binding not confirmed'}"
        for j, b in ((src, src_b), (dst, dst_b))
        if not b.verified
    ]
    if not inst.verified:
        caveats.append(f"{inst.short_name}: some rules of the definition are not confirmed")
    return Proposal(
        instrument_code=inst.code,
        instrument_short_name=inst.short_name,
        authority=authority,
        reason=" ".join(sentences),
        legal_basis=inst.legal_basis,
        verified=not caveats,
        rank=rank,
        article=article,
        caveats=tuple(caveats),
    )


def _fallback(
    src: JurisdictionInfo,
    dst: JurisdictionInfo,
    measure: Measure,
    category: DataCategory | None,
    urgent: bool,
    in_dst: Sequence[AuthorityInfo],
    rejected: Sequence[str],
) -> Proposal:
    """No instrument applies: a bilateral MLA treaty if the two have one (never for extradition,
    which an MLA treaty does not cover), else letters rogatory, or for extradition a request
    through diplomatic channels, to the requested state's central authority."""
    a, b = _prose(src.name), _prose(dst.name)
    wanted = _measure_words(measure, f"{category.value} data" if category else None)
    why = f" ({'; '.join(rejected)})" if rejected else ""
    opening = f"No instrument in the catalogue applies between {a} and {b} for {wanted}{why}."
    central = next((x for x in in_dst if x.kind is AuthorityKind.CENTRAL_AUTHORITY), None)
    to = f"its central authority, {central.name}" if central else f"the central authority of {b}"
    urgency = " Mark the request urgent and say why." if urgent else ""
    if measure is Measure.EXTRADITION:
        return Proposal(
            instrument_code=DIPLOMATIC_EXTRADITION,
            instrument_short_name="Extradition request through diplomatic channels",
            authority=central,
            reason=(
                f"{opening} Bilateral extradition treaties are not in the directory: check for"
                f" one, otherwise send an extradition request through diplomatic channels to {b}"
                f" and {to}, on the basis of {b}'s extradition law and reciprocity, not of a"
                f" treaty article.{urgency}"
            ),
            legal_basis="Domestic extradition law and reciprocity",
            verified=False,
            rank=1,
            caveats=("no treaty in the directory: extradition rests on the requested state's law",),
        )
    if dst.code in src.bilateral_mla:
        return Proposal(
            instrument_code=BILATERAL_MLA,
            instrument_short_name="Bilateral MLA treaty",
            authority=central,
            reason=(
                f"{opening} {a[:1].upper()}{a[1:]} and {b} are parties to a bilateral MLA treaty"
                f" (mutual legal assistance): request it under that treaty through {to}.{urgency}"
            ),
            legal_basis=f"Bilateral MLA treaty between {a} and {b}",
            verified=False,
            rank=1,
            caveats=("the bilateral treaty and its articles are not in the reference",),
        )
    return Proposal(
        instrument_code=LETTERS_ROGATORY,
        instrument_short_name="Letters rogatory",
        authority=central,
        reason=(
            f"{opening} No bilateral MLA treaty between {a} and {b} is in the directory: send"
            f" letters rogatory through {to}; they rest on international comity and {b}'s"
            f" domestic law, not on a treaty article.{urgency}"
        ),
        legal_basis="Letters rogatory (international comity)",
        verified=False,
        rank=1,
        caveats=("no treaty basis: execution is at the requested state's discretion",),
    )


def _prose(name: str) -> str:
    """A state's name as it reads inside a sentence: 'the United States', 'the Netherlands'."""
    return f"the {name}" if name.startswith("United ") or name == "Netherlands" else name
