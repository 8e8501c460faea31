"""Migration evid0004 on a database that already holds evidence (SQLite, foreign keys off so a
bare row will do): items from before keep their SHA-512 and get no BLAKE3; the downgrade
restores the old schema, and refuses while an item has no SHA-512."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, inspect, text

from rogatory.bootstrap import alembic_config

COLUMNS = ("id, case_id, exhibit_number, original_name, display_name, size, sha256, sha512, "
           "examiner, acquired_at, tool, tool_version, method, source_device, seal_number, "
           "place, ingested_at, ingested_by, authority_id")


def _to(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _insert(engine: Engine, item_id: str, sha512: str | None) -> None:
    with engine.begin() as connection:
        connection.execute(text(
            f"INSERT INTO evidence_items ({COLUMNS}) VALUES (:id, 'case', :id, 'a.bin', "
            "'a.bin', 3, :sha256, :sha512, 'E', '2026-11-01 00:00:00', 'dd', '9', 'm', '', '', "
            "'', '2026-11-01 00:00:00', 'user', 'authority')"),
            {"id": item_id, "sha256": item_id[0] * 64, "sha512": sha512})


def _nullable(engine: Engine) -> dict[str, bool]:
    return {c["name"]: c["nullable"] for c in inspect(engine).get_columns("evidence_items")}


def test_upgrade_keeps_legacy_items_and_downgrade_round_trips(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'node.db'}")
    try:
        _to(engine, "tsa0003")
        _insert(engine, "a-legacy", "5" * 128)
        _to(engine, "evid0004")
        assert _nullable(engine)["blake3"] and _nullable(engine)["sha512"]
        with engine.connect() as connection:
            row = connection.execute(text(
                "SELECT blake3, sha512 FROM evidence_items WHERE id = 'a-legacy'")).one()
        assert tuple(row) == (None, "5" * 128)
        _to(engine, "tsa0003", down=True)
        assert "blake3" not in _nullable(engine) and not _nullable(engine)["sha512"]
        _to(engine, "evid0004")
        _insert(engine, "b-blake3-only", None)
        with pytest.raises(RuntimeError, match="1 evidence item"):
            _to(engine, "tsa0003", down=True)
        assert "blake3" in _nullable(engine)  # nothing changed
    finally:
        engine.dispose()
