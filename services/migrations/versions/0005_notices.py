"""notices: composed notices and their recipients

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import services.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('title_en', sa.String(length=200), nullable=True),
    sa.Column('body_en', sa.Text(), nullable=True),
    sa.Column('target', sa.JSON(), nullable=False),
    sa.Column('email', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', services.db.UTCDateTime(), nullable=False),
    sa.Column('publish_at', services.db.UTCDateTime(), nullable=False),
    sa.Column('published_at', services.db.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_notices_due', 'notices', ['published_at', 'publish_at'], unique=False)
    op.create_table('notice_recipients',
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('read_at', services.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('notice_id', 'username')
    )
    op.create_index(op.f('ix_notice_recipients_username'), 'notice_recipients', ['username'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_notice_recipients_username'), table_name='notice_recipients')
    op.drop_table('notice_recipients')
    op.drop_index('ix_notices_due', table_name='notices')
    op.drop_table('notices')
