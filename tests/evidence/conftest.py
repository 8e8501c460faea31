"""Evidence fixtures: a fresh store per test (acquisition metadata and received data are the
suite's, `tests/conftest.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rogatory.evidence.store import EvidenceStore


@pytest.fixture
def store(tmp_path: Path) -> EvidenceStore:
    return EvidenceStore(tmp_path / "evidence")
