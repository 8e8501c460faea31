"""Crash and disk-full: a subprocess ingesting a generated 24 MiB file is killed with SIGKILL at
several points, or limited by RLIMIT_FSIZE; afterwards `recover()` leaves no temp file, the
database has no item unless the commit happened (then the blob is there), and the ledger is
consistent with the custody events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from conftest import World
from rogatory.config import Settings
from rogatory.evidence.models import CustodyEvent, EvidenceItem
from rogatory.evidence.store import EvidenceStore
from rogatory.ledger import store as ledger

pytestmark = pytest.mark.usefixtures("factory")  # empties what the tests write

DRIVER = Path(__file__).with_name("ingest_driver.py")
CHUNKS = 24


def _run(settings: Settings, world: World, tmp_path: Path, **extra: str
         ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROGATORY_")}
    env.update({"ROGATORY_DATA_DIR": str(settings.data_dir),
                "ROGATORY_SECRET_KEY": "test-secret", "DRIVER_USER": "fr_prosecutor",
                "DRIVER_CASE": world.case_reference, "DRIVER_CHUNKS": str(CHUNKS), **extra})
    if settings.database_url:
        env["ROGATORY_DATABASE_URL"] = settings.database_url
    if settings.database_schema:
        env["ROGATORY_DATABASE_SCHEMA"] = settings.database_schema
    return subprocess.run([sys.executable, str(DRIVER)], env=env, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)


def _count(factory: sessionmaker[Session]) -> tuple[int, int, int]:
    with factory() as s:
        items = s.scalar(select(func.count()).select_from(EvidenceItem)) or 0
        events = s.scalar(select(func.count()).select_from(CustodyEvent)) or 0
        return items, events, ledger.size(session=s)


@pytest.mark.parametrize("point", ["chunk:1", "chunk:12", f"chunk:{CHUNKS}", "before_publish",
                                   "after_publish", "before_commit", "after_commit"])
def test_kill_9_during_ingest(settings: Settings, world: World, tmp_path: Path,
                              factory: sessionmaker[Session], point: str) -> None:
    _, _, ledger_before = _count(factory)
    done = _run(settings, world, tmp_path, DRIVER_KILL=point)
    assert done.returncode == -signal.SIGKILL, done.stderr
    store = EvidenceStore(settings.evidence_dir)
    store.recover()
    assert list(store.tmp_dir.iterdir()) == []
    items, events, ledger_after = _count(factory)
    if point == "after_commit":  # acknowledged: all of it is there
        assert (items, events, ledger_after) == (1, 1, ledger_before + 1)
        with factory() as s:
            sha = s.scalars(select(EvidenceItem.sha256)).one()
        assert store.exists(sha)
    else:
        assert (items, events, ledger_after) == (0, 0, ledger_before)


def test_disk_full_is_a_clear_error_and_stores_nothing(
        settings: Settings, world: World, tmp_path: Path,
        factory: sessionmaker[Session]) -> None:
    before = sorted(settings.evidence_dir.glob("??/*"))
    done = _run(settings, world, tmp_path, DRIVER_FSIZE=str(8 * 1024 * 1024))
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "error (storage_full): the evidence store cannot hold this file" in done.stderr
    assert "nothing was stored" in done.stderr
    store = EvidenceStore(settings.evidence_dir)
    assert list(store.tmp_dir.iterdir()) == []
    assert sorted(settings.evidence_dir.glob("??/*")) == before
    assert _count(factory)[:2] == (0, 0)
