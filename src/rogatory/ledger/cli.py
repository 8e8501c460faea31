"""`rogatory ledger`: signed checkpoints, inclusion proofs and the full audit of the node's log."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from rogatory.bootstrap import ensure_node_key
from rogatory.config import Settings
from rogatory.ledger import service

app = typer.Typer(help="The node's tamper-evident ledger (RFC 9162).", no_args_is_help=True)


@app.command()
def checkpoint() -> None:
    """Print a signed checkpoint of the ledger now (C2SP signed note) and the verifier key."""
    from rogatory.cli import _run, _session

    def body() -> None:
        settings = Settings()
        key = ensure_node_key(settings)
        with _session() as session:
            note = service.signed_checkpoint(session=session, node_name=settings.node_name,
                                             key=key)
        sys.stdout.write(note)
        vkey = service.verifier_key(node_name=settings.node_name, key=key)
        sys.stderr.write(f"verifier key: {vkey}\n")

    _run(body)


@app.command()
def prove(index: int, size: Annotated[int | None, typer.Option()] = None) -> None:
    """The inclusion proof of leaf INDEX (JSON, hashes in base64), checked before printing."""
    from rogatory.cli import _run, _session

    def body() -> None:
        with _session() as session:
            result = service.prove(session=session, index=index, size=size)
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")

    _run(body)


@app.command()
def verify(
    checkpoint_file: Annotated[Path | None, typer.Option(
        "--checkpoint", help="A checkpoint this node signed earlier: the log must extend it")
    ] = None,
) -> None:
    """Recompute every hash of the log from its leaves; exit 1 naming what differs."""
    from rogatory.cli import _run, _session, console

    def body() -> None:
        settings = Settings()
        with _session() as session:
            size = service.audit(session=session)
            console.print(f"ledger intact: {size} leaves, every hash recomputed")
            if checkpoint_file is not None:
                old = service.check_checkpoint(
                    session=session, note=checkpoint_file.read_text(encoding="utf-8"),
                    node_name=settings.node_name, key=ensure_node_key(settings))
                console.print(f"checkpoint of {old.size} leaves: signature valid, and the log "
                              "today is consistent with it")

    _run(body)
