"""Translations: the template is current, every language is complete and keeps placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from rogatory.i18n import DEFAULT_LANGUAGE, LANGUAGES, LOCALE_DIR, negotiate, translate
from rogatory.i18n.extract import TEMPLATE_NAME, extract, main, read_catalog

TRANSLATED = sorted(set(LANGUAGES) - {DEFAULT_LANGUAGE})


def _ids(catalog: Catalog) -> set[str]:
    return {str(m.id) for m in catalog if m.id}


def _placeholders(text: str) -> list[str]:
    return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


@pytest.fixture(scope="module")
def template() -> Catalog:
    return read_catalog(LOCALE_DIR / TEMPLATE_NAME)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh extraction from the current sources into an empty directory."""
    out = tmp_path_factory.mktemp("locale")
    assert main(["--locale-dir", str(out)]) == 0
    return out


def test_template_is_current(template: Catalog, fresh: Path) -> None:
    extracted = _ids(read_catalog(fresh / TEMPLATE_NAME))
    committed = _ids(template)
    missing, stale = sorted(extracted - committed), sorted(committed - extracted)
    assert not missing and not stale, (
        "messages.pot is out of date: run `python -m rogatory.i18n.extract`\n"
        f"new msgids: {missing}\nmsgids no longer used: {stale}"
    )


def test_template_holds_code_and_catalogue_strings(template: Catalog) -> None:
    ids = _ids(template)
    assert "Draft" in ids  # requests/labels.py
    assert "Must be at most {max} characters." in ids  # requests/forms.py
    assert "European Production Order Certificate" in ids  # instrument name
    assert "Transmission of the data" in ids  # deadline label
    assert "Ne bis in idem" in ids  # refusal ground
    assert "EPOC" not in ids  # short names are acronyms, not translated


def test_extraction_is_deterministic(fresh: Path, tmp_path: Path) -> None:
    assert extract(tmp_path) != []
    for path in sorted(tmp_path.rglob("*.po*")):
        assert path.read_bytes() == (fresh / path.relative_to(tmp_path)).read_bytes()
    assert extract(tmp_path) == []  # a second run changes nothing
    assert b"Generated-By" not in (tmp_path / TEMPLATE_NAME).read_bytes()


def test_committed_catalogs_need_no_update(template: Catalog) -> None:
    """Re-running extraction over the committed files would not change them."""
    from rogatory.i18n.extract import render, updated_catalog

    for lang in TRANSLATED:
        path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
        assert render(updated_catalog(template, path, lang)) == path.read_bytes(), lang


def test_update_keeps_translations_and_marks_obsolete(tmp_path: Path) -> None:
    from rogatory.i18n.extract import build_template, render, updated_catalog

    path = tmp_path / "fr" / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True)
    old = Catalog(locale="fr")
    old.add("Draft", "Brouillon")
    old.add("A string nobody uses any more", "Une chaîne que plus personne n'utilise")
    path.write_bytes(render(old))
    updated = updated_catalog(build_template(), path, "fr")
    assert updated["Draft"].string == "Brouillon"
    assert "A string nobody uses any more" in updated.obsolete
    assert not updated["Withdrawn"].string  # a new msgid, untranslated and not fuzzy
    assert not any(m.fuzzy for m in updated if m.id)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_msgid_is_translated(template: Catalog, lang: str) -> None:
    catalog = read_catalog(LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po", lang)
    assert catalog.locale_identifier == lang
    assert catalog.num_plurals >= 2
    translated = {str(m.id): m for m in catalog if m.id}
    problems = []
    for msgid in sorted(_ids(template)):
        message = translated.get(msgid)
        if message is None or not isinstance(message.string, str) or not message.string.strip():
            problems.append(f"untranslated: {msgid!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        elif _placeholders(message.string) != _placeholders(msgid):
            problems.append(f"placeholders differ: {msgid!r} -> {message.string!r}")
    assert not problems, "\n".join(problems)


def test_translate_and_fallback() -> None:
    assert translate("Draft", "fr") == "Brouillon"
    assert translate("Draft", "de") == "Entwurf"
    assert translate("Draft", "en") == "Draft"
    assert translate("No such msgid, surely", "fr") == "No such msgid, surely"
    assert translate("Draft", "xx") == "Draft"


def test_legal_terms_follow_the_official_language_versions() -> None:
    name = "European Production Order Certificate"
    assert "injonction européenne de production" in translate(name, "fr")
    assert "Europäische Herausgabeanordnung" in translate(name, "de")


def test_non_latin_scripts() -> None:
    greek = translate("Draft", "el")
    cyrillic = translate("Draft", "uk")
    assert re.search(r"[\u0370-\u03ff]", greek), greek
    assert re.search(r"[\u0400-\u04ff]", cyrillic), cyrillic
    assert not re.search(r"[A-Za-z]", greek + cyrillic)


def test_placeholders_still_format() -> None:
    text = translate("Must be at most {max} characters.", "pl").format(max=100)
    assert "100" in text and "{" not in text


def test_negotiate() -> None:
    assert negotiate("de-CH,de;q=0.9,en;q=0.5") == "de"
    assert negotiate("fr-BE;q=0.4, uk;q=0.8") == "uk"
    assert negotiate("ja,zh;q=0.9") == "en"
    assert negotiate("") == "en"
    assert negotiate(None) == "en"


def test_extracts_python_and_jinja2_templates(tmp_path: Path) -> None:
    from rogatory.i18n.extract import source_messages

    package = tmp_path / "pkg"
    (package / "web" / "templates").mkdir(parents=True)
    (package / "mod.py").write_text('from x import N_\nA = N_("From code")\nB = f(_("Too"))\n')
    (package / "web" / "templates" / "page.html").write_text(
        '<h1>{{ _("From a template") }}</h1>{% trans %}A trans block{% endtrans %}\n'
    )
    found = {(m.msgid, m.location) for m in source_messages(package)}
    assert found == {
        ("From code", "pkg/mod.py"),
        ("Too", "pkg/mod.py"),
        ("From a template", "pkg/web/templates/page.html"),
        ("A trans block", "pkg/web/templates/page.html"),
    }
