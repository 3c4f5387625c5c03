"""the audit log in a hash chain: each event sealed with the rows it records

Revision ID: 0011_audit_chain
Revises: 0016_api_tokens
Create Date: 2026-12-04

Each audit event gets its place in the database's one chain (``seq``), the
non-personal fields of the rows it records (``rows``), the previous event's
hash and its own (SHA-256; attendant/core/audit.py), and an index of each
entity's events (a closed shift's report names its close event). ``audit_chain_head``
holds the newest event and its hash: writers lock it to append. A session's
vends get an index (an event seals a session with its gate openings).

Existing events are chained in id order, each sealed with its rows as they
stand at this migration (a database upgraded from an earlier schema has no
older copy of them).
"""
import sqlalchemy as sa
from alembic import op

revision = '0011_audit_chain'
down_revision = '0016_api_tokens'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_event') as batch:
        batch.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('rows', sa.JSON(), nullable=True))
    op.create_index('uq_audit_seq', 'audit_event', ['seq'], unique=True)
    op.create_index('ix_audit_entity', 'audit_event', ['entity', 'entity_id'], unique=False)
    op.create_index('ix_vend_session', 'vend', ['session_id'], unique=False)
    head = op.create_table(
        'audit_chain_head',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=True),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    _chain_existing(op.get_bind(), head)


def _chain_existing(conn, head) -> None:
    """Seal and chain every event already there, in id order, from the rows loaded once."""
    from attendant.core import audit

    events = audit.AUDIT
    reader = _LoadedRows(conn)
    seq, prev, last_id = 0, audit.GENESIS, None
    stamp = sa.update(events).where(events.c.id == sa.bindparam('eid')).values(
        seq=sa.bindparam('s'), rows=sa.bindparam('r'), prev_hash=sa.bindparam('p'), hash=sa.bindparam('h'))
    cols = [events.c[c] for c in ('id', 'facility_id', 'at', 'effective_at', 'actor', 'action', 'entity',
                                  'entity_id', 'details')]
    batch = []
    for row in conn.execute(sa.select(*cols).order_by(events.c.id)).all():
        seq += 1
        ev = dict(row._mapping)
        ev.update(seq=seq, rows=audit.rows_for(reader, ev['entity'], ev['entity_id']), prev_hash=prev)
        prev = audit.event_hash(ev)
        last_id = ev['id']
        batch.append({'eid': ev['id'], 's': seq, 'r': ev['rows'], 'p': ev['prev_hash'], 'h': prev})
        if len(batch) >= 1000:
            conn.execute(stamp, batch)
            batch = []
    if batch:
        conn.execute(stamp, batch)
    conn.execute(sa.insert(head).values(id=1, seq=seq, event_id=last_id, hash=prev))


class _LoadedRows:
    """The reader :func:`attendant.core.audit.rows_for` takes, over tables loaded once into memory."""

    def __init__(self, conn) -> None:
        from attendant.core import audit

        self.rows, self.payments, self.vends, self.sessions_of = {}, {}, {}, {}
        for table, cols in audit.SEALED.items():
            loaded = {}
            for row in conn.execute(sa.select(*audit._COLS[table])):
                loaded[row.id] = audit.sealed_fields(table, row)
            self.rows[table] = loaded
        for p in self.rows['payment'].values():
            self.payments.setdefault(p['session_id'], []).append(p)
        for v in self.rows['vend'].values():
            if v['session_id'] is not None:
                self.vends.setdefault(v['session_id'], []).append(v)

    def row(self, table, row_id):
        return self.rows[table].get(row_id)

    def session_of(self, table, row_id):
        found = self.rows[table].get(row_id)
        return found['session_id'] if found else None

    def bundle(self, table, row_id):
        if table == 'payment':
            found = self.rows['payment'].get(row_id)
            row_id = found['session_id'] if found else None
        session = self.rows['parking_session'].get(row_id)
        if session is None:
            return None, [], []
        return session, self.payments.get(row_id, []), self.vends.get(row_id, [])


def downgrade() -> None:
    op.drop_table('audit_chain_head')
    op.drop_index('ix_vend_session', table_name='vend')
    op.drop_index('ix_audit_entity', table_name='audit_event')
    op.drop_index('uq_audit_seq', table_name='audit_event')
    with op.batch_alter_table('audit_event') as batch:
        batch.drop_column('rows')
        batch.drop_column('hash')
        batch.drop_column('prev_hash')
        batch.drop_column('seq')
