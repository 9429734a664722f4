"""Per-user data keys (envelope encryption, docs/security.md), and what to seal.

Adds ``user_keys`` (a user's data key, wrapped by a master key) and ``seal_pending``:
the tables whose rows an upgraded store still holds in plaintext. The migration
cannot seal them itself (the master keys live in the gateway's settings, not in
Alembic), so it names them, and the next start (``gateway.storage.seal_plaintext``)
seals them in batches and clears each name when its table is done.

Revision ID: 0002_user_keys
Revises: 0001
Create Date: 2026-12-01
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = '0002_user_keys'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEALED_TABLES = ("history_items", "history_vectors", "generations", "explanations",
                 "feedback", "user_preferences")


def upgrade() -> None:
    # A pre-Alembic data dir is adopted with ``create_all`` (every current table) and
    # stamped 0001, so these tables may exist already; the names to seal go in anyway.
    have = set(sa.inspect(op.get_bind()).get_table_names())
    if 'user_keys' not in have:
        _create_user_keys()
    if 'seal_pending' not in have:
        op.create_table('seal_pending',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('name')
        )
    pending = sa.table('seal_pending', sa.column('name', sa.String))
    op.execute(sa.delete(pending))
    op.bulk_insert(pending, [{"name": n} for n in SEALED_TABLES])


def _create_user_keys() -> None:
    op.create_table('user_keys',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('key_id', BIG_ID, nullable=False),
    sa.Column('master_key_id', sa.String(length=32), nullable=False),
    sa.Column('wrapped', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'user_id'),
    sa.UniqueConstraint('key_id')
    )


def downgrade() -> None:
    # Sealed values stay sealed: downgrading below this revision loses access to them.
    op.drop_table('seal_pending')
    op.drop_table('user_keys')
