"""Instrument definitions as readers see them: labels in their language, unverified rules
flagged."""

from __future__ import annotations

from typing import Any

from rogatory.i18n import translate
from rogatory.instruments.schema import Instrument

TRANSLATED_KEYS = frozenset({"name", "label", "title", "help"})
UNVERIFIED_NOTICE = "Some rules of this instrument rest on unconfirmed facts (verified: false)."


def _translate_tree(node: Any, lang: str) -> Any:
    if isinstance(node, dict):
        return {
            k: translate(v, lang) if k in TRANSLATED_KEYS and isinstance(v, str)
            else _translate_tree(v, lang)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_translate_tree(v, lang) for v in node]
    return node


def summary(instrument: Instrument, lang: str) -> dict[str, Any]:
    return {
        "code": instrument.code,
        "version": instrument.version,
        "name": translate(instrument.name, lang),
        "short_name": instrument.short_name,
        "legal_basis": instrument.legal_basis,
        "binding": instrument.binding,
        "measures": [m.value for m in instrument.measures],
        "verified": instrument.verified,
    }


def detail(instrument: Instrument, lang: str) -> dict[str, Any]:
    body = _translate_tree(instrument.model_dump(mode="json"), lang)
    body["short_name"] = instrument.short_name
    body["verified"] = instrument.verified
    body["notice"] = None if instrument.verified else translate(UNVERIFIED_NOTICE, lang)
    return dict(body)
