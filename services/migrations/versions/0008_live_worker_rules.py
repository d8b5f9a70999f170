"""live worker rules: member-rule tracks and combination claims shared by ingestion workers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('live_rule_tracks',
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=256), nullable=False, comment='{site}/{device id}'),
    sa.Column('space_scope', sa.String(length=160), nullable=True, comment="scope_of(device, 'space') as kind:id"),
    sa.Column('storey_scope', sa.String(length=160), nullable=True, comment="scope_of(device, 'storey') as kind:id"),
    sa.Column('since', sa.Float(precision=53), nullable=True, comment='active since (event time, epoch s); NULL: not active'),
    sa.Column('last_true', sa.Float(precision=53), nullable=True, comment='last time the rule held (epoch s)'),
    sa.PrimaryKeyConstraint('rule_id', 'device_id')
    )
    op.create_index('ix_live_rule_tracks_last_true', 'live_rule_tracks', ['last_true'], unique=False)
    op.create_table('live_combo_claims',
    sa.Column('key', sa.String(length=256), nullable=False, comment='{rule}:{scope kind}:{scope id}'),
    sa.Column('raised_at', sa.Float(precision=53), nullable=False),
    sa.Column('worker', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('live_combo_claims')
    op.drop_index('ix_live_rule_tracks_last_true', table_name='live_rule_tracks')
    op.drop_table('live_rule_tracks')
