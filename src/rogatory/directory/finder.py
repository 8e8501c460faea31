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
from dataclasses import asdict, dataclass, field, fields
from datetime import timedelta
from typing import Any, Union

from babel import Locale

from rogatory.directory.enums import AuthorityKind
from rogatory.directory.info import AuthorityInfo, JurisdictionInfo
from rogatory.errors import FieldError, ValidationFailed
from rogatory.i18n import N_, translate
from rogatory.instruments.schema import Instrument
from rogatory.requests.enums import DataCategory, DeadlineEffect, Measure, Rank, Side
from rogatory.requests.labels import LABELS

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
    AuthorityKind.ISSUING: N_("issuing authority"),
    AuthorityKind.VALIDATING: N_("validating authority"),
    AuthorityKind.CENTRAL_AUTHORITY: N_("central authority"),
    AuthorityKind.EXECUTING: N_("executing authority"),
    AuthorityKind.CONTACT_POINT_24_7: N_("24/7 point of contact"),
    AuthorityKind.PROVIDER_LEGAL_REPRESENTATIVE: N_("service provider's legal representative"),
}
_MEASURE_WORDS: Mapping[Measure, str] = {
    Measure.PRODUCTION: N_("production"),
    Measure.PRESERVATION: N_("preservation"),
    Measure.INVESTIGATIVE_MEASURE: N_("investigative measure"),
    Measure.EMERGENCY_DISCLOSURE: N_("emergency disclosure"),
    Measure.JOINT_INVESTIGATION: N_("joint investigation"),
    Measure.EXTRADITION: N_("extradition"),
    Measure.FREEZING: N_("freezing"),
}


Part = Union[str, "Text", "Lowered", "StateName"]
"""A parameter of a sentence: plain text (names, articles, codes: never translated) or a part
that renders itself in the reader's language."""


@dataclass(frozen=True)
class Text:
    """A sentence of an explanation, or a part of one, in any catalogue language: an English
    msgid and its parameters (`Part`)."""

    msgid: str
    params: Mapping[str, Part] = field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        values = {k: v if isinstance(v, str) else v.text(lang) for k, v in self.params.items()}
        return translate(self.msgid, lang).format(**values)


@dataclass(frozen=True)
class StateName:
    """A state inside a sentence: in English the directory's name as prose ('the United
    States'), in another language the state's name in that language (the Unicode CLDR's, through
    Babel); with `capital`, as a sentence's first word."""

    code: str
    name: str
    capital: bool = False

    def text(self, lang: str = "en") -> str:
        shown = _prose(self.name) if lang == "en" else \
            Locale.parse(lang).territories.get(self.code, self.name)
        return _capital(shown) if self.capital else shown


@dataclass(frozen=True)
class Lowered:
    """A label used inside a sentence: its first letter in lower case ('Subscriber data' →
    'subscriber data'), except in German, where nouns keep their capital."""

    label: Text

    def text(self, lang: str = "en") -> str:
        shown = self.label.text(lang)
        return shown if lang == "de" else shown[:1].lower() + shown[1:]


AND, OR, COMMA, SEMICOLON = (N_("{first} and {second}"), N_("{first} or {second}"),
                             N_("{first}, {second}"), N_("{first}; {second}"))
"""How `_joined` links items (kept here: a msgid nested in another call is not extracted)."""


def _t(msgid: str, **params: Part) -> Text:
    return Text(msgid, params)


def _joined(items: Sequence[Part], msgid: str) -> Part:
    """Items joined pairwise with `msgid` ("{first} or {second}", "{first}, {second}")."""
    joined: Part = items[0]
    for item in items[1:]:
        joined = _t(msgid, first=joined, second=item)
    return joined


def explain(texts: Sequence[Text], lang: str = "en") -> str:
    """An explanation (a proposal's sentences) in `lang`."""
    return " ".join(t.text(lang) for t in texts)


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
    explanation: tuple[Text, ...] = ()  # `reason`, sentence by sentence, in any language

    def reason_in(self, lang: str) -> str:
        """`reason` in `lang` (names, articles and codes stay as they are)."""
        return explain(self.explanation, lang) if self.explanation else self.reason

    def as_dict(self, lang: str = "en") -> dict[str, Any]:
        """The proposal as the API and `--json` give it, its reason in `lang`."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "explanation"}
        values["authority"] = asdict(self.authority) if self.authority else None
        values["reason"] = self.reason_in(lang)
        return values


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
    rejected: list[Text] = []
    for inst in instruments.values():
        if not _serves(inst, measure):
            continue
        why_not = _why_not(inst, src, dst, data_category)
        if why_not is None:
            applicable.append(inst)
        else:
            rejected.append(_t("{instrument}: {why}", instrument=inst.short_name, why=why_not))

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
) -> Text | None:
    """None if the instrument applies between the two states, else the reason it does not."""
    unbound: list[Part] = [StateName(j.code, j.name) for j in (src, dst)
                                 if not j.bound_by(inst.binding)]
    if unbound:
        return _t("{states} not bound by {binding}",
                  states=_joined(unbound, AND), binding=inst.binding)
    if category is not None and category not in {c.code for c in inst.data_categories}:
        return _t("does not cover {category} data", category=category.value)
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


def _measure_words(measure: Measure, category: Part | None) -> Text:
    words = _t(_MEASURE_WORDS[measure])
    return _t("{measure} of {category}", measure=words, category=category) if category else words


def _first(state: StateName) -> StateName:
    return StateName(state.code, state.name, capital=True)


def _capital(name: str) -> str:
    return name[:1].upper() + name[1:]


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

    a, b = StateName(src.code, src.name), StateName(dst.code, dst.name)
    sentences = [_t("{a} and {b} are both bound by {basis} ({binding}).", a=_first(a), b=b,
                    basis=inst.legal_basis, binding=inst.binding)]
    served = measure if measure in inst.measures else Measure.PRODUCTION
    cat_rule = next((c for c in inst.data_categories if c.code == category), None)
    name = _t(inst.name)
    if cat_rule is not None and category is not None:
        issuers = inst.issuer_rule(category)
        ranks = _joined([Lowered(_t(LABELS[Rank][r])) for r in issuers.may_issue],
                        COMMA)
        sentences.append(_t(
            "{instrument} ({name}) covers {what} ({article}); it may be issued by: {ranks} "
            "({issuer_article}).", instrument=inst.short_name, name=name,
            what=_measure_words(served, Lowered(_t(cat_rule.label))), article=cat_rule.article,
            ranks=ranks, issuer_article=issuers.article))
        article = _cited(issuers.article, cat_rule.article, inst.form_reference.article)
    else:
        by_category = list(dict.fromkeys(r.article for r in inst.issuers))
        who: str | Text = (
            _t("; who may issue depends on the data category ({articles})",
               articles="; ".join(by_category))
            if len(by_category) > 1
            else _t("; issuing: {article}", article=by_category[0])
            if by_category
            else ""
        )
        sentences.append(_t("{instrument} ({name}) covers {what} ({article}){who}.",
                            instrument=inst.short_name, name=name,
                            what=_measure_words(served, None),
                            article=inst.form_reference.article, who=who))
        article = _cited(inst.form_reference.article, *by_category)
    if measure not in inst.measures:
        sentences.append(_t(
            "{instrument} has no separate emergency disclosure: the data are sought as"
            " production under its emergency procedure.", instrument=inst.short_name))
    if urgent and inst.emergency is not None:
        sentences.append(_t("Urgent: {instrument} has an emergency procedure ({article}).",
                            instrument=inst.short_name, article=inst.emergency.article))
        article = inst.emergency.article
    elif urgent:
        sentences.append(_t("Urgent, but {instrument} has no emergency procedure.",
                            instrument=inst.short_name))

    authority = _addressee(inst, in_dst)
    if authority is not None:
        sentences.append(_t("Addressed to {authority}, the {kind} in {state}.",
                            authority=authority.name, kind=_t(_KIND_WORDS[authority.kind]),
                            state=b))
    else:
        wanted = _joined([_t(_KIND_WORDS[k]) for k in inst.addressed_to],
                         OR)
        sentences.append(_t("No {wanted} in {state} is in the directory yet.", wanted=wanted,
                            state=b))

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
        reason=explain(sentences),
        legal_basis=inst.legal_basis,
        verified=not caveats,
        rank=rank,
        article=article,
        caveats=tuple(caveats),
        explanation=tuple(sentences),
    )


def _fallback(
    src: JurisdictionInfo,
    dst: JurisdictionInfo,
    measure: Measure,
    category: DataCategory | None,
    urgent: bool,
    in_dst: Sequence[AuthorityInfo],
    rejected: Sequence[Text],
) -> Proposal:
    """No instrument applies: a bilateral MLA treaty if the two have one (never for extradition,
    which an MLA treaty does not cover), else letters rogatory, or for extradition a request
    through diplomatic channels, to the requested state's central authority."""
    a, b = StateName(src.code, src.name), StateName(dst.code, dst.name)
    wanted = _measure_words(
        measure, _t("{category} data", category=category.value) if category else None)
    opening = (
        _t("No instrument in the catalogue applies between {a} and {b} for {wanted} ({why}).",
           a=a, b=b, wanted=wanted, why=_joined(rejected, SEMICOLON))
        if rejected else
        _t("No instrument in the catalogue applies between {a} and {b} for {wanted}.",
           a=a, b=b, wanted=wanted))
    central = next((x for x in in_dst if x.kind is AuthorityKind.CENTRAL_AUTHORITY), None)
    to = (_t("its central authority, {name}", name=central.name) if central
          else _t("the central authority of {state}", state=b))
    urgency = [_t("Mark the request urgent and say why.")] if urgent else []
    if measure is Measure.EXTRADITION:
        sentences = (opening, _t(
            "Bilateral extradition treaties are not in the directory: check for one, otherwise"
            " send an extradition request through diplomatic channels to {state} and {to}, on"
            " the basis of {state}'s extradition law and reciprocity, not of a treaty article.",
            state=b, to=to), *urgency)
        return Proposal(
            instrument_code=DIPLOMATIC_EXTRADITION,
            instrument_short_name="Extradition request through diplomatic channels",
            authority=central,
            reason=explain(sentences),
            legal_basis="Domestic extradition law and reciprocity",
            verified=False,
            rank=1,
            caveats=("no treaty in the directory: extradition rests on the requested state's law",),
            explanation=sentences,
        )
    if dst.code in src.bilateral_mla:
        sentences = (opening, _t(
            "{a} and {b} are parties to a bilateral MLA treaty (mutual legal assistance):"
            " request it under that treaty through {to}.", a=_first(a), b=b, to=to), *urgency)
        return Proposal(
            instrument_code=BILATERAL_MLA,
            instrument_short_name="Bilateral MLA treaty",
            authority=central,
            reason=explain(sentences),
            legal_basis=f"Bilateral MLA treaty between {a} and {b}",
            verified=False,
            rank=1,
            caveats=("the bilateral treaty and its articles are not in the reference",),
            explanation=sentences,
        )
    sentences = (opening, _t(
        "No bilateral MLA treaty between {a} and {b} is in the directory: send letters rogatory"
        " through {to}; they rest on international comity and {b}'s domestic law, not on a"
        " treaty article.", a=a, b=b, to=to), *urgency)
    return Proposal(
        instrument_code=LETTERS_ROGATORY,
        instrument_short_name="Letters rogatory",
        authority=central,
        reason=explain(sentences),
        legal_basis="Letters rogatory (international comity)",
        verified=False,
        rank=1,
        caveats=("no treaty basis: execution is at the requested state's discretion",),
        explanation=sentences,
    )


def _prose(name: str) -> str:
    """A state's name as it reads inside a sentence: 'the United States', 'the Netherlands'."""
    return f"the {name}" if name.startswith("United ") or name == "Netherlands" else name
