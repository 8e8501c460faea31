"""`rogatory verify DIR [--json]`: check an evidence package offline (nothing from the issuing
node, no network) and say in plain language whether it is intact and, if not, exactly what
differs. Exit code 0 when intact, 1 when not. Register it on the root app with
`app.command("verify")(verify)`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer


def verify(
    path: Annotated[Path, typer.Argument(help="The package folder (a BagIt bag)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Verify an evidence package: payload and manifest hashes, the signed checkpoint, every
    custody event's inclusion proof and every timestamp token."""
    from rogatory.evidence.verify import verify_package

    report = verify_package(path)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(report.text() + "\n")
    raise typer.Exit(0 if report.intact else 1)
