"""per-community references: a payment's reference and a work order's alarm id are unique
within one community (two communities may use the same ones)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 11:30:00
"""

from __future__ import annotations

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

#: (table, column, old constraint, new constraint).
_UNIQUE = (
    ('payments', 'reference', 'uq_payments_reference', 'uq_payments_community_reference'),
    ('work_orders', 'alarm_id', 'uq_work_orders_alarm_id', 'uq_work_orders_community_alarm_id'),
)


def upgrade() -> None:
    for table, column, old, new in _UNIQUE:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(old, type_='unique')
            batch.create_unique_constraint(new, ['community', column])


def downgrade() -> None:
    """Back to deployment-wide uniqueness (fails when two communities share a value)."""
    for table, column, old, new in _UNIQUE:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(new, type_='unique')
            batch.create_unique_constraint(old, [column])
