"""audit_chains: the audit log in several parallel hash chains, so booths never queue behind one row

Revision ID: 0017_audit_chains
Revises: 0014_journal_applied
Create Date: 2026-12-05

With one chain every writer of the database locked the one head row from its
audit insert until its commit had been flushed, so booths committed one after
another and adding booths made the site slower (issue "A site, not a booth").
Now ``audit_chain_head`` has :data:`CHAINS` rows, one per chain; a writer takes
the first head nobody holds (PostgreSQL ``FOR UPDATE SKIP LOCKED``) and chains
its events there. Each event names its chain (``chain``, 1 for every event
written before) and its place in it (``seq``, unique per chain). Existing
events stay in chain 1 with their hashes unchanged.
"""
import sqlalchemy as sa
from alembic import op

revision = '0017_audit_chains'
down_revision = '0014_journal_applied'
branch_labels = None
depends_on = None

CHAINS = 16  # as attendant.core.audit.CHAINS (a migration keeps its own copy: it must not change later)
GENESIS = "0" * 64


def upgrade() -> None:
    with op.batch_alter_table('audit_event') as batch:
        batch.add_column(sa.Column('chain', sa.SmallInteger(), nullable=False, server_default='1'))
    op.drop_index('uq_audit_seq', table_name='audit_event')
    op.create_index('uq_audit_chain_seq', 'audit_event', ['chain', 'seq'], unique=True)
    head = sa.table('audit_chain_head', sa.column('id', sa.Integer), sa.column('seq', sa.BigInteger),
                    sa.column('event_id', sa.Integer), sa.column('hash', sa.String))
    conn = op.get_bind()
    have = {row[0] for row in conn.execute(sa.select(head.c.id))}
    if 1 not in have:  # a database with no event yet has no head: chain 1 starts empty too
        last = conn.execute(sa.text("SELECT id, seq, hash FROM audit_event WHERE seq IS NOT NULL "
                                    "ORDER BY seq DESC LIMIT 1")).first()
        conn.execute(sa.insert(head).values(id=1, seq=last.seq if last else 0, event_id=last.id if last else None,
                                            hash=last.hash if last else GENESIS))
    missing = [{"id": k, "seq": 0, "event_id": None, "hash": GENESIS} for k in range(2, CHAINS + 1) if k not in have]
    if missing:
        conn.execute(sa.insert(head), missing)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT count(*) FROM audit_event WHERE chain <> 1")).scalar():
        raise RuntimeError("events are in chains other than 1: they cannot be put back into one chain")
    conn.execute(sa.text("DELETE FROM audit_chain_head WHERE id <> 1"))
    op.drop_index('uq_audit_chain_seq', table_name='audit_event')
    op.create_index('uq_audit_seq', 'audit_event', ['seq'], unique=True)
    with op.batch_alter_table('audit_event') as batch:
        batch.drop_column('chain')
