"""vend outcome: a vend row records what the gate did, and only real openings count

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

Until now a vend row was written with every entry and exit, even when no gate
was commanded (a replay with gates off, a lane without a gate), so reports
counted openings that never happened. From now on a row is written only when
the booth commands a gate, and ``outcome`` says what the gate did: ``opened``
(the opening was commanded) or ``fault`` (the gate refused it: offline, in
fault, shut down), with the gate's ``message``. Rows written before this
migration are kept as ``opened``: which of them opened nothing cannot be
known any more. The reports' covering index gains the outcome, so a period's
real openings by source are still counted from the index alone.
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vend', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.String(length=12), nullable=False, server_default='opened'))
        batch_op.add_column(sa.Column('message', sa.String(length=200), nullable=True))
        batch_op.drop_index('ix_vend_facility_at')
        batch_op.create_index('ix_vend_facility_at', ['facility_id', 'at', 'source', 'outcome'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('vend', schema=None) as batch_op:
        batch_op.drop_index('ix_vend_facility_at')
        batch_op.create_index('ix_vend_facility_at', ['facility_id', 'at', 'source'], unique=False)
        batch_op.drop_column('message')
        batch_op.drop_column('outcome')
