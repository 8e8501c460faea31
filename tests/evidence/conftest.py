"""Evidence fixtures: a fresh store per test, metadata, data received under an exhibit number
(restricted or deleted as a test asks), and the teardown of the evidence tables (children
first) before `factory` empties the tables it knows."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from conftest import START, World  # the suite-wide conftest (tests/ is on sys.path)
from rogatory.clock import ManualClock
from rogatory.evidence.models import CustodyEvent, EvidenceItem, IngestRefusal
from rogatory.evidence.service import AcquisitionMetadata
from rogatory.evidence.store import EvidenceStore
from rogatory.requests import service as requests_service
from rogatory.safeguards.models import ReceivedData
from service.test_requests import draft


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


@pytest.fixture
def received(factory: sessionmaker[Session], engine: Engine, world: World,
             clock: ManualClock) -> Iterator[Callable[..., None]]:
    """Records data received on a request of the case under an exhibit number, restricted or
    deleted as asked; the rows are removed afterwards (before `factory` empties the requests)."""
    with factory() as s:
        request = requests_service.create_request(
            session=s, actor=world.actors["fr_prosecutor"], draft=draft(world), clock=clock)
        s.commit()
        request_id = request.id

    def record(exhibit: str, *, restricted: str | None = None, deleted: bool = False) -> None:
        now = clock.now()
        with factory() as s:
            s.add(ReceivedData(
                id=str(uuid.uuid4()), request_id=request_id, category="subscriber",
                description="Subscriber data", purpose="Identify the account holder",
                evidence_reference=exhibit, received_on=now.date(),
                retention_until=now.date(), review_due_on=now.date(),
                restricted=restricted is not None, restriction_reason=restricted,
                restriction_basis="Reg. (EU) 2023/1543 Art. 4(5)" if restricted else None,
                deleted_at=now if deleted else None,
                deletion_reason="retention period over" if deleted else None,
                recorded_by_user_id=world.actors["fr_prosecutor"].user_id,
                recorded_by_authority_id=world.actors["fr_prosecutor"].authority_id,
                recorded_at=now))
            s.commit()

    yield record
    with engine.begin() as conn:
        conn.execute(delete(ReceivedData))
