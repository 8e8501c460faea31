"""The node's signing key: created once, mode 0600, and the same key for first uses at once."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from rogatory.bootstrap import ensure_node_key, node_key_path
from rogatory.config import Settings


def _public(settings: Settings) -> bytes:
    return ensure_node_key(settings).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_first_uses_at_once_agree_on_one_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="test-secret")
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: _public(settings), range(32)))
    assert len(keys) == 1
    assert keys == {_public(settings)}  # and it is the one on disk
    path = node_key_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
