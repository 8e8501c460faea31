"""Every timeline event of a request is a leaf of the node's ledger: its leaf index.

Revision ID: ledg0002
Revises: evid0001
Create Date: 2026-11-26 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ledg0002"
down_revision: str | None = "evid0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("timeline_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ledger_index", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_timeline_events_ledger_index"), ["ledger_index"],
                              unique=True)


def downgrade() -> None:
    with op.batch_alter_table("timeline_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timeline_events_ledger_index"))
        batch_op.drop_column("ledger_index")
