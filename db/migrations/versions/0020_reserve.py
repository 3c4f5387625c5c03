"""reservations: reservable pools, reservations and their payments; the session a reservation checked in

Revision ID: 0020_reserve
Revises: 0017_accounts_plate_lists
Create Date: 2026-12-05

Issue 11 (BRIEF.md features 2, 5 and 9): a spot type (or zone, or one bay)
booked for a window, a bay held for it from the window's start minus an
arrival allowance (spot status ``reserved``), check-in at entry by plate or
signed code, no-show and overstay priced by the rate plan.

``reservation_pool``: per facility, spot type and zone, the bays reservations
may use (a number or a share); bookings lock its row so two booths booking
the last slot are serialised (attendant/core/reservations.py).
``reservation``: the booking (personal data sealed, as in 0012_personal_data).
``reservation_payment``: prepayments and refunds with their idempotency keys.
``parking_session.reservation_id``: the reservation an entry checked in (a
plain ADD COLUMN: the table and its change-feed triggers stay as they are).
"""
import sqlalchemy as sa
from alembic import op

from db.types import UTCDateTime

revision = '0020_reserve'
down_revision = '0017_accounts_plate_lists'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reservation_pool',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('facility_id', sa.Integer(), sa.ForeignKey('facility.id'), nullable=False),
        sa.Column('spot_type', sa.String(length=12), nullable=False),
        sa.Column('zone', sa.String(length=8), nullable=False),
        sa.Column('bays', sa.Integer(), nullable=True),
        sa.Column('share_pct', sa.Integer(), nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('updated_by', sa.String(length=80), nullable=False),
        sa.UniqueConstraint('facility_id', 'spot_type', 'zone'),
    )
    op.create_index('ix_reservation_pool_facility_id', 'reservation_pool', ['facility_id'])
    op.create_table(
        'reservation',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('facility_id', sa.Integer(), sa.ForeignKey('facility.id'), nullable=False),
        sa.Column('pool_id', sa.Integer(), sa.ForeignKey('reservation_pool.id'), nullable=False),
        sa.Column('code', sa.String(length=64), nullable=True, unique=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('vehicle_class', sa.String(length=12), nullable=False),
        sa.Column('ev', sa.Boolean(), nullable=False),
        sa.Column('accessible', sa.Boolean(), nullable=False),
        sa.Column('spot_type', sa.String(length=12), nullable=False),
        sa.Column('zone', sa.String(length=8), nullable=True),
        sa.Column('spot_id', sa.Integer(), sa.ForeignKey('spot.id'), nullable=True),
        sa.Column('held_spot_id', sa.Integer(), sa.ForeignKey('spot.id'), nullable=True),
        sa.Column('session_id', sa.Integer(), sa.ForeignKey('parking_session.id'), nullable=True),
        sa.Column('start_at', UTCDateTime(), nullable=False),
        sa.Column('end_at', UTCDateTime(), nullable=False),
        sa.Column('hold_from_at', UTCDateTime(), nullable=False),
        sa.Column('no_show_at', UTCDateTime(), nullable=False),
        sa.Column('plate', sa.String(length=120), nullable=True),
        sa.Column('plate_hash', sa.String(length=32), nullable=True),
        sa.Column('plate_fold', sa.String(length=32), nullable=True),
        sa.Column('holder_name', sa.Text(), nullable=True),
        sa.Column('holder_contact', sa.Text(), nullable=True),
        sa.Column('rate_plan_version_id', sa.Integer(), sa.ForeignKey('rate_plan_version.id'), nullable=True),
        sa.Column('price', sa.Integer(), nullable=False),
        sa.Column('amount_prepaid', sa.Integer(), nullable=False),
        sa.Column('no_show_fee', sa.Integer(), nullable=False),
        sa.Column('booking_key', sa.String(length=80), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=80), nullable=False),
        sa.Column('checked_in_at', UTCDateTime(), nullable=True),
        sa.Column('closed_at', UTCDateTime(), nullable=True),
        sa.Column('reason', sa.String(length=200), nullable=True),
    )
    op.create_index('ix_reservation_pool_window', 'reservation', ['pool_id', 'status', 'start_at'])
    op.create_index('ix_reservation_facility_status', 'reservation', ['facility_id', 'status', 'hold_from_at'])
    op.create_index('ix_reservation_plate', 'reservation', ['facility_id', 'plate_hash', 'status'])
    op.create_index('ix_reservation_plate_fold', 'reservation', ['facility_id', 'plate_fold', 'status'])
    op.create_index('uq_reservation_booking_key', 'reservation', ['facility_id', 'booking_key'], unique=True)
    op.create_table(
        'reservation_payment',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('facility_id', sa.Integer(), sa.ForeignKey('facility.id'), nullable=False),
        sa.Column('reservation_id', sa.Integer(), sa.ForeignKey('reservation.id'), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('method', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('amount', sa.Integer(), nullable=False),
        sa.Column('idempotency_key', sa.String(length=80), nullable=False, unique=True),
        sa.Column('processor_ref', sa.String(length=80), nullable=True),
        sa.Column('message', sa.String(length=200), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('actor', sa.String(length=80), nullable=False),
    )
    op.create_index('ix_reservation_payment_reservation_id', 'reservation_payment', ['reservation_id'])
    op.add_column('parking_session', sa.Column('reservation_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('parking_session') as batch:
        batch.drop_column('reservation_id')
    op.drop_table('reservation_payment')
    op.drop_table('reservation')
    op.drop_table('reservation_pool')
