"""Checks a request's form values against its instrument's typed sections. Pure: returns the
field errors (messages are English msgids, translated when shown)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from rogatory.errors import FieldError
from rogatory.i18n import N_
from rogatory.instruments.schema import FormField, Instrument

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
COUNTRY = re.compile(r"^[A-Z]{2}$")

MSG_REQUIRED = N_("This field is required.")
MSG_UNKNOWN_FIELD = N_("This form has no field of that name.")
MSG_TEXT = N_("Must be text.")
MSG_TOO_LONG = N_("Must be at most {max} characters.")
MSG_INTEGER = N_("Must be a whole number.")
MSG_BOOLEAN = N_("Must be true or false.")
MSG_DATE = N_("Must be a date (YYYY-MM-DD).")
MSG_DATETIME = N_("Must be a date and time with a time zone (ISO 8601).")
MSG_CHOICE = N_("Must be one of: {choices}.")
MSG_EMAIL = N_("Must be an e-mail address.")
MSG_COUNTRY = N_("Must be a two-letter country code.")


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _check(spec: FormField, value: Any) -> FieldError | None:
    name = f"form.{spec.name}"
    if spec.type in ("string", "text", "email", "country"):
        if not isinstance(value, str):
            return FieldError(name, MSG_TEXT)
        if spec.max_length and len(value) > spec.max_length:
            return FieldError(name, MSG_TOO_LONG, {"max": spec.max_length})
        if spec.type == "email" and not EMAIL.match(value):
            return FieldError(name, MSG_EMAIL)
        if spec.type == "country" and not COUNTRY.match(value):
            return FieldError(name, MSG_COUNTRY)
    elif spec.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return FieldError(name, MSG_INTEGER)
    elif spec.type == "boolean":
        if not isinstance(value, bool):
            return FieldError(name, MSG_BOOLEAN)
    elif spec.type == "date":
        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            return FieldError(name, MSG_DATE)
    elif spec.type == "datetime":
        try:
            parsed = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return FieldError(name, MSG_DATETIME)
        if parsed.tzinfo is None:
            return FieldError(name, MSG_DATETIME)
    elif spec.type == "choice":
        if value not in (spec.choices or []):
            return FieldError(name, MSG_CHOICE, {"choices": ", ".join(spec.choices or [])})
    elif spec.type == "multichoice" and (
        not isinstance(value, list) or not set(value) <= set(spec.choices or [])
    ):
        return FieldError(name, MSG_CHOICE, {"choices": ", ".join(spec.choices or [])})
    return None


def check_form(
    instrument: Instrument, form: dict[str, Any], *, complete: bool
) -> list[FieldError]:
    """Errors in `form`; with `complete`, missing required fields are errors too."""
    errors: list[FieldError] = []
    known = {f.name for s in instrument.sections for f in s.fields}
    errors += [FieldError(f"form.{k}", MSG_UNKNOWN_FIELD) for k in sorted(form) if k not in known]
    for section in instrument.sections:
        for spec in section.fields:
            value = form.get(spec.name)
            if _empty(value):
                if complete and spec.required:
                    errors.append(FieldError(f"form.{spec.name}", MSG_REQUIRED))
                continue
            error = _check(spec, value)
            if error:
                errors.append(error)
    return errors


def translatable_fields(instrument: Instrument, form: dict[str, Any]) -> list[str]:
    """Free-text fields with a value that the requested state must read in its language."""
    return [
        f.name
        for s in instrument.sections
        for f in s.fields
        if f.translate and not _empty(form.get(f.name))
    ]
