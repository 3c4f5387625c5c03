"""journal_applied: booth journal events already applied, for exactly-once replay

Revision ID: 0014_journal_applied
Revises: 0011_audit_chain
Create Date: 2026-12-04

A booth that loses the central database keeps working from a local journal
(attendant/core/journal.py) and replays it on reconnect
(attendant/core/journal_sync.py). Each event's uuid is written here in the
same transaction as the event's effect, so a replay interrupted half-way can
simply run again: what is here is skipped. ``facility.next_offline_ticket_no``
numbers the tickets a booth issues offline (its own range, reserved ahead).
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

from db.types import UTCDateTime

revision = '0014_journal_applied'
down_revision = "0011_audit_chain"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Ticket numbers for offline entries come from their own range (90,000,000 up), reserved by each booth
    # in blocks while the database answers, so keeping a reserve never shifts the numbers issued online.
    with op.batch_alter_table('facility') as batch:
        batch.add_column(sa.Column('next_offline_ticket_no', sa.Integer(), nullable=False,
                                   server_default='89999999'))
    op.create_table(
        'journal_applied',
        sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column('facility_id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=True),
        sa.Column('booth', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('applied_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['facility_id'], ['facility.id']),
        sa.PrimaryKeyConstraint('event_id'),
    )


def downgrade() -> None:
    op.drop_table('journal_applied')
    with op.batch_alter_table('facility') as batch:
        batch.drop_column('next_offline_ticket_no')
