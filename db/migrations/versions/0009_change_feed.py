"""change_log: committed changes, written by triggers, that every console follows live

Revision ID: 0009_change_feed
Revises: 0008_login_sources
Create Date: 2026-12-04

Consoles on one database see each other's entries, exits, bay changes and
payments within a second (issue "A site, not a booth"). The database itself
records each such change in ``change_log``, from triggers on ``spot``,
``parking_session`` and ``payment``, in the writer's own transaction: so a
change is logged exactly when it commits, whoever wrote it (a booth, the CLI,
a journal replayed after an outage), and the application issues no extra
statement for it. A reader asks for rows after the last id it saw
(:mod:`attendant.core.changes`). Bodies are small JSON objects with ids,
labels, ticket numbers and amounts: no plates, names or codes.

The triggers deliberately do not ``NOTIFY``: on PostgreSQL a transaction
that has notified takes a database-wide lock for its commit, which would
serialise every booth's commits (see attendant/core/changes.py). Every
thousandth row, the log is pruned to its last 20,000.
"""
import sqlalchemy as sa
from alembic import op

revision = '0009_change_feed'
down_revision = '0008_login_sources'
branch_labels = None
depends_on = None

KEEP = 20000

SQLITE = [
    """CREATE TRIGGER change_spot AFTER UPDATE OF status ON spot WHEN OLD.status IS NOT NEW.status
    BEGIN
        INSERT INTO change_log (facility_id, kind, body) VALUES (NEW.facility_id, 'spot',
            json_object('spot_id', NEW.id, 'spot', NEW.label, 'level_id', NEW.level_id, 'status', NEW.status));
    END""",
    """CREATE TRIGGER change_entry AFTER INSERT ON parking_session
    BEGIN
        INSERT INTO change_log (facility_id, kind, body) VALUES (NEW.facility_id, 'entry',
            json_object('session_id', NEW.id, 'ticket_no', NEW.ticket_no, 'spot_id', NEW.spot_id,
                        'spot', (SELECT label FROM spot WHERE id = NEW.spot_id), 'lane', NEW.entry_lane,
                        'vehicle_class', NEW.vehicle_class));
    END""",
    """CREATE TRIGGER change_exit AFTER UPDATE OF status ON parking_session
    WHEN OLD.status = 'open' AND NEW.status <> 'open'
    BEGIN
        INSERT INTO change_log (facility_id, kind, body) VALUES (NEW.facility_id, 'exit',
            json_object('session_id', NEW.id, 'ticket_no', NEW.ticket_no, 'spot_id', NEW.spot_id,
                        'spot', (SELECT label FROM spot WHERE id = NEW.spot_id), 'lane', NEW.exit_lane,
                        'status', NEW.status, 'amount_due', NEW.amount_due, 'amount_paid', NEW.amount_paid));
    END""",
    """CREATE TRIGGER change_payment_new AFTER INSERT ON payment WHEN NEW.status <> 'pending'
    BEGIN
        INSERT INTO change_log (facility_id, kind, body) VALUES (NEW.facility_id, 'payment',
            json_object('payment_id', NEW.id, 'session_id', NEW.session_id, 'method', NEW.method,
                        'status', NEW.status, 'amount', NEW.amount, 'lane', NEW.lane));
    END""",
    """CREATE TRIGGER change_payment_status AFTER UPDATE OF status ON payment WHEN OLD.status IS NOT NEW.status
    BEGIN
        INSERT INTO change_log (facility_id, kind, body) VALUES (NEW.facility_id, 'payment',
            json_object('payment_id', NEW.id, 'session_id', NEW.session_id, 'method', NEW.method,
                        'status', NEW.status, 'amount', NEW.amount, 'lane', NEW.lane));
    END""",
    f"""CREATE TRIGGER change_log_prune AFTER INSERT ON change_log WHEN NEW.id % 1000 = 0
    BEGIN
        DELETE FROM change_log WHERE id <= NEW.id - {KEEP};
    END""",
]

POSTGRESQL = [
    """CREATE FUNCTION attendant_change() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        kind text;
        body json;
    BEGIN
        IF TG_TABLE_NAME = 'spot' THEN
            IF NEW.status IS NOT DISTINCT FROM OLD.status THEN RETURN NULL; END IF;
            kind := 'spot';
            body := json_build_object('spot_id', NEW.id, 'spot', NEW.label, 'level_id', NEW.level_id,
                                      'status', NEW.status);
        ELSIF TG_TABLE_NAME = 'parking_session' THEN
            IF TG_OP = 'INSERT' THEN
                kind := 'entry';
                body := json_build_object('session_id', NEW.id, 'ticket_no', NEW.ticket_no, 'spot_id', NEW.spot_id,
                                          'spot', (SELECT label FROM spot WHERE id = NEW.spot_id),
                                          'lane', NEW.entry_lane, 'vehicle_class', NEW.vehicle_class);
            ELSIF OLD.status = 'open' AND NEW.status <> 'open' THEN
                kind := 'exit';
                body := json_build_object('session_id', NEW.id, 'ticket_no', NEW.ticket_no, 'spot_id', NEW.spot_id,
                                          'spot', (SELECT label FROM spot WHERE id = NEW.spot_id),
                                          'lane', NEW.exit_lane, 'status', NEW.status,
                                          'amount_due', NEW.amount_due, 'amount_paid', NEW.amount_paid);
            ELSE
                RETURN NULL;
            END IF;
        ELSE  -- payment
            IF TG_OP = 'INSERT' AND NEW.status = 'pending' THEN RETURN NULL; END IF;
            IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN RETURN NULL; END IF;
            kind := 'payment';
            body := json_build_object('payment_id', NEW.id, 'session_id', NEW.session_id, 'method', NEW.method,
                                      'status', NEW.status, 'amount', NEW.amount, 'lane', NEW.lane);
        END IF;
        INSERT INTO change_log (facility_id, kind, body) VALUES (NEW.facility_id, kind, body::text);
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION attendant_change_prune() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.id % 1000 = 0 THEN
            DELETE FROM change_log WHERE id <= NEW.id - {KEEP};
        END IF;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER change_spot AFTER UPDATE OF status ON spot FOR EACH ROW EXECUTE FUNCTION attendant_change()",
    "CREATE TRIGGER change_session AFTER INSERT OR UPDATE OF status ON parking_session FOR EACH ROW "
    "EXECUTE FUNCTION attendant_change()",
    "CREATE TRIGGER change_payment AFTER INSERT OR UPDATE OF status ON payment FOR EACH ROW "
    "EXECUTE FUNCTION attendant_change()",
    "CREATE TRIGGER change_log_prune AFTER INSERT ON change_log FOR EACH ROW EXECUTE FUNCTION attendant_change_prune()",
]


def upgrade() -> None:
    op.create_table(
        'change_log',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True),
        sa.Column('facility_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    for statement in (POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger, table in (("change_spot", "spot"), ("change_session", "parking_session"),
                               ("change_payment", "payment"), ("change_log_prune", "change_log")):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS attendant_change()")
        op.execute("DROP FUNCTION IF EXISTS attendant_change_prune()")
    else:
        for trigger in ("change_spot", "change_entry", "change_exit", "change_payment_new", "change_payment_status",
                        "change_log_prune"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.drop_table('change_log')
