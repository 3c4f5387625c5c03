"""session_concession, and bay zones named by the layout (spot.zone up to 32 characters)

Revision ID: 0020_tariffs
Revises: 0017_lostvend
Create Date: 2026-12-05

Issue 10 item 10 (rules operators publish). A **concession** (a disabled
driver's badge, ...) is recorded on a parking session by the attendant and
priced by the rate plan's tariffs that name it (``docs/rates.md``, *Zones,
concessions and re-entry*). One row per (session, concession); the badge
number is personal data: ``badge`` holds its AES-GCM ciphertext
(:mod:`attendant.core.personal_data`, ``ENCRYPTED_COLUMNS``), erased with the
session's plate by the retention rule.

``spot.zone``: a layout may now name its rows' zones (``short_stay``), which
tariffs use as conditions; the column grows from 8 to 32 characters
(PostgreSQL enforces the length; SQLite does not, so its table, with its
change-feed triggers, is left as it is).
"""
import sqlalchemy as sa

import db.types
from alembic import op

revision = '0020_tariffs'
down_revision = '0017_lostvend'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'session_concession',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('facility_id', sa.Integer(), sa.ForeignKey('facility.id'), nullable=False),
        sa.Column('session_id', sa.Integer(), sa.ForeignKey('parking_session.id'), nullable=False),
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('badge', sa.String(length=200), nullable=True),
        sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=80), nullable=False),
        sa.UniqueConstraint('session_id', 'name', name='uq_session_concession'),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('spot', 'zone', type_=sa.String(length=32), existing_type=sa.String(length=8),
                        existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('spot', 'zone', type_=sa.String(length=8), existing_type=sa.String(length=32),
                        existing_nullable=False)
    op.drop_table('session_concession')
