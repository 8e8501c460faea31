"""The content-addressed store: one pass computes every hash, the blob lands at
`<sha256[:2]>/<sha256>`, writing again is idempotent, and `recover` removes only dead temp
files."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from rogatory.evidence.store import CHUNK_SIZE, EvidenceStore


def _chunks(data: bytes) -> list[bytes]:
    return [data[i:i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)]


def test_round_trip_hashes_and_content(store: EvidenceStore) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 17)
    blob = store.write_stream(_chunks(data), legacy=True)
    d = blob.digests
    assert (d.size, d.sha256, d.sha512, d.md5, d.sha1) == (
        len(data), hashlib.sha256(data).hexdigest(), hashlib.sha512(data).hexdigest(),
        hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest())
    assert blob.path == store.root / d.sha256[:2] / d.sha256
    assert blob.path.read_bytes() == data
    assert b"".join(store.read_chunks(d.sha256)) == data
    assert list(store.tmp_dir.iterdir()) == []


def test_legacy_hashes_only_on_request(store: EvidenceStore) -> None:
    blob = store.write_stream([b"abc"], legacy=False)
    assert blob.digests.md5 is None and blob.digests.sha1 is None


def test_writing_the_same_content_twice_is_idempotent(store: EvidenceStore) -> None:
    first = store.write_stream([b"same"], legacy=False)
    second = store.write_stream([b"sa", b"me"], legacy=False)
    assert first == second
    assert first.path.read_bytes() == b"same"
    assert list(store.tmp_dir.iterdir()) == []


def test_discarded_stage_leaves_nothing(store: EvidenceStore) -> None:
    with store.stage([b"never published"], legacy=False) as staged:
        sha = staged.digests.sha256
    assert not store.exists(sha)
    assert list(store.tmp_dir.iterdir()) == []


def test_recover_removes_dead_temp_files_but_not_live_ones(store: EvidenceStore) -> None:
    live = store.stage([b"in progress"], legacy=False)
    store.tmp_dir.mkdir(parents=True, exist_ok=True)
    # a writer that died: a process that created a temp file and exited without cleaning up
    script = ("import os,sys,fcntl; fd=os.open(sys.argv[1], os.O_WRONLY|os.O_CREAT|os.O_EXCL);"
              "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, b'partial'); os._exit(0)")
    dead = store.tmp_dir / "dead.part"
    subprocess.run([sys.executable, "-c", script, str(dead)], check=True)
    assert store.recover() == [dead]
    assert not dead.exists()
    assert live.path.exists()  # still held by its writer
    live.publish()
    assert store.recover() == []


def test_exception_in_the_source_leaves_nothing(store: EvidenceStore) -> None:
    def source() -> object:
        yield b"first chunk"
        raise ConnectionError("client went away")

    try:
        store.stage(source(), legacy=False)  # type: ignore[arg-type]
    except ConnectionError:
        pass
    else:
        raise AssertionError("expected the source's error")
    assert list(store.tmp_dir.iterdir()) == []
    assert [p for p in store.root.iterdir() if p.name != "tmp"] == []


def test_blob_is_read_only(store: EvidenceStore) -> None:
    blob = store.write_stream([b"x"], legacy=False)
    assert Path(blob.path).stat().st_mode & 0o777 == 0o400
