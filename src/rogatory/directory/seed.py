"""Loads the directory seed files (`data/jurisdictions.yaml`, `data/authorities.yaml`) into the
frozen views of `rogatory.directory.info`, checking every entry first.

A bad file stops the load with `ValidationFailed`, one `FieldError` per fault, each naming the
entry and the field, e.g. `jurisdictions[DK].timezone` or `authorities[fr-judge].rank`.

Checks: ISO 3166-1 alpha-2 codes (quoted in YAML: an unquoted `NO` reads as false), ISO 639-1
language codes, IANA time zones known to `zoneinfo`, binding keys from `BINDING_KEYS` (an
unverified binding must carry a note saying why), bilateral MLA partners that exist and list
each other, authority ids that are unique slugs, authorities in a known jurisdiction, and
`AuthorityKind` / `Rank` values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rogatory.directory.enums import AuthorityKind
from rogatory.directory.info import AuthorityInfo, Binding, JurisdictionInfo
from rogatory.errors import FieldError, ValidationFailed
from rogatory.requests.enums import Rank

DATA = Path(__file__).parent / "data"
DEFAULT_JURISDICTIONS = DATA / "jurisdictions.yaml"
DEFAULT_AUTHORITIES = DATA / "authorities.yaml"

BINDING_KEYS = frozenset(
    {"eu_e_evidence", "eio", "budapest", "budapest_sap", "jit", "extradition", "eu_freezing"}
)
"""The instrument families a jurisdiction can be bound by (each instrument's `binding`)."""

_ALPHA2 = re.compile(r"^[A-Z]{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CHANNEL = re.compile(r"^[a-z0-9][a-z0-9/-]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


def _fault(field: str, text: str) -> FieldError:
    """A `FieldError` whose message is literal text (braces escaped: it is formatted when shown)."""
    return FieldError(field, text.replace("{", "{{").replace("}", "}}"))


def _alpha2(value: str) -> str:
    if not _ALPHA2.match(value):
        raise ValueError(f"'{value}' is not an ISO 3166-1 alpha-2 code (two capital letters)")
    return value


def _languages(values: list[str]) -> list[str]:
    for value in values:
        if not _LANGUAGE.match(value):
            raise ValueError(f"'{value}' is not an ISO 639-1 language code (two small letters)")
    if len(set(values)) != len(values):
        raise ValueError("a language is listed twice")
    return values


class _Strict(BaseModel):
    """Unknown fields are errors; jurisdictions are read strictly (no "yes" for true), authorities
    laxly so that `kind` and `rank` may be written as their enum values."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _BindingIn(_Strict):
    key: str
    verified: bool = True
    note: str | None = None

    @field_validator("key")
    @classmethod
    def _known_key(cls, value: str) -> str:
        if value not in BINDING_KEYS:
            known = ", ".join(sorted(BINDING_KEYS))
            raise ValueError(f"unknown binding key '{value}'; known: {known}")
        return value


class _JurisdictionIn(_Strict):
    code: str
    name: str = Field(min_length=2)
    languages: list[str] = Field(min_length=1)
    timezone: str
    bindings: list[_BindingIn] = []
    bilateral_mla: list[str] = []

    _code = field_validator("code")(_alpha2)
    _languages = field_validator("languages")(_languages)

    @field_validator("timezone")
    @classmethod
    def _real_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not an IANA time zone known to zoneinfo") from None
        return value

    @field_validator("bilateral_mla")
    @classmethod
    def _partners(cls, values: list[str]) -> list[str]:
        for value in values:
            _alpha2(value)
        return values


class _AuthorityIn(_Strict):
    id: str
    jurisdiction: str
    name: str = Field(min_length=2)
    kind: AuthorityKind
    rank: Rank | None = None
    languages: list[str] = []
    channels: list[str] = []
    email: str | None = None

    _jurisdiction = field_validator("jurisdiction")(_alpha2)
    _languages = field_validator("languages")(_languages)

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(f"'{value}' is not a slug (small letters, digits and hyphens)")
        return value

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _CHANNEL.match(value):
                raise ValueError(f"'{value}' is not a channel name (e.g. 'e-codex', 'email')")
        return values

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError(f"'{value}' is not an e-mail address")
        return value


def _read(path: Path, top: str) -> list[Any]:
    """The list under `top` in a YAML file, or `ValidationFailed` naming what is wrong."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationFailed([_fault(top, f"{path}: cannot be read: {exc}")]) from exc
    except yaml.YAMLError as exc:
        raise ValidationFailed([_fault(top, f"{path.name}: not valid YAML: {exc}")]) from exc
    if not isinstance(raw, dict) or not isinstance(raw.get(top), list):
        raise ValidationFailed([_fault(top, f"{path.name}: needs a top-level list '{top}'")])
    entries: list[Any] = raw[top]
    return entries


def _label(top: str, index: int, entry: Any, id_field: str) -> str:
    """`jurisdictions[DK]` when the entry has a usable id, else `jurisdictions[#3]`."""
    ident = entry.get(id_field) if isinstance(entry, dict) else None
    return f"{top}[{ident}]" if isinstance(ident, str) and ident else f"{top}[#{index}]"


def _enum_hint(entry: Any, loc: tuple[int | str, ...], message: str) -> str:
    """Say why a bare `NO`/`ON`/`YES` broke: YAML 1.1 reads it as a boolean."""
    value: Any = entry
    for part in loc:
        if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
            continue
        if not isinstance(value, dict) or part not in value:
            return message
        value = value[part]
    if isinstance(value, bool):
        return f'{message} (got {value}: quote country codes such as "NO" in YAML)'
    return message


def _errors(label: str, entry: Any, exc: ValidationError) -> list[FieldError]:
    out: list[FieldError] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc)
        message = str(err["msg"]).removeprefix("Value error, ")
        out.append(_fault(f"{label}.{where}" if where else label, _enum_hint(entry, loc, message)))
    return out


_Entry = TypeVar("_Entry", bound=BaseModel)


def _parse_entries(entries: list[Any], model: type[_Entry], kind: str, key: str, *,
                   strict: bool) -> tuple[list[tuple[str, _Entry]], list[FieldError]]:
    """Each entry checked against `model`: the parsed ones with their labels, and every fault
    named by entry (e.g. `jurisdictions[DK].timezone`)."""
    errors: list[FieldError] = []
    parsed: list[tuple[str, _Entry]] = []
    for index, entry in enumerate(entries):
        label = _label(kind, index, entry, key)
        try:
            parsed.append((label, model.model_validate(entry, strict=strict)))
        except ValidationError as exc:
            errors.extend(_errors(label, entry, exc))
    return parsed, errors


def load_jurisdictions(path: Path = DEFAULT_JURISDICTIONS) -> dict[str, JurisdictionInfo]:
    """Every jurisdiction in the seed file, by alpha-2 code, after checking each entry."""
    parsed, errors = _parse_entries(_read(path, "jurisdictions"), _JurisdictionIn,
                                    "jurisdictions", "code", strict=True)

    codes = [item.code for _, item in parsed]
    for label, item in parsed:
        if codes.count(item.code) > 1:
            errors.append(_fault(f"{label}.code", f"'{item.code}' is listed more than once"))
        keys = [b.key for b in item.bindings]
        for i, binding in enumerate(item.bindings):
            if keys.count(binding.key) > 1:
                errors.append(
                    _fault(f"{label}.bindings.{i}.key", f"'{binding.key}' is listed twice")
                )
            if not binding.verified and not (binding.note and binding.note.strip()):
                errors.append(
                    _fault(
                        f"{label}.bindings.{i}.note",
                        f"binding '{binding.key}' is unverified: its note must say why",
                    )
                )
    by_code = {item.code: item for _, item in parsed}
    for label, item in parsed:
        for i, partner in enumerate(item.bilateral_mla):
            field = f"{label}.bilateral_mla.{i}"
            if partner == item.code:
                errors.append(_fault(field, "a state is not its own treaty partner"))
            elif partner not in by_code:
                errors.append(_fault(field, f"unknown jurisdiction '{partner}'"))
            elif item.code not in by_code[partner].bilateral_mla:
                errors.append(
                    _fault(
                        field,
                        f"'{partner}' does not list '{item.code}' back: a treaty binds both",
                    )
                )
    if errors:
        raise ValidationFailed(errors)
    return {
        item.code: JurisdictionInfo(
            code=item.code,
            name=item.name,
            languages=tuple(item.languages),
            timezone=item.timezone,
            bindings=tuple(Binding(b.key, b.verified, b.note) for b in item.bindings),
            bilateral_mla=tuple(item.bilateral_mla),
        )
        for _, item in parsed
    }


def load_authorities(
    path: Path = DEFAULT_AUTHORITIES,
    *,
    jurisdictions: Mapping[str, JurisdictionInfo] | None = None,
) -> list[AuthorityInfo]:
    """Every authority in the seed file, in file order (the finder's order of preference).

    Each must belong to a jurisdiction in `jurisdictions` (default: the shipped seed)."""
    known = jurisdictions if jurisdictions is not None else load_jurisdictions()
    parsed, errors = _parse_entries(_read(path, "authorities"), _AuthorityIn, "authorities",
                                    "id", strict=False)

    ids = [item.id for _, item in parsed]
    for label, item in parsed:
        if ids.count(item.id) > 1:
            errors.append(_fault(f"{label}.id", f"'{item.id}' is used more than once"))
        if item.jurisdiction not in known:
            errors.append(
                _fault(f"{label}.jurisdiction", f"unknown jurisdiction '{item.jurisdiction}'")
            )
    if errors:
        raise ValidationFailed(errors)
    return [
        AuthorityInfo(
            id=item.id,
            jurisdiction=item.jurisdiction,
            name=item.name,
            kind=item.kind,
            rank=item.rank,
            languages=tuple(item.languages),
            channels=tuple(item.channels),
            email=item.email,
        )
        for _, item in parsed
    ]
