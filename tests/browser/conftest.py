"""Browser tests of the portal: Playwright (Python) drives Debian's Chromium, headless.

Chromium is Debian's (`/usr/bin/chromium`, or `ROGATORY_CHROMIUM`): Playwright downloads no
browser. axe-core comes from npm (`package.json`, installed into `node_modules/` by `make test`);
nothing is downloaded while the tests run. Outside CI a missing Chromium or axe-core skips these
tests with the reason; under `CI=true` (`.ci/run`) it fails them: CI skips nothing.

Each test gets the node served on a free loopback port with the real clock (`live_server`), and
the users fr_prosecutor, fr_judge and de_provider with a password and an enrolled TOTP secret
(`accounts`). A TOTP code is accepted once per 30-second step per user, and the users are created
afresh for every test: log each user in once per test."""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from conftest import World
from rogatory.clock import SystemClock
from rogatory.identity import credentials
from rogatory.identity.models import User

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("ROGATORY_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
PASSWORD = "correct horse battery staple"
NODE_SECRET = "test-secret"  # the test settings' secret_key (tests/conftest.py)
USERS = ("fr_prosecutor", "fr_judge", "de_provider")
TIMEOUT_MS = 15_000  # for any one condition to come true; never a fixed sleep
BLOCKING_IMPACTS = ("serious", "critical")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip outside CI; fail under CI, where every browser test must run."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the browser tests may not be skipped; .ci/run "
                    "installs chromium and `make test` installs axe-core)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, one per test module."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium "
                    "chromium-driver, or set ROGATORY_CHROMIUM)")
    if not AXE.is_file():
        unavailable(f"axe-core not installed at {AXE.relative_to(REPO)} (run `npm ci`, or "
                    "`make test`)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def portal(live_server: str) -> str:
    """The base URL of the node under test."""
    return f"http://{live_server}"


@pytest.fixture
def accounts(factory: sessionmaker[Session], world: World) -> dict[str, str]:
    """A password and an enrolled TOTP secret for each of `USERS`: username → TOTP secret."""
    secrets: dict[str, str] = {}
    with factory() as session:
        for name in USERS:
            user = session.scalar(select(User).where(User.username == name))
            assert user is not None, name
            credentials.set_password(session=session, user=user, password=PASSWORD)
            enrolled = credentials.enroll_totp(session=session, user=user,
                                               node_secret=NODE_SECRET, issuer="Rogatory tests",
                                               clock=SystemClock())
            secrets[name] = enrolled.secret
        session.commit()
    return secrets


@dataclass
class Window:
    """One user's browser window (a context of its own: cookies are not shared), with every
    Content-Security-Policy violation and script error the pages reported."""

    context: BrowserContext
    page: Page
    problems: list[str] = field(default_factory=list)


@pytest.fixture
def windows(browser: Browser, portal: str) -> Iterator[dict[str, Window]]:
    """A window for each of `USERS`, at 1280 pixels wide, closed before the server stops (an
    open event stream would hold its shutdown)."""
    opened: dict[str, Window] = {}
    try:
        for name in USERS:
            context = browser.new_context(base_url=portal, viewport=VIEWPORT, locale="en-GB",
                                          timezone_id="UTC")
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            window = Window(context=context, page=page)
            page.on("console", lambda message, w=window: _console(w, message))
            page.on("pageerror", lambda error, w=window: w.problems.append(f"page error: {error}"))
            opened[name] = window
        yield opened
    finally:
        for window in opened.values():
            window.context.close()


def _console(window: Window, message: ConsoleMessage) -> None:
    if message.type == "error" and "Content Security Policy" in message.text:
        window.problems.append(f"{window.page.url}: {message.text}")


def log_in(page: Page, username: str, secret: str, *, keyboard: bool = False) -> None:
    """Log in on the login page with the password and the current TOTP code; with `keyboard`,
    by keys alone (the username field has the focus when the page opens)."""
    page.goto("/login")
    code = pyotp.TOTP(secret).now()
    if keyboard:
        page.wait_for_function("document.activeElement && document.activeElement.id === "
                               "'username'")
        for value in (username, PASSWORD, code):
            page.keyboard.type(value)
            page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent.trim()")
        assert focused == "Log in", focused
        with page.expect_navigation():
            page.keyboard.press("Enter")
    else:
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.fill("#code", code)
        with page.expect_navigation():
            page.click("form[action='/login'] button[type=submit]")
    assert page.url.endswith("/inbox"), page.url


@functools.cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8") + "\n;undefined"  # a statement, not a function


def check_accessibility(page: Page, name: str) -> None:
    """Run axe-core on the page as it is now; fail on any serious or critical violation,
    printing each with the elements concerned.

    axe is evaluated through the DevTools protocol, as @axe-core/playwright does: the portal's
    Content-Security-Policy (`script-src 'self'`) refuses the inline <script> that
    `page.add_script_tag(path=...)` would add, and we keep that policy in force (no
    `bypass_csp`) so that these tests also show the portal works under it."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    results: dict[str, Any] = page.evaluate(
        "async () => await window.axe.run(document, {resultTypes: ['violations']})")
    blocking = [v for v in results["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    if blocking:
        report = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                   "nodes": [{"target": n["target"], "summary": n.get("failureSummary", "")}
                             for n in v["nodes"]]} for v in blocking]
        print(f"axe-core violations on {name} ({page.url}):\n" + json.dumps(report, indent=2))
    assert not blocking, f"{name}: " + ", ".join(f"{v['id']} ({v['impact']})" for v in blocking)


def screenshot(page: Page, name: str) -> None:
    """Save docs/screenshots/<name>.png (the whole page, 1280 pixels wide); written to a
    temporary file and renamed, so parallel runs never leave half a file."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    data = page.screenshot(full_page=True, animations="disabled", caret="hide")
    fd, tmp = tempfile.mkstemp(dir=SCREENSHOTS, prefix=f".{name}-", suffix=".png")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, SCREENSHOTS / f"{name}.png")
