"""durable consumer offsets, meter points, the work-order request of an alarm

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 06:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consumer_offsets',
    sa.Column('consumer', sa.String(length=64), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.Float(precision=53), nullable=False),
    sa.PrimaryKeyConstraint('consumer')
    )
    op.create_table('meter_points',
    sa.Column('device_id', sa.String(length=128), nullable=False),
    sa.Column('ts', sa.Float(precision=53), nullable=False),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('value', sa.Float(precision=53), nullable=False),
    sa.Column('received_at', sa.Float(precision=53), nullable=False),
    sa.PrimaryKeyConstraint('device_id', 'ts')
    )
    with op.batch_alter_table('live_alarms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('work_order', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('live_alarms', schema=None) as batch_op:
        batch_op.drop_column('work_order')
    op.drop_table('meter_points')
    op.drop_table('consumer_offsets')
