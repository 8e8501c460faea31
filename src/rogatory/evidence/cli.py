"""`rogatory evidence`: ingest files into a case (with a progress bar showing throughput), list
a case's items, show one, and print its chain of custody. Each file is ingested in a unit of
work of its own; a refused claimed hash is recorded in a transaction of its own."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from rogatory.clock import SystemClock
from rogatory.timestamp.client import timestamper

app = typer.Typer(help="The evidence vault: ingest, list, show, custody.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]
AsOpt = Annotated[str, typer.Option("--as", envvar="ROGATORY_USER",
                                    help="Act as this user (the node's operator acts for them)")]


def _item_dict(session: Any, item: Any, withheld: dict[str, str] | None = None) -> dict[str, Any]:
    """An item as the API shows it, with why it is withheld, if it is (`withheld`: the case's
    withheld exhibits, read here when not given)."""
    from rogatory.evidence.api import EvidenceRead
    from rogatory.safeguards import records

    if withheld is None:
        withheld = records.withheld_exhibits(session, item.case_id)
    return EvidenceRead.of(item, withheld).model_dump(mode="json")


def _event_dict(event: Any) -> dict[str, Any]:
    from rogatory.evidence.api import CustodyRead

    return CustodyRead.model_validate(event).model_dump(mode="json")


class _ProgressReader:
    """The file, read with `readinto` into the store's buffers (no copy, no allocation per
    chunk), advancing the progress bar."""

    def __init__(self, fh: io.FileIO, progress: Progress, task: Any) -> None:
        self._fh, self._progress, self._task = fh, progress, task

    def readinto(self, buffer: bytearray | memoryview, /) -> int | None:
        got = self._fh.readinto(buffer)
        if got:
            self._progress.update(self._task, advance=got)
        return got


@contextmanager
def open_evidence(path: Path) -> Iterator[io.FileIO]:
    """The file opened unbuffered for one sequential read (the kernel reads ahead)."""
    with path.open("rb", buffering=0) as fh:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        yield fh


@app.command("ingest")
def ingest(
    files: Annotated[list[Path], typer.Argument(help="Files to ingest", exists=True,
                                                dir_okay=False, readable=True)],
    case: Annotated[str, typer.Option(help="Case reference")],
    user: AsOpt,
    examiner: Annotated[str, typer.Option(help="Who acquired the evidence")] = "",
    acquired_at: Annotated[str, typer.Option(help="When (ISO 8601 with offset)")] = "",
    tool: Annotated[str, typer.Option(help="Acquisition tool")] = "",
    tool_version: Annotated[str, typer.Option(help="Its version")] = "",
    method: Annotated[str, typer.Option(help="Acquisition method")] = "",
    source_device: Annotated[str, typer.Option()] = "",
    seal_number: Annotated[str, typer.Option()] = "",
    place: Annotated[str, typer.Option()] = "",
    sha256: Annotated[str | None, typer.Option(help="Claimed SHA-256 (one file only)")] = None,
    with_sha512: Annotated[bool, typer.Option(
        help="Also SHA-512 (SHA-256 and BLAKE3 are always computed)")] = False,
    legacy_hashes: Annotated[bool, typer.Option(help="Also MD5 and SHA-1")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Ingest files into a case: hashed once (SHA-256 and BLAKE3) while copied into the
    store."""
    from rogatory import cli as root
    from rogatory.config import Settings
    from rogatory.errors import FieldError, ValidationFailed
    from rogatory.evidence import service
    from rogatory.evidence.store import EvidenceStore

    def body() -> None:
        when: datetime | None = None
        if acquired_at:
            try:
                when = datetime.fromisoformat(acquired_at)
            except ValueError:
                raise ValidationFailed([FieldError(
                    "acquired_at", "Must be an ISO 8601 date and time.")]) from None
        if sha256 is not None and len(files) != 1:
            raise ValidationFailed([FieldError("sha256", "A claimed hash needs exactly one "
                                                         "file.")])
        metadata = service.AcquisitionMetadata(
            examiner=examiner, acquired_at=when, tool=tool, tool_version=tool_version,
            method=method, source_device=source_device, seal_number=seal_number, place=place)
        settings = Settings()
        store = EvidenceStore(settings.evidence_dir)
        clock = SystemClock()
        done: list[dict[str, Any]] = []
        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                      TransferSpeedColumn(), TimeRemainingColumn(),
                      console=root.err, transient=as_json) as progress:
            for path in files:
                task = progress.add_task(path.name, total=path.stat().st_size)
                try:
                    with root._session() as session, open_evidence(path) as fh:
                        item = service.ingest(
                            session=session, store=store,
                            actor=root._actor(session, user), case_reference=case,
                            chunks=_ProgressReader(fh, progress, task),
                            original_name=os.fsencode(path.name), metadata=metadata,
                            claimed={"sha256": sha256} if sha256 else None,
                            legacy_hashes=legacy_hashes, clock=clock,
                            timestamp=timestamper(settings), sha512=with_sha512)
                        done.append(_item_dict(session, item))
                except service.ClaimedHashMismatch as refused:
                    with root._session() as session:
                        for refusal in refused.refusals:
                            service.record_refusal(session=session, refusal=refusal,
                                                   clock=clock)
                    raise
        if as_json:
            root._print_json(done)
            return
        root._table("Ingested", ["exhibit", "name", "size", "sha256", "id"], [
            [d["exhibit_number"], d["display_name"], d["size"], d["sha256"], d["id"]]
            for d in done])

    root._run(body)


@app.command("list")
def list_items(case: Annotated[str, typer.Option(help="Case reference")], user: AsOpt,
               as_json: JsonOpt = False) -> None:
    """The evidence items of a case."""
    from rogatory import cli as root
    from rogatory.evidence import service

    def body() -> None:
        from rogatory.safeguards import records

        with root._session() as session:
            items = service.list_items(session=session, actor=root._actor(session, user),
                                       case_reference=case)
            withheld = records.withheld_exhibits(session, items[0].case_id) if items else {}
            rows = [_item_dict(session, i, withheld) for i in items]
        if as_json:
            root._print_json(rows)
            return
        root._table(f"Evidence of {case}",
                    ["exhibit", "name", "size", "sha256", "id", "withheld"], [
                        [r["exhibit_number"], r["display_name"], r["size"], r["sha256"], r["id"],
                         r["withheld"] or ""] for r in rows])

    root._run(body)


@app.command("show")
def show(item_id: str, user: AsOpt, as_json: JsonOpt = False) -> None:
    """One evidence item with its hashes and acquisition metadata."""
    from rogatory import cli as root
    from rogatory.evidence import service

    def body() -> None:
        with root._session() as session:
            data = _item_dict(session, service.get_item(session=session,
                                                        actor=root._actor(session, user),
                                                        item_id=item_id))
        if as_json:
            root._print_json(data)
            return
        root._table(f"{data['exhibit_number']}", ["field", "value"],
                    [[k, v] for k, v in data.items()])

    root._run(body)


@app.command("custody")
def custody(item_id: str, user: AsOpt, as_json: JsonOpt = False) -> None:
    """The item's chain of custody, oldest first."""
    from rogatory import cli as root
    from rogatory.evidence import service

    def body() -> None:
        with root._session() as session:
            rows = [_event_dict(e) for e in service.custody_chain(
                session=session, actor=root._actor(session, user), item_id=item_id)]
        if as_json:
            root._print_json(rows)
            return
        root._table("Chain of custody", ["#", "kind", "at (UTC)", "by", "place", "note",
                                         "corrects", "ledger"], [
            [r["id"], r["kind"], r["at"], r["actor_user_id"], r["place"], r["note"],
             r["corrects_event_id"], r["ledger_index"]] for r in rows])

    root._run(body)


@app.command("export")
def export(
    case: Annotated[str, typer.Option(help="Case reference")],
    out: Annotated[Path, typer.Option(help="The package folder to create (must not exist)")],
    user: AsOpt,
    item: Annotated[list[str] | None, typer.Option(
        "--item", help="Export only this item (repeat for more); default: all")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export a case's evidence as a BagIt package that `rogatory verify` checks offline."""
    from rogatory import cli as root
    from rogatory.config import Settings
    from rogatory.evidence.export import export_case

    def body() -> None:
        with root._session() as session:
            path = export_case(session=session, actor=root._actor(session, user),
                               case_reference=case, item_ids=item or None, out_dir=out,
                               settings=Settings(), clock=SystemClock())
        if as_json:
            root._print_json({"path": str(path)})
            return
        root.console.print(f"Package written to {path}; check it with `rogatory verify {path}`")

    root._run(body)
