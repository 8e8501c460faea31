"""The directory seed (jurisdictions, authorities) and the authority finder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

import pytest
from babel import Locale

from rogatory.directory.enums import AuthorityKind
from rogatory.directory.finder import (
    BILATERAL_MLA,
    DIPLOMATIC_EXTRADITION,
    LETTERS_ROGATORY,
    Proposal,
    find_authority,
)
from rogatory.directory.info import AuthorityInfo, Binding, JurisdictionInfo
from rogatory.directory.seed import BINDING_KEYS, load_authorities, load_jurisdictions
from rogatory.errors import ValidationFailed
from rogatory.i18n import LANGUAGES, translate
from rogatory.instruments.catalogue import catalogue
from rogatory.instruments.schema import Instrument
from rogatory.requests.enums import DataCategory, Measure, Rank

EU27 = {
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
}  # fmt: skip
OTHERS = {"US", "GB", "CH", "NO", "JP", "BR", "UA"}

# Official languages at national level (ISO 639-1), official ones first where the law says so.
OFFICIAL = {
    "AT": {"de"}, "BE": {"nl", "fr", "de"}, "BG": {"bg"}, "HR": {"hr"}, "CY": {"el", "tr"},
    "CZ": {"cs"}, "DK": {"da"}, "EE": {"et"}, "FI": {"fi", "sv"}, "FR": {"fr"}, "DE": {"de"},
    "GR": {"el"}, "HU": {"hu"}, "IE": {"ga", "en"}, "IT": {"it"}, "LV": {"lv"}, "LT": {"lt"},
    "LU": {"lb", "fr", "de"}, "MT": {"mt", "en"}, "NL": {"nl"}, "PL": {"pl"}, "PT": {"pt"},
    "RO": {"ro"}, "SK": {"sk"}, "SI": {"sl"}, "ES": {"es"}, "SE": {"sv"},
}  # fmt: skip

ARTICLE = re.compile(r"\bArt(?:icle)?\.? ?\d+")


@pytest.fixture(scope="module")
def jurisdictions() -> dict[str, JurisdictionInfo]:
    return load_jurisdictions()


@pytest.fixture(scope="module")
def authorities(jurisdictions: dict[str, JurisdictionInfo]) -> list[AuthorityInfo]:
    return load_authorities(jurisdictions=jurisdictions)


@pytest.fixture(scope="module")
def instruments() -> dict[str, Instrument]:
    return catalogue()


def _find(
    jurisdictions: dict[str, JurisdictionInfo],
    authorities: list[AuthorityInfo],
    instruments: dict[str, Instrument],
    requesting: str,
    requested: str,
    measure: Measure,
    category: DataCategory | None = None,
    *,
    urgent: bool = False,
) -> list[Proposal]:
    return find_authority(
        requesting=requesting,
        requested=requested,
        measure=measure,
        data_category=category,
        urgent=urgent,
        jurisdictions=jurisdictions,
        authorities=authorities,
        instruments=instruments,
    )


def _needs(instruments: dict[str, Instrument], *codes: str) -> None:
    """The finder tests that name other instruments need their definition files (shipped:
    a missing one is a failure, never a skip)."""
    missing = [c for c in codes if c not in instruments]
    assert not missing, f"instrument definitions missing: {missing}"


# --- the shipped seed -------------------------------------------------------------------------


def test_seed_has_the_eu_27_and_the_partner_states(
    jurisdictions: dict[str, JurisdictionInfo],
) -> None:
    assert len(jurisdictions) >= 34
    assert set(jurisdictions) >= EU27 | OTHERS
    assert jurisdictions["FR"].name == "France"
    assert jurisdictions["NO"].code == "NO"  # quoted in YAML: never read as false


def test_every_eu_member_has_its_official_languages(
    jurisdictions: dict[str, JurisdictionInfo],
) -> None:
    for code, official in OFFICIAL.items():
        assert set(jurisdictions[code].languages) >= official, code


@pytest.mark.parametrize(
    ("code", "languages"),
    [
        ("BE", ("nl", "fr", "de")),
        ("LU", ("lb", "fr", "de")),
        ("IE", ("ga", "en")),
        ("MT", ("mt", "en")),
        ("FI", ("fi", "sv")),
        ("CY", ("el", "tr")),
        ("CH", ("de", "fr", "it", "rm")),
        ("UA", ("uk",)),
        ("JP", ("ja",)),
        ("BR", ("pt",)),
    ],
)
def test_languages_spot_checks(
    jurisdictions: dict[str, JurisdictionInfo], code: str, languages: tuple[str, ...]
) -> None:
    assert jurisdictions[code].languages == languages


def test_timezones_are_the_capitals(jurisdictions: dict[str, JurisdictionInfo]) -> None:
    zones = available_timezones()
    assert all(j.timezone in zones for j in jurisdictions.values())
    assert jurisdictions["FR"].timezone == "Europe/Paris"
    assert jurisdictions["US"].timezone == "America/New_York"
    assert jurisdictions["UA"].timezone == "Europe/Kyiv"
    assert jurisdictions["CY"].timezone == "Asia/Nicosia"


def test_denmark_takes_no_part_in_the_eu_evidence_instruments(
    jurisdictions: dict[str, JurisdictionInfo],
) -> None:
    dk = jurisdictions["DK"]
    for key in ("eu_e_evidence", "eio", "eu_freezing"):
        assert not dk.bound_by(key), key
    assert dk.bound_by("budapest")


def test_ireland_opted_in_to_e_evidence_but_not_the_eio(
    jurisdictions: dict[str, JurisdictionInfo],
) -> None:
    ie = jurisdictions["IE"]
    assert not ie.bound_by("eio")
    assert not ie.bound_by("eu_freezing")
    opt_in = ie.binding("eu_e_evidence")
    assert opt_in is not None and opt_in.verified is False
    assert not ie.bound_by("budapest")  # signed in 2002, not ratified


def test_other_member_states_are_bound_by_the_eu_instruments(
    jurisdictions: dict[str, JurisdictionInfo],
) -> None:
    for code in EU27 - {"DK", "IE"}:
        j = jurisdictions[code]
        assert j.bound_by("eu_e_evidence") and j.bound_by("eio") and j.bound_by("eu_freezing")
        assert j.bound_by("jit")
    for code in OTHERS:
        assert not jurisdictions[code].bound_by("eu_e_evidence"), code
        assert not jurisdictions[code].bound_by("eio"), code


def test_treaty_membership_outside_the_reference_is_unverified(
    jurisdictions: dict[str, JurisdictionInfo],
) -> None:
    for j in jurisdictions.values():
        for b in j.bindings:
            assert b.key in BINDING_KEYS
            if b.key in ("budapest", "budapest_sap", "jit", "extradition", "eu_freezing"):
                assert b.verified is False, (j.code, b.key)
            if not b.verified:
                assert b.note, (j.code, b.key)
    budapest = {c for c, j in jurisdictions.items() if j.bound_by("budapest")}
    assert budapest == (EU27 | OTHERS) - {"IE"}
    for code in ("US", "JP", "BR"):
        assert not jurisdictions[code].bound_by("extradition")


def test_bilateral_mla_is_symmetric(jurisdictions: dict[str, JurisdictionInfo]) -> None:
    assert "FR" in jurisdictions["US"].bilateral_mla
    assert jurisdictions["FR"].bilateral_mla == ("US",)
    for j in jurisdictions.values():
        for partner in j.bilateral_mla:
            assert j.code in jurisdictions[partner].bilateral_mla


def test_every_state_has_one_central_authority_and_parties_a_24_7_point(
    jurisdictions: dict[str, JurisdictionInfo], authorities: list[AuthorityInfo]
) -> None:
    for code, j in jurisdictions.items():
        mine = [a for a in authorities if a.jurisdiction == code]
        central = [a for a in mine if a.kind is AuthorityKind.CENTRAL_AUTHORITY]
        points = [a for a in mine if a.kind is AuthorityKind.CONTACT_POINT_24_7]
        assert len(central) == 1, code
        assert len(points) == (1 if j.bound_by("budapest") else 0), code
    by_id = {a.id: a for a in authorities}
    assert by_id["us-central-authority"].name == (
        "US Department of Justice, Office of International Affairs"
    )
    assert by_id["de-central-authority"].name == "Bundesamt für Justiz"
    assert len(by_id) == len(authorities)


def test_demo_jurisdictions_have_a_full_set(authorities: list[AuthorityInfo]) -> None:
    for code in ("FR", "DE", "NL", "US"):
        mine = [a for a in authorities if a.jurisdiction == code]
        ranks = {
            a.rank for a in mine if a.kind in (AuthorityKind.ISSUING, AuthorityKind.VALIDATING)
        }
        kinds = {a.kind for a in mine}
        assert Rank.PROSECUTOR in ranks, code
        assert ranks & {Rank.INVESTIGATING_JUDGE, Rank.COURT, Rank.JUDGE}, code
        assert AuthorityKind.EXECUTING in kinds, code
        assert AuthorityKind.PROVIDER_LEGAL_REPRESENTATIVE in kinds, code


def test_addresses_are_under_the_reserved_example_domain(authorities: list[AuthorityInfo]) -> None:
    assert all(a.email and a.email.endswith(".example") for a in authorities)


def test_every_catalogue_binding_is_a_known_key(instruments: dict[str, Instrument]) -> None:
    assert instruments, "the catalogue is empty"
    for inst in instruments.values():
        assert inst.binding in BINDING_KEYS, inst.code


# --- bad seed files -------------------------------------------------------------------------

GOOD_FR = """
  - code: "FR"
    name: France
    languages: [fr]
    timezone: Europe/Paris
    bindings:
      - {key: budapest, verified: false, note: not in the reference}
"""
GOOD_US = """
  - code: "US"
    name: United States
    languages: [en]
    timezone: America/New_York
"""


def _load_bad(tmp_path: Path, body: str) -> ValidationFailed:
    path = tmp_path / "jurisdictions.yaml"
    path.write_text("jurisdictions:" + body, encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        load_jurisdictions(path)
    return caught.value


def _messages(exc: ValidationFailed) -> dict[str, str]:
    return {e.field: e.text() for e in exc.errors}


def test_the_test_seed_itself_loads(tmp_path: Path) -> None:
    path = tmp_path / "jurisdictions.yaml"
    path.write_text("jurisdictions:" + GOOD_FR + GOOD_US, encoding="utf-8")
    loaded = load_jurisdictions(path)
    assert loaded["FR"].bindings == (Binding("budapest", False, "not in the reference"),)


@pytest.mark.parametrize(
    ("good", "bad", "field", "words"),
    [
        ('code: "FR"', 'code: "FRA"', "jurisdictions[FRA].code", "alpha-2"),
        ('code: "FR"', 'code: "fr"', "jurisdictions[fr].code", "alpha-2"),
        ("languages: [fr]", "languages: [fra]", "jurisdictions[FR].languages", "ISO 639-1"),
        ("languages: [fr]", "languages: []", "jurisdictions[FR].languages", "at least 1"),
        ("Europe/Paris", "Europe/Lutetia", "jurisdictions[FR].timezone", "IANA"),
        ("key: budapest", "key: budapest_convention", "jurisdictions[FR].bindings.0.key", "known"),
        (
            "verified: false, note: not in the reference",
            "verified: false",
            "jurisdictions[FR].bindings.0.note",
            "must say why",
        ),
        ("verified: false", 'verified: "no"', "jurisdictions[FR].bindings.0.verified", "bool"),
        ("name: France", "name: France\n    capital: Paris", "jurisdictions[FR].capital", "extra"),
    ],
)
def test_bad_jurisdiction_names_entry_and_field(
    tmp_path: Path, good: str, bad: str, field: str, words: str
) -> None:
    assert good in GOOD_FR
    exc = _load_bad(tmp_path, GOOD_FR.replace(good, bad) + GOOD_US)
    messages = _messages(exc)
    matching = [f for f in messages if f.startswith(field)]
    assert matching, messages
    assert words.lower() in messages[matching[0]].lower()
    assert field.split(".")[0] in exc.message


def test_unquoted_norway_is_explained(tmp_path: Path) -> None:
    body = (
        GOOD_US
        + "\n  - code: NO\n    name: Norway\n    languages: [nb]\n    timezone: Europe/Oslo\n"
    )
    messages = _messages(_load_bad(tmp_path, body))
    assert "quote" in messages["jurisdictions[#1].code"]


def test_duplicate_code_and_broken_treaty_partners(tmp_path: Path) -> None:
    one_sided = GOOD_FR + '    bilateral_mla: ["US", "JP"]\n' + GOOD_US + GOOD_US
    messages = _messages(_load_bad(tmp_path, one_sided))
    assert "more than once" in messages["jurisdictions[US].code"]
    assert "does not list 'FR' back" in messages["jurisdictions[FR].bilateral_mla.0"]
    assert "unknown jurisdiction 'JP'" in messages["jurisdictions[FR].bilateral_mla.1"]


def test_not_a_seed_file(tmp_path: Path) -> None:
    path = tmp_path / "jurisdictions.yaml"
    path.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        load_jurisdictions(path)
    assert "top-level list 'jurisdictions'" in caught.value.errors[0].text()
    path.write_text("jurisdictions: [\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        load_jurisdictions(path)
    assert "not valid YAML" in caught.value.errors[0].text()


GOOD_AUTHORITY: dict[str, Any] = {
    "id": "fr-central-authority",
    "jurisdiction": "FR",
    "kind": "central_authority",
    "rank": "central_authority",
    "name": "Ministère de la Justice",
    "languages": ["fr"],
    "channels": ["e-codex", "email"],
    "email": "beppi@fr-justice.example",
}


def _authority_yaml(entries: list[dict[str, Any]]) -> str:
    import yaml

    return yaml.safe_dump({"authorities": entries}, allow_unicode=True)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"jurisdiction": "XX"}, "authorities[fr-central-authority].jurisdiction", "unknown"),
        ({"kind": "ministry"}, "authorities[fr-central-authority].kind", "central_authority"),
        ({"rank": "sheriff"}, "authorities[fr-central-authority].rank", "prosecutor"),
        ({"id": "FR Central"}, "authorities[FR Central].id", "slug"),
        ({"languages": ["french"]}, "authorities[fr-central-authority].languages", "ISO 639-1"),
        ({"email": "not-an-address"}, "authorities[fr-central-authority].email", "e-mail"),
    ],
)
def test_bad_authority_names_entry_and_field(
    tmp_path: Path,
    jurisdictions: dict[str, JurisdictionInfo],
    change: dict[str, Any],
    field: str,
    words: str,
) -> None:
    path = tmp_path / "authorities.yaml"
    path.write_text(_authority_yaml([{**GOOD_AUTHORITY, **change}]), encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        load_authorities(path, jurisdictions=jurisdictions)
    messages = _messages(caught.value)
    matching = [f for f in messages if f.startswith(field)]
    assert matching, messages
    assert words.lower() in messages[matching[0]].lower()


def test_duplicate_authority_id(tmp_path: Path, jurisdictions: dict[str, JurisdictionInfo]) -> None:
    path = tmp_path / "authorities.yaml"
    path.write_text(_authority_yaml([GOOD_AUTHORITY, GOOD_AUTHORITY]), encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        load_authorities(path, jurisdictions=jurisdictions)
    assert "used more than once" in _messages(caught.value)["authorities[fr-central-authority].id"]
    path.write_text(_authority_yaml([GOOD_AUTHORITY]), encoding="utf-8")
    (only,) = load_authorities(path, jurisdictions=jurisdictions)
    assert only.kind is AuthorityKind.CENTRAL_AUTHORITY and only.rank is Rank.CENTRAL_AUTHORITY


# --- the finder on the shipped seed and catalogue ---------------------------------------------


def test_fr_to_de_traffic_data_is_an_epoc_to_the_providers_representative(
    jurisdictions: dict[str, JurisdictionInfo],
    authorities: list[AuthorityInfo],
    instruments: dict[str, Instrument],
) -> None:
    proposals = _find(
        jurisdictions, authorities, instruments, "FR", "DE", Measure.PRODUCTION,
        DataCategory.TRAFFIC,
    )  # fmt: skip
    first = proposals[0]
    assert (first.rank, first.instrument_code, first.instrument_short_name) == (1, "epoc", "EPOC")
    assert first.authority is not None
    assert first.authority.id == "de-atlas-hosting"
    assert first.authority.kind is AuthorityKind.PROVIDER_LEGAL_REPRESENTATIVE
    assert first.legal_basis == "Regulation (EU) 2023/1543"
    for words in ("France", "Germany", "eu_e_evidence", "traffic data", "Art. 4(2)"):
        assert words in first.reason
    assert "prosecutor" not in first.reason  # Art. 4(2): traffic data need a judge
    assert first.article == "Reg. (EU) 2023/1543 Art. 4(2)"
    assert first.verified is instruments["epoc"].verified
    if "eio" in instruments:
        codes = [p.instrument_code for p in proposals]
        assert codes.index("epoc") < codes.index("eio")


def test_fr_to_de_urgent_cites_the_emergency_rule(
    jurisdictions: dict[str, JurisdictionInfo],
    authorities: list[AuthorityInfo],
    instruments: dict[str, Instrument],
) -> None:
    proposals = _find(
        jurisdictions, authorities, instruments, "FR", "DE", Measure.PRODUCTION,
        DataCategory.SUBSCRIBER, urgent=True,
    )  # fmt: skip
    first = proposals[0]
    assert first.instrument_code == "epoc"
    emergency = instruments["epoc"].emergency
    assert emergency is not None
    assert first.article == emergency.article
    assert "Urgent" in first.reason and emergency.article in first.reason
    for later in proposals[1:]:  # every emergency-capable instrument comes before the others
        if instruments[later.instrument_code].emergency is not None:
            assert all(instruments[p.instrument_code].emergency for p in proposals[: later.rank])


def test_fr_to_dk_production_is_not_an_epoc(
    jurisdictions: dict[str, JurisdictionInfo],
    authorities: list[AuthorityInfo],
    instruments: dict[str, Instrument],
) -> None:
    proposals = _find(
        jurisdictions, authorities, instruments, "FR", "DK", Measure.PRODUCTION,
        DataCategory.SUBSCRIBER,
    )  # fmt: skip
    codes = [p.instrument_code for p in proposals]
    assert "epoc" not in codes and "eio" not in codes
    if "budapest_mla" in instruments:
        assert codes[0] == "budapest_mla"
        assert proposals[0].authority is not None
        assert proposals[0].authority.id == "dk-central-authority"
        assert "Denmark" in proposals[0].reason and "budapest" in proposals[0].reason
    else:
        assert codes == [LETTERS_ROGATORY]
        assert "Denmark not bound by eu_e_evidence" in proposals[0].reason


def test_fr_to_us_subscriber_data(
    jurisdictions: dict[str, JurisdictionInfo],
    authorities: list[AuthorityInfo],
    instruments: dict[str, Instrument],
) -> None:
    _needs(instruments, "budapest_mla", "sap_subscriber")
    proposals = _find(
        jurisdictions, authorities, instruments, "FR", "US", Measure.PRODUCTION,
        DataCategory.SUBSCRIBER,
    )  # fmt: skip
    codes = [p.instrument_code for p in proposals]
    # Neither FR nor the US has ratified CETS 224, so no Art. 7 order: Budapest MLA it is.
    assert "sap_subscriber" not in codes
    first = proposals[0]
    assert first.instrument_code == "budapest_mla"
    assert first.authority is not None and first.authority.id == "us-central-authority"
    assert first.verified is False  # Budapest membership is not in the reference
    assert any("United States / budapest" in c for c in first.caveats)


def test_fr_to_us_preservation_goes_to_the_24_7_point(
    jurisdictions: dict[str, JurisdictionInfo],
    authorities: list[AuthorityInfo],
    instruments: dict[str, Instrument],
) -> None:
    _needs(instruments, "budapest_preservation")
    proposals = _find(jurisdictions, authorities, instruments, "FR", "US", Measure.PRESERVATION)
    first = proposals[0]
    assert first.instrument_code == "budapest_preservation"
    assert first.authority is not None and first.authority.id == "us-contact-point-24-7"
    assert "Art. 29" in first.reason
    assert "epoc_pr" not in [p.instrument_code for p in proposals]


def test_fr_to_de_preservation_prefers_the_epoc_pr(
    jurisdictions: dict[str, JurisdictionInfo],
    authorities: list[AuthorityInfo],
    instruments: dict[str, Instrument],
) -> None:
    _needs(instruments, "epoc_pr", "budapest_preservation")
    proposals = _find(jurisdictions, authorities, instruments, "FR", "DE", Measure.PRESERVATION)
    codes = [p.instrument_code for p in proposals]
    assert codes.index("epoc_pr") < codes.index("budapest_preservation")


def test_emergency_disclosure_between_member_states_is_an_urgent_epoc(
    jurisdictions: dict[str, JurisdictionInfo],
    authorities: list[AuthorityInfo],
    instruments: dict[str, Instrument],
) -> None:
    proposals = _find(
        jurisdictions, authorities, instruments, "FR", "DE", Measure.EMERGENCY_DISCLOSURE,
        DataCategory.CONTENT,
    )  # fmt: skip
    first = proposals[0]
    assert first.instrument_code == "epoc"
    assert first.article == "Reg. (EU) 2023/1543 Art. 10(4)"
    assert "covers production of content data" in first.reason
    assert "sought as production under its emergency procedure" in first.reason
    assert LETTERS_ROGATORY not in [p.instrument_code for p in proposals]


def test_no_instrument_falls_back_to_treaty_or_letters_rogatory(
    jurisdictions: dict[str, JurisdictionInfo], authorities: list[AuthorityInfo]
) -> None:
    none: dict[str, Instrument] = {}
    (treaty,) = _find(jurisdictions, authorities, none, "FR", "US", Measure.PRODUCTION)
    assert treaty.instrument_code == BILATERAL_MLA
    assert treaty.authority is not None and treaty.authority.id == "us-central-authority"
    assert "bilateral MLA treaty" in treaty.reason
    assert "the United States" in treaty.reason
    assert treaty.verified is False

    (letters,) = _find(jurisdictions, authorities, none, "FR", "JP", Measure.PRODUCTION)
    assert letters.instrument_code == LETTERS_ROGATORY
    assert letters.authority is not None and letters.authority.id == "jp-central-authority"
    assert "letters rogatory" in letters.reason and "Japan" in letters.reason

    # An MLA treaty does not cover extradition.
    (extradition,) = _find(jurisdictions, authorities, none, "FR", "US", Measure.EXTRADITION)
    assert extradition.instrument_code == DIPLOMATIC_EXTRADITION
    assert extradition.authority is not None
    assert extradition.authority.id == "us-central-authority"


def test_same_state_is_refused(
    jurisdictions: dict[str, JurisdictionInfo],
    authorities: list[AuthorityInfo],
    instruments: dict[str, Instrument],
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _find(jurisdictions, authorities, instruments, "FR", "fr", Measure.PRODUCTION)
    assert [e.field for e in caught.value.errors] == ["requested"]
    assert "must differ" in caught.value.errors[0].text()


def test_unknown_states_are_named(
    jurisdictions: dict[str, JurisdictionInfo],
    authorities: list[AuthorityInfo],
    instruments: dict[str, Instrument],
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _find(jurisdictions, authorities, instruments, "XX", "DE", Measure.PRODUCTION)
    assert [e.field for e in caught.value.errors] == ["requesting"]
    assert caught.value.errors[0].text() == "unknown jurisdiction 'XX'"
    with pytest.raises(ValidationFailed) as caught:
        _find(jurisdictions, authorities, instruments, "FR", "ZZ", Measure.PRODUCTION)
    assert [e.field for e in caught.value.errors] == ["requested"]
    with pytest.raises(ValidationFailed) as caught:
        _find(jurisdictions, authorities, instruments, "QQ", "QQ", Measure.PRODUCTION)
    assert [e.field for e in caught.value.errors] == ["requesting", "requested"]


CASES = [
    (a, b, m, c, u)
    for a, b in [("FR", "DE"), ("FR", "DK"), ("IE", "FR"), ("FR", "US"), ("NL", "JP"),
                 ("DE", "NL"), ("US", "GB"), ("BR", "PT"), ("CH", "NO")]
    for m in Measure
    for c in (None, DataCategory.SUBSCRIBER, DataCategory.CONTENT)
    for u in (False, True)
]  # fmt: skip


def test_every_proposal_is_explained_and_consistent(
    jurisdictions: dict[str, JurisdictionInfo],
    authorities: list[AuthorityInfo],
    instruments: dict[str, Instrument],
) -> None:
    fallbacks = {BILATERAL_MLA, LETTERS_ROGATORY, DIPLOMATIC_EXTRADITION}
    for a, b, measure, category, urgent in CASES:
        proposals = _find(jurisdictions, authorities, instruments, a, b, measure, category,
                          urgent=urgent)  # fmt: skip
        case = (a, b, measure, category, urgent)
        assert proposals, case
        assert [p.rank for p in proposals] == list(range(1, len(proposals) + 1)), case
        for p in proposals:
            assert p.instrument_short_name.lower() in p.reason.lower(), case
            if p.authority is not None:
                assert p.authority.jurisdiction == b, case
            if p.instrument_code in fallbacks:
                assert len(proposals) == 1 and p.verified is False, case
                continue
            inst = instruments[p.instrument_code]
            assert ARTICLE.search(p.reason), (case, p.reason)
            assert p.article is not None and p.article in p.reason, case
            if measure is Measure.EMERGENCY_DISCLOSURE and measure not in inst.measures:
                assert Measure.PRODUCTION in inst.measures and inst.emergency, case
            else:
                assert measure in inst.measures, case
            assert jurisdictions[a].bound_by(inst.binding), case
            assert jurisdictions[b].bound_by(inst.binding), case
            if category is not None:
                assert category in {c.code for c in inst.data_categories}, case
            if p.authority is not None:
                assert p.authority.kind in inst.addressed_to, case
            bindings = [jurisdictions[x].binding(inst.binding) for x in (a, b)]
            expected = inst.verified and all(x is not None and x.verified for x in bindings)
            assert p.verified is expected, case
            if "DK" in (a, b):
                assert inst.binding not in ("eu_e_evidence", "eio", "eu_freezing"), case
            if "IE" in (a, b):
                assert inst.binding not in ("eio", "eu_freezing", "budapest"), case


# --- ordering and verification, on made-up instruments -----------------------------------------


def _instrument(
    code: str,
    binding: str,
    *,
    addressed_to: str = "central_authority",
    emergency: bool = False,
    days: int | None = None,
    verified: bool = True,
) -> Instrument:
    raw: dict[str, Any] = {
        "code": code,
        "version": "test",
        "name": f"Test instrument {code}",
        "short_name": code.upper(),
        "legal_basis": f"Test treaty {code}",
        "form_reference": {"article": f"Test treaty {code} Art. 1", "verified": verified},
        "binding": binding,
        "measures": ["production"],
        "addressed_to": [addressed_to],
        "data_categories": [
            {"code": "subscriber", "label": "Subscriber data", "article": "Art. 2"}
        ],
        "issuers": [
            {
                "data_categories": ["subscriber"],
                "may_issue": ["prosecutor"],
                "validators": ["judge"],
                "article": f"Test treaty {code} Art. 4",
            }
        ],
        "verbs": ["submit", "validate", "send", "withdraw", "execute"],
        "sections": [],
    }
    if emergency:
        raw["emergency"] = {"article": f"Test treaty {code} Art. 9"}
    if days:
        raw["deadlines"] = [
            {
                "kind": "execution",
                "label": "Execution",
                "starts_on": "send",
                "met_by": ["execute"],
                "duration": {"days": days},
                "article": f"Test treaty {code} Art. 5",
            }
        ]
    return Instrument.model_validate(raw)


def _states(*, verified: bool = True) -> dict[str, JurisdictionInfo]:
    keys = ("eu_e_evidence", "eio", "budapest", "budapest_sap")
    bindings = tuple(Binding(k, verified, None if verified else "unsure") for k in keys)
    return {
        code: JurisdictionInfo(code, name, ("en",), "UTC", bindings)
        for code, name in (("AA", "Alphaland"), ("BB", "Betaland"))
    }


BB_AUTHORITIES = [
    AuthorityInfo("bb-provider", "BB", "Provider", AuthorityKind.PROVIDER_LEGAL_REPRESENTATIVE),
    AuthorityInfo("bb-central", "BB", "Central", AuthorityKind.CENTRAL_AUTHORITY),
    AuthorityInfo("bb-24-7", "BB", "Point", AuthorityKind.CONTACT_POINT_24_7),
    AuthorityInfo("aa-central", "AA", "Wrong state", AuthorityKind.CENTRAL_AUTHORITY),
]


def _order(instruments: list[Instrument], *, urgent: bool = False) -> list[str]:
    proposals = find_authority(
        requesting="AA",
        requested="BB",
        measure=Measure.PRODUCTION,
        data_category=DataCategory.SUBSCRIBER,
        urgent=urgent,
        jurisdictions=_states(),
        authorities=BB_AUTHORITIES,
        instruments={i.code: i for i in instruments},
    )
    return [p.instrument_code for p in proposals]


def test_order_eu_before_protocol_before_convention_direct_before_mla() -> None:
    made = [
        _instrument("conv_mla", "budapest"),
        _instrument("sap_direct", "budapest_sap", addressed_to="provider_legal_representative"),
        _instrument("sap_mla", "budapest_sap"),
        _instrument("eu_eio", "eio", days=120),
        _instrument("eu_direct", "eu_e_evidence", addressed_to="provider_legal_representative"),
    ]
    assert _order(made) == ["eu_direct", "eu_eio", "sap_direct", "sap_mla", "conv_mla"]


def test_order_faster_deadline_first_within_a_family() -> None:
    made = [_instrument("slow", "eio", days=90), _instrument("fast", "eio", days=10)]
    assert _order(made) == ["fast", "slow"]


def test_urgent_puts_emergency_channels_first() -> None:
    made = [
        _instrument("eu_direct", "eu_e_evidence", addressed_to="provider_legal_representative"),
        _instrument("sap_emergency", "budapest_sap", addressed_to="contact_point_24_7",
                    emergency=True),
    ]  # fmt: skip
    assert _order(made) == ["eu_direct", "sap_emergency"]
    assert _order(made, urgent=True) == ["sap_emergency", "eu_direct"]


def test_addressee_follows_addressed_to_and_the_requested_state() -> None:
    made = [_instrument("direct", "eio", addressed_to="provider_legal_representative")]
    proposals = find_authority(
        requesting="AA", requested="BB", measure=Measure.PRODUCTION, data_category=None,
        urgent=False, jurisdictions=_states(), authorities=BB_AUTHORITIES,
        instruments={i.code: i for i in made},
    )  # fmt: skip
    assert proposals[0].authority is not None and proposals[0].authority.id == "bb-provider"
    back = find_authority(
        requesting="BB", requested="AA", measure=Measure.PRODUCTION, data_category=None,
        urgent=False, jurisdictions=_states(), authorities=BB_AUTHORITIES,
        instruments={i.code: i for i in made},
    )  # fmt: skip
    assert back[0].authority is None  # AA has no provider representative in the directory
    assert "No service provider's legal representative in Alphaland" in back[0].reason


def test_verified_only_when_bindings_and_instrument_are() -> None:
    def one(instrument: Instrument, states: dict[str, JurisdictionInfo]) -> Proposal:
        return find_authority(
            requesting="AA", requested="BB", measure=Measure.PRODUCTION, data_category=None,
            urgent=False, jurisdictions=states, authorities=BB_AUTHORITIES,
            instruments={instrument.code: instrument},
        )[0]  # fmt: skip

    assert one(_instrument("x", "eio"), _states()).verified is True
    unsure_states = one(_instrument("x", "eio"), _states(verified=False))
    assert unsure_states.verified is False
    assert "Alphaland / eio: unsure" in unsure_states.caveats
    unsure_rule = one(_instrument("x", "eio", verified=False), _states())
    assert unsure_rule.verified is False
    assert unsure_rule.caveats == ("X: some rules of the definition are not confirmed",)


def test_data_category_not_covered_excludes_the_instrument() -> None:
    made = {"x": _instrument("x", "eio")}
    proposals = find_authority(
        requesting="AA", requested="BB", measure=Measure.PRODUCTION,
        data_category=DataCategory.CONTENT, urgent=False, jurisdictions=_states(),
        authorities=BB_AUTHORITIES, instruments=made,
    )  # fmt: skip
    assert [p.instrument_code for p in proposals] == [LETTERS_ROGATORY]
    assert "X: does not cover content data" in proposals[0].reason


def test_the_reason_reads_in_every_catalogue_language(
    jurisdictions: dict[str, JurisdictionInfo],
    authorities: list[AuthorityInfo],
    instruments: dict[str, Instrument],
) -> None:
    """Each sentence of a reason is a msgid with parameters: in English it is `reason` itself;
    in another language every sentence is translated and the names, articles and codes it
    cites stay as they are."""
    cases = [("FR", "DE", Measure.PRODUCTION, DataCategory.SUBSCRIBER, True),
             ("FR", "US", Measure.PRODUCTION, None, False),
             ("FR", "JP", Measure.PRODUCTION, DataCategory.CONTENT, True),
             ("FR", "US", Measure.EXTRADITION, None, False)]
    for requesting, requested, measure, category, urgent in cases:
        for p in _find(jurisdictions, authorities, instruments, requesting, requested, measure,
                       category, urgent=urgent):
            assert p.explanation and p.reason_in("en") == p.reason
            for lang in LANGUAGES:
                shown = p.reason_in(lang)
                assert "{" not in shown, (lang, shown)
                if p.article:
                    assert p.article in shown, (lang, shown)
                if lang != "en":
                    assert shown != p.reason, (lang, p.instrument_code)
                    for sentence in p.explanation:
                        assert translate(sentence.msgid, lang) != sentence.msgid, (
                            lang, sentence.msgid)
                    # the states by their names in the reader's language (CLDR, via Babel)
                    assert Locale.parse(lang).territories[requested] in shown, (lang, shown)
