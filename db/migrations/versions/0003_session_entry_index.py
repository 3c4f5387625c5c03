"""session entry index: reports count entries by time range

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

Daily, weekly and monthly reports count entries in a time range and the
occupancy at the period's start (entries before it minus exits before it);
with (facility_id, entry_at) both are index range counts instead of scans of
every session ever recorded.
"""
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('parking_session', schema=None) as batch_op:
        batch_op.create_index('ix_session_facility_entry_at', ['facility_id', 'entry_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('parking_session', schema=None) as batch_op:
        batch_op.drop_index('ix_session_facility_entry_at')
