"""free-bay indexes: a booth claims a bay in the database, in one statement

Revision ID: 0010_bay_claims
Revises: 0009_change_feed
Create Date: 2026-12-04

Each booth used to pick a bay from its own in-memory index and reload that
whole index whenever another booth had written, inside a transaction that
held the facility row: adding booths made the site slower. A bay is now
claimed by the database (``UPDATE spot ... WHERE id = (SELECT ... ORDER BY
<strategy> LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING ...``), walking one of
these partial indexes of the free bays: by rank (nearest to the entrance
first, over the vehicle's bay types) or by type and rank (best fit, one type
after another).
"""
import sqlalchemy as sa
from alembic import op

revision = '0010_bay_claims'
down_revision = '0009_change_feed'
branch_labels = None
depends_on = None

FREE = sa.text("status = 'available'")


def upgrade() -> None:
    op.create_index('ix_spot_free_rank', 'spot', ['facility_id', 'rank', 'id'], unique=False,
                    sqlite_where=FREE, postgresql_where=FREE)
    op.create_index('ix_spot_free_type_rank', 'spot', ['facility_id', 'spot_type', 'rank', 'id'], unique=False,
                    sqlite_where=FREE, postgresql_where=FREE)


def downgrade() -> None:
    op.drop_index('ix_spot_free_type_rank', table_name='spot')
    op.drop_index('ix_spot_free_rank', table_name='spot')
