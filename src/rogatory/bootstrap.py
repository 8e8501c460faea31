"""Setting up a node: data directory, database migrations, directory seed and node keys.
Every step is idempotent, so `rogatory init` can run again safely."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from alembic import command
from alembic.config import Config
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from rogatory.config import Settings
from rogatory.fsutil import fsync_dir

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    """Upgrade the database to the newest schema."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def node_key_path(settings: Settings) -> Path:
    return settings.keys_dir / "node-ed25519.pem"


def ensure_node_key(settings: Settings) -> Ed25519PrivateKey:
    """The node's Ed25519 signing key, created once (file mode 0600)."""
    path = node_key_path(settings)
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise TypeError(f"{path} does not hold an Ed25519 key")
        return key
    settings.keys_dir.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    # a temporary file of this process's own, then a hard link that fails if the key appeared
    # meanwhile: two first uses at once agree on one key (the one that was linked first)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return ensure_node_key(settings)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return key
