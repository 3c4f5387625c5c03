"""users shifts payments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import db.types


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('pin_hash', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', db.types.UTCDateTime(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('pass_holder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('plate', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('holder_name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('valid_from', db.types.UTCDateTime(), nullable=False),
    sa.Column('valid_to', db.types.UTCDateTime(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('pass_holder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pass_holder_plate'), ['plate'], unique=False)

    op.create_table('shift',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('terminal', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('opened_at', db.types.UTCDateTime(), nullable=False),
    sa.Column('closed_at', db.types.UTCDateTime(), nullable=True),
    sa.Column('float_amount', sa.Integer(), nullable=False),
    sa.Column('expected', sa.JSON(), nullable=True),
    sa.Column('counted', sa.JSON(), nullable=True),
    sa.Column('count_detail', sa.JSON(), nullable=True),
    sa.Column('over_short', sa.Integer(), nullable=True),
    sa.Column('closed_by', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('shift', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shift_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shift_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_open_shift_user', ['facility_id', 'user_id'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    op.create_table('validation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('merchant', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('reusable', sa.Boolean(), nullable=False),
    sa.Column('max_uses', sa.Integer(), nullable=True),
    sa.Column('uses', sa.Integer(), nullable=False),
    sa.Column('expires_at', db.types.UTCDateTime(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('cash_movement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('at', db.types.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ),
    sa.ForeignKeyConstraint(['shift_id'], ['shift.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('cash_movement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cash_movement_shift_id'), ['shift_id'], unique=False)

    op.create_table('validation_use',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('validation_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('amount_off', sa.Integer(), nullable=False),
    sa.Column('at', db.types.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['parking_session.id'], ),
    sa.ForeignKeyConstraint(['validation_id'], ['validation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('validation_id', 'session_id')
    )
    with op.batch_alter_table('validation_use', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_validation_use_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_validation_use_validation_id'), ['validation_id'], unique=False)

    op.create_table('iou',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('plate', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('settled_at', db.types.UTCDateTime(), nullable=True),
    sa.Column('settled_payment_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ),
    sa.ForeignKeyConstraint(['session_id'], ['parking_session.id'], ),
    sa.ForeignKeyConstraint(['settled_payment_id'], ['payment.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('iou', schema=None) as batch_op:
        batch_op.create_index('ix_iou_plate_status', ['facility_id', 'plate', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_iou_session_id'), ['session_id'], unique=False)

    with op.batch_alter_table('parking_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('discount', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('exit_reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('paid_at', db.types.UTCDateTime(), nullable=True))

    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shift_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('refund_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('message', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('updated_at', db.types.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_payment_shift_id'), ['shift_id'], unique=False)
        batch_op.create_foreign_key('fk_payment_shift_id', 'shift', ['shift_id'], ['id'])
        batch_op.create_foreign_key('fk_payment_user_id', 'app_user', ['user_id'], ['id'])
        batch_op.create_foreign_key('fk_payment_refund_of_id', 'payment', ['refund_of_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_constraint('fk_payment_refund_of_id', type_='foreignkey')
        batch_op.drop_constraint('fk_payment_user_id', type_='foreignkey')
        batch_op.drop_constraint('fk_payment_shift_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_payment_shift_id'))
        batch_op.drop_column('updated_at')
        batch_op.drop_column('message')
        batch_op.drop_column('refund_of_id')
        batch_op.drop_column('user_id')
        batch_op.drop_column('shift_id')

    with op.batch_alter_table('parking_session', schema=None) as batch_op:
        batch_op.drop_column('paid_at')
        batch_op.drop_column('exit_reason')
        batch_op.drop_column('discount')

    with op.batch_alter_table('iou', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_iou_session_id'))
        batch_op.drop_index('ix_iou_plate_status')

    op.drop_table('iou')
    with op.batch_alter_table('validation_use', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_validation_use_validation_id'))
        batch_op.drop_index(batch_op.f('ix_validation_use_session_id'))

    op.drop_table('validation_use')
    with op.batch_alter_table('cash_movement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cash_movement_shift_id'))

    op.drop_table('cash_movement')
    op.drop_table('validation')
    with op.batch_alter_table('shift', schema=None) as batch_op:
        batch_op.drop_index('uq_open_shift_user', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.drop_index(batch_op.f('ix_shift_user_id'))
        batch_op.drop_index(batch_op.f('ix_shift_facility_id'))

    op.drop_table('shift')
    with op.batch_alter_table('pass_holder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pass_holder_plate'))

    op.drop_table('pass_holder')
    op.drop_table('app_user')
