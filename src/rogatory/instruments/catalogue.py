"""Loads and indexes the instrument definition files in `definitions/`; adding a treaty is adding
a file. A file that breaks the schema stops the load with its name and the field at fault."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from rogatory.errors import CatalogueError, NotFound
from rogatory.instruments.schema import Instrument

DEFINITIONS = Path(__file__).parent / "definitions"


def load_file(path: Path) -> Instrument:
    """Parse one definition file, naming the file and field on any error."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path.name}: not valid YAML: {exc}") from exc
    try:
        instrument = Instrument.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise CatalogueError(f"{path.name}: {where}: {message}" if where
                             else f"{path.name}: {message}") from exc
    if instrument.code != path.stem:
        raise CatalogueError(f"{path.name}: code '{instrument.code}' must match the file name")
    return instrument


def load_directory(folder: Path) -> dict[str, Instrument]:
    return {p.stem: load_file(p) for p in sorted(folder.glob("*.yaml"))}


@cache
def catalogue() -> dict[str, Instrument]:
    """Every shipped instrument, by code (loaded once)."""
    return load_directory(DEFINITIONS)


def get(code: str) -> Instrument:
    try:
        return catalogue()[code]
    except KeyError:
        raise NotFound(f"unknown instrument '{code}'") from None
