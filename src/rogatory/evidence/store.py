"""The content-addressed evidence store under `settings.evidence_dir`: a blob lives at
`<sha256[:2]>/<sha256>` and is never rewritten.

Writing reads the data once: each chunk updates SHA-256 and SHA-512 (and MD5 and SHA-1 only for
legacy tools) and is written to a temporary file in `tmp/` (a fresh name, O_EXCL, mode 0600).
The file is fsynced, made read-only and renamed into place, then the directory is fsynced; when
the blob already exists the temporary file is dropped (same content, same name). Nothing is held
in memory beyond one chunk.

Writing is two steps, `stage` then `publish`, so the ingest service can check the hashes before
the blob appears in the store (a refused file never does). A writer holds an exclusive `flock`
on its temporary file until it is published or discarded; `recover()` removes only temporary
files nobody holds — those of a process that died — so it is safe while others are writing.
A full disk (ENOSPC, EDQUOT) or a file size limit (EFBIG) raises `StorageFull` and leaves
nothing behind.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rogatory.errors import RogatoryError
from rogatory.fsutil import fsync_dir

CHUNK_SIZE = 1 << 20  # 1 MiB
TMP_SUFFIX = ".part"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


class StorageFull(RogatoryError):
    """The evidence store cannot hold the file (disk full, quota or file size limit)."""

    code = "storage_full"
    http_status = 507


@dataclass(frozen=True)
class Digests:
    """Hex digests computed while the data was written; md5/sha1 only for legacy tools."""

    size: int
    sha256: str
    sha512: str
    md5: str | None = None
    sha1: str | None = None


@dataclass(frozen=True)
class StoredBlob:
    """A blob in the store and its digests."""

    path: Path
    digests: Digests

    @property
    def sha256(self) -> str:
        return self.digests.sha256


class StagedBlob:
    """Data written and fsynced to a temporary file, not yet in the store: `publish` or
    `discard` it (a context manager discards it unless published)."""

    def __init__(self, store: EvidenceStore, path: Path, fd: int, digests: Digests) -> None:
        self._store = store
        self.path = path
        self._fd: int | None = fd
        self.digests = digests

    def __enter__(self) -> StagedBlob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def publish(self) -> StoredBlob:
        """Rename into place (fsyncing the directory); idempotent when the blob exists."""
        if self._fd is None:
            raise RuntimeError("this staged blob was already published or discarded")
        final = self._store.path_for(self.digests.sha256)
        try:
            if final.exists():
                self.path.unlink()
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.rename(self.path, final)
                fsync_dir(final.parent)
            fsync_dir(self.path.parent)
        except OSError as exc:
            self.discard()
            if exc.errno in _FULL:
                raise _full(exc) from exc
            raise
        os.close(self._fd)  # releases the flock
        self._fd = None
        return StoredBlob(final, self.digests)

    def discard(self) -> None:
        """Drop the temporary file (no-op once published or discarded)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None


class EvidenceStore:
    """The blobs under `root` (normally `settings.evidence_dir`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"

    def path_for(self, sha256: str) -> Path:
        if not _SHA256_HEX.fullmatch(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def read_chunks(self, sha256: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The blob's content, chunk by chunk."""
        with self.path_for(sha256).open("rb") as fh:
            while chunk := fh.read(chunk_size):
                yield chunk

    def _new_temp(self) -> tuple[Path, int]:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        while True:
            path = self.tmp_dir / f"{secrets.token_hex(16)}{TMP_SUFFIX}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:  # recover() may have removed it between open and flock: then start again
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    return path, fd
            except FileNotFoundError:
                pass
            os.close(fd)

    def stage(self, chunks: Iterable[bytes], *, legacy: bool) -> StagedBlob:
        """Write `chunks` to a temporary file, hashing them on the way, and fsync it."""
        sha256, sha512 = hashlib.sha256(), hashlib.sha512()
        md5 = hashlib.md5(usedforsecurity=False) if legacy else None
        sha1 = hashlib.sha1(usedforsecurity=False) if legacy else None
        # SHA-256 and the write run here; SHA-512 (and legacy hashes) on a second thread, one
        # chunk behind: hashlib and os.write release the GIL, so the two cores work together
        others = [h for h in (sha512, md5, sha1) if h is not None]

        def update_others(chunk: bytes) -> None:
            for h in others:
                h.update(chunk)

        path, fd = self._new_temp()
        size = 0
        pending: Future[None] | None = None
        try:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hash") as pool:
                for chunk in chunks:
                    data = bytes(chunk)
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(update_others, data)
                    sha256.update(data)
                    view = memoryview(data)
                    while view:
                        written = os.write(fd, view)
                        view = view[written:]
                    size += len(data)
                if pending is not None:
                    pending.result()
            os.fchmod(fd, 0o400)
            os.fsync(fd)
        except BaseException as exc:
            path.unlink(missing_ok=True)
            os.close(fd)
            if isinstance(exc, OSError) and exc.errno in _FULL:
                raise _full(exc) from exc
            raise
        digests = Digests(size=size, sha256=sha256.hexdigest(), sha512=sha512.hexdigest(),
                          md5=md5.hexdigest() if md5 else None,
                          sha1=sha1.hexdigest() if sha1 else None)
        return StagedBlob(self, path, fd, digests)

    def write_stream(self, chunks: Iterable[bytes], *, legacy: bool) -> StoredBlob:
        """Stage and publish in one go."""
        return self.stage(chunks, legacy=legacy).publish()

    def recover(self) -> list[Path]:
        """Remove temporary files left by writers that died; returns what was removed."""
        removed: list[Path] = []
        if not self.tmp_dir.is_dir():
            return removed
        for path in sorted(self.tmp_dir.iterdir()):
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)  # a live writer holds it
                continue
            try:
                path.unlink(missing_ok=True)
                removed.append(path)
            finally:
                os.close(fd)
        if removed:
            fsync_dir(self.tmp_dir)
        return removed




def _full(exc: OSError) -> StorageFull:
    code = exc.errno or 0
    return StorageFull(f"the evidence store cannot hold this file ({os.strerror(code)}); "
                       "nothing was stored", errno=errno.errorcode.get(code, "?"))
