"""count-up policy: blind count and the over/short that needs a reason (per facility); the reason given at close

Revision ID: 0021_staff
Revises: 0020_reserve
Create Date: 2026-12-05

Issue 12 item 6 ("Staff"): the count-up showed the expected cash while the
attendant counted, and a shift closed with any over/short and no word why.

- ``facility.count_blind``: the console hides the expected amounts until the
  count is entered (default on: a blind count-up);
- ``facility.over_short_reason_above``: minor units; a close whose over/short
  on any payment method is larger than this (in absolute value) needs a
  reason (default 500, i.e. 5.00 in a two-decimal currency);
- ``shift.over_short_reason``: the reason given at close (attendant/core/shifts.py).
"""
import sqlalchemy as sa
from alembic import op

revision = '0021_staff'
down_revision = '0020_reserve'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMNs (no batch copy): SQLite cannot drop facility or shift while other rows refer to them
    op.add_column('facility', sa.Column('count_blind', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column('facility', sa.Column('over_short_reason_above', sa.BigInteger(), nullable=False,
                                        server_default='500'))
    op.add_column('shift', sa.Column('over_short_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('shift') as batch:
        batch.drop_column('over_short_reason')
    with op.batch_alter_table('facility') as batch:
        batch.drop_column('over_short_reason_above')
        batch.drop_column('count_blind')
