"""Judicial safeguards: assessments before intrusive measures, reasoned decisions and the
analytic tools that contributed to them, notifications of the enforcing State, providers'
Annex III answers, and the data-protection records of data received (purpose, retention,
onward transfers, deferred information of the data subject).

Only new tables: nothing existing changes, so the downgrade drops them (and their records).

Revision ID: safe0005
Revises: iden0005
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import rogatory.db

revision: str = "safe0005"
down_revision: str | None = "iden0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('analytic_tools',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('error_rates', sa.Text(), nullable=False),
    sa.Column('bias_assessment', sa.Text(), nullable=False),
    sa.Column('approved_by_user_id', sa.String(length=36), nullable=False),
    sa.Column('approved_by_authority_id', sa.String(length=64), nullable=False),
    sa.Column('approved_at', rogatory.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ledger_index', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['approved_by_authority_id'], ['authorities.id'], name=op.f('fk_analytic_tools_approved_by_authority_id_authorities')),
    sa.ForeignKeyConstraint(['approved_by_user_id'], ['users.id'], name=op.f('fk_analytic_tools_approved_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytic_tools')),
    sa.UniqueConstraint('ledger_index', name=op.f('uq_analytic_tools_ledger_index')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_analytic_tools_name'))
    )
    op.create_table('assessments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('offence', sa.Text(), nullable=False),
    sa.Column('maximum_penalty_years', sa.Integer(), nullable=False),
    sa.Column('listed_offence', sa.String(length=64), nullable=True),
    sa.Column('committed_by_information_system', sa.Boolean(), nullable=False),
    sa.Column('necessity', sa.Text(), nullable=False),
    sa.Column('proportionality', sa.Text(), nullable=False),
    sa.Column('least_intrusive_alternative', sa.Text(), nullable=False),
    sa.Column('alternative_insufficient_because', sa.Text(), nullable=False),
    sa.Column('data_from', sa.Date(), nullable=False),
    sa.Column('data_to', sa.Date(), nullable=False),
    sa.Column('data_scope', sa.Text(), nullable=False),
    sa.Column('persons_affected', sa.Text(), nullable=False),
    sa.Column('privileged_persons', sa.JSON(), nullable=False),
    sa.Column('privileged_safeguards', sa.Text(), nullable=False),
    sa.Column('offence_in_issuing_state', sa.Boolean(), nullable=False),
    sa.Column('person_in_issuing_state', sa.Boolean(), nullable=False),
    sa.Column('author_user_id', sa.String(length=36), nullable=False),
    sa.Column('author_authority_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', rogatory.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ledger_index', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['author_authority_id'], ['authorities.id'], name=op.f('fk_assessments_author_authority_id_authorities')),
    sa.ForeignKeyConstraint(['author_user_id'], ['users.id'], name=op.f('fk_assessments_author_user_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_assessments_request_id_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessments')),
    sa.UniqueConstraint('ledger_index', name=op.f('uq_assessments_ledger_index')),
    sa.UniqueConstraint('request_id', 'number', name=op.f('uq_assessments_request_id'))
    )
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessments_request_id'), ['request_id'], unique=False)

    op.create_table('informing_deferrals',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('until', sa.Date(), nullable=False),
    sa.Column('recorded_by_user_id', sa.String(length=36), nullable=False),
    sa.Column('recorded_by_authority_id', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', rogatory.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ledger_index', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_authority_id'], ['authorities.id'], name=op.f('fk_informing_deferrals_recorded_by_authority_id_authorities')),
    sa.ForeignKeyConstraint(['recorded_by_user_id'], ['users.id'], name=op.f('fk_informing_deferrals_recorded_by_user_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_informing_deferrals_request_id_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_informing_deferrals')),
    sa.UniqueConstraint('ledger_index', name=op.f('uq_informing_deferrals_ledger_index'))
    )
    with op.batch_alter_table('informing_deferrals', schema=None) as batch_op:
        batch_op.create_index('ix_informing_deferrals_request_id_until', ['request_id', 'until'], unique=False)

    op.create_table('non_execution_notices',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('conflict_details', sa.Text(), nullable=False),
    sa.Column('information_required', sa.Text(), nullable=False),
    sa.Column('data_preserved', sa.Boolean(), nullable=False),
    sa.Column('preserved_until', sa.Date(), nullable=True),
    sa.Column('recorded_by_user_id', sa.String(length=36), nullable=False),
    sa.Column('recorded_by_authority_id', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', rogatory.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ledger_index', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_authority_id'], ['authorities.id'], name=op.f('fk_non_execution_notices_recorded_by_authority_id_authorities')),
    sa.ForeignKeyConstraint(['recorded_by_user_id'], ['users.id'], name=op.f('fk_non_execution_notices_recorded_by_user_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_non_execution_notices_request_id_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_non_execution_notices')),
    sa.UniqueConstraint('ledger_index', name=op.f('uq_non_execution_notices_ledger_index'))
    )
    with op.batch_alter_table('non_execution_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_non_execution_notices_request_id'), ['request_id'], unique=False)

    op.create_table('received_data',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('evidence_reference', sa.String(length=100), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('retention_until', sa.Date(), nullable=False),
    sa.Column('review_due_on', sa.Date(), nullable=False),
    sa.Column('restricted', sa.Boolean(), nullable=False),
    sa.Column('restriction_reason', sa.String(length=200), nullable=True),
    sa.Column('restriction_basis', sa.String(length=200), nullable=True),
    sa.Column('deleted_at', rogatory.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deletion_reason', sa.Text(), nullable=True),
    sa.Column('recorded_by_user_id', sa.String(length=36), nullable=False),
    sa.Column('recorded_by_authority_id', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', rogatory.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_authority_id'], ['authorities.id'], name=op.f('fk_received_data_recorded_by_authority_id_authorities')),
    sa.ForeignKeyConstraint(['recorded_by_user_id'], ['users.id'], name=op.f('fk_received_data_recorded_by_user_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_received_data_request_id_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_received_data'))
    )
    with op.batch_alter_table('received_data', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_received_data_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_received_data_review_due_on'), ['review_due_on'], unique=False)

    op.create_table('decisions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('instrument', sa.String(length=40), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('grounds', sa.JSON(), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('legal_basis', sa.String(length=400), nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=True),
    sa.Column('supersedes_id', sa.String(length=36), nullable=True),
    sa.Column('request_version', sa.Integer(), nullable=True),
    sa.Column('decided_by_user_id', sa.String(length=36), nullable=False),
    sa.Column('decided_by_authority_id', sa.String(length=64), nullable=False),
    sa.Column('decided_by_rank', sa.String(length=40), nullable=True),
    sa.Column('decided_at', rogatory.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ledger_index', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], name=op.f('fk_decisions_assessment_id_assessments')),
    sa.ForeignKeyConstraint(['decided_by_authority_id'], ['authorities.id'], name=op.f('fk_decisions_decided_by_authority_id_authorities')),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['users.id'], name=op.f('fk_decisions_decided_by_user_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_decisions_request_id_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['supersedes_id'], ['decisions.id'], name=op.f('fk_decisions_supersedes_id_decisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions')),
    sa.UniqueConstraint('ledger_index', name=op.f('uq_decisions_ledger_index')),
    sa.UniqueConstraint('supersedes_id', name=op.f('uq_decisions_supersedes_id'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decisions_decided_at'), ['decided_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_decisions_request_id'), ['request_id'], unique=False)

    op.create_table('onward_transfers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('data_id', sa.String(length=36), nullable=False),
    sa.Column('third_state', sa.String(length=2), nullable=False),
    sa.Column('recipient', sa.String(length=200), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('consent_reference', sa.String(length=200), nullable=False),
    sa.Column('consent_date', sa.Date(), nullable=False),
    sa.Column('recorded_by_user_id', sa.String(length=36), nullable=False),
    sa.Column('recorded_by_authority_id', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', rogatory.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ledger_index', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['data_id'], ['received_data.id'], name=op.f('fk_onward_transfers_data_id_received_data'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_authority_id'], ['authorities.id'], name=op.f('fk_onward_transfers_recorded_by_authority_id_authorities')),
    sa.ForeignKeyConstraint(['recorded_by_user_id'], ['users.id'], name=op.f('fk_onward_transfers_recorded_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_onward_transfers')),
    sa.UniqueConstraint('ledger_index', name=op.f('uq_onward_transfers_ledger_index'))
    )
    with op.batch_alter_table('onward_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_onward_transfers_data_id'), ['data_id'], unique=False)

    op.create_table('decision_tools',
    sa.Column('decision_id', sa.String(length=36), nullable=False),
    sa.Column('tool_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], name=op.f('fk_decision_tools_decision_id_decisions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tool_id'], ['analytic_tools.id'], name=op.f('fk_decision_tools_tool_id_analytic_tools')),
    sa.PrimaryKeyConstraint('decision_id', 'tool_id', name=op.f('pk_decision_tools'))
    )
    with op.batch_alter_table('decision_tools', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_tools_tool_id'), ['tool_id'], unique=False)

    op.create_table('enforcement_notifications',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('instrument', sa.String(length=40), nullable=False),
    sa.Column('certificate', sa.JSON(), nullable=False),
    sa.Column('enforcing_authority_id', sa.String(length=64), nullable=False),
    sa.Column('notified_at', rogatory.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_due_at', rogatory.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('emergency', sa.Boolean(), nullable=False),
    sa.Column('suspensive', sa.Boolean(), nullable=False),
    sa.Column('legal_basis', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('decision_id', sa.String(length=36), nullable=True),
    sa.Column('decided_at', rogatory.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], name=op.f('fk_enforcement_notifications_decision_id_decisions')),
    sa.ForeignKeyConstraint(['enforcing_authority_id'], ['authorities.id'], name=op.f('fk_enforcement_notifications_enforcing_authority_id_authorities')),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_enforcement_notifications_request_id_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enforcement_notifications')),
    sa.UniqueConstraint('request_id', name=op.f('uq_enforcement_notifications_request_id'))
    )
    with op.batch_alter_table('enforcement_notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforcement_notifications_enforcing_authority_id'), ['enforcing_authority_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('enforcement_notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforcement_notifications_enforcing_authority_id'))

    op.drop_table('enforcement_notifications')
    with op.batch_alter_table('decision_tools', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_tools_tool_id'))

    op.drop_table('decision_tools')
    with op.batch_alter_table('onward_transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_onward_transfers_data_id'))

    op.drop_table('onward_transfers')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decisions_request_id'))
        batch_op.drop_index(batch_op.f('ix_decisions_decided_at'))

    op.drop_table('decisions')
    with op.batch_alter_table('received_data', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_received_data_review_due_on'))
        batch_op.drop_index(batch_op.f('ix_received_data_request_id'))

    op.drop_table('received_data')
    with op.batch_alter_table('non_execution_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_non_execution_notices_request_id'))

    op.drop_table('non_execution_notices')
    with op.batch_alter_table('informing_deferrals', schema=None) as batch_op:
        batch_op.drop_index('ix_informing_deferrals_request_id_until')

    op.drop_table('informing_deferrals')
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessments_request_id'))

    op.drop_table('assessments')
    op.drop_table('analytic_tools')
