"""Indexes for the portal's lists, tab counts and dashboard (web/workspace.py) with 10,000
requests and more.

- `requests`: one index per side (issuing, validating, executing authority) that also holds the
  columns the lists and counts read (state, sent_at, emergency, updated_at, instrument,
  created_at, id). The party filter is an OR over the three sides; with these, SQLite answers
  each of its terms from an index without reading the wide rows (a JSON form each). They
  replace the single-column indexes on the three authority columns, which they begin with.
- `deadlines (request_id, status, due_at)`: a request's next open deadline from the index; it
  replaces the index on `request_id` alone, which it begins with.
- `timeline_events (to_state, request_id, at)`: the first answer of each request (executed,
  partly executed, refused) without scanning the timeline.

Only indexes: no data changes, and the downgrade restores the previous ones.

Revision ID: perf0006
Revises: safe0005
Create Date: 2026-11-27 03:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "perf0006"
down_revision: str | None = "safe0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LISTED = ["emergency", "updated_at", "instrument", "created_at", "id"]
SIDES = {
    "ix_requests_issuing_side": ["issuing_authority_id", "state", "sent_at", *LISTED],
    "ix_requests_validating_side": ["validating_authority_id", "state", "sent_at", *LISTED],
    "ix_requests_executing_side": ["executing_authority_id", "sent_at", "state", *LISTED],
}
SINGLE = ["issuing_authority_id", "validating_authority_id", "executing_authority_id"]


def upgrade() -> None:
    for name, columns in SIDES.items():
        op.create_index(name, "requests", columns, unique=False)
    for column in SINGLE:
        op.drop_index(f"ix_requests_{column}", table_name="requests")
    op.create_index("ix_deadlines_request_id_status_due_at", "deadlines",
                    ["request_id", "status", "due_at"], unique=False)
    op.drop_index("ix_deadlines_request_id", table_name="deadlines")
    op.create_index("ix_timeline_events_to_state", "timeline_events",
                    ["to_state", "request_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_timeline_events_to_state", table_name="timeline_events")
    op.create_index("ix_deadlines_request_id", "deadlines", ["request_id"], unique=False)
    op.drop_index("ix_deadlines_request_id_status_due_at", table_name="deadlines")
    for column in SINGLE:
        op.create_index(f"ix_requests_{column}", "requests", [column], unique=False)
    for name in SIDES:
        op.drop_index(name, table_name="requests")
