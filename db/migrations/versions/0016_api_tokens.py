"""api_token and the entry's idempotency key: the HTTP API's clients and their retried entries

Revision ID: 0016_api_tokens
Revises: 0015_lane_status
Create Date: 2026-12-04

Integrators reach the booth services over HTTP (``attendant serve``, issue 13
item 1) with API tokens an admin creates (``attendant token create``). A token
is stored as an HMAC-SHA256 of its text keyed from the installation secret
(``attendant.core.api_tokens``), never as the text; its name is unique for
good (a revoked token keeps its row and its name, so ``api:<name>`` in the
audit log always means one token).

``parking_session.entry_key``: the idempotency key of the request that opened
the session (the API's ``Idempotency-Key`` header), unique per facility, so a
retried entry returns the first session instead of making a second one;
``exit_key`` the same for the request that closed it (an exit with nothing to
pay has no payment row carrying the key).
"""
import sqlalchemy as sa

import db.types
from alembic import op

revision = '0016_api_tokens'
down_revision = '0015_lane_status'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'api_token',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('name', sa.String(length=40), nullable=False, unique=True),
        sa.Column('role', sa.String(length=12), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False, unique=True),
        sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=80), nullable=False),
        sa.Column('revoked_at', db.types.UTCDateTime(), nullable=True),
    )
    # a plain ALTER TABLE ADD COLUMN on both backends: the table (and its change-feed triggers) stays as it is
    op.add_column('parking_session', sa.Column('entry_key', sa.String(length=80), nullable=True))
    op.add_column('parking_session', sa.Column('exit_key', sa.String(length=80), nullable=True))
    op.create_index('uq_session_entry_key', 'parking_session', ['facility_id', 'entry_key'], unique=True)
    op.create_index('uq_session_exit_key', 'parking_session', ['facility_id', 'exit_key'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_session_exit_key', table_name='parking_session')
    op.drop_index('uq_session_entry_key', table_name='parking_session')
    with op.batch_alter_table('parking_session') as batch:
        batch.drop_column('exit_key')
        batch.drop_column('entry_key')
    op.drop_table('api_token')
