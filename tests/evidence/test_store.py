"""The content-addressed store: one pass computes every hash (SHA-256 and BLAKE3 always, the
optional ones on request), from chunks or from a file, the blob lands at `<sha256[:2]>/<sha256>`,
writing again is idempotent, and `recover` removes only dead temp files."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import blake3
import pytest

from rogatory.evidence import store as store_module
from rogatory.evidence.store import CHUNK_SIZE, EvidenceStore, StorageFull


def _chunks(data: bytes) -> list[bytes]:
    return [data[i:i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)]


def test_round_trip_hashes_and_content(store: EvidenceStore) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 17)
    blob = store.write_stream(_chunks(data), extra=("sha512", "md5", "sha1"))
    d = blob.digests
    assert (d.size, d.sha256, d.blake3, d.sha512, d.md5, d.sha1) == (
        len(data), hashlib.sha256(data).hexdigest(), blake3.blake3(data).hexdigest(),
        hashlib.sha512(data).hexdigest(), hashlib.md5(data).hexdigest(),
        hashlib.sha1(data).hexdigest())
    assert blob.path == store.root / d.sha256[:2] / d.sha256
    assert blob.path.read_bytes() == data
    assert b"".join(store.read_chunks(d.sha256)) == data
    assert list(store.tmp_dir.iterdir()) == []


@pytest.mark.parametrize("size", [1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1,
                                  9 * CHUNK_SIZE + 5])
def test_a_file_read_into_the_buffers_hashes_the_same(store: EvidenceStore, tmp_path: Path,
                                                      size: int) -> None:
    data = os.urandom(size)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    with source.open("rb", buffering=0) as fh:
        blob = store.write_stream(fh)
    assert (blob.digests.size, blob.digests.sha256, blob.digests.blake3) == (
        size, hashlib.sha256(data).hexdigest(), blake3.blake3(data).hexdigest())
    assert blob.path.read_bytes() == data
    # and in odd chunks, merged into the buffers
    again = EvidenceStore(tmp_path / "other").write_stream(
        data[i:i + 70_001] for i in range(0, size, 70_001))
    assert again.digests == blob.digests


def test_optional_hashes_only_on_request(store: EvidenceStore) -> None:
    blob = store.write_stream([b"abc"])
    assert blob.digests.blake3 == blake3.blake3(b"abc").hexdigest()
    assert (blob.digests.sha512, blob.digests.md5, blob.digests.sha1) == (None, None, None)
    with pytest.raises(ValueError, match="not an optional hash: sha256"):
        store.stage([b"abc"], extra=("sha256",))


def test_a_failing_write_stops_the_stream_and_leaves_nothing(
        store: EvidenceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk that fills up in the middle (the write runs on a hashing thread): StorageFull,
    no temporary file."""
    calls = 0
    real_write = os.write

    def write(fd: int, data: memoryview) -> int:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(store_module.os, "write", write)
    with pytest.raises(StorageFull):
        store.stage(io.BytesIO(os.urandom(12 * CHUNK_SIZE)))
    assert list(store.tmp_dir.iterdir()) == []


def test_writing_the_same_content_twice_is_idempotent(store: EvidenceStore) -> None:
    first = store.write_stream([b"same"])
    second = store.write_stream([b"sa", b"me"])
    assert first == second
    assert first.path.read_bytes() == b"same"
    assert list(store.tmp_dir.iterdir()) == []


def test_discarded_stage_leaves_nothing(store: EvidenceStore) -> None:
    with store.stage([b"never published"]) as staged:
        sha = staged.digests.sha256
    assert not store.exists(sha)
    assert list(store.tmp_dir.iterdir()) == []


def test_recover_removes_dead_temp_files_but_not_live_ones(store: EvidenceStore) -> None:
    live = store.stage([b"in progress"])
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


@pytest.mark.parametrize("before", [1, 5 * CHUNK_SIZE])
def test_exception_in_the_source_leaves_nothing(store: EvidenceStore, before: int) -> None:
    def source() -> object:
        yield os.urandom(before)
        raise ConnectionError("client went away")

    try:
        store.stage(source())  # type: ignore[arg-type]
    except ConnectionError:
        pass
    else:
        raise AssertionError("expected the source's error")
    assert list(store.tmp_dir.iterdir()) == []
    assert [p for p in store.root.iterdir() if p.name != "tmp"] == []


def test_blob_is_read_only(store: EvidenceStore) -> None:
    blob = store.write_stream([b"x"])
    assert Path(blob.path).stat().st_mode & 0o777 == 0o400
