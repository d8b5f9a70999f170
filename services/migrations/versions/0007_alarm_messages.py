"""live_alarms: the alarm text in Chinese and English (message_zh, message_en)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('live_alarms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_zh', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('message_en', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('live_alarms', schema=None) as batch_op:
        batch_op.drop_column('message_en')
        batch_op.drop_column('message_zh')
