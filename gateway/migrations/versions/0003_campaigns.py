"""Campaigns (issue #17): a subject-line job over an audience, one row per recipient;
and at most one running experiment per tenant and task, enforced by a partial unique
index (two racing starts could both pass the application's check).

Revision ID: 0003_campaigns
Revises: 0002_user_keys
Create Date: 2026-12-01
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003_campaigns'
down_revision: str | Sequence[str] | None = '0002_user_keys'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    # A pre-Alembic data dir adopted by gateway.schema gets today's tables from create_all
    # before it is migrated from the baseline: skip what exists.
    inspector = sa.inspect(op.get_bind())
    if 'campaigns' not in inspector.get_table_names():
        _create_campaigns()
    if 'uq_experiment_running_task' not in {i['name'] for i in inspector.get_indexes('experiments')}:
        _one_running_experiment_per_task()


def _create_campaigns() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('experiment_id', sa.Integer(), nullable=True),
    sa.Column('experiment', sa.String(length=64), nullable=True),
    sa.Column('runner', sa.String(length=16), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('forgotten', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiments.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_campaigns_tenant_id'), 'campaigns', ['tenant_id'], unique=False)
    op.create_table('campaign_rows',
    sa.Column('campaign_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'position')
    )
    op.create_index('ix_campaign_rows_status', 'campaign_rows', ['campaign_id', 'status'],
                    unique=False)
    op.create_index('ix_campaign_rows_user', 'campaign_rows', ['tenant_id', 'user_id'],
                    unique=False)


def _one_running_experiment_per_task() -> None:
    # A database that already holds two running experiments on one task keeps the oldest
    # running (the one assign.resolve serves) and stops the others, so the index can exist.
    op.execute(
        "UPDATE experiments SET status = 'stopped' WHERE status = 'running' AND id <> "
        "(SELECT MIN(e2.id) FROM experiments e2 WHERE e2.tenant_id = experiments.tenant_id "
        "AND e2.task = experiments.task AND e2.status = 'running')")
    op.create_index('uq_experiment_running_task', 'experiments', ['tenant_id', 'task'],
                    unique=True, sqlite_where=_RUNNING, postgresql_where=_RUNNING)


def downgrade() -> None:
    op.drop_index('uq_experiment_running_task', table_name='experiments')
    op.drop_index('ix_campaign_rows_user', table_name='campaign_rows')
    op.drop_index('ix_campaign_rows_status', table_name='campaign_rows')
    op.drop_table('campaign_rows')
    op.drop_index(op.f('ix_campaigns_tenant_id'), table_name='campaigns')
    op.drop_table('campaigns')
