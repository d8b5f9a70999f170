"""initial schema: users, audit, outbox, work orders, billing

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 00:13:38.035337
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import services.db

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ts', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.String(length=128), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entity', ['entity', 'entity_id'], unique=False)

    op.create_table('billing_units',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('building_id', sa.String(length=128), nullable=True),
    sa.Column('storey_id', sa.String(length=128), nullable=True),
    sa.Column('space_id', sa.String(length=128), nullable=True),
    sa.Column('area_m2', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('floor', sa.Integer(), nullable=True),
    sa.Column('building_type', sa.String(length=32), nullable=True),
    sa.Column('level', sa.String(length=16), nullable=True),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_units'))
    )
    with op.batch_alter_table('billing_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_units_building_id'), ['building_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('ref', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('read_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_status', ['channel', 'status'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('staff_id', sa.String(length=128), nullable=True),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('work_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('category_confidence', sa.Double(), nullable=True),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('space_id', sa.String(length=128), nullable=True),
    sa.Column('device_id', sa.String(length=128), nullable=True),
    sa.Column('unit_id', sa.String(length=128), nullable=True),
    sa.Column('building_id', sa.String(length=128), nullable=True),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('reporter', sa.String(length=64), nullable=False),
    sa.Column('contact_name', sa.String(length=64), nullable=True),
    sa.Column('contact_phone', sa.String(length=32), nullable=True),
    sa.Column('assignee', sa.String(length=128), nullable=True),
    sa.Column('alarm_id', sa.String(length=128), nullable=True),
    sa.Column('created_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('respond_by', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolve_by', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('responded_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_orders')),
    sa.UniqueConstraint('alarm_id', name=op.f('uq_work_orders_alarm_id'))
    )
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.create_index('ix_work_orders_assignee', ['assignee', 'status'], unique=False)
        batch_op.create_index('ix_work_orders_status', ['status'], unique=False)
        batch_op.create_index('ix_work_orders_unit', ['unit_id'], unique=False)

    op.create_table('bills',
    sa.Column('id', sa.String(length=160), nullable=False),
    sa.Column('unit_id', sa.String(length=128), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('total', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('paid', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('rules_version', sa.String(length=64), nullable=False),
    sa.Column('created_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['billing_units.id'], name=op.f('fk_bills_unit_id_billing_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bills'))
    )
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.create_index('ix_bills_month', ['month'], unique=False)
        batch_op.create_index('ix_bills_unit', ['unit_id', 'month'], unique=False)

    op.create_table('meter_readings',
    sa.Column('unit_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('reading', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['billing_units.id'], name=op.f('fk_meter_readings_unit_id_billing_units')),
    sa.PrimaryKeyConstraint('unit_id', 'kind', 'month', name=op.f('pk_meter_readings'))
    )
    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.String(length=128), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('reference', sa.String(length=128), nullable=False),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['billing_units.id'], name=op.f('fk_payments_unit_id_billing_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('reference', name=op.f('uq_payments_reference'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_unit_id'), ['unit_id'], unique=False)

    op.create_table('user_units',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_units_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'unit_id', name=op.f('pk_user_units'))
    )
    op.create_table('work_order_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('work_order_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['work_order_id'], ['work_orders.id'], name=op.f('fk_work_order_attachments_work_order_id_work_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_order_attachments'))
    )
    with op.batch_alter_table('work_order_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_order_attachments_work_order_id'), ['work_order_id'], unique=False)

    op.create_table('work_order_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('work_order_id', sa.Integer(), nullable=False),
    sa.Column('ts', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['work_order_id'], ['work_orders.id'], name=op.f('fk_work_order_events_work_order_id_work_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_order_events'))
    )
    with op.batch_alter_table('work_order_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_order_events_work_order_id'), ['work_order_id'], unique=False)

    op.create_table('bill_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bill_id', sa.String(length=160), nullable=False),
    sa.Column('item', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=14, scale=4), nullable=True),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.id'], name=op.f('fk_bill_lines_bill_id_bills'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bill_lines'))
    )
    with op.batch_alter_table('bill_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bill_lines_bill_id'), ['bill_id'], unique=False)

    op.create_table('payment_allocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('bill_id', sa.String(length=160), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('applied_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.id'], name=op.f('fk_payment_allocations_bill_id_bills')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_payment_allocations_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_allocations'))
    )
    with op.batch_alter_table('payment_allocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_allocations_bill_id'), ['bill_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_allocations_payment_id'), ['payment_id'], unique=False)

    op.create_table('payment_intents',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('unit_id', sa.String(length=128), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('settled_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('gateway_ref', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_payment_intents_payment_id_payments')),
    sa.ForeignKeyConstraint(['unit_id'], ['billing_units.id'], name=op.f('fk_payment_intents_unit_id_billing_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_intents'))
    )
    with op.batch_alter_table('payment_intents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_intents_unit_id'), ['unit_id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('payment_intents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_intents_unit_id'))

    op.drop_table('payment_intents')
    with op.batch_alter_table('payment_allocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_allocations_payment_id'))
        batch_op.drop_index(batch_op.f('ix_payment_allocations_bill_id'))

    op.drop_table('payment_allocations')
    with op.batch_alter_table('bill_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bill_lines_bill_id'))

    op.drop_table('bill_lines')
    with op.batch_alter_table('work_order_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_order_events_work_order_id'))

    op.drop_table('work_order_events')
    with op.batch_alter_table('work_order_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_order_attachments_work_order_id'))

    op.drop_table('work_order_attachments')
    op.drop_table('user_units')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_unit_id'))

    op.drop_table('payments')
    op.drop_table('meter_readings')
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.drop_index('ix_bills_unit')
        batch_op.drop_index('ix_bills_month')

    op.drop_table('bills')
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_work_orders_unit')
        batch_op.drop_index('ix_work_orders_status')
        batch_op.drop_index('ix_work_orders_assignee')

    op.drop_table('work_orders')
    op.drop_table('users')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_status')

    op.drop_table('notifications')
    with op.batch_alter_table('billing_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_units_building_id'))

    op.drop_table('billing_units')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entity')

    op.drop_table('audit_log')
    
