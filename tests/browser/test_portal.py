"""The portal in a real browser, on SQLite and PostgreSQL: an EPOC from FR to DE drafted,
validated, sent, acknowledged and executed by three users in three windows, the issuing
prosecutor watching the provider's steps arrive live; evidence uploaded with its hashes; the
language switched. axe-core checks every main page, and each is saved under docs/screenshots/."""

from __future__ import annotations

import hashlib
import re
import zipfile

from playwright.sync_api import Locator, Page, expect

from browser.conftest import (
    TIMEOUT_MS,
    USERS,
    Window,
    check_accessibility,
    log_in,
    screenshot,
)
from conftest import World
from rogatory.i18n import translate
from rogatory.requests.enums import State, Verb
from rogatory.requests.labels import label

expect.set_options(timeout=TIMEOUT_MS)

FORM = {  # the EPOC's required fields (Annex I), in French: the draft is in the issuer's language
    "issuing_file_number": "PARQUET-J3-2026-0500",
    "addressee_name": "Atlas Hosting GmbH",
    "identifiers": "Compte ops-lockstorm@atlas-hosting.example, 1-3 novembre 2026",
    "offence_description": "Rançongiciel contre trois hôpitaux (art. 323-1 code pénal)",
    "necessity_and_proportionality": "Seule piste pour identifier l'administrateur.",
    "transfer_to_authority": "Parquet de Paris, J3",
    "contact_email": "j3@parquet-paris.example",
}
CHOICES = {"addressee_capacity": "legal_representative"}
TRANSLATIONS = {  # into German, which Atlas Hosting accepts (with English)
    "offence_description": "Ransomware-Angriff auf drei Krankenhäuser (Art. 323-1 frz. StGB)",
    "necessity_and_proportionality": "Einziger Ansatz, um den Administrator zu identifizieren.",
}
FORWARD = (Verb.EXECUTE, Verb.BEGIN_EXECUTION, Verb.BEGIN_REVIEW, Verb.ACKNOWLEDGE)
"""The executing side's verbs that carry an order forward, the furthest first: the provider
follows the action buttons by taking the furthest one its page offers."""
EVIDENCE = b"LockStorm ransom note, as seized at the Lyon hospital.\n" * 64


def en(value: State | Verb) -> str:
    return label(value, "en")


def offered(page: Page) -> list[str]:
    """The verbs of the action buttons on a request page."""
    return page.locator("button[data-verb]").evaluate_all(
        "buttons => buttons.map(b => b.dataset.verb)")


def act(page: Page, verb: Verb, reason: str = "") -> None:
    """Perform `verb` with the page's action form (its <details> opened by a click if closed),
    then check the page came back without a failure."""
    form = page.locator(f"form[action$='/act']:has(input[name=verb][value={verb.value}])")
    details = page.locator(f"details.action:has(input[name=verb][value={verb.value}])")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    if reason:
        form.locator("textarea[name=reason]").fill(reason)
    with page.expect_navigation():
        form.locator(f"button[data-verb={verb.value}]").click()
    expect(page.locator(".alert")).to_have_count(0)


def timeline(page: Page) -> Locator:
    return page.locator("#timeline > li")


def test_an_epoc_from_draft_to_executed_in_three_windows(
        windows: dict[str, Window], accounts: dict[str, str], world: World) -> None:
    prosecutor, judge, provider = (windows[name] for name in USERS)
    pro = prosecutor.page

    # --- the login page, then the prosecutor's desk -----------------------------------------
    pro.goto("/login")
    expect(pro.locator("html")).to_have_attribute("lang", "en")
    check_accessibility(pro, "login")
    screenshot(pro, "login")
    log_in(pro, "fr_prosecutor", accounts["fr_prosecutor"])
    expect(pro.locator("h1")).to_have_text("Prosecutor's desk")
    check_accessibility(pro, "inbox (prosecutor)")

    # --- the wizard: what and where; the finder proposes the EPOC to Atlas Hosting ----------
    with pro.expect_navigation():
        pro.click("header nav a[href='/requests/new']")
    pro.select_option("#w-requested", "DE")
    pro.select_option("#w-measure", "production")
    pro.select_option("#w-category", "subscriber")
    with pro.expect_navigation():
        pro.click("form[action='/requests/new'][method=get] button[type=submit]")
    proposal = pro.locator("article.proposal").filter(
        has=pro.locator("input[name=executing_authority_id][value=de-atlas-hosting]"))
    expect(proposal).to_have_count(1)
    expect(proposal.locator("input[name=instrument]")).to_have_value("epoc")
    proposal.locator("select[name=case_reference]").select_option(world.case_reference)
    proposal.locator("select[name=validating_authority_id]").select_option(
        "fr-tj-paris-instruction")  # the investigating judge's court validates
    expect(proposal.locator("input[name=data_categories][value=subscriber]")).to_be_checked()
    check_accessibility(pro, "wizard with proposals")
    screenshot(pro, "wizard")
    with pro.expect_navigation():
        proposal.locator("button[type=submit]").click()
    found = re.search(r"/requests/([^/]+)/edit$", pro.url)
    assert found, pro.url
    request_id = found.group(1)
    reference = pro.locator("h1").evaluate("h => h.firstChild.textContent.trim()")
    assert reference.startswith("EPOC-FRDE-"), reference

    # --- the form: inline validation first, then the required fields -------------------------
    pro.click("button[name=then][value=review]")
    first = pro.locator("#f-issuing_file_number")
    expect(pro.locator("#f-issuing_file_number-error")).to_be_visible()
    expect(first).to_be_focused()
    expect(first).to_have_attribute("aria-invalid", "true")
    expect(first).to_have_attribute("aria-required", "true")  # the "*" is not read out
    assert pro.url.endswith("/edit")  # nothing was sent
    check_accessibility(pro, "edit page (inline errors)")
    for name, value in FORM.items():
        pro.fill(f"#f-{name}", value)
    for name, value in CHOICES.items():
        pro.select_option(f"#f-{name}", value)
    pro.check("#f-subscriber_data_items-identity")
    expect(pro.locator("#f-issuing_file_number-error")).to_be_hidden()
    expect(pro.locator(".field.invalid")).to_have_count(0)
    check_accessibility(pro, "edit page")
    screenshot(pro, "edit")
    with pro.expect_navigation():
        pro.click("button[name=then][value=review]")
    assert pro.url.endswith(f"/requests/{request_id}"), pro.url
    expect(pro.locator("#state")).to_have_text(en(State.DRAFT))

    # --- review in both languages: the translations the page asks for -----------------------
    forms = pro.locator("form.translation")
    expect(forms).to_have_count(len(TRANSLATIONS))  # French free text; Atlas reads de or en
    expect(pro.locator("table.bilingual th[lang=de]").first).to_be_visible()
    check_accessibility(pro, "request page (draft, translations asked)")
    screenshot(pro, "request-draft")
    for _ in TRANSLATIONS:
        form = forms.first
        field = form.locator("input[name=field]").get_attribute("value")
        assert field in TRANSLATIONS, field
        expect(form.locator("input[name=language]")).to_have_value("de")
        form.locator("textarea[name=text]").fill(TRANSLATIONS[field])
        with pro.expect_navigation():
            form.locator("button[type=submit]").click()
        expect(pro.locator(".alert")).to_have_count(0)
        expect(pro.locator(f"td[lang=de]:has-text('{TRANSLATIONS[field][:20]}')")).to_have_count(1)
    expect(forms).to_have_count(0)
    act(pro, Verb.SUBMIT)
    expect(pro.locator("#state")).to_have_text(en(State.VALIDATION))

    # --- the investigating judge validates (logged in by keyboard alone) --------------------
    jp = judge.page
    log_in(jp, "fr_judge", accounts["fr_judge"], keyboard=True)
    expect(jp.locator("h1")).to_have_text("Validation queue")
    expect(jp.locator(".tabs a[aria-current=page]")).to_contain_text("To validate")
    check_accessibility(jp, "inbox (judge)")
    screenshot(jp, "inbox-judge")
    with jp.expect_navigation():
        jp.click(f"table.requests a:text-is('{reference}')")
    before = timeline(pro).count()
    act(jp, Verb.VALIDATE, reason="Necessary and proportionate: the only lead.")
    expect(jp.locator("#state")).to_have_text(en(State.ISSUED))
    # the prosecutor's open page hears of it without reloading, and says so
    expect(timeline(pro)).to_have_count(before + 1)
    expect(pro.locator("#state")).to_have_text(en(State.ISSUED))
    expect(pro.locator("#live-notice")).to_be_visible()
    with pro.expect_navigation():
        pro.click("#live-notice a")
    act(pro, Verb.SEND)
    expect(pro.locator("#state")).to_have_text(en(State.RECEIVED))
    expect(pro.locator("table .countdown")).to_have_count(1)  # the 10-day execution deadline

    # --- the provider works through it; the prosecutor's page follows live ------------------
    pp = provider.page
    log_in(pp, "de_provider", accounts["de_provider"])
    expect(pp.locator("h1")).to_have_text("Provider inbox")
    expect(pp.locator("table.requests")).to_contain_text(reference)
    check_accessibility(pp, "inbox (provider)")
    screenshot(pp, "inbox")
    # keyboard: the first Tab reaches the skip link, which takes the focus to the content
    pp.keyboard.press("Tab")
    skip = pp.locator("a.skip")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, box  # on screen once focused
    pp.keyboard.press("Enter")
    expect(pp.locator("main#main")).to_be_focused()
    # keyboard: arrow keys move through the languages without reloading the page (WCAG 3.2.2);
    # Enter applies the choice (form.submit() is stubbed here, to see whether it is called)
    pp.evaluate("() => { HTMLFormElement.prototype.submit = function () { "
                "window.__submitted = this.querySelector('select').value; }; }")
    pp.focus("#language")
    pp.keyboard.press("ArrowDown")
    expect(pp.locator("#language")).to_have_value("fr")
    assert pp.evaluate("window.__submitted") is None
    pp.keyboard.press("ArrowUp")
    pp.keyboard.press("Enter")
    assert pp.evaluate("window.__submitted") == "en"
    with pp.expect_navigation():
        pp.click(f"table.requests a:text-is('{reference}')")
    check_accessibility(pp, "request page (provider)")

    pro.evaluate("window.__samePage = true")  # gone if the prosecutor's page were reloaded
    seen = timeline(pro).count()
    done: list[Verb] = []
    while (state := pp.locator("#state").inner_text()) != en(State.EXECUTED):
        assert len(done) < len(FORWARD), (done, state)
        verbs = offered(pp)
        verb = next((v for v in FORWARD if v.value in verbs), None)
        assert verb is not None, (state, verbs)
        act(pp, verb, reason="Data located and extracted." if verb is Verb.EXECUTE else "")
        done.append(verb)
        seen += 1
        expect(timeline(pro)).to_have_count(seen)
        expect(timeline(pro).last.locator(".what")).to_have_text(en(verb))
    assert done == [Verb.ACKNOWLEDGE, Verb.BEGIN_REVIEW, Verb.BEGIN_EXECUTION, Verb.EXECUTE]
    expect(pro.locator("#state")).to_have_text(en(State.EXECUTED))
    expect(timeline(pro).last.locator(".to")).to_contain_text(en(State.EXECUTED))
    expect(pro.locator("#live-notice")).to_be_visible()
    assert pro.evaluate("window.__samePage === true")  # no reload happened
    check_accessibility(pro, "request page (live updates)")
    screenshot(pro, "request-live")

    # --- evidence: upload with a progress bar, hashes computed on arrival -------------------
    pro.set_input_files("#upload-file", files=[{
        "name": "ransom-note.txt", "mimeType": "text/plain", "buffer": EVIDENCE}])
    pro.click("#upload button[type=submit]")
    sha256 = hashlib.sha256(EVIDENCE).hexdigest()
    shown = pro.locator("#upload-result code.hash").first
    expect(shown).to_have_text(sha256)
    expect(pro.locator("#upload-progress")).to_be_visible()
    assert pro.locator("#upload-progress").evaluate("p => p.value") == 100
    expect(pro.locator("#upload-result")).to_contain_text("BLAKE3")
    assert pro.evaluate("window.__samePage === true")
    with pro.expect_navigation():
        pro.click("#upload-result a")
    assert "/evidence/" in pro.url
    expect(pro.locator("dl.hashes code.hash").first).to_have_text(sha256)
    expect(pro.locator("dl.hashes")).to_contain_text(str(len(EVIDENCE)))
    expect(pro.locator("ol.timeline > li")).not_to_have_count(0)  # the custody chain
    check_accessibility(pro, "evidence page")
    screenshot(pro, "evidence")
    with pro.expect_download() as downloading:  # the court package, with the file in it
        pro.click("a[href$='/package']")
    with zipfile.ZipFile(downloading.value.path()) as package:
        assert any(package.read(n) == EVIDENCE for n in package.namelist()
                   if not n.endswith("/")), package.namelist()

    # --- the request page as it ends, and the dashboard -------------------------------------
    pro.goto(f"/requests/{request_id}")
    expect(pro.locator("#evidence-table")).to_contain_text(sha256)
    check_accessibility(pro, "request page (executed, with evidence)")
    screenshot(pro, "request")
    with pro.expect_navigation():
        pro.click("header nav a[href='/dashboard']")
    expect(pro.locator(".chart svg")).to_have_count(2)
    expect(pro.locator("#by-state-d")).to_contain_text(f"{en(State.EXECUTED)}: 1")
    check_accessibility(pro, "dashboard")
    screenshot(pro, "dashboard")

    # --- the language, switched with the header's switcher (it submits on change) -----------
    pro.goto(f"/requests/{request_id}")
    with pro.expect_navigation():
        pro.select_option("#language", "fr")
    assert pro.url.endswith(f"/requests/{request_id}"), pro.url
    expect(pro.locator("html")).to_have_attribute("lang", "fr")
    expect(pro.locator("#language")).to_have_value("fr")
    executed_fr = label(State.EXECUTED, "fr")
    assert executed_fr != en(State.EXECUTED)
    expect(pro.locator("#state")).to_have_text(executed_fr)
    expect(pro.locator("#timeline-h")).to_contain_text(translate("Timeline", "fr"))
    expect(timeline(pro).last.locator(".what")).to_have_text(label(Verb.EXECUTE, "fr"))
    check_accessibility(pro, "request page (French)")
    pro.goto("/inbox")  # remembered on the account
    expect(pro.locator("html")).to_have_attribute("lang", "fr")

    # the pages ran under the portal's Content-Security-Policy without a complaint
    for name, window in windows.items():
        assert not window.problems, (name, window.problems)
