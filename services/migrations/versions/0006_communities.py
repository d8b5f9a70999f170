"""communities: a community column on every table of one community's data, memberships,
row-level security on PostgreSQL

Existing rows are backfilled with the deployment's default community (the first site of
``TWIN_SITES``, else the ``name`` of ``TWIN_SITE``'s manifest); a caller may name it with
``config.attributes["community"]``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

#: Tables that hold one community's data (services.db.CommunityScoped).
COMMUNITY_TABLES = (
    'user_units', 'audit_log', 'notifications', 'notices', 'notice_recipients',
    'billing_units', 'meter_readings', 'bills', 'bill_lines', 'payments', 'payment_allocations',
    'payment_intents', 'work_orders', 'work_order_events', 'work_order_attachments',
)

POLICY = 'twin_community'


def _default_community() -> str:
    given = context.config.attributes.get("community")
    if given:
        return str(given)
    from services.communities import default_community_id

    return default_community_id()


def upgrade() -> None:
    community = _default_community()
    op.create_table('memberships',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('community', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_memberships_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'community', name=op.f('pk_memberships'))
    )
    op.create_index(op.f('ix_memberships_community'), 'memberships', ['community'], unique=False)
    for table in COMMUNITY_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('community', sa.String(length=64), nullable=False,
                                       server_default=community))
        with op.batch_alter_table(table) as batch:  # existing rows keep it; new rows name theirs
            batch.alter_column('community', server_default=None, existing_type=sa.String(length=64),
                               existing_nullable=False)
            batch.create_index(op.f(f'ix_{table}_community'), ['community'], unique=False)
    per_community_ids()
    if op.get_bind().dialect.name == 'postgresql':
        for table in COMMUNITY_TABLES:
            enable_row_security(table)


#: Foreign keys to units and bills: (table, old name, new name, column, referred table, ondelete).
_FKS = (
    ('bills', 'fk_bills_unit_id_billing_units', 'fk_bills_unit_billing_units', 'unit_id', 'billing_units', None),
    ('meter_readings', 'fk_meter_readings_unit_id_billing_units', 'fk_meter_readings_unit_billing_units', 'unit_id',
     'billing_units', None),
    ('payments', 'fk_payments_unit_id_billing_units', 'fk_payments_unit_billing_units', 'unit_id', 'billing_units',
     None),
    ('payment_intents', 'fk_payment_intents_unit_id_billing_units', 'fk_payment_intents_unit_billing_units',
     'unit_id', 'billing_units', None),
    ('bill_lines', 'fk_bill_lines_bill_id_bills', 'fk_bill_lines_bill_bills', 'bill_id', 'bills', 'CASCADE'),
    ('payment_allocations', 'fk_payment_allocations_bill_id_bills', 'fk_payment_allocations_bill_bills', 'bill_id',
     'bills', None),
)

#: New primary keys: ids unique per community.
_PKS = (
    ('billing_units', ['community', 'id']),
    ('bills', ['community', 'id']),
    ('meter_readings', ['community', 'unit_id', 'kind', 'month']),
    ('user_units', ['user_id', 'community', 'unit_id']),
)


def per_community_ids() -> None:
    """Units, bills and readings are keyed by (community, id); references carry the community."""
    for table, old, _new, _col, _ref, _ondelete in _FKS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(old, type_='foreignkey')
    for table, columns in _PKS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f'pk_{table}', type_='primary')
            batch.create_primary_key(f'pk_{table}', columns)
    for table, _old, new, col, ref, ondelete in _FKS:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(new, ref, ['community', col], ['community', 'id'], ondelete=ondelete)


def global_ids() -> None:
    """The reverse of :func:`per_community_ids` (fails when two communities share an id)."""
    for table, _old, new, _col, _ref, _ondelete in _FKS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(new, type_='foreignkey')
    for table, columns in _PKS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f'pk_{table}', type_='primary')
            batch.create_primary_key(f'pk_{table}', [c for c in columns if c != 'community'])
    for table, old, _new, col, ref, ondelete in _FKS:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(old, ref, [col], ['id'], ondelete=ondelete)


def enable_row_security(table: str) -> None:
    """Row-level security: a transaction sees (and writes) the rows of ``twin.community``
    only, unless it set ``twin.all_communities`` (migrations, backups, CLI tools); a
    connection that set neither sees nothing. FORCE: the table owner is bound too
    (superusers bypass row-level security: the service must not connect as one)."""
    op.execute(f'ALTER TABLE {table} ENABLE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE {table} FORCE ROW LEVEL SECURITY')
    rule = ("(community = current_setting('twin.community', true) "
            "OR current_setting('twin.all_communities', true) = 'on')")
    op.execute(f'CREATE POLICY {POLICY} ON {table} USING {rule} WITH CHECK {rule}')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in COMMUNITY_TABLES:
            op.execute(f'DROP POLICY IF EXISTS {POLICY} ON {table}')
            op.execute(f'ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY')
            op.execute(f'ALTER TABLE {table} DISABLE ROW LEVEL SECURITY')
    global_ids()
    for table in COMMUNITY_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(op.f(f'ix_{table}_community'))
            batch.drop_column('community')
    op.drop_index(op.f('ix_memberships_community'), table_name='memberships')
    op.drop_table('memberships')
