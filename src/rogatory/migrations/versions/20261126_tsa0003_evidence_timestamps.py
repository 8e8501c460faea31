"""Each evidence item carries an RFC 3161 timestamp token over its SHA-256 digest.

Revision ID: tsa0003
Revises: ledg0002
Create Date: 2026-11-26 22:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tsa0003"
down_revision: str | None = "ledg0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timestamp_token", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence_items", schema=None) as batch_op:
        batch_op.drop_column("timestamp_token")
