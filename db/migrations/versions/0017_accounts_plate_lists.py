"""account and plate_list_entry: accounts behind account payments; deny and allow lists of plates

Revision ID: 0017_accounts_plate_lists
Revises: 0020_tariffs
Create Date: 2026-12-05

Issue 10 items 7 and 8. ``account``: holder (AES-GCM ciphertext, as
``pass_holder.holder_name``), reference unique per facility, optional credit
limit in minor units, open/closed with who and why. An account payment names
its account in ``payment.processor_ref``; ``ix_payment_account`` finds an
account's charges without a scan. ``plate_list_entry``: deny (refuse/flag)
and allow (free) entries with the plate sealed and blind-indexed as sessions
store it, one live entry per plate (partial unique index); the retention
rule erases the plate of an entry removed or expired long ago. A free exit on
the allow list names its entry in ``parking_session.allow_entry_id``.
"""
import sqlalchemy as sa

import db.types
from alembic import op

revision = '0017_accounts_plate_lists'
down_revision = '0020_tariffs'
branch_labels = None
depends_on = None

LIVE = sa.text("removed_at IS NULL")


def upgrade() -> None:
    op.create_table(
        'account',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('facility_id', sa.Integer(), sa.ForeignKey('facility.id'), nullable=False),
        sa.Column('reference', sa.String(length=40), nullable=False),
        sa.Column('holder', sa.Text(), nullable=False),
        sa.Column('credit_limit', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=80), nullable=False),
        sa.Column('closed_at', db.types.UTCDateTime(), nullable=True),
        sa.Column('closed_by', sa.String(length=80), nullable=True),
        sa.Column('close_reason', sa.String(length=240), nullable=True),
        sa.UniqueConstraint('facility_id', 'reference', name='uq_account_reference'),
    )
    op.create_table(
        'plate_list_entry',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('facility_id', sa.Integer(), sa.ForeignKey('facility.id'), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('action', sa.String(length=8), nullable=False),
        sa.Column('plate', sa.String(length=120), nullable=True),  # erased by the retention rule
        sa.Column('plate_hash', sa.String(length=32), nullable=True),
        sa.Column('plate_fold', sa.String(length=32), nullable=True),
        sa.Column('reason', sa.String(length=240), nullable=False),
        sa.Column('valid_until', db.types.UTCDateTime(), nullable=True),
        sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=80), nullable=False),
        sa.Column('removed_at', db.types.UTCDateTime(), nullable=True),
        sa.Column('removed_by', sa.String(length=80), nullable=True),
    )
    op.create_index('uq_plate_list_live', 'plate_list_entry', ['facility_id', 'plate_hash'], unique=True,
                    sqlite_where=LIVE, postgresql_where=LIVE)
    op.create_index('ix_plate_list_fold', 'plate_list_entry', ['facility_id', 'plate_fold'])
    op.create_index('ix_payment_account', 'payment', ['facility_id', 'method', 'processor_ref'])
    # a plain ALTER TABLE ADD COLUMN on both backends: the table (and its change-feed triggers) stays as it is
    op.add_column('parking_session', sa.Column('allow_entry_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('parking_session') as batch:
        batch.drop_column('allow_entry_id')
    op.drop_index('ix_payment_account', table_name='payment')
    op.drop_index('ix_plate_list_fold', table_name='plate_list_entry')
    op.drop_index('uq_plate_list_live', table_name='plate_list_entry')
    op.drop_table('plate_list_entry')
    op.drop_table('account')
