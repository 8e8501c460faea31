"""How the portal renders: one Jinja2 environment (autoescaped), the reader's language and
time zone, dates in the reader's locale with UTC on hover, and the session's CSRF token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from rogatory.clock import ensure_utc
from rogatory.deps import language_for, session_cookie_name
from rogatory.i18n import LANGUAGES, N_, translate
from rogatory.identity import service as identity
from rogatory.identity.policy import Actor
from rogatory.requests import deadlines as dl
from rogatory.requests.enums import DataCategory, Side, State, Verb
from rogatory.requests.labels import label

MSG_LEFT = N_("{time} left")
MSG_OVERDUE = N_("overdue by {time}")
EVENT_LABELS = {
    "create": N_("Draft opened"),
    "edit_draft": N_("Draft edited"),
    "translate": N_("Translation provided"),
    "deadline_breached": N_("Deadline breached"),
    "deadline_expired": N_("Preservation period ended"),
}
"""Timeline entries that are not workflow verbs (those have their label in `labels`)."""
TEMPLATES = Path(__file__).parent / "templates"
ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Reader:
    """Who reads the page: language and time zone (the user's own once logged in)."""

    language: str
    timezone: str

    def _(self, msgid: str, **params: Any) -> str:
        text = translate(msgid, self.language)
        return text.format(**params) if params else text

    def when(self, value: datetime | None, fmt: str = "medium") -> Markup:
        """A `<time>` in the reader's locale and zone; the exact UTC instant on hover."""
        if value is None:
            return Markup("—")
        utc = ensure_utc(value)
        local = format_datetime(utc, format=fmt, tzinfo=zone(self.timezone),
                                locale=self.language)
        iso = utc.isoformat().replace("+00:00", "Z")
        return Markup('<time datetime="{0}" title="{0} UTC">{1}</time>').format(
            iso, escape(local))

    def label(self, value: Any) -> str:
        return label(value, self.language)

    def event(self, verb: str) -> str:
        """The name of a timeline entry in the reader's language."""
        if verb in EVENT_LABELS:
            return translate(EVENT_LABELS[verb], self.language)
        try:
            return label(Verb(verb), self.language)
        except ValueError:
            return verb.replace("_", " ")

    def event_labels(self) -> dict[str, str]:
        """Every timeline entry's name, for the live timeline's script."""
        names = {v.value: label(v, self.language) for v in Verb}
        names.update({k: translate(m, self.language) for k, m in EVENT_LABELS.items()})
        return names

    def state_labels(self) -> dict[str, str]:
        return {s.value: label(s, self.language) for s in State}

    def countdown(self, due: datetime | None, now: datetime) -> Markup:
        """Time left to a deadline, kept counting in the page by `portal.js`."""
        if due is None:
            return Markup("—")
        count = dl.countdown(due, now)
        seconds = int(abs(count.remaining).total_seconds())
        days, rest = divmod(seconds, 86400)
        hours, minutes = rest // 3600, (rest % 3600) // 60
        body = f"{days}d {hours:02d}h {minutes:02d}m" if days else f"{hours}h {minutes:02d}m"
        left, overdue = translate(MSG_LEFT, self.language), translate(MSG_OVERDUE,
                                                                       self.language)
        text = (overdue if count.overdue else left).format(time=body)
        return Markup('<span class="countdown{0}" data-due="{1}" data-left="{2}" '
                      'data-overdue="{3}">{4}</span>').format(
            " overdue" if count.overdue else "", count.due.isoformat(), left, overdue, text)


def reader_for(request: Request, actor: Actor | None) -> Reader:
    return Reader(language=language_for(request, actor),
                  timezone=actor.timezone if actor else "UTC")


def csrf_for(request: Request) -> str:
    """The CSRF token of the current web session ('' without one)."""
    settings = request.app.state.settings
    cookie = request.cookies.get(session_cookie_name(settings))
    return identity.csrf_token(settings.secret_key.get_secret_value(), cookie) if cookie else ""


def page(request: Request, template: str, actor: Actor | None, status: int = 200,
         **context: Any) -> HTMLResponse:
    """Render `template` for `actor` (None on the login page)."""
    reader = context.pop("reader", None) or reader_for(request, actor)
    here = context.pop("here", None) or (
        str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
        if request.method == "GET" else "/inbox")  # where the language switch comes back to
    html = ENV.get_template(template).render(
        request=request, actor=actor, reader=reader, _=reader._, when=reader.when,
        label=reader.label, countdown=reader.countdown, event=reader.event,
        csrf=context.pop("csrf", None) or csrf_for(request),
        languages=LANGUAGES, path=request.url.path, here=here, side_enum=Side, state_enum=State,
        verb_enum=Verb, category_enum=DataCategory, **context)
    return HTMLResponse(html, status_code=status,
                        headers={"Cache-Control": "no-store", "Content-Language": reader.language})
