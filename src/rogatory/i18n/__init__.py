"""Translations: gettext catalogs (`locale/<lang>/LC_MESSAGES/messages.po`) read with Babel.

Source strings are English msgids, marked in code with `N_()`; `translate` looks them up for a
language and falls back to the English text."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"

LANGUAGES: dict[str, str] = {
    "en": "English",
    "fr": "Français",
    "de": "Deutsch",
    "es": "Español",
    "it": "Italiano",
    "nl": "Nederlands",
    "pl": "Polski",
    "pt": "Português",
    "el": "Ελληνικά",
    "uk": "Українська",
}
DEFAULT_LANGUAGE = "en"


def N_(msgid: str) -> str:
    """Mark a string for extraction; returns it unchanged."""
    return msgid


@cache
def _messages(lang: str) -> dict[str, str]:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    return {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and isinstance(m.string, str) and m.string and not m.fuzzy
    }


def translate(msgid: str, lang: str) -> str:
    """`msgid` in `lang`, or the English source when there is no translation."""
    if lang == DEFAULT_LANGUAGE:
        return msgid
    return _messages(lang).get(msgid, msgid)


def negotiate(accept_language: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """Pick the best supported language from an Accept-Language header."""
    if not accept_language:
        return default
    weighted: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((quality, tag.strip().lower().split("-")[0]))
    for _q, lang in sorted(weighted, key=lambda w: -w[0]):
        if lang in LANGUAGES:
            return lang
    return default
