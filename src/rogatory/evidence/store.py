"""The content-addressed evidence store under `settings.evidence_dir`: a blob lives at
`<sha256[:2]>/<sha256>` and is never rewritten.

Writing reads the data once (`rogatory.evidence.hashing.hash_stream`): SHA-256 on one core,
BLAKE3 on the other (plus SHA-512, and MD5 and SHA-1 for legacy tools, only when asked), and
the write on a thread of its own, into a temporary file in `tmp/` (a fresh name, O_EXCL, mode
0600). The write is direct (O_DIRECT: from the hashing buffers, page-aligned, straight to the
disk, with no copy into the page cache and no write-back left for the fsync), so the disk works
while the cores hash; the last, unaligned piece, and everything on a file system without
O_DIRECT, is written through the page cache instead, handing every `WRITEBACK_BYTES` to the
kernel's write-back (`posix_fadvise(POSIX_FADV_DONTNEED)` starts it without waiting, and drops
pages already on disk). The file is fsynced, made read-only and renamed into place, then the
directory is fsynced; when the blob already exists the temporary file is dropped (same content,
same name). Nothing is held in memory beyond the hashing ring (a few 1 MiB buffers).

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
import os
import re
import secrets
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from rogatory.errors import RogatoryError
from rogatory.evidence.hashing import ALWAYS, CHUNK_SIZE, OPTIONAL, Source, hash_stream
from rogatory.fsutil import fsync_dir

__all__ = ["CHUNK_SIZE", "Digests", "EvidenceStore", "StagedBlob", "StorageFull", "StoredBlob"]

DIRECT_ALIGN = 4096  # O_DIRECT: length and offset multiples of the logical block size
WRITEBACK_BYTES = 32 << 20  # buffered writes: start the write-back of every 32 MiB written
_O_DIRECT = getattr(os, "O_DIRECT", 0)
_ADVISE = getattr(os, "posix_fadvise", None)
TMP_SUFFIX = ".part"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


class StorageFull(RogatoryError):
    """The evidence store cannot hold the file (disk full, quota or file size limit)."""

    code = "storage_full"
    http_status = 507


@dataclass(frozen=True)
class Digests:
    """Hex digests computed while the data was written: SHA-256 and BLAKE3 always, SHA-512
    on request, md5/sha1 only for legacy tools."""

    size: int
    sha256: str
    blake3: str
    sha512: str | None = None
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

    def stage(self, chunks: Source, *, extra: Collection[str] = ()) -> StagedBlob:
        """Write `chunks` (an iterable of byte chunks, or a binary file read with `readinto`)
        to a temporary file, hashing them on the way, and fsync it. `extra` names optional
        hashes (sha512, md5, sha1) to compute as well."""
        unknown = sorted(set(extra) - set(OPTIONAL))
        if unknown:
            raise ValueError(f"not an optional hash: {', '.join(unknown)}")
        path, fd = self._new_temp()
        try:
            writer = _Writer(fd)
            hashed = hash_stream(chunks, [*ALWAYS, *(a for a in OPTIONAL if a in extra)],
                                 sink=writer.write)
            os.fchmod(fd, 0o400)
            os.fsync(fd)
        except BaseException as exc:
            path.unlink(missing_ok=True)
            os.close(fd)
            if isinstance(exc, OSError) and exc.errno in _FULL:
                raise _full(exc) from exc
            raise
        found = hashed.digests
        digests = Digests(size=hashed.size, sha256=found["sha256"], blake3=found["blake3"],
                          sha512=found.get("sha512"), md5=found.get("md5"),
                          sha1=found.get("sha1"))
        return StagedBlob(self, path, fd, digests)

    def write_stream(self, chunks: Source, *, extra: Collection[str] = ()) -> StoredBlob:
        """Stage and publish in one go."""
        return self.stage(chunks, extra=extra).publish()

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


class _Writer:
    """Writes each buffer to `fd` in order (see the module docstring): direct I/O while the
    buffers and the offset are aligned, buffered with early write-back otherwise."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._written = 0
        self._flushed = 0
        self._direct = _set_direct(fd, True)

    def write(self, data: memoryview) -> None:
        if self._direct and (len(data) % DIRECT_ALIGN or self._written % DIRECT_ALIGN):
            self._direct = _set_direct(self._fd, False)  # the tail, or an odd-sized read
        view = data
        while view:
            try:
                done = os.write(self._fd, view)
            except OSError as exc:
                if exc.errno != errno.EINVAL or not self._direct:
                    raise
                self._direct = _set_direct(self._fd, False)  # a device wanting more alignment
                continue
            view = view[done:]
        self._written += len(data)
        if not self._direct and _ADVISE is not None and \
                self._written - self._flushed >= WRITEBACK_BYTES:
            # start writing the new range to disk (no wait), and drop the pages of the range
            # before it, clean by now: an ingested blob is rarely read back soon
            start = max(0, self._flushed - WRITEBACK_BYTES)
            _ADVISE(self._fd, start, self._written - start, os.POSIX_FADV_DONTNEED)
            self._flushed = self._written


def _set_direct(fd: int, on: bool) -> bool:
    """Switch O_DIRECT on or off for `fd`; returns whether it is on (never where the file
    system or the platform does not offer it)."""
    if not _O_DIRECT:
        return False
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | _O_DIRECT if on else flags & ~_O_DIRECT)
    except OSError:
        return False
    return on


def _full(exc: OSError) -> StorageFull:
    code = exc.errno or 0
    return StorageFull(f"the evidence store cannot hold this file ({os.strerror(code)}); "
                       "nothing was stored", errno=errno.errorcode.get(code, "?"))
