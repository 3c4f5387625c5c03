"""vend index by time: reports count vends by source over a period

(facility_id, at, source) covers the count, so a month of vends is read from
the index alone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vend', schema=None) as batch_op:
        batch_op.create_index('ix_vend_facility_at', ['facility_id', 'at', 'source'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('vend', schema=None) as batch_op:
        batch_op.drop_index('ix_vend_facility_at')
