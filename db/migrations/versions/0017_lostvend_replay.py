"""facility.at_replay: a facility that replays history lets attendant-level actors back-date

Revision ID: 0017_lostvend
Revises: 0017_audit_chains
Create Date: 2026-12-05

Issue 10 item 6 ("Back-dating"): an attendant's exit ``--at`` 3.5 hours
earlier was accepted (inside the window of 0013_time_bounds) and charged
nothing. Back-dating (a time before now, beyond the window's ``ahead``
tolerance) is now a supervisor's action with a reason, or part of an explicit
replay mode: this column (default false; ``attendant time-window --replay``,
admins, audited) lets a site that replays history (a paper log, a test
suite's fixed dates) date operations back within the window without a
supervisor. Rule and checks: :meth:`attendant.core.store.FacilityStore._check_at`.
"""
import sqlalchemy as sa
from alembic import op

revision = '0017_lostvend'
down_revision = '0017_audit_chains'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (no batch copy): SQLite cannot drop facility while sessions refer to it
    op.add_column('facility', sa.Column('at_replay', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('facility') as batch:
        batch.drop_column('at_replay')
