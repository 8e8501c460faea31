"""Every ingested item carries an RFC 3161 token over its SHA-256 from the node's TSA, which
verifies with our verifier and with `openssl ts -verify`."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from conftest import World
from rogatory.app import create_app
from rogatory.clock import ManualClock
from rogatory.config import Settings
from rogatory.errors import VerificationError
from rogatory.evidence.models import EvidenceItem
from rogatory.timestamp.authority import ensure_tsa
from rogatory.timestamp.verify import verify_token

META = ("examiner=Claire&acquired_at=2026-11-01T10:00:00Z&tool=FTK&tool_version=4.7"
        "&method=logical")


@pytest.fixture
def client(settings: Settings, clock: ManualClock, world: World) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock)) as c:
        c.headers["Authorization"] = f"Bearer {world.tokens['fr_prosecutor']}"
        yield c


def test_ingested_item_is_timestamped(client: TestClient, world: World, settings: Settings,
                                      session: Session, clock: ManualClock,
                                      tmp_path: Path) -> None:
    data = b"seized mailbox export " * 1000
    r = client.post(f"/api/v1/cases/{world.case_reference}/evidence?original_name=mbox.bin&"
                    f"{META}", content=data)
    assert r.status_code == 201, r.text
    item = session.get(EvidenceItem, r.json()["id"])
    assert item is not None and item.timestamp_token is not None
    tsa = ensure_tsa(settings)
    digest = hashlib.sha256(data).digest()
    info = verify_token(item.timestamp_token, digest=digest, ca_pem=tsa.ca_pem)
    assert info.gen_time == clock.now()
    token, ca, cert = tmp_path / "item.tsr", tmp_path / "ca.pem", tmp_path / "tsa.pem"
    token.write_bytes(item.timestamp_token)
    ca.write_bytes(tsa.ca_pem)
    cert.write_bytes(tsa.cert_pem)
    ok = subprocess.run(["openssl", "ts", "-verify", "-digest", digest.hex(), "-in", str(token),
                         "-CAfile", str(ca), "-untrusted", str(cert)],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "Verification: OK" in ok.stdout, ok.stdout + ok.stderr
    with pytest.raises(VerificationError):
        verify_token(item.timestamp_token, digest=hashlib.sha256(b"other").digest(),
                     ca_pem=tsa.ca_pem)
