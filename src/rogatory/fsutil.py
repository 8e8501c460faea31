"""Durable file-system steps shared by the evidence store, exports and key files."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (a rename into it survives a crash once this returns)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_directory_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Make `target` with all its files or not at all: `write(staging)` fills a private
    (0700) staging folder next to it, which is fsynced and renamed into place in one step. When
    another process made `target` first, theirs is kept and the staging folder dropped."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        write(staging)
        fsync_dir(staging)
        try:
            os.rename(staging, target)
        except OSError:
            if not target.exists():
                raise
            shutil.rmtree(staging, ignore_errors=True)  # another process made it first
        else:
            fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
