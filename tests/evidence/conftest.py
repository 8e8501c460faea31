"""Evidence fixtures: a fresh store per test, metadata, and the teardown of the evidence tables
(children first) before `factory` empties the tables it knows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete

from conftest import START  # the suite-wide conftest (tests/ is on sys.path)
from rogatory.evidence.models import CustodyEvent, EvidenceItem, IngestRefusal
from rogatory.evidence.service import AcquisitionMetadata
from rogatory.evidence.store import EvidenceStore


@pytest.fixture
def evidence_tables(engine: Engine, factory: object) -> Iterator[None]:
    """Request it in any test that writes evidence rows."""
    yield
    with engine.begin() as conn:
        for model in (CustodyEvent, IngestRefusal, EvidenceItem):
            conn.execute(delete(model))


@pytest.fixture
def store(tmp_path: Path) -> EvidenceStore:
    return EvidenceStore(tmp_path / "evidence")


@pytest.fixture
def metadata() -> AcquisitionMetadata:
    return AcquisitionMetadata(
        examiner="Lt. Claire Dubois", acquired_at=START - timedelta(days=1),
        tool="FTK Imager", tool_version="4.7.1", method="logical acquisition",
        source_device="Seized laptop, serial 5CG1234", seal_number="SCELLE-0042",
        place="Paris, OFAC lab")
