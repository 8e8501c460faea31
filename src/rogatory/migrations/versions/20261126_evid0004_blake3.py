"""BLAKE3 becomes the second hash of every evidence item; SHA-512 is computed only on request.

Adds `evidence_items.blake3` (hex, 64 characters) and makes `evidence_items.sha512` nullable.
Items ingested before this revision keep their SHA-512 and have no BLAKE3 (it cannot be
computed here without their bytes): `blake3` stays NULL for them, and every reader (export,
verify, the API) handles that. The downgrade drops `blake3` and makes `sha512` NOT NULL again;
it refuses to run while an item has no SHA-512 (one ingested after this revision without it),
rather than invent a value.

Revision ID: evid0004
Revises: tsa0003
Create Date: 2026-11-26 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "evid0004"
down_revision: str | None = "tsa0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("blake3", sa.String(length=64), nullable=True))
        batch_op.alter_column("sha512", existing_type=sa.String(length=128), nullable=True)


def downgrade() -> None:
    bind = op.get_bind()
    missing = bind.execute(sa.text(
        "SELECT count(*) FROM evidence_items WHERE sha512 IS NULL")).scalar_one()
    if missing:
        raise RuntimeError(f"{missing} evidence item(s) have no SHA-512: they were ingested "
                           "with BLAKE3 only and cannot go back to a schema that requires it")
    with op.batch_alter_table("evidence_items", schema=None) as batch_op:
        batch_op.alter_column("sha512", existing_type=sa.String(length=128), nullable=False)
        batch_op.drop_column("blake3")
