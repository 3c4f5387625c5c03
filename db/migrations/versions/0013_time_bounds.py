"""the window of times a facility accepts (``--at``): how far back, how far ahead, how far a supervisor may widen

Revision ID: 0013_time_bounds
Revises: 0010_bay_claims
Create Date: 2026-12-04

Issue 9 item 3 ("Bounded time"): ``enter --at 0001-01-01`` was accepted and
its exit took minutes to price; ``--at 9999-12-31`` trapped the car. Every
time a request gives to the booth services must now lie within the window
these columns configure (seconds; :mod:`attendant.core.time_bounds`):

- ``at_before_s``: no earlier than the oldest open session's entry (or now,
  when none is open) minus this (default one day);
- ``at_ahead_s``: no later than now plus this (default one minute);
- ``at_widen_s``: how far before now a supervisor may back-date with a reason
  (``--allow-backdate REASON``; default 366 days).
"""
import sqlalchemy as sa
from alembic import op

revision = '0013_time_bounds'
down_revision = '0010_bay_claims'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('facility') as batch:
        batch.add_column(sa.Column('at_before_s', sa.BigInteger(), nullable=False, server_default='86400'))
        batch.add_column(sa.Column('at_ahead_s', sa.BigInteger(), nullable=False, server_default='60'))
        batch.add_column(sa.Column('at_widen_s', sa.BigInteger(), nullable=False, server_default='31622400'))


def downgrade() -> None:
    with op.batch_alter_table('facility') as batch:
        batch.drop_column('at_widen_s')
        batch.drop_column('at_ahead_s')
        batch.drop_column('at_before_s')
