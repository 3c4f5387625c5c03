"""login_guard: lock-outs per user and source, with a back-off

Revision ID: 0008_login_sources
Revises: 0005
Create Date: 2026-12-04

Three wrong PINs used to lock a user for an hour everywhere, so anyone could
lock the admin out. Failures are now counted per user *and* source (the CLI's
OS account and host, a console, an API client) in ``login_guard``; a lock holds
for that source only and grows with each lock (attendant/core/users.py). The
old per-user columns of ``app_user`` are left in place and no longer read;
a lock they held is carried into ``login_guard`` under the source ``legacy``.
"""
import sqlalchemy as sa

import db.types
from alembic import op

revision = '0008_login_sources'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'login_guard',
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('app_user.id'), primary_key=True),
        sa.Column('source', sa.String(length=80), primary_key=True),
        sa.Column('failures', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('locks', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('locked_until', db.types.UTCDateTime(), nullable=True),
        sa.Column('last_failure_at', db.types.UTCDateTime(), nullable=True),
    )
    op.execute("INSERT INTO login_guard (user_id, source, failures, locks, locked_until) "
               "SELECT id, 'legacy', failed_attempts, 1, locked_until FROM app_user WHERE locked_until IS NOT NULL")


def downgrade() -> None:
    op.drop_table('login_guard')
