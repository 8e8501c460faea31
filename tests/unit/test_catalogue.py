"""The shipped instrument catalogue: every definition loads, every rule cites its article, the
rules match the legal facts of the shared reference (legal-facts.md), and a broken file is refused
with its name and the field at fault."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rogatory.errors import CatalogueError
from rogatory.instruments.catalogue import DEFINITIONS, catalogue, get, load_directory, load_file
from rogatory.instruments.schema import Instrument, Rule
from rogatory.requests.enums import DataCategory, DeadlineEffect, Rank, Side, Verb

CODES = {
    "epoc",
    "epoc_pr",
    "eio",
    "budapest_preservation",
    "budapest_mla",
    "sap_subscriber",
    "sap_emergency_disclosure",
    "sap_emergency_mla",
    "jit_agreement",
    "extradition",
    "freezing_order",
}
ARTICLE = re.compile(r"\b(Art\.|Annex)( |$)")


def _rules(inst: Instrument) -> Iterator[tuple[str, Rule]]:
    """Every legal rule of an instrument, with where it sits in the file."""
    yield "form_reference", inst.form_reference
    if inst.emergency is not None:
        yield "emergency", inst.emergency
    for i, category in enumerate(inst.data_categories):
        yield f"data_categories.{i}", category
    for i, issuer in enumerate(inst.issuers):
        yield f"issuers.{i}", issuer
    for i, deadline in enumerate(inst.deadlines):
        yield f"deadlines.{i}", deadline
        if deadline.extension is not None:
            yield f"deadlines.{i}.extension", deadline.extension
    for i, ground in enumerate(inst.refusal_grounds):
        yield f"refusal_grounds.{i}", ground


def _raw(code: str) -> dict[str, Any]:
    data = yaml.safe_load((DEFINITIONS / f"{code}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _write(folder: Path, name: str, raw: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _refused(path: Path) -> str:
    with pytest.raises(CatalogueError) as caught:
        load_file(path)
    return caught.value.message


# --- the shipped catalogue -----------------------------------------------------------------------


def test_every_instrument_is_shipped_and_loads() -> None:
    assert set(catalogue()) == CODES
    fresh = load_directory(DEFINITIONS)  # not the cached copy
    assert set(fresh) == CODES
    for code, inst in fresh.items():
        assert inst.code == code
        assert get(code) == inst


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_rule_cites_an_article(code: str) -> None:
    inst = catalogue()[code]
    for where, rule in _rules(inst):
        assert rule.article.strip(), f"{code}: {where} has no article"
        assert ARTICLE.search(rule.article), f"{code}: {where} cites '{rule.article}'"


@pytest.mark.parametrize(
    "code",
    sorted(CODES),
)
def test_every_unverified_rule_says_why(code: str) -> None:
    inst = catalogue()[code]
    silent = [where for where, rule in _rules(inst) if not rule.verified and not rule.note]
    assert silent == []


@pytest.mark.parametrize("code", sorted(CODES))
def test_extend_deadline_only_with_an_extendable_deadline(code: str) -> None:
    inst = catalogue()[code]
    extendable = any(d.extension is not None for d in inst.deadlines)
    assert (Verb.EXTEND_DEADLINE in inst.verbs) is extendable


@pytest.mark.parametrize("code", sorted(CODES))
def test_deadlines_use_only_allowed_verbs(code: str) -> None:
    inst = catalogue()[code]
    for d in inst.deadlines:
        assert d.starts_on in inst.verbs
        assert d.met_by, f"{code}: deadline '{d.kind}' can never be met"
        assert set(d.met_by) <= set(inst.verbs)


@pytest.mark.parametrize(
    ("code", "binding", "measures", "addressed_to"),
    [
        ("epoc", "eu_e_evidence", {"production"}, ["provider_legal_representative"]),
        ("epoc_pr", "eu_e_evidence", {"preservation"}, ["provider_legal_representative"]),
        ("eio", "eio", {"investigative_measure", "production", "preservation"},
         ["executing", "central_authority"]),
        ("budapest_preservation", "budapest", {"preservation"},
         ["contact_point_24_7", "central_authority"]),
        ("budapest_mla", "budapest", {"production", "investigative_measure"},
         ["central_authority"]),
        ("sap_subscriber", "budapest_sap", {"production"}, ["provider_legal_representative"]),
        ("sap_emergency_disclosure", "budapest_sap", {"emergency_disclosure"},
         ["contact_point_24_7"]),
        ("sap_emergency_mla", "budapest_sap", {"emergency_disclosure", "production"},
         ["central_authority"]),
        ("jit_agreement", "jit", {"joint_investigation"}, ["central_authority"]),
        ("extradition", "extradition", {"extradition"}, ["central_authority"]),
        ("freezing_order", "eu_freezing", {"freezing"}, ["executing", "central_authority"]),
    ],
)
def test_binding_measures_and_addressees(
    code: str, binding: str, measures: set[str], addressed_to: list[str]
) -> None:
    inst = catalogue()[code]
    assert inst.binding == binding
    assert {m.value for m in inst.measures} == measures
    assert [k.value for k in inst.addressed_to] == addressed_to


# --- broken files are refused, naming the file and the field -------------------------------------


def test_missing_required_key_is_refused(tmp_path: Path) -> None:
    raw = _raw("epoc_pr")
    del raw["legal_basis"]
    message = _refused(_write(tmp_path, "epoc_pr.yaml", raw))
    assert message.startswith("epoc_pr.yaml: legal_basis: ")
    assert "required" in message


def test_missing_nested_key_is_refused_with_its_path(tmp_path: Path) -> None:
    raw = _raw("eio")
    kinds = [d["kind"] for d in raw["deadlines"]]
    del raw["deadlines"][kinds.index("execution")]["duration"]
    message = _refused(_write(tmp_path, "eio.yaml", raw))
    assert message.startswith(f"eio.yaml: deadlines.{kinds.index('execution')}.duration: ")


def test_unknown_verb_is_refused(tmp_path: Path) -> None:
    raw = _raw("budapest_mla")
    raw["verbs"].append("teleport")
    message = _refused(_write(tmp_path, "budapest_mla.yaml", raw))
    assert message.startswith(f"budapest_mla.yaml: verbs.{len(raw['verbs']) - 1}: ")


def test_a_choice_without_its_label_is_refused(tmp_path: Path) -> None:
    raw = _raw("epoc")
    section, field = next((s, f) for s, sec in enumerate(raw["sections"])
                          for f, fld in enumerate(sec["fields"])
                          if fld["name"] == "addressee_capacity")
    del raw["sections"][section]["fields"][field]["choice_labels"]["legal_representative"]
    message = _refused(_write(tmp_path, "epoc.yaml", raw))
    assert message.startswith(f"epoc.yaml: sections.{section}.fields.{field}")
    assert "choice_labels must label every choice" in message


def test_every_choice_has_a_label() -> None:
    for inst in catalogue().values():
        for section in inst.sections:
            for f in section.fields:
                if f.choices:
                    assert f.choice_labels is not None
                    assert set(f.choice_labels) == set(f.choices), (inst.code, f.name)
                    assert all(f.choice_labels[c] != c for c in f.choices), (inst.code, f.name)


def test_deadline_with_a_verb_not_allowed_is_refused(tmp_path: Path) -> None:
    raw = _raw("eio")
    raw["verbs"].remove("begin_execution")  # meets 'recognition', starts 'execution'
    message = _refused(_write(tmp_path, "eio.yaml", raw))
    assert message.startswith("eio.yaml: ")
    assert message == (
        "eio.yaml: deadlines.1 ('recognition') uses verbs not in 'verbs': begin_execution"
    )


def test_extendable_deadline_without_extend_verb_is_refused(tmp_path: Path) -> None:
    raw = _raw("epoc_pr")
    raw["verbs"].remove("extend_deadline")
    message = _refused(_write(tmp_path, "epoc_pr.yaml", raw))
    assert message.startswith("epoc_pr.yaml: ")
    assert message == (
        "epoc_pr.yaml: deadlines.0 ('preservation') is extendable but 'verbs' lacks "
        "extend_deadline"
    )


def test_issue_without_prior_validation_comes_with_its_verbs(tmp_path: Path) -> None:
    """Reg. (EU) 2023/1543 Art. 4(5): a rule that allows issuing without prior validation needs
    the verbs of its validation after the fact and an emergency procedure; the verbs need such
    a rule."""
    raw = _raw("epoc")
    raw["verbs"].remove("lapse")
    assert _refused(_write(tmp_path, "epoc.yaml", raw)) == (
        "epoc.yaml: an issuer rule allows issuing without prior validation: 'verbs' needs lapse")
    raw = _raw("epoc_pr")
    del raw["emergency"]
    assert "needs an emergency procedure" in _refused(_write(tmp_path, "epoc_pr.yaml", raw))
    raw = _raw("eio")
    raw["verbs"].append("issue_emergency")
    assert "but no issuer rule does" in _refused(_write(tmp_path, "eio.yaml", raw))


def test_code_must_match_file_name(tmp_path: Path) -> None:
    message = _refused(_write(tmp_path, "eio_copy.yaml", _raw("eio")))
    assert message == "eio_copy.yaml: code 'eio' must match the file name"


def test_invalid_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("code: [unclosed\n", encoding="utf-8")
    assert _refused(path).startswith("broken.yaml: not valid YAML: ")


# --- the rules match the legal facts ------------------------------------------------------------


def test_epoc_issuers_by_data_category() -> None:
    epoc = get("epoc")
    for category in (DataCategory.SUBSCRIBER, DataCategory.IDENTIFICATION):
        rule = epoc.issuer_rule(category)
        assert Rank.PROSECUTOR in rule.may_issue  # Art. 4(1)
        assert Rank.PROSECUTOR in rule.validators
    for category in (DataCategory.TRAFFIC, DataCategory.CONTENT):
        rule = epoc.issuer_rule(category)
        assert Rank.PROSECUTOR not in rule.may_issue  # Art. 4(2): a prosecutor is not enough
        assert Rank.PROSECUTOR not in rule.validators
        assert {Rank.JUDGE, Rank.COURT, Rank.INVESTIGATING_JUDGE} <= set(rule.may_issue)
        assert not rule.emergency_without_validation


def test_epoc_transmission_deadline() -> None:
    d = get("epoc").deadline("execution")
    assert d is not None
    assert d.starts_on is Verb.SEND
    assert d.duration.days == 10  # Art. 10(2)-(3)
    assert d.emergency_duration is not None and d.emergency_duration.hours == 8  # Art. 10(4)
    assert d.holder is Side.EXECUTING
    assert d.effect is DeadlineEffect.RESPOND_BY


def test_epoc_pr_preserves_60_days_extendable_30_by_the_issuing_side() -> None:
    inst = get("epoc_pr")
    d = inst.deadline("preservation")
    assert d is not None
    assert d.effect is DeadlineEffect.PRESERVE_UNTIL
    assert d.starts_on is Verb.SEND
    assert d.duration.days == 60  # Art. 11(1)
    assert d.extension is not None
    assert d.extension.duration.days == 30  # Annex VI
    assert d.extension.times == 1
    assert d.extension.by is Side.ISSUING
    assert "Annex VI" in d.extension.article
    assert d.verified and d.extension.verified
    assert Verb.EXTEND_DEADLINE in inst.verbs
    assert inst.field("subsequent_production_confirmed") is not None  # Annex V
    # Art. 4(3): a prosecutor may issue for any data category — a secondary source only
    for category in (c.code for c in inst.data_categories):
        rule = inst.issuer_rule(category)
        assert Rank.PROSECUTOR in rule.may_issue
        assert not rule.verified


def test_eio_recognition_30_plus_30_then_execution_90() -> None:
    inst = get("eio")
    recognition, execution = inst.deadline("recognition"), inst.deadline("execution")
    assert recognition is not None and execution is not None
    assert recognition.starts_on is Verb.SEND
    assert recognition.duration.days == 30  # Art. 12(3)
    assert set(recognition.met_by) == {Verb.BEGIN_EXECUTION, Verb.REFUSE}
    assert recognition.extension is not None
    assert recognition.extension.duration.days == 30  # Art. 12(5)
    assert recognition.extension.by is Side.EXECUTING
    assert recognition.extension.times == 1
    assert execution.starts_on is Verb.BEGIN_EXECUTION
    assert execution.duration.days == 90  # Art. 12(4)
    assert set(execution.met_by) == {Verb.EXECUTE, Verb.EXECUTE_PARTIALLY}
    assert execution.extension is None
    assert all(not g.verified for g in inst.refusal_grounds)  # Art. 11 is [S]
    assert all(not s.verified for s in inst.sections)  # Annex A section list is [NF]


def test_budapest_preservation_at_least_60_days_and_two_grounds_only() -> None:
    inst = get("budapest_preservation")
    d = inst.deadline("preservation")
    assert d is not None
    assert d.effect is DeadlineEffect.PRESERVE_UNTIL
    assert d.duration.days is not None and d.duration.days >= 60  # Art. 29(7)
    assert d.extension is None
    assert {g.code for g in inst.refusal_grounds} == {"political_offence", "essential_interests"}
    assert all(g.article == "Budapest Convention Art. 29(5)" for g in inst.refusal_grounds)
    assert "double criminality" in (inst.form_reference.note or "")  # Art. 29(3)


def test_budapest_preservation_form_is_article_29_2() -> None:
    fields = [f for s in get("budapest_preservation").sections for f in s.fields]
    assert [f.article for f in fields] == [
        f"Budapest Convention Art. 29(2)({letter})" for letter in "abcdef"
    ]
    assert [f.name for f in fields if f.translate] == [
        "offence_and_facts",
        "data_and_relationship",
        "necessity",
    ]
    intent = fields[-1]
    assert intent.type == "boolean" and intent.required


def test_budapest_mla_has_no_fixed_deadline() -> None:
    inst = get("budapest_mla")
    assert inst.deadlines == []
    assert inst.emergency is not None and inst.emergency.article.startswith(
        "Budapest Convention Art. 31(3)"
    )


def test_sap_subscriber_response_is_unverified() -> None:
    inst = get("sap_subscriber")
    assert [c.code for c in inst.data_categories] == [DataCategory.SUBSCRIBER]
    d = inst.deadline("response")
    assert d is not None and d.duration.days == 30
    assert not d.verified and d.note


def test_emergency_channels_have_an_emergency_rule() -> None:
    for code in ("sap_emergency_disclosure", "sap_emergency_mla"):
        emergency = get(code).emergency
        assert emergency is not None
        assert emergency.article.startswith("CETS 224 Art.")


# --- Instrument.verified -----------------------------------------------------------------------

VERIFIED: dict[str, Any] = {
    "code": "synthetic",
    "version": "1",
    "name": "Synthetic order",
    "short_name": "SYN",
    "legal_basis": "Test Regulation",
    "form_reference": {"article": "Test Reg. Annex I"},
    "binding": "test",
    "measures": ["production"],
    "addressed_to": ["executing"],
    "emergency": {"article": "Test Reg. Art. 9"},
    "data_categories": [{"code": "subscriber", "label": "Subscriber data", "article": "Art. 1"}],
    "issuers": [
        {
            "data_categories": ["subscriber"],
            "may_issue": ["judge"],
            "validators": ["judge"],
            "article": "Test Reg. Art. 2",
        }
    ],
    "deadlines": [
        {
            "kind": "execution",
            "label": "Execution",
            "starts_on": "send",
            "met_by": ["execute"],
            "duration": {"days": 10},
            "article": "Test Reg. Art. 3",
            "extension": {"duration": {"days": 5}, "by": "executing", "article": "Art. 3(2)"},
        }
    ],
    "refusal_grounds": [{"code": "other", "label": "Other", "article": "Test Reg. Art. 4"}],
    "verbs": ["submit", "validate", "send", "execute", "withdraw", "extend_deadline"],
    "sections": [
        {
            "code": "A",
            "title": "Section",
            "fields": [{"name": "file_number", "label": "File number", "type": "string"}],
        }
    ],
}


def _unverify(*path: str | int) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        node: Any = raw
        for key in path:
            node = node[key]
        node["verified"] = False

    return mutate


def test_fully_verified_instrument_is_verified() -> None:
    assert Instrument.model_validate(VERIFIED).verified is True


@pytest.mark.parametrize(
    "mutate",
    [
        _unverify("form_reference"),
        _unverify("emergency"),
        _unverify("data_categories", 0),
        _unverify("issuers", 0),
        _unverify("deadlines", 0),
        _unverify("refusal_grounds", 0),
        _unverify("sections", 0),
        _unverify("sections", 0, "fields", 0),
        _unverify("deadlines", 0, "extension"),
    ],
)
def test_one_unverified_rule_makes_the_instrument_unverified(
    mutate: Callable[[dict[str, Any]], None],
) -> None:
    raw = copy.deepcopy(VERIFIED)
    mutate(raw)
    assert Instrument.model_validate(raw).verified is False


def test_shipped_instruments_with_unverified_rules_are_unverified() -> None:
    for code, inst in catalogue().items():
        if any(not rule.verified for _, rule in _rules(inst)):
            assert inst.verified is False, code
