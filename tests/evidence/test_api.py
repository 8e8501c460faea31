"""The evidence routes: streaming upload with claimed hashes, listing, custody; bad names
(NUL, separators, non-UTF-8 bytes); items withheld because their data are restricted; and a
truncated upload against a live server."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import blake3
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from conftest import World
from rogatory.app import create_app
from rogatory.clock import ManualClock
from rogatory.config import Settings
from rogatory.evidence.models import EvidenceItem, IngestRefusal

pytestmark = pytest.mark.usefixtures("factory")  # empties what the tests write

META = ("examiner=Claire&acquired_at=2026-11-01T10:00:00Z&tool=FTK&tool_version=4.7"
        "&method=logical&seal_number=S-1")


@pytest.fixture
def client(settings: Settings, clock: ManualClock, world: World) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock)) as c:
        c.headers["Authorization"] = f"Bearer {world.tokens['fr_prosecutor']}"
        yield c


def _url(world: World, name: str = "disk.img") -> str:
    return f"/api/v1/cases/{world.case_reference}/evidence?original_name={name}&{META}"


def _tmp_files(settings: Settings) -> list[Path]:
    tmp = settings.evidence_dir / "tmp"
    return list(tmp.iterdir()) if tmp.is_dir() else []


def test_upload_list_show_custody(client: TestClient, world: World, settings: Settings) -> None:
    data = b"raw image bytes " * 10_000

    def body() -> Iterator[bytes]:
        for i in range(0, len(data), 4096):
            yield data[i:i + 4096]

    r = client.post(_url(world), content=body(), headers={
        "X-Claimed-SHA256": hashlib.sha256(data).hexdigest()})
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["sha256"] == hashlib.sha256(data).hexdigest()
    assert item["blake3"] == blake3.blake3(data).hexdigest()
    assert item["sha512"] is None  # only with with_sha512=true
    assert item["exhibit_number"] == "FR-2026-LOCKSTORM/EX-0001"
    assert (settings.evidence_dir / item["sha256"][:2] / item["sha256"]).read_bytes() == data
    listed = client.get(f"/api/v1/cases/{world.case_reference}/evidence").json()
    assert [i["id"] for i in listed] == [item["id"]]
    assert client.get(f"/api/v1/evidence/{item['id']}").json() == item
    r = client.post(f"/api/v1/evidence/{item['id']}/custody",
                    json={"kind": "transferred", "place": "Berlin", "note": "to BKA"})
    assert r.status_code == 201, r.text
    r = client.post(f"/api/v1/evidence/{item['id']}/custody",
                    json={"kind": "transferred", "note": "it was Wiesbaden",
                          "place": "Wiesbaden", "corrects": r.json()["id"]})
    assert r.status_code == 201, r.text
    chain = client.get(f"/api/v1/evidence/{item['id']}/custody").json()
    assert [(e["kind"], e["place"]) for e in chain] == [
        ("acquired", ""), ("transferred", "Berlin"), ("transferred", "Wiesbaden")]
    assert chain[2]["corrects_event_id"] == chain[1]["id"]
    assert _tmp_files(settings) == []


def test_wrong_claim_is_refused_and_recorded(client: TestClient, world: World,
                                             factory: sessionmaker[Session]) -> None:
    r = client.post(_url(world), content=b"abc", headers={"X-Claimed-SHA256": "0" * 64})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "claimed.sha256"
    assert "expected " + "0" * 64 in r.json()["errors"][0]["message"]
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(IngestRefusal)) == 1
        assert s.scalar(select(func.count()).select_from(EvidenceItem)) == 0


def test_sha512_on_request_and_claimed_blake3(client: TestClient, world: World) -> None:
    data = b"\x00\x01" * 700_000  # more than one buffer of the hashing ring
    r = client.post(_url(world) + "&with_sha512=true", content=data, headers={
        "X-Claimed-BLAKE3": blake3.blake3(data).hexdigest().upper()})
    assert r.status_code == 201, r.text
    item = r.json()
    assert (item["sha256"], item["blake3"], item["sha512"]) == (
        hashlib.sha256(data).hexdigest(), blake3.blake3(data).hexdigest(),
        hashlib.sha512(data).hexdigest())
    r = client.post(_url(world, "other.bin"), content=b"other",
                    headers={"X-Claimed-BLAKE3": "0" * 64})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["claimed.blake3"]


@pytest.mark.parametrize("name", ["a%00b", "..%2Fx", "a%2Fb", "%FF%FEx.bin", "..", ""])
def test_bad_names_via_the_api(client: TestClient, world: World, name: str,
                               settings: Settings) -> None:
    r = client.post(_url(world, name), content=b"content")
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["original_name"]
    assert _tmp_files(settings) == []


def test_empty_duplicate_and_invisible(client: TestClient, world: World) -> None:
    r = client.post(_url(world), content=b"")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    assert client.post(_url(world), content=b"one").status_code == 201
    r = client.post(_url(world, "again.bin"), content=b"one")
    assert r.status_code == 422 and "EX-0001" in r.json()["errors"][0]["message"]
    outsider = {"Authorization": f"Bearer {world.tokens['it_outsider']}"}
    r = client.post(_url(world), content=b"two", headers=outsider)
    assert r.status_code == 404
    assert client.get(f"/api/v1/cases/{world.case_reference}/evidence",
                      headers=outsider).status_code == 404
    assert client.get("/api/v1/evidence/unknown").status_code == 404


def test_missing_metadata_names_each_field(client: TestClient, world: World) -> None:
    r = client.post(f"/api/v1/cases/{world.case_reference}/evidence?original_name=a.bin",
                    content=b"x")
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {
        "examiner", "acquired_at", "tool", "tool_version", "method"}


@pytest.fixture
def server(live_server: str) -> str:
    return live_server


def test_truncated_upload_leaves_nothing(server: str, world: World, settings: Settings,
                                         factory: sessionmaker[Session]) -> None:
    host, port = server.split(":")
    sent = b"A" * 300_000
    head = (f"POST {_url(world, 'cut.bin')} HTTP/1.1\r\nHost: {server}\r\n"
            f"Authorization: Bearer {world.tokens['fr_prosecutor']}\r\n"
            f"Content-Type: application/octet-stream\r\n"
            f"Content-Length: {10 * len(sent)}\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + sent)
        time.sleep(0.5)  # the server is reading the body now
    deadline = time.monotonic() + 10
    while _tmp_files(settings) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _tmp_files(settings) == []
    assert not (settings.evidence_dir / hashlib.sha256(sent).hexdigest()[:2] /
                hashlib.sha256(sent).hexdigest()).exists()
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(EvidenceItem)) == 0


def test_an_item_whose_data_are_restricted_says_it_is_withheld(
        client: TestClient, world: World, received: Callable[..., None]) -> None:
    made = [client.post(_url(world, name), content=name.encode() * 100).json()
            for name in ("a.img", "b.img")]
    assert [m["withheld"] for m in made] == [None, None]
    received(made[0]["exhibit_number"], restricted="refused")
    received(made[1]["exhibit_number"])  # recorded data, not restricted
    listed = client.get(f"/api/v1/cases/{world.case_reference}/evidence").json()
    why = "restricted: refused, Reg. (EU) 2023/1543 Art. 4(5)"
    assert [(i["exhibit_number"], i["withheld"]) for i in listed] == [
        (made[0]["exhibit_number"], why), (made[1]["exhibit_number"], None)]
    assert client.get(f"/api/v1/evidence/{made[0]['id']}").json()["withheld"] == why
