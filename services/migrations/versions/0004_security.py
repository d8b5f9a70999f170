"""security: demo users, token revocation

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import services.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('demo', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column('tokens_valid_after', services.db.UTCDateTime(), nullable=True))
    op.create_table('revoked_tokens',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('expires_at', services.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('jti')
    )
    op.create_index(op.f('ix_revoked_tokens_expires_at'), 'revoked_tokens', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_revoked_tokens_expires_at'), table_name='revoked_tokens')
    op.drop_table('revoked_tokens')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('tokens_valid_after')
        batch.drop_column('demo')
